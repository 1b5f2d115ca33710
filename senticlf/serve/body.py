"""Reading a request body within a size limit, for every route and the key check.

One reader with one drain limit: the routes (through Service) and auth.py both use it.
"""

from __future__ import annotations

from fastapi import Request

from senticlf.serve.schema import ApiError

# An oversized body is read and dropped (up to this much) before the 413 is sent: a client
# that is still sending when the server closes gets a connection reset, not the answer.
DRAIN_LIMIT_BYTES = 128 << 20


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it passes ``limit`` bytes, declared or streamed.

    The rest of an oversized body is read and dropped before the 413 goes out (up to
    DRAIN_LIMIT_BYTES): urllib, requests and httpx send the whole body before they read the
    answer, and a server that closes on unread data makes the kernel reset the connection, so
    they would see a reset instead of the 413. A client that sent ``Expect: 100-continue`` has
    sent nothing yet and is answered at once.
    """
    declared = request.headers.get("content-length", "")
    expects_continue = request.headers.get("expect", "").lower() == "100-continue"
    if declared.isdigit() and int(declared) > limit and expects_continue:
        raise _too_large(int(declared), limit)  # nothing sent yet: nothing to drain
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        elif size > DRAIN_LIMIT_BYTES:  # read and dropped up to here; then close on it
            break
    if size > limit:
        raise _too_large(max(size, int(declared) if declared.isdigit() else 0), limit)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> ApiError:
    return ApiError(
        413,
        f"the body has {size:,}+ bytes; this server takes at most {limit:,} (--max-body-bytes)",
        "payload_too_large",
    )
