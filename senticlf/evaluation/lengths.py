"""Accuracy by review length, in buckets drawn around the model's max length.

A model sees at most ``max_length`` tokens of a review; the bucket beyond it is the set of
reviews it saw only in part, so the cost of truncation is the gap between that bucket and the
others. The buckets are quarters and halves of ``max_length``: <=128, 129-256, 257-512, >512
for a 512-token model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def bucket_edges(max_length: int) -> list[int]:
    """Upper bounds (inclusive) of every bucket but the last, which is open (truncated)."""
    return sorted({max(1, max_length // 4), max(1, max_length // 2), max_length})


def accuracy_by_length(
    lengths: Sequence[int], correct: np.ndarray, max_length: int
) -> list[dict[str, Any]]:
    """One row per bucket: its token range, how many reviews, their accuracy (None if empty)."""
    lengths_array = np.asarray(lengths, dtype=np.int64)
    correct = np.asarray(correct, dtype=bool)
    rows = []
    lower = 1
    for upper in [*bucket_edges(max_length), None]:
        inside = lengths_array >= lower
        if upper is not None:
            inside &= lengths_array <= upper
        count = int(inside.sum())
        rows.append({
            "tokens": f"{lower}-{upper}" if upper is not None else f">{lower - 1}",
            "truncated": upper is None,
            "reviews": count,
            "accuracy": float(correct[inside].mean()) if count else None,
        })  # fmt: skip
        if upper is not None:
            lower = upper + 1
    return rows
