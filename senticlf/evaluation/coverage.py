"""Abstention: how accurate is the model on the reviews it is sure of, and how many are those?

A user who routes hard reviews to a person (``--min-confidence P``: a review whose probability
is below P is labelled ``uncertain``) trades coverage, the share of reviews answered, for
accuracy on them. The coverage curve gives that trade for every threshold; the threshold for a
target accuracy is the smallest one whose answered reviews reach it. A review is answered at
threshold t when its top (calibrated) probability is >= t, as in the predictor.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# Thresholds of the stored curve (and its plot): every 0.005 from 0 to 1; the Markdown table
# shows every 0.05. A threshold below 1/labels answers everything, so those rows are skipped.
_CURVE_STEP = 0.005
TABLE_THRESHOLDS = tuple(round(0.5 + 0.05 * k, 2) for k in range(10)) + (0.97, 0.99)


@dataclass(frozen=True)
class CoveragePoint:
    """At this threshold: reviews answered, their share, and the accuracy on them."""

    threshold: float
    answered: int
    coverage: float
    accuracy: float | None  # None when nothing is answered

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _confidence_and_correct(
    probabilities: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    probabilities = np.asarray(probabilities, dtype=np.float64)
    correct = probabilities.argmax(axis=1) == np.asarray(labels, dtype=np.int64)
    return probabilities.max(axis=1), correct


def point(confidence: np.ndarray, correct: np.ndarray, threshold: float) -> CoveragePoint:
    answered = confidence >= threshold
    count = int(answered.sum())
    return CoveragePoint(
        threshold=float(threshold),
        answered=count,
        coverage=count / len(confidence) if len(confidence) else 0.0,
        accuracy=float(correct[answered].mean()) if count else None,
    )


def coverage_curve(
    probabilities: np.ndarray, labels: np.ndarray, thresholds: tuple[float, ...] | None = None
) -> list[CoveragePoint]:
    """Points at ``thresholds`` (default every 0.005 from 1/labels up to 1)."""
    confidence, correct = _confidence_and_correct(probabilities, labels)
    if thresholds is None:
        lowest = 1.0 / np.asarray(probabilities).shape[1]
        grid = np.arange(0.0, 1.0 + _CURVE_STEP / 2, _CURVE_STEP)
        thresholds = (lowest, *(round(float(t), 3) for t in grid if t > lowest))
    return [point(confidence, correct, t) for t in thresholds]


def threshold_for_accuracy(
    probabilities: np.ndarray, labels: np.ndarray, target: float
) -> CoveragePoint | None:
    """The smallest threshold whose answered reviews are at least ``target`` accurate.

    Exact over every distinct confidence (the only places where the answered set changes);
    None when no threshold reaches ``target``. Accuracy need not rise with the threshold, so
    this is the lowest threshold that reaches it, not the first crossing from above.
    """
    confidence, correct = _confidence_and_correct(probabilities, labels)
    order = np.argsort(-confidence, kind="stable")
    sorted_confidence = confidence[order]
    right = np.cumsum(correct[order])
    answered = np.arange(1, len(confidence) + 1)
    # At threshold c every review with confidence >= c is answered: the end of each tie group.
    ends = np.flatnonzero(np.append(sorted_confidence[1:] != sorted_confidence[:-1], True))
    reaching = ends[right[ends] / answered[ends] >= target]
    if len(reaching) == 0:
        return None
    last = int(reaching[-1])  # lowest threshold: thresholds fall along the sorted order
    return CoveragePoint(
        threshold=float(sorted_confidence[last]),
        answered=int(answered[last]),
        coverage=float(answered[last] / len(confidence)),
        accuracy=float(right[last] / answered[last]),
    )


def summary(
    probabilities: np.ndarray, labels: np.ndarray, target_accuracy: float | None = None
) -> dict[str, Any]:
    """What ``senticlf evaluate`` stores: the curve, and the threshold for the target if asked."""
    result: dict[str, Any] = {
        "curve": [p.to_dict() for p in coverage_curve(probabilities, labels)],
        "table": [p.to_dict() for p in coverage_curve(probabilities, labels, TABLE_THRESHOLDS)],
    }
    if target_accuracy is not None:
        found = threshold_for_accuracy(probabilities, labels, target_accuracy)
        result["target"] = {
            "accuracy": target_accuracy,
            "reached": None if found is None else found.to_dict(),
        }
    return result
