"""The one body reader (senticlf.serve.body), over a fake ASGI receive: the limit, the drain."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("fastapi", reason="needs the serve extra: pip install 'senticlf[serve]'")

from starlette.requests import ClientDisconnect  # noqa: E402

from senticlf.serve import body  # noqa: E402
from senticlf.serve.schema import ApiError  # noqa: E402


class Client:
    """Sends ``chunks`` as http.request messages, then a disconnect; counts what was read."""

    def __init__(self, chunks: list[bytes], headers: dict[str, str] | None = None) -> None:
        self.messages = [
            {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
            for i, chunk in enumerate(chunks)
        ]
        self.scope = {
            "type": "http",
            "headers": [(k.encode(), v.encode()) for k, v in (headers or {}).items()],
        }
        self.read = 0

    async def receive(self) -> dict:
        if self.read == len(self.messages):
            return {"type": "http.disconnect"}
        self.read += 1
        return self.messages[self.read - 1]


def read(client: Client, limit: int) -> bytes:
    return asyncio.run(body.read(client.scope, client.receive, limit))


def test_a_body_within_the_limit_is_read_whole() -> None:
    assert read(Client([b'{"in', b'puts": 1}']), limit=100) == b'{"inputs": 1}'
    assert read(Client([b""]), limit=0) == b""


def test_past_the_limit_it_is_a_413_after_the_rest_is_drained(monkeypatch) -> None:
    client = Client([b"a" * 10] * 5)
    with pytest.raises(ApiError) as caught:
        read(client, limit=15)
    assert caught.value.status == 413 and "50+ bytes" in caught.value.message
    assert client.read == 5  # all of it read, so that the client sees the answer
    monkeypatch.setattr(body, "DRAIN_LIMIT_BYTES", 25)
    endless = Client([b"a" * 10] * 100)
    with pytest.raises(ApiError):
        read(endless, limit=15)
    assert endless.read == 3  # past the drain limit the rest is left unread


def test_expect_100_continue_is_refused_before_any_byte() -> None:
    client = Client([b"a" * 50], {"Content-Length": "50", "Expect": "100-continue"})
    with pytest.raises(ApiError, match="50\\+ bytes"):
        read(client, limit=10)
    assert client.read == 0


def test_a_client_gone_mid_body_is_a_disconnect_and_drain_takes_it_quietly() -> None:
    client = Client([b"a"])
    client.messages[0]["more_body"] = True
    with pytest.raises(ClientDisconnect):
        read(client, limit=10)
    refused = Client([b"a" * 10] * 3)
    asyncio.run(body.drain(refused.scope, refused.receive))
    assert refused.read == 3
