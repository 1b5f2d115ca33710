"""The ASGI app: three protocols over one dynamic batcher, plus /health, /info, /metrics, /docs.

This module only composes: the shared state is service.Service, the protocols are thin
adapters in protocols/ (TEI's /predict, the native /classify, KServe v2) that parse their
request, hand the texts to ``Service.logits`` and shape the answer. Probabilities come from the
predictor's own methods (``run_call``, ``calibrated``, ``to_prediction``) in the calls its plan
allows, so a text gets the numbers ``senticlf predict`` gives it, whatever its batch-mates.
Each protocol reads the body with body.py and checks it with its own request model
(grammar.py); every response is plain JSON.
Every error, from a route, from the framework (404, 405) or from a bug (500), is the one JSON
shape of schema.ErrorBody, its status given by its kind (schema.STATUS_OF_KIND).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from senticlf import __version__
from senticlf.errors import first_line
from senticlf.runtime.predictor import SentimentClassifier
from senticlf.serve import auth, docs_page
from senticlf.serve.batcher import QueueFull, ShuttingDown
from senticlf.serve.config import ServeConfig
from senticlf.serve.metrics import ServerMetrics
from senticlf.serve.protocols import explain, kserve, native, tei
from senticlf.serve.schema import ApiError, error_responses
from senticlf.serve.service import Service

log = logging.getLogger("senticlf.serve")
_RETRY_AFTER_S = 1


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
        docs_url=None,  # docs_page serves /docs without a CDN
        redoc_url=None,
    )
    docs_page.add_docs(app)
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
        return exc.response()

    @app.exception_handler(QueueFull)
    async def overloaded(_: Request, exc: QueueFull) -> JSONResponse:
        # The queue is short by design, so a second is enough for it to drain on any machine.
        return ApiError.of(
            "overloaded",
            f"the server is busy ({exc.waiting} texts queued, --max-queue "
            f"{service.config.max_queue}); retry after {_RETRY_AFTER_S} s",
            {"Retry-After": str(_RETRY_AFTER_S)},
        ).response()

    @app.exception_handler(ShuttingDown)
    async def stopping(_: Request, __: ShuttingDown) -> JSONResponse:
        return ApiError.of("unavailable", "the server is shutting down").response()

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        return ApiError.passed_through(exc.status_code, str(exc.detail), headers).response()

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        where = ".".join(str(p) for p in errors[0]["loc"]) if errors else "request"
        message = errors[0]["msg"] if errors else "invalid request"
        return ApiError.of("validation", f"{where}: {message}").response()

    @app.exception_handler(Exception)
    async def bug(_: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error: %s", first_line(exc))
        return ApiError.of("backend", f"internal error: {first_line(exc)}").response()


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
