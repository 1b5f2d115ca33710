"""Two models on the same reviews: how often they agree, and whether their errors differ by chance.

Accuracy alone cannot tell a real difference from noise on a few hundred reviews; McNemar's
test looks only at the reviews where exactly one model is right, which is where a difference
lives. The exact (binomial) form is used because those reviews are often few.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def mcnemar_p(a_correct: np.ndarray, b_correct: np.ndarray) -> float:
    """Exact two-sided McNemar p-value: P(a split of the discordant pairs at least this uneven).

    Under the null hypothesis each review that one model gets right and the other wrong is a
    fair coin; the p-value is twice the smaller binomial tail, capped at 1.
    """
    a_correct = np.asarray(a_correct, dtype=bool)
    b_correct = np.asarray(b_correct, dtype=bool)
    only_a = int(np.sum(a_correct & ~b_correct))
    only_b = int(np.sum(~a_correct & b_correct))
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(only_a, only_b) + 1)) / 2**n
    return min(1.0, 2 * tail)


def compare_predictions(
    labels: np.ndarray, predictions_a: np.ndarray, predictions_b: np.ndarray
) -> dict[str, Any]:
    """Agreement, the discordant counts and McNemar's p for two models' labels."""
    labels = np.asarray(labels)
    a_correct = np.asarray(predictions_a) == labels
    b_correct = np.asarray(predictions_b) == labels
    return {
        "reviews": len(labels),
        "agreement": float(np.mean(np.asarray(predictions_a) == np.asarray(predictions_b))),
        "only_a_correct": int(np.sum(a_correct & ~b_correct)),
        "only_b_correct": int(np.sum(~a_correct & b_correct)),
        "mcnemar_p": mcnemar_p(a_correct, b_correct),
    }
