"""The server's settings: one validated value shared by the CLI, the app and the batcher.

Defaults are chosen for a small CPU box (measured in benchmarks/results/serve-*.md): the
predictor's own call plan (texts per call, calls at once, threads per call: runtime/plan.py)
and a queue short enough that an overloaded server answers 503 at once instead of letting
latency grow without bound. How the model runs is the predictor's business (PredictorOptions);
this record holds what only a server has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from senticlf.errors import SenticlfError
from senticlf.runtime.options import check_min_confidence

# A model name is one URL path segment: /v2/models/{name}/infer.
_URL_SAFE_NAME = re.compile(r"[A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ServeConfig:
    """How the server listens, batches and refuses work."""

    host: str = "127.0.0.1"
    port: int = 8000
    # How long a worker waits to fill a call of several texts, and only while requests are
    # arriving together: a lone client never waits (see DynamicBatcher). Models that run one
    # text a call (dynamic INT8) never wait.
    max_wait_ms: float = 5.0
    # Texts allowed to wait; a request that would exceed it gets 503 + Retry-After.
    max_queue: int = 256
    # Per-request limits: a client error (413) beyond them, never a slow server.
    max_inputs: int = 64
    max_body_bytes: int = 1 << 20
    # The model's name in the KServe v2 routes (/v2/models/{name}); None: the bundle's folder.
    model_name: str | None = None
    # Below this top probability /classify answers "uncertain" (a request may set its own).
    min_confidence: float | None = None

    def __post_init__(self) -> None:
        positive = {
            "--max-queue": self.max_queue,
            "--max-inputs": self.max_inputs,
            "--max-body-bytes": self.max_body_bytes,
        }
        for option, value in positive.items():
            if value < 1:
                raise SenticlfError(f"{option} must be at least 1, got {value}")
        if not 0 <= self.port <= 65535:
            raise SenticlfError(
                f"--port must be between 0 (any free port) and 65535, got {self.port}"
            )
        if self.model_name is not None and not _URL_SAFE_NAME.fullmatch(self.model_name):
            raise SenticlfError(
                f"--model-name must be letters, digits, '.', '_' or '-', got {self.model_name!r}"
            )
        check_min_confidence(self.min_confidence, "--min-confidence")
        if self.max_wait_ms < 0:
            raise SenticlfError(f"--max-wait-ms must be >= 0, got {self.max_wait_ms}")
