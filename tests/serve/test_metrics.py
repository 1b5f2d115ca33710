"""ServerMetrics' middleware counts and times every request, unknown paths pooled as "other"."""

from __future__ import annotations

import asyncio

import pytest

from senticlf.serve.metrics import ServerMetrics, path_label


async def _answer(scope, receive, send) -> None:
    if scope["path"] == "/boom":
        raise RuntimeError("the app failed before responding")
    await send(
        {"type": "http.response.start", "status": 404 if scope["path"] != "/health" else 200}
    )
    await send({"type": "http.response.body", "body": b""})


def _request(app, path: str) -> None:
    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message) -> None:
        pass

    asyncio.run(app({"type": "http", "path": path}, receive, send))


def _value(metrics: ServerMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_requests_are_counted_by_path_and_status():
    metrics = ServerMetrics()
    app = metrics.middleware(_answer)
    for path in ("/health", "/health", "/wp-admin", "/.env"):
        _request(app, path)
    with pytest.raises(RuntimeError):
        _request(app, "/boom")
    total = "senticlf_requests_total"
    assert _value(metrics, total, path="/health", status="200") == 2
    assert _value(metrics, total, path="other", status="404") == 2  # no label per scanned path
    assert _value(metrics, total, path="other", status="500") == 1  # failed before responding
    duration = "senticlf_request_duration_seconds_count"
    assert _value(metrics, duration, path="/health", status="200") == 2
    assert _value(metrics, "senticlf_requests_in_progress", path="/health") == 0
    assert b'senticlf_requests_total{path="/health",status="200"} 2.0' in metrics.render()


def test_each_server_has_its_own_registry():
    first, second = ServerMetrics(), ServerMetrics()
    first.texts.inc(3)
    assert _value(first, "senticlf_texts_classified_total") == 3
    assert _value(second, "senticlf_texts_classified_total") == 0


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("/predict", "/predict"),
        ("/classify", "/classify"),
        ("/v2/health/ready", "/v2/health/ready"),
        ("/v2/models/any-name", "/v2/models/{name}"),
        ("/v2/models/x/ready", "/v2/models/{name}/ready"),
        ("/v2/models/x/infer", "/v2/models/{name}/infer"),
        ("/v2/models/x/versions/1/infer", "other"),
        ("/v2/models/x/explain", "other"),
        ("/v2/models/", "other"),
        ("/wp-login.php", "other"),
    ],
)
def test_path_labels(path: str, label: str) -> None:
    assert path_label(path) == label
