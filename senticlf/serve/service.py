"""What the routes share: the classifier, the batcher, the metrics and readiness.

Every protocol (protocols/) turns its request into texts, awaits :meth:`Service.logits` and
shapes the answer; app.py only composes the routes. The model runs as the predictor's call
plan says (runtime/plan.py): the batcher's streams make the same calls the library makes.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

import numpy as np
import onnxruntime as ort
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from senticlf import __version__, artifacts
from senticlf.errors import first_line
from senticlf.runtime import hub
from senticlf.runtime.predictor import SentimentClassifier
from senticlf.serve import body
from senticlf.serve.batcher import DynamicBatcher, QueueFull, ShuttingDown
from senticlf.serve.config import ServeConfig
from senticlf.serve.metrics import ServerMetrics
from senticlf.serve.schema import ApiError

log = logging.getLogger("senticlf.serve")
_INLINE_ENCODE_CHARS = 20_000


class Service:
    """What the routes share: the classifier, the batcher, the metrics and readiness."""

    def __init__(
        self, classifier: SentimentClassifier, config: ServeConfig, metrics: ServerMetrics
    ) -> None:
        self.classifier = classifier
        self.config = config
        self.metrics = metrics
        plan = classifier.plan
        self.batcher = DynamicBatcher(
            classifier.run_call,
            streams=plan.streams,
            call_size=plan.batch_size,
            token_budget=plan.token_budget,
            max_wait_s=config.max_wait_ms / 1000,
            max_queue=config.max_queue,
            metrics=metrics,
        )
        self.ready = False
        self.model_name = config.model_name or hub.bundle_name(classifier.bundle_dir)

    async def warm_up(self) -> None:
        """Run the model short and at full width before saying ready.

        ONNX Runtime allocates its buffers and picks kernels on the first calls of each shape,
        so the first requests would otherwise be slow; /health says ready only after this.
        """
        clf = self.classifier
        texts = ["warm up", " ".join(["warm"] * clf.encoder.max_length)] * clf.plan.streams
        try:
            await self.batcher.on_inference_thread(clf.probabilities, texts)
        except Exception:  # the server can still try; requests will report their own error
            log.exception("warm-up failed")
        self.ready = True
        log.info("warmed up; %s", clf.plan.describe())

    async def read_body(self, request: Request) -> bytes:
        """The body, refused (413) once past --max-body-bytes, declared or streamed."""
        return await body.read(request.scope, request.receive, self.config.max_body_bytes)

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
            "temperature": clf.calibrator.equivalent_temperature,
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
            "plan": {
                "batch_size": clf.plan.batch_size,
                "streams": clf.plan.streams,
                "threads": clf.plan.execution.threads,
                "spinning": clf.plan.execution.spinning,
                "token_budget": clf.plan.token_budget,
                "source": clf.plan.source,
            },
        }
