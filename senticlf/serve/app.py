"""The ASGI app: /predict through the dynamic batcher, plus /health, /info, /metrics, /docs.

Built on FastAPI (Starlette underneath) for its OpenAPI page; the hot path avoids its body
models (see schema.py) and every response is plain JSON. Probabilities are computed with the
predictor's own methods (``logits_of_ids``, ``calibrated``, ``to_prediction``), so a text gets
the numbers ``senticlf predict`` gives it in the same ONNX call (with INT8, a text's last digits
depend on its batch-mates, in the library as here: dynamic quantization ranges are per call).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from senticlf import __version__, artifacts
from senticlf.errors import first_line
from senticlf.runtime.batching import TokenIds
from senticlf.runtime.predictor import SentimentClassifier
from senticlf.serve.batcher import DynamicBatcher, QueueFull, ShuttingDown
from senticlf.serve.config import ServeConfig
from senticlf.serve.metrics import ServerMetrics
from senticlf.serve.planner import CallPlanner, run_planned
from senticlf.serve.schema import (
    BLANK_NOTE,
    ClientError,
    ErrorBody,
    PredictBody,
    PredictionBody,
    parse_predict,
)

log = logging.getLogger("senticlf.serve")
_RETRY_AFTER_S = 1
_INLINE_ENCODE_CHARS = 20_000
_BLANK_RESULT: dict[str, Any] = {"label": None, "score": None, "scores": {}, "note": BLANK_NOTE}
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": description}
    for code, description in (
        (400, "The body is not JSON."),
        (413, "The body or the list of inputs is over this server's limit."),
        (422, "The JSON does not have the request's shape (the message says where)."),
        (503, "The queue is full (see Retry-After), or the server is stopping."),
    )
}


class Service:
    """What the routes share: the classifier, the batcher, the metrics and readiness."""

    def __init__(
        self, classifier: SentimentClassifier, config: ServeConfig, metrics: ServerMetrics
    ) -> None:
        self.classifier = classifier
        self.config = config
        self.metrics = metrics
        # Until warm-up has measured this machine, batch as the predictor does.
        self.planner = CallPlanner.fixed(classifier.batch_size)
        self.batcher = DynamicBatcher(
            self._run_batch,
            max_batch=config.max_batch,
            max_batch_tokens=config.max_batch_tokens,
            max_wait_s=config.max_wait_ms / 1000,
            max_queue=config.max_queue,
            metrics=metrics,
        )
        self.ready = False

    def _run_batch(self, ids: list[TokenIds]) -> np.ndarray:
        """Logits for one batch: the planned ONNX calls, each through the predictor itself."""
        return run_planned(self.planner, ids, self.classifier.logits_of_ids)

    async def warm_up(self) -> None:
        """Run the model short and at full width, then measure what batching gains here.

        ONNX Runtime allocates its buffers and picks kernels on the first calls of each shape,
        so the first requests would otherwise be slow; /health says ready only after this.
        """
        clf = self.classifier
        texts = ["warm up", " ".join(["warm"] * clf.encoder.max_length)] * 2
        try:
            await self.batcher.on_inference_thread(clf.probabilities, texts)
            self.planner = await self.batcher.on_inference_thread(
                CallPlanner.measure, clf.logits_of_ids, clf.batch_size
            )
        except Exception:  # the server can still try; requests will report their own error
            log.exception("warm-up failed")
        self.ready = True
        costs = ", ".join(f"{c:.2f}" for c in self.planner.token_cost)
        log.info("warmed up; cost per token at batch 1..%d: %s", self.planner.max_width, costs)

    async def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        """One result per text, in order; blank texts get a note instead of a prediction."""
        wanted = [i for i, text in enumerate(texts) if text.strip()]
        results = [_BLANK_RESULT] * len(texts)
        if not wanted:
            return results
        self.batcher.check_room(len(wanted))  # refuse before paying for the tokenizer
        ids = await self._encode([texts[i] for i in wanted])
        logits = await self.batcher.classify(ids)
        for i, row in zip(wanted, self.classifier.calibrated(logits), strict=True):
            results[i] = self.classifier.to_prediction(row).as_dict()
        return results

    async def _encode(self, texts: list[str]) -> list[list[int]]:
        # A review or two tokenizes in well under a millisecond: cheaper on the event loop than
        # a hop to a thread and back. Large requests go to a thread so the loop never stalls.
        if sum(len(text) for text in texts) <= _INLINE_ENCODE_CHARS:
            return self.classifier.encoder.encode(texts)
        return await run_in_threadpool(self.classifier.encoder.encode, texts)

    def info(self) -> dict[str, Any]:
        clf = self.classifier
        manifest = clf.manifest
        return {
            "bundle": str(clf.bundle_dir),
            "model_file": clf.model_file,
            "quantized": clf.model_file == artifacts.INT8_MODEL,
            "labels": clf.labels,
            "max_length": manifest.max_length,
            "truncation": manifest.truncation,
            "temperature": manifest.temperature,
            "providers": clf.runner.session.get_providers(),
            "versions": {
                "senticlf": __version__,
                "exported_with_senticlf": manifest.senticlf_version,
                "onnxruntime": ort.__version__,
            },
            "export_check": manifest.export_check.to_dict() if manifest.export_check else None,
            "batching": manifest.batching.to_dict() if manifest.batching else None,
            "manifest": asdict(manifest),
            "server": asdict(self.config),
            "token_cost_by_batch_size": list(self.planner.token_cost),
        }


def create_app(
    classifier: SentimentClassifier, config: ServeConfig, metrics: ServerMetrics | None = None
) -> Any:
    """The app for ``classifier``, wrapped in the metrics middleware (an ASGI callable)."""
    metrics = metrics or ServerMetrics()
    service = Service(classifier, config, metrics)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.batcher.start()
        warm_up = asyncio.create_task(service.warm_up())
        yield
        # uvicorn calls this after the requests in flight have been answered (SIGTERM).
        await warm_up
        await service.batcher.stop()

    app = FastAPI(
        title="senticlf",
        version=__version__,
        summary="Sentiment classification with an exported senticlf bundle, dynamically batched.",
        lifespan=lifespan,
    )
    app.state.service = service

    @app.exception_handler(ClientError)
    async def client_error(_: Request, exc: ClientError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.post(
        "/predict",
        response_model=list[PredictionBody],
        responses=_ERRORS,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": PredictBody.model_json_schema()}},
            }
        },
    )
    async def predict(request: Request) -> Response:
        """Classify one text or a list of texts: one result per input, in order."""
        body = await _read_body(request, config.max_body_bytes)
        texts = parse_predict(body, config.max_inputs).texts
        try:
            results = await service.predict(texts)
        except QueueFull as full:
            return _overloaded(full, service)
        except ShuttingDown:
            return _error(503, "the server is shutting down", "unavailable")
        except Exception as exc:  # a bug or a broken model: say so, in JSON
            log.exception("prediction failed")
            return _error(500, f"inference failed: {first_line(exc)}", "backend")
        return JSONResponse(results)

    @app.get("/health")
    async def health() -> JSONResponse:
        """200 once the model is loaded and warmed up; 503 before."""
        if service.ready:
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "warming up"}, status_code=503)

    @app.get("/info")
    async def info() -> JSONResponse:
        """The bundle's manifest, the model file in use and the server's limits."""
        return JSONResponse(service.info())

    @app.get("/metrics")
    async def prometheus() -> Response:
        """Prometheus metrics."""
        return Response(metrics.render(), media_type=metrics.content_type)

    return metrics.middleware(app)


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it passes ``limit`` bytes, declared or streamed."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> ClientError:
    return ClientError(
        413,
        f"the body has {size:,}+ bytes; this server takes at most {limit:,} (--max-body-bytes)",
        "payload_too_large",
    )


def _overloaded(full: QueueFull, service: Service) -> JSONResponse:
    # The queue is short by design, so a second is enough for it to drain on any machine.
    return _error(
        503,
        f"the server is busy ({full.waiting} texts queued, --max-queue "
        f"{service.config.max_queue}); retry after {_RETRY_AFTER_S} s",
        "overloaded",
        {"Retry-After": str(_RETRY_AFTER_S)},
    )


def _error(
    status: int, message: str, error_type: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(ClientError(status, message, error_type).body(), status, headers)
