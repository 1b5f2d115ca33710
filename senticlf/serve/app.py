"""The ASGI app: three protocols over one dynamic batcher, plus /health, /info, /metrics, /docs.

Built on FastAPI (Starlette underneath) for its OpenAPI page; the hot path avoids its body
models (see schema.py) and every response is plain JSON. Each protocol is a thin adapter in
protocols/ (TEI's /predict, the native /classify, KServe v2): it parses its request, hands the
texts to ``Service.logits`` and shapes the answer. Probabilities are computed with the
predictor's own methods (``logits_of_ids``, ``calibrated``, ``to_prediction``), so a text gets
the numbers ``senticlf predict`` gives it in the same ONNX call (with INT8, a text's last digits
depend on its batch-mates, in the library as here: dynamic quantization ranges are per call).
Every error, from a route, from the framework (404, 405) or from a bug (500), is the one JSON
shape of schema.ErrorBody.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from senticlf import __version__, artifacts
from senticlf.errors import first_line
from senticlf.runtime.batching import TokenIds
from senticlf.runtime.predictor import SentimentClassifier
from senticlf.serve import auth
from senticlf.serve.batcher import DynamicBatcher, QueueFull, ShuttingDown
from senticlf.serve.config import ServeConfig
from senticlf.serve.metrics import ServerMetrics
from senticlf.serve.planner import CallPlanner, run_planned
from senticlf.serve.protocols import explain, kserve, native, tei
from senticlf.serve.schema import ApiError, error_responses, parse_json

log = logging.getLogger("senticlf.serve")
_RETRY_AFTER_S = 1
_INLINE_ENCODE_CHARS = 20_000
# An oversized body is read and dropped (up to this much) before the 413 is sent: a client
# that is still sending when the server closes gets a connection reset, not the answer.
_DRAIN_LIMIT_BYTES = 128 << 20


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
        self.model_name = config.model_name or Path(classifier.bundle_dir).resolve().name

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

    async def read_body(self, request: Request) -> bytes:
        """The body, refused (413) once past --max-body-bytes, declared or streamed."""
        return await read_body(request, self.config.max_body_bytes)

    async def read_json(self, request: Request) -> Any:
        return parse_json(await self.read_body(request))

    async def logits(self, texts: list[str]) -> np.ndarray:
        """Raw logits of non-blank ``texts``, one row each, through the one batcher."""
        self.batcher.check_room(len(texts))  # refuse before paying for the tokenizer
        ids = await self._encode(texts)
        try:
            return await self.batcher.classify(ids)
        except (QueueFull, ShuttingDown):
            raise
        except Exception as exc:  # a bug or a broken model: say so, in JSON
            log.error("inference failed: %s", first_line(exc))
            raise ApiError(500, f"inference failed: {first_line(exc)}", "backend") from exc

    async def _encode(self, texts: list[str]) -> list[list[int]]:
        # A review or two tokenizes in well under a millisecond: cheaper on the event loop than
        # a hop to a thread and back. Large requests go to a thread so the loop never stalls.
        encode = self.classifier.encoder.encode
        try:
            if sum(len(text) for text in texts) <= _INLINE_ENCODE_CHARS:
                return encode(texts)
            return await run_in_threadpool(encode, texts)
        except Exception as exc:  # the tokenizer refused a text: the request's fault, not ours
            raise ApiError(
                422, f"a text could not be tokenized: {first_line(exc)}", "validation"
            ) from None

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
            "model_name": self.model_name,
            "server": asdict(self.config),
            "token_cost_by_batch_size": list(self.planner.token_cost),
        }


def create_app(
    classifier: SentimentClassifier,
    config: ServeConfig,
    metrics: ServerMetrics | None = None,
    api_key: str | None = None,
) -> Any:
    """The app for ``classifier`` (an ASGI callable), wrapped in the key check and the metrics.

    ``api_key`` is kept out of ``config`` so that /info, which shows the config, cannot leak it.
    """
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
        summary="Sentiment classification with an exported senticlf bundle, dynamically batched: "
        "TEI's /predict, the native /classify and the KServe v2 inference protocol.",
        lifespan=lifespan,
    )
    app.state.service = service
    _add_error_handlers(app, service)
    tei.add_routes(app, service)
    native.add_routes(app, service)
    kserve.add_routes(app, service)
    explain.add_routes(app, service)
    _add_operator_routes(app, service, metrics)
    if api_key is not None:
        auth.document_bearer(app)
        return metrics.middleware(auth.require_key(app, api_key, metrics))
    return metrics.middleware(app)


def _add_error_handlers(app: FastAPI, service: Service) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(QueueFull)
    async def overloaded(_: Request, exc: QueueFull) -> JSONResponse:
        # The queue is short by design, so a second is enough for it to drain on any machine.
        return _error(
            503,
            f"the server is busy ({exc.waiting} texts queued, --max-queue "
            f"{service.config.max_queue}); retry after {_RETRY_AFTER_S} s",
            "overloaded",
            {"Retry-After": str(_RETRY_AFTER_S)},
        )

    @app.exception_handler(ShuttingDown)
    async def stopping(_: Request, __: ShuttingDown) -> JSONResponse:
        return _error(503, "the server is shutting down", "unavailable")

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http")
        return _error(exc.status_code, str(exc.detail), kind, dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        where = ".".join(str(p) for p in errors[0]["loc"]) if errors else "request"
        message = errors[0]["msg"] if errors else "invalid request"
        return _error(422, f"{where}: {message}", "validation")

    @app.exception_handler(Exception)
    async def bug(_: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error: %s", first_line(exc))
        return _error(500, f"internal error: {first_line(exc)}", "backend")


def _add_operator_routes(app: FastAPI, service: Service, metrics: ServerMetrics) -> None:
    @app.get(
        "/health",
        responses={
            200: {"description": "Ready.", "content": {"application/json": {}}},
            503: {"description": "Still warming up.", "content": {"application/json": {}}},
            405: error_responses()[405],
            500: error_responses()[500],
        },
    )
    async def health() -> JSONResponse:
        """200 once the model is loaded and warmed up; 503 before (no API key needed)."""
        if service.ready:
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "warming up"}, status_code=503)

    @app.get("/info", responses=error_responses())
    async def info() -> JSONResponse:
        """The bundle's manifest, the model file in use and the server's limits."""
        return JSONResponse(service.info())

    @app.get(
        "/metrics",
        response_class=Response,
        responses={
            200: {
                "description": "Prometheus text format.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            **error_responses(),
        },
    )
    async def prometheus() -> Response:
        """Prometheus metrics."""
        return Response(metrics.render(), media_type=metrics.content_type)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it passes ``limit`` bytes, declared or streamed.

    The rest of an oversized body is read and dropped before the 413 goes out (up to
    _DRAIN_LIMIT_BYTES): urllib, requests and httpx send the whole body before they read the
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
        elif size > _DRAIN_LIMIT_BYTES:  # read and dropped up to here; then close on it
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


def _error(
    status: int, message: str, error_type: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(ApiError(status, message, error_type).body(), status, headers)
