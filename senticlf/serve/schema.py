"""The one error shape of the server, the one table of error kinds, and the OpenAPI helpers.

Every error, whichever protocol and whichever layer refused it (a request model, the key check,
the body reader, the batcher, the framework's 404), is the same JSON object, ``{"error":
"...", "error_type": KIND}``, with the HTTP status that :data:`STATUS_OF_KIND` gives its kind
(the KServe v2 protocol's error shape is ``{"error": "..."}``, a subset). A body that is not
JSON gets its 400 from :func:`parse_json`; how a JSON body is checked against its request's
model, and how that refusal is phrased, lives in grammar.py.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

# Each kind of error and its status: the one place that decides what status a refusal gets.
STATUS_OF_KIND = {
    "invalid_json": 400,  # not JSON, not UTF-8, nested too deeply
    "bad_request": 400,  # a KServe v2 request without the protocol's shape (v2 answers 400)
    "unauthorized": 401,
    "not_found": 404,
    "method_not_allowed": 405,
    "payload_too_large": 413,
    "validation": 422,  # JSON without the request's shape
    "backend": 500,
    "overloaded": 503,
    "unavailable": 503,
}
# The framework's own errors (an unknown path or method) by status; any other keeps its status
# under the kind "http".
_FRAMEWORK_KINDS = {STATUS_OF_KIND[kind]: kind for kind in ("not_found", "method_not_allowed")}


class ApiError(Exception):
    """A request answered with the one JSON error body (4xx: the client's to fix).

    Build one with :meth:`of` (the status follows from the kind); the explicit ``status`` form
    is kept for callers that give both, and is checked against :data:`STATUS_OF_KIND`.
    """

    def __init__(
        self,
        status: int,
        message: str,
        error_type: str = "validation",
        headers: dict[str, str] | None = None,
    ) -> None:
        if STATUS_OF_KIND.get(error_type, status) != status:
            raise ValueError(f"error kind {error_type!r} is a {STATUS_OF_KIND[error_type]}")
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.headers = headers

    @classmethod
    def of(cls, kind: str, message: str, headers: dict[str, str] | None = None) -> ApiError:
        """The error of ``kind`` (a key of STATUS_OF_KIND) saying ``message``."""
        return cls(STATUS_OF_KIND[kind], message, kind, headers)

    @classmethod
    def passed_through(
        cls, status: int, message: str, headers: dict[str, str] | None = None
    ) -> ApiError:
        """The framework's own HTTP error (404, 405, ...), in the one shape."""
        return cls(status, message, _FRAMEWORK_KINDS.get(status, "http"), headers)

    def body(self) -> dict[str, str]:
        return {"error": self.message, "error_type": self.error_type}

    def response(self) -> JSONResponse:
        """The answer (an ASGI app itself, so that middleware can send it too)."""
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def parse_json(body: bytes) -> Any:
    """The JSON value of ``body``, or a 400 that says what is wrong with it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError.of(
            "invalid_json", f"the body is not UTF-8 text (byte {exc.start})"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError.of(
            "invalid_json", f"the body is not valid JSON: {exc.msg} at character {exc.pos}"
        ) from None
    except RecursionError:  # e.g. [[[[...]]]] 100,000 deep: the C parser stops, Python raises
        raise ApiError.of("invalid_json", "the body's JSON is nested too deeply") from None


# ---------------------------------------------------------------------------- OpenAPI


class ErrorBody(BaseModel):
    """Every error the server answers, from any route and any layer."""

    error: str = Field(description="One sentence: what is wrong and what to do.")
    error_type: str = Field(
        description=f"{', '.join(STATUS_OF_KIND)} (the status follows from it)."
    )


_ERROR_DESCRIPTIONS = {
    400: "The body is not JSON (or not UTF-8, or nested too deeply), or, on /v2, the request "
    "does not have the protocol's shape.",
    401: "With --api-key: the Authorization header is missing, malformed or has the wrong key.",
    404: "No such model (the name is --model-name).",
    405: "The method is not allowed on this path.",
    413: "The body or the list of inputs is over this server's limit.",
    422: "The JSON does not have the request's shape (the message says where).",
    500: "A bug or a broken model (the message says which call failed).",
    503: "The queue is full (see Retry-After), or the server is stopping or warming up.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for ``codes`` (401, 405 and 500 are added: any route may answer them)."""
    return {
        code: {"model": ErrorBody, "description": _ERROR_DESCRIPTIONS[code]}
        for code in sorted({*codes, 401, 405, 500})
    }


def request_body(model: type[BaseModel]) -> dict[str, Any]:
    """An OpenAPI ``requestBody`` for ``model``, its nested models inlined.

    pydantic refers to nested models as ``#/$defs/Name``, a path that means nothing inside an
    OpenAPI document; inlining keeps the schema self-contained for /docs and for the fuzzer.
    """
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    return {"required": True, "content": {"application/json": {"schema": inline(schema)}}}
