"""Prometheus metrics of one server: what an operator needs to see load, latency and batching.

Each app owns its registry (not prometheus_client's global one), so several apps in one process
(tests) never collide and /metrics shows this server only. Paths are a fixed set: an unknown
path is counted as "other", so a scanner cannot blow up the label cardinality.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

if TYPE_CHECKING:
    from senticlf.runtime.predictor import Prediction

# Swagger UI's files behind /docs (docs_page.py), counted as one path.
DOCS_ASSETS = "/docs/assets"
PATHS = (
    "/predict",
    "/classify",
    "/health",
    "/info",
    "/metrics",
    "/docs",
    "/openapi.json",
    "/v2",
    "/v2/health/live",
    "/v2/health/ready",
)
# /v2/models/{name}...: counted by the route, whatever name a client sends.
_MODEL_ROUTES = {
    "": "/v2/models/{name}",
    "ready": "/v2/models/{name}/ready",
    "infer": "/v2/models/{name}/infer",
}
# Fine below 50 ms: a refused (503) request must be answered within milliseconds, and that is
# read off these buckets, per status.
_LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
# The predicted label's calibrated probability: finest near 1, where a confident model lives.
_CONFIDENCE_BUCKETS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ServerMetrics:
    """The counters, gauges and histograms of one server."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "senticlf_requests",
            "HTTP requests by path and status code.",
            ["path", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "senticlf_request_duration_seconds",
            "HTTP request latency, from the first byte received to the response sent, by path "
            "and status code.",
            ["path", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_progress = Gauge(
            "senticlf_requests_in_progress",
            "HTTP requests received and not yet answered, by path.",
            ["path"],
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "senticlf_batch_size",
            "Texts per ONNX Runtime call the inference streams ran.",
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "senticlf_batch_duration_seconds",
            "ONNX Runtime time per call (one stream's call of the plan's batch size).",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "senticlf_queue_depth", "Texts waiting for an inference stream.", registry=self.registry
        )
        self.texts = Counter(
            "senticlf_texts_classified", "Texts classified.", registry=self.registry
        )
        self.predictions = Counter(
            "senticlf_predictions",
            "Texts by predicted label ('uncertain' where --min-confidence abstained), by model.",
            ["model", "label"],
            registry=self.registry,
        )
        self.confidence = Histogram(
            "senticlf_prediction_confidence",
            "Calibrated probability of each text's predicted label (for 'uncertain': of the "
            "label it would have given), by model.",
            ["model"],
            buckets=_CONFIDENCE_BUCKETS,
            registry=self.registry,
        )
        self.unauthorized = Counter(
            "senticlf_unauthorized",
            "Requests answered 401: no, a malformed or a wrong API key (--api-key).",
            registry=self.registry,
        )
        self.rejected = Counter(
            "senticlf_rejected_overload",
            "Requests answered 503 because the queue was full.",
            registry=self.registry,
        )

    def observe_predictions(self, model: str, predictions: Iterable[Prediction]) -> None:
        """Count what the server predicted: labels (one increment per label) and confidences."""
        confidence = self.confidence.labels(model)
        labels: collections.Counter[str] = collections.Counter()
        for prediction in predictions:
            labels[prediction.label] += 1
            confidence.observe(prediction.score)
        for label, count in labels.items():
            self.predictions.labels(model, label).inc(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """Wrap an ASGI app so that every HTTP request is counted and timed.

        A pure ASGI wrapper rather than Starlette's BaseHTTPMiddleware: it adds microseconds,
        not a task and a stream copy per request.
        """

        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            path = path_label(scope["path"])
            start = time.perf_counter()
            status = 500  # what the client sees if the app fails before responding

            async def send_and_note(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            in_progress = self.in_progress.labels(path)
            in_progress.inc()
            try:
                await app(scope, receive, send_and_note)
            finally:
                in_progress.dec()
                self.requests.labels(path, str(status)).inc()
                self.latency.labels(path, str(status)).observe(time.perf_counter() - start)

        return wrapped


def path_label(path: str) -> str:
    """The metrics label of a request path: a known route, or "other"."""
    if path in PATHS:
        return path
    if path.startswith(f"{DOCS_ASSETS}/"):
        return DOCS_ASSETS
    if path.startswith("/v2/models/"):
        parts = path.removeprefix("/v2/models/").split("/")
        if len(parts) <= 2 and parts[0]:
            return _MODEL_ROUTES.get(parts[1] if len(parts) == 2 else "", "other")
    return "other"
