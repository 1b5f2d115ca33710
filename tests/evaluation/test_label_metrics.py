import numpy as np
import pytest

from senticlf.evaluation.label_metrics import classification_metrics, classification_report

# Three labels, worked by hand: rows true, columns predicted
#   true 0: [2, 1, 0]   true 1: [0, 2, 1]   true 2: [1, 0, 3]
LABELS = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 1])
PREDICTED = np.array([0, 1, 0, 1, 2, 2, 2, 0, 2, 1])


def test_three_label_report_matches_the_hand_computation():
    report = classification_report(LABELS, PREDICTED, ["negative", "neutral", "positive"])
    assert report["confusion_matrix"] == [[2, 1, 0], [0, 2, 1], [1, 0, 3]]
    assert report["accuracy"] == pytest.approx(7 / 10)
    negative, neutral, positive = (
        report["per_label"][k] for k in ("negative", "neutral", "positive")
    )
    assert negative["precision"] == pytest.approx(2 / 3) and negative["recall"] == pytest.approx(
        2 / 3
    )
    assert neutral["f1"] == pytest.approx(2 / 3) and neutral["support"] == 3
    assert positive["precision"] == pytest.approx(3 / 4) and positive["recall"] == pytest.approx(
        3 / 4
    )
    assert report["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 3 / 4) / 3)  # 25/36


def test_training_metrics_are_macro_averages_beyond_two_labels():
    metrics = classification_metrics(LABELS, PREDICTED)
    assert metrics["f1"] == pytest.approx(25 / 36) == metrics["macro_f1"]
    assert metrics["precision"] == pytest.approx(25 / 36) and metrics["accuracy"] == 0.7


def test_binary_metrics_keep_the_positive_class():
    labels = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    predicted = np.array([1, 1, 0, 0, 0, 1, 0, 1])  # tp=3 fn=1 fp=1 tn=3
    metrics = classification_metrics(labels, predicted)
    assert metrics["accuracy"] == pytest.approx(6 / 8)
    assert metrics["precision"] == pytest.approx(3 / 4)
    assert metrics["recall"] == pytest.approx(3 / 4)
    assert metrics["f1"] == pytest.approx(3 / 4)


def test_no_positive_prediction_gives_zero_precision_not_a_crash():
    metrics = classification_metrics(np.array([1, 0]), np.array([0, 0]))
    assert metrics["precision"] == 0.0 and metrics["f1"] == 0.0 and metrics["accuracy"] == 0.5
    report = classification_report(np.array([1, 0]), np.array([0, 0]), ["negative", "positive"])
    assert report["per_label"]["positive"] == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "support": 1,
    }
