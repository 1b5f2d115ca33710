"""Accuracy, F1, precision and recall of the positive class, in numpy.

``evaluate.load("accuracy")`` fetches its metric script from the Hugging Face hub at run
time, which fails offline; these four formulas are short enough to own.
"""

from __future__ import annotations

import numpy as np


def classification_metrics(labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    labels = np.asarray(labels)
    predictions = np.asarray(predictions)
    true_pos = float(np.sum((predictions == 1) & (labels == 1)))
    false_pos = float(np.sum((predictions == 1) & (labels == 0)))
    false_neg = float(np.sum((predictions == 0) & (labels == 1)))
    precision = true_pos / (true_pos + false_pos) if true_pos + false_pos else 0.0
    recall = true_pos / (true_pos + false_neg) if true_pos + false_neg else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": float(np.mean(labels == predictions)) if len(labels) else 0.0,
        "f1": f1,
        "precision": precision,
        "recall": recall,
    }
