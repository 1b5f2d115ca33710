"""The real server, over HTTP: results equal the library's, bad input is a 4xx, overload a 503."""

from __future__ import annotations

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

import senticlf
from tests.conftest import make_reviews
from tests.serve.conftest import ServerProcess

REVIEWS = [text for text, _ in make_reviews(40, seed=7)]


def post(
    server: ServerProcess, payload: object, route: str = "/classify", **kwargs
) -> httpx.Response:
    return httpx.post(f"{server.url}{route}", json=payload, timeout=30, **kwargs)


def library(bundle: Path, texts: list[str]) -> list[dict]:
    """What the library answers with the plan the test servers run (they pass --threads 1)."""
    return [p.as_dict() for p in senticlf.load(bundle, threads=1).predict(texts)]


def test_health_info_metrics_and_openapi(server: ServerProcess, bundle: Path) -> None:
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    info = httpx.get(f"{server.url}/info").json()
    manifest = json.loads((bundle / "senticlf.json").read_text())
    assert info["labels"] == manifest["labels"]
    assert info["max_length"] == manifest["max_length"]
    assert info["truncation"] == manifest["truncation"]
    served = senticlf.load(bundle).model_file  # the model export measured faster here
    assert info["model_file"] == served and info["quantized"] is (served == "model.int8.onnx")
    assert info["export_check"] == manifest["export_check"]
    assert info["versions"]["senticlf"] == senticlf.__version__
    assert "onnxruntime" in info["versions"]
    post(server, {"inputs": REVIEWS[:3]}).raise_for_status()
    metrics = httpx.get(f"{server.url}/metrics").text
    for name in (
        'senticlf_requests_total{path="/classify",status="200"}',
        "senticlf_request_duration_seconds_bucket",
        "senticlf_batch_size_bucket",
        "senticlf_queue_depth",
        "senticlf_texts_classified_total",
    ):
        assert name in metrics, name
    texts = [
        line for line in metrics.splitlines() if line.startswith("senticlf_texts_classified_total")
    ]
    assert float(texts[0].split()[-1]) >= 3
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    assert {"/predict", "/classify", "/v2/models/{name}/infer"} <= set(paths)
    assert httpx.get(f"{server.url}/docs").status_code == 200


def test_single_and_batched_results_equal_the_library(server: ServerProcess, bundle: Path) -> None:
    # One request at a time, so the server's batch holds exactly this request's texts.
    single = post(server, {"inputs": REVIEWS[0]}).json()
    assert single == library(bundle, [REVIEWS[0]])  # exact floats, label, scores, positive
    assert set(single[0]) == {"label", "score", "positive", "scores"}
    texts = REVIEWS[:12]
    batch = post(server, {"inputs": texts}).json()
    # A request alone makes the calls the library makes for the same texts (same plan, shortest
    # texts first), so the numbers are the same to the last bit.
    plan = httpx.get(f"{server.url}/info").json()["plan"]
    clf = senticlf.load(bundle, threads=1)
    assert (plan["batch_size"], plan["streams"]) == (clf.batch_size, clf.plan.streams)
    assert batch == library(bundle, texts)


def test_blank_texts_get_a_note_like_blank_lines_in_predict(
    server: ServerProcess, bundle: Path
) -> None:
    results = post(server, {"inputs": ["", REVIEWS[2], "   "]}).json()
    assert results[1] == library(bundle, [REVIEWS[2]])[0]
    for blank in (results[0], results[2]):
        assert blank["label"] is None and blank["score"] is None and "blank" in blank["note"]
    only_blank = post(server, {"inputs": ""})
    assert only_blank.status_code == 200 and only_blank.json()[0]["label"] is None


def test_concurrent_clients_get_their_own_results(server: ServerProcess, bundle: Path) -> None:
    expected = {text: p for text, p in zip(REVIEWS, library(bundle, REVIEWS), strict=True)}
    requests = [REVIEWS[i : i + 1 + i % 3] for i in range(len(REVIEWS) - 3)]

    def send(texts: list[str]) -> tuple[list[str], list[dict]]:
        return texts, post(server, {"inputs": texts}).json()

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(send, requests))
    for texts, results in answers:
        assert len(results) == len(texts)
        for text, result in zip(texts, results, strict=True):
            # Batch-invariant: a text's answer does not depend on the requests it was batched
            # with (no ONNX call holds more texts than the model is invariant at).
            want = expected[text]
            assert result["label"] == want["label"]
            for label, probability in want["scores"].items():
                assert result["scores"][label] == pytest.approx(probability, abs=1e-4)


def test_a_body_streamed_past_the_limit_is_refused(server: ServerProcess) -> None:
    def chunks():
        yield b'{"inputs": "'
        for _ in range(30):
            yield b"a" * 1000
        yield b'"}'

    response = httpx.post(f"{server.url}/classify", content=chunks(), timeout=30)
    assert response.status_code == 413
    assert response.json()["error_type"] == "payload_too_large"


def test_a_client_that_disconnects_does_not_break_the_server(
    server: ServerProcess, bundle: Path
) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    body = json.dumps({"inputs": REVIEWS[:8]}).encode()
    for _ in range(3):
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(
                b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
    assert post(server, {"inputs": REVIEWS[3]}).json() == library(bundle, [REVIEWS[3]])
    assert httpx.get(f"{server.url}/health").status_code == 200


def test_a_full_queue_answers_503_with_retry_after(bundle: Path, tmp_path: Path) -> None:
    server = ServerProcess(
        [str(bundle), "--max-queue", "2", "--streams", "1"], tmp_path / "log", slow_s=0.3
    )
    try:
        server.wait_healthy()
        with ThreadPoolExecutor(10) as pool:
            responses = list(pool.map(lambda text: post(server, {"inputs": text}), REVIEWS[:10]))
        codes = [r.status_code for r in responses]
        assert set(codes) <= {200, 503}, codes
        assert codes.count(503) >= 5, codes  # one running, two queued, the rest refused
        for response in responses:
            if response.status_code == 503:
                assert response.headers["retry-after"] == "1"
                assert response.json()["error_type"] == "overloaded"
        assert httpx.get(f"{server.url}/health").status_code == 200
        assert post(server, {"inputs": REVIEWS[0]}).status_code == 200
    finally:
        assert server.stop() == 0, server.log()


def metric(server: ServerProcess, line_start: str, headers: dict | None = None) -> float:
    lines = httpx.get(f"{server.url}/metrics", headers=headers, timeout=10).text.splitlines()
    for line in lines:
        if line.startswith(line_start):
            return float(line.split()[-1])
    return 0.0


def test_sigterm_finishes_requests_in_flight_and_exits_0(bundle: Path, tmp_path: Path) -> None:
    server = ServerProcess([str(bundle)], tmp_path / "log", slow_s=0.3)
    try:
        server.wait_healthy()
        with ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(post, server, {"inputs": text}) for text in REVIEWS[:6]]
            in_flight = 'senticlf_requests_in_progress{path="/classify"}'
            deadline = time.monotonic() + 10  # until all six are inside the server
            while metric(server, in_flight) < 6 and time.monotonic() < deadline:
                time.sleep(0.02)
            server.terminate()
            responses = [f.result() for f in futures]
        assert [r.status_code for r in responses] == [200] * 6
        assert server.process.wait(timeout=30) == 0, server.log()
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{server.url}/health", timeout=2)
    finally:
        server.stop()
