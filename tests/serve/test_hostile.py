"""Hostile clients on loopback (deeply nested and oversized JSON, 10,000 inputs, NUL bytes and
lone surrogates, half-open sockets, slow bodies, mid-request disconnects): the
server answers each in JSON, never a 500 or a reset, stays healthy, and later good requests get
the library's answer. Peak and settled RSS are printed (-s) for the report, not asserted.
Every loop is bounded; the server runs with its default limits.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import httpx
import pytest

import senticlf
from tests.serve.conftest import ServerProcess

psutil = pytest.importorskip("psutil", reason="needs psutil (dev extra)")


@pytest.fixture(scope="module")
def default_server(bundle: Path, tmp_path_factory: pytest.TempPathFactory):
    process = ServerProcess([str(bundle)], tmp_path_factory.mktemp("hostile") / "server.log")
    process.wait_healthy()
    yield process
    assert process.stop() == 0, process.log()


def raw_post(server: ServerProcess, body: bytes) -> tuple[int, dict]:
    """POST with urllib (sends the whole body before reading): status and JSON body."""
    request = urllib.request.Request(
        f"{server.url}/classify", data=body, headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_hostile_requests_get_json_4xx_and_the_server_stays_well(default_server, bundle) -> None:
    server = default_server
    rss = psutil.Process(server.process.pid)
    start_mb, peak_mb = rss.memory_info().rss / 2**20, 0.0

    def note_rss() -> None:
        nonlocal peak_mb
        peak_mb = max(peak_mb, rss.memory_info().rss / 2**20)

    deep = b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert raw_post(server, deep)[0] == 400
    huge = b'{"inputs": "' + b"a" * (50 << 20) + b'"}'  # 50 MB
    status, body = raw_post(server, huge)
    assert status == 413 and body["error_type"] == "payload_too_large"
    # requests and httpx also send the whole body before reading: they must see the 413 too
    requests = pytest.importorskip("requests")
    assert requests.post(f"{server.url}/classify", data=huge, timeout=120).status_code == 413
    assert httpx.post(f"{server.url}/classify", content=huge, timeout=120).status_code == 413
    assert raw_post(server, json.dumps({"inputs": ["a"] * 10_000}).encode())[0] == 413
    assert raw_post(server, json.dumps({"inputs": "a" * 1_000_000}).encode())[0] in (200, 413)
    assert raw_post(server, json.dumps({"inputs": "nul\u0000 bytes"}).encode())[0] == 200
    assert raw_post(server, b'{"inputs": "\\ud800 film"}')[0] in (200, 422)
    note_rss()
    host, port = server.url.removeprefix("http://").split(":")
    # 200 half-open sockets, 50 clients gone mid-body, 20 slow bodies, all at once
    half_open = [socket.create_connection((host, int(port)), timeout=10) for _ in range(200)]
    for _ in range(50):
        with socket.create_connection((host, int(port)), timeout=10) as gone:
            gone.sendall(b'POST /classify HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{"inp')
    slow = [socket.create_connection((host, int(port)), timeout=10) for _ in range(20)]
    for sock in slow:
        sock.sendall(b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\n\r\n{")
    good = '{"inputs": "a great and moving film"}'
    assert httpx.get(f"{server.url}/health", timeout=30).status_code == 200
    for i in range(1, 6):  # the slow bodies trickle in while others are served
        for sock in slow:
            sock.sendall(good.encode()[i * 5 - 5 + 1 : i * 5 + 1] if i < 5 else b"")
        time.sleep(0.1)
    expected = senticlf.load(bundle, threads=1).predict("a great and moving film").as_dict()
    assert httpx.post(f"{server.url}/classify", content=good, timeout=60).json() == [expected]
    note_rss()
    for sock in half_open + slow:
        sock.close()
    time.sleep(2)
    assert httpx.get(f"{server.url}/health", timeout=30).status_code == 200
    assert httpx.post(f"{server.url}/classify", content=good, timeout=60).json() == [expected]
    settled_mb = rss.memory_info().rss / 2**20
    print(f"\nserver RSS: {start_mb:.0f} MB at start, peak {max(peak_mb, settled_mb):.0f} MB, "
          f"settled {settled_mb:.0f} MB")  # fmt: skip


def test_an_oversized_body_announced_with_expect_100_continue_is_refused_at_once(
    default_server,
) -> None:
    host, port = default_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Expect: 100-continue\r\nContent-Length: 52428800\r\n\r\n"
        )
        answer = ""
        for _ in range(20):  # headers and body may come in separate packets
            chunk = sock.recv(65536).decode("latin-1")
            answer += chunk
            if not chunk or answer.rstrip().endswith("}"):
                break
    assert answer.startswith("HTTP/1.1 413"), answer  # no 100 Continue, no upload
    assert '"error_type":"payload_too_large"' in answer
