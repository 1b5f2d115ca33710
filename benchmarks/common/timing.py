"""Timing loops the commands share: backends take turns (rotating order) so that drift on a
shared machine hits them alike."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import backends
from benchmarks.common.records import Percentiles, Runs
from senticlf import data


def read_reviews(path: Path) -> tuple[list[str], np.ndarray]:
    rows = data.read_table(path)
    return [r.text for r in rows], np.array([r.label for r in rows])


def rotate(items: list[Any], k: int) -> list[Any]:
    k %= len(items)
    return items[k:] + items[:k]


def latency(models: list[backends.Backend], texts: list[str]) -> dict[str, Percentiles]:
    """Batch 1, one review at a time; each backend times every review in one block, after an
    untimed call.

    Not interleaved review by review: then every call comes right after another backend's,
    whose ONNX Runtime worker threads are still spinning on the same cores, and the median of
    a 2-layer model on 2 cores came out 3x its own (18.8 ms interleaved, 5.9 ms in a block).
    """
    times: dict[str, list[float]] = {m.name: [] for m in models}
    for model in models:
        model.positive(texts[:1])
        for text in texts:
            start = time.perf_counter()
            model.positive([text])
            times[model.name].append(time.perf_counter() - start)
    return {name: Percentiles.of_seconds(t) for name, t in times.items()}


def throughput(
    models: list[backends.Backend], sorted_texts: list[str], batch_size: int, rounds: int
) -> tuple[dict[str, Runs], dict[str, np.ndarray]]:
    """Reviews per second over all texts in length-sorted batches, one run per round."""
    speeds: dict[str, list[float]] = {m.name: [] for m in models}
    outputs: dict[str, np.ndarray] = {}
    batches = [sorted_texts[i : i + batch_size] for i in range(0, len(sorted_texts), batch_size)]
    for r in range(rounds):
        for model in rotate(models, r):
            start = time.perf_counter()
            outputs[model.name] = np.concatenate([model.positive(batch) for batch in batches])
            speeds[model.name].append(len(sorted_texts) / (time.perf_counter() - start))
    return {name: Runs.of(s) for name, s in speeds.items()}, outputs
