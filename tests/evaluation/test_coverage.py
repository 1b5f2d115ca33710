import numpy as np
import pytest

from senticlf.evaluation import coverage


def binary(confidence_and_right):
    """Rows [1 - c, c] predicting positive; the label says whether that was right."""
    confidence = np.array([c for c, _ in confidence_and_right])
    labels = np.array([1 if right else 0 for _, right in confidence_and_right])
    return np.stack([1 - confidence, confidence], axis=1), labels


# Six reviews: confidence 0.95 right, 0.9 right, 0.8 wrong, 0.7 right, 0.6 wrong, 0.55 right.
SIX = binary([(0.95, 1), (0.9, 1), (0.8, 0), (0.7, 1), (0.6, 0), (0.55, 1)])


def test_coverage_curve_on_a_hand_computed_example():
    points = coverage.coverage_curve(*SIX, thresholds=(0.5, 0.7, 0.85, 0.99))
    assert [(p.answered, p.coverage) for p in points] == [(6, 1.0), (4, 4 / 6), (2, 2 / 6), (0, 0)]
    assert [p.accuracy for p in points] == [4 / 6, 3 / 4, 1.0, None]


def test_the_target_gives_the_smallest_threshold_that_reaches_it():
    found = coverage.threshold_for_accuracy(*SIX, target=0.75)
    # 0.55: 4/6, 0.6: 3/5, 0.7: 3/4 -> the first to reach 0.75
    assert (found.threshold, found.answered, found.accuracy) == (0.7, 4, 0.75)
    assert found.coverage == pytest.approx(4 / 6)
    found = coverage.threshold_for_accuracy(*SIX, target=0.9)  # 0.8: 2/3, 0.9: 2/2
    assert (found.threshold, found.answered, found.accuracy) == (0.9, 2, 1.0)
    everything = coverage.threshold_for_accuracy(*SIX, target=0.6)
    assert everything.threshold == 0.55 and everything.coverage == 1.0


def test_tied_confidences_are_answered_together():
    tied = binary([(0.9, 1), (0.9, 0), (0.8, 1)])
    assert coverage.threshold_for_accuracy(*tied, target=0.6).threshold == 0.8  # 2/3
    assert coverage.threshold_for_accuracy(*tied, target=0.7) is None  # 0.9 answers 1 of 2


def test_the_summary_stores_curve_table_and_target():
    summary = coverage.summary(*SIX, target_accuracy=0.75)
    assert summary["curve"][0]["threshold"] == 0.5 and summary["curve"][-1]["threshold"] == 1.0
    assert [row["threshold"] for row in summary["table"]] == list(coverage.TABLE_THRESHOLDS)
    assert summary["target"] == {"accuracy": 0.75, "reached": {
        "threshold": 0.7, "answered": 4, "coverage": 4 / 6, "accuracy": 0.75,
    }}  # fmt: skip
