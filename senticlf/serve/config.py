"""The server's settings: one validated value shared by the CLI, the app and the batcher.

Defaults are chosen for a small CPU box (measured in benchmarks/results/serve-*.md): one
inference at a time using every core, length-sorted batches, and a queue short enough that an
overloaded server answers 503 at once instead of letting latency grow without bound.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from senticlf.errors import SenticlfError
from senticlf.runtime.confidence import MIN_CONFIDENCE

# A model name is one URL path segment: /v2/models/{name}/infer.
_URL_SAFE_NAME = re.compile(r"[A-Za-z0-9._-]+")


def available_cores() -> int:
    """Cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


@dataclass(frozen=True)
class ServeConfig:
    """How the server listens, batches and refuses work."""

    host: str = "127.0.0.1"
    port: int = 8000
    # ONNX Runtime intra-op threads. One inference runs at a time, so it may use every core;
    # two concurrent sessions on 2 cores would only take turns on them.
    threads: int = field(default_factory=available_cores)
    # Texts the batching loop takes at once. They are sorted by length and split into ONNX
    # calls of at most the predictor's batch size (planner.py), so a larger pick pads less.
    max_batch: int = 32
    # Token budget of one pick (sum of token counts): long reviews make smaller batches.
    max_batch_tokens: int = 16384
    # How long the loop waits to fill a batch, and only while requests are arriving together:
    # a lone client never waits (see DynamicBatcher).
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
            "--threads": self.threads,
            "--max-batch": self.max_batch,
            "--max-batch-tokens": self.max_batch_tokens,
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
        if self.min_confidence is not None and self.min_confidence not in MIN_CONFIDENCE:
            raise SenticlfError(
                f"--min-confidence must be in {MIN_CONFIDENCE}, got {self.min_confidence}"
            )
        if self.max_wait_ms < 0:
            raise SenticlfError(f"--max-wait-ms must be >= 0, got {self.max_wait_ms}")
