"""The one reader of request bodies, and the one drain limit, for the routes and the key check.

A body is refused (413) as soon as it passes the route's limit, declared or streamed. The rest
of a refused body (over the limit, or sent without the API key) is read and dropped, up to
:data:`DRAIN_LIMIT_BYTES`, before the answer goes out: urllib, requests and httpx send the
whole body before they read the answer, and a server that closes on unread data makes the
kernel reset the connection, so they would see a reset instead of the 413 or 401. A client
that sent ``Expect: 100-continue`` has sent nothing yet and is answered at once.
"""

from __future__ import annotations

import contextlib

from starlette.requests import ClientDisconnect

from senticlf.serve.metrics import Receive, Scope
from senticlf.serve.schema import ApiError

# Past this much, a refused body is no longer read: the connection is closed on it.
DRAIN_LIMIT_BYTES = 128 << 20


async def read(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The body of the request ``scope``, refused (413) once past ``limit`` bytes.

    Raises ClientDisconnect (Starlette's) when the client goes away mid-body.
    """
    declared = header(scope, b"content-length") or ""
    size_declared = int(declared) if declared.isdigit() else 0
    if size_declared > limit and (header(scope, b"expect") or "").lower() == "100-continue":
        raise _too_large(size_declared, limit)  # nothing sent yet: nothing to drain
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        elif size > DRAIN_LIMIT_BYTES:  # read and dropped up to here; then close on it
            break
        if not message.get("more_body", False):
            break
    if size > limit:
        raise _too_large(max(size, size_declared), limit)
    return b"".join(chunks)


async def drain(scope: Scope, receive: Receive) -> None:
    """Read and drop the body of a request refused before it was read (up to the drain limit)."""
    with contextlib.suppress(ApiError, ClientDisconnect):
        await read(scope, receive, limit=0)


def header(scope: Scope, name: bytes) -> str | None:
    """A request header's value (None when absent), for the body reader and the key check."""
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def _too_large(size: int, limit: int) -> ApiError:
    return ApiError.of(
        "payload_too_large",
        f"the body has {size:,}+ bytes; this server takes at most {limit:,} (--max-body-bytes)",
    )
