"""``--api-key``: every route but the health probes and the page at ``/`` needs ``Authorization:
Bearer KEY``.

A pure ASGI wrapper, so that it guards everything the app serves (the protocols, /info,
/metrics, /docs and /openapi.json) and answers before any route runs. The key is compared in
constant time (``hmac.compare_digest``), never logged, and never shown in /info; a refusal is a
401 with the server's one JSON error shape and ``WWW-Authenticate: Bearer``, counted in the
metrics. The probes stay open because orchestrators (Kubernetes, KServe) call them without
credentials; the page at ``/`` because it holds no data (its calls to /explain carry the key).
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import FastAPI

from senticlf.serve import body
from senticlf.serve.metrics import ASGIApp, Receive, Scope, Send, ServerMetrics
from senticlf.serve.schema import ApiError

OPEN_PATHS = frozenset({"/health", "/v2/health/live", "/v2/health/ready", "/"})
_SCHEME = "bearer"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="senticlf"'}


def bearer_token(header: str) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header; None if malformed."""
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != _SCHEME or not token or " " in token:
        return None
    return token


def require_key(app: ASGIApp, key: str, metrics: ServerMetrics) -> ASGIApp:
    """``app``, answering 401 to any request but the probes that lacks the right key."""
    expected = key.encode()

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await app(scope, receive, send)
            return
        header = body.header(scope, b"authorization")
        token = bearer_token(header) if header is not None else None
        if token is not None and hmac.compare_digest(token.encode(), expected):
            await app(scope, receive, send)
            return
        metrics.unauthorized.inc()
        if header is None:
            message = "this server needs an API key: send 'Authorization: Bearer KEY'"
        elif token is None:
            message = "malformed Authorization header: expected 'Bearer KEY'"
        else:
            message = "wrong API key"
        await body.drain(scope, receive)  # so that the client reads the 401, not a reset
        await ApiError.of("unauthorized", message, _CHALLENGE).response()(scope, receive, send)

    return guarded


def document_bearer(app: FastAPI) -> None:
    """Declare the bearer scheme in OpenAPI (so /docs can send it) on every guarded route."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"}
        }
        for path, operations in schema["paths"].items():
            if path not in OPEN_PATHS:
                for operation in operations.values():
                    operation["security"] = [{"bearer": []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
