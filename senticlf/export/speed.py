"""Is INT8 faster than fp32 on this machine? Measured at export, not assumed.

Without VNNI, INT8 can gain little or even lose to fp32 (benchmarks/results/int8-variants-*.md),
so the export report says what it measured here on the validation reviews it already scores,
in the predictor's own batches, and the caller warns when INT8 does not pay.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from senticlf.runtime.batching import TokenIds, run_length_sorted
from senticlf.runtime.predictor import DEFAULT_BATCH
from senticlf.runtime.session import ModelRunner
from senticlf.runtime.tokenize import ReviewEncoder

# Passes per model, alternating which goes first, so that drift on a busy machine hits both.
ROUNDS = 2


def compare(
    fp32_model: Path, int8_model: Path, encoder: ReviewEncoder, ids: Sequence[TokenIds]
) -> dict[str, float | int]:
    """Reviews per second of both models with the predictor's defaults (batch, threads)."""
    runners = {"fp32": ModelRunner(fp32_model), "int8": ModelRunner(int8_model)}
    longest = sorted(ids, key=len)[-DEFAULT_BATCH:]
    for runner in runners.values():  # warm-up: first calls allocate and pick kernels
        runner.logits(*encoder.pad(longest))
    speeds: dict[str, list[float]] = {name: [] for name in runners}
    for r in range(ROUNDS):
        for name in sorted(runners, reverse=bool(r % 2)):
            speeds[name].append(_reviews_per_s(runners[name], encoder, ids))
    fp32, int8 = statistics.median(speeds["fp32"]), statistics.median(speeds["int8"])
    return {
        "fp32_reviews_per_s": fp32,
        "int8_reviews_per_s": int8,
        "int8_speedup": int8 / fp32,
        "speed_batch_size": DEFAULT_BATCH,
    }


def not_faster_warning(speed: dict[str, float | int]) -> str | None:
    if speed["int8_speedup"] > 1.0:
        return None
    return (
        f"INT8 is not faster than fp32 on this CPU ({speed['int8_reviews_per_s']:.1f} vs "
        f"{speed['fp32_reviews_per_s']:.1f} reviews/s); it is kept for its size, and "
        "`senticlf predict --fp32` (or load(..., quantized=False)) serves fp32"
    )


def _reviews_per_s(runner: ModelRunner, encoder: ReviewEncoder, ids: Sequence[TokenIds]) -> float:
    def logits(batch: list[TokenIds]) -> np.ndarray:
        return runner.logits(*encoder.pad(batch))

    start = time.perf_counter()
    run_length_sorted(ids, DEFAULT_BATCH, logits)
    return len(ids) / (time.perf_counter() - start)
