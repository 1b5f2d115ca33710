import numpy as np
import pytest

from senticlf.training.metrics import classification_metrics


def test_metrics_of_a_known_confusion_matrix():
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
