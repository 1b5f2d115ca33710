"""Accuracy, macro F1, per-label precision/recall/F1 and the confusion matrix, in numpy.

``evaluate.load("accuracy")`` fetches its metric script from the Hugging Face hub at run
time, which fails offline; these formulas are short enough to own. Labels and predictions
are indices into a label tuple, so the same code serves 2 labels or 5. One source for
training's epoch metrics, export and ``senticlf evaluate``; :mod:`senticlf.evaluation.calibration`
measures the probabilities, this module the labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

# Binary sentiment reports the positive class (index 1), as every IMDb paper does.
_POSITIVE = 1


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, n_labels: int) -> np.ndarray:
    """Counts with true labels as rows and predicted labels as columns."""
    matrix = np.zeros((n_labels, n_labels), dtype=np.int64)
    np.add.at(
        matrix, (np.asarray(labels, dtype=np.int64), np.asarray(predictions, dtype=np.int64)), 1
    )
    return matrix


def per_label_scores(matrix: np.ndarray) -> list[dict[str, float]]:
    """Precision, recall, F1 and support of each label; 0.0 where a ratio has nothing to divide."""
    scores = []
    for k in range(len(matrix)):
        true_pos = float(matrix[k, k])
        predicted = float(matrix[:, k].sum())
        actual = float(matrix[k, :].sum())
        precision = true_pos / predicted if predicted else 0.0
        recall = true_pos / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores.append({"precision": precision, "recall": recall, "f1": f1, "support": int(actual)})
    return scores


def classification_report(
    labels: np.ndarray, predictions: np.ndarray, names: Sequence[str]
) -> dict[str, Any]:
    """Everything a reviewer asks of a classifier's labels, keyed by label name."""
    matrix = confusion_matrix(labels, predictions, len(names))
    per_label = per_label_scores(matrix)
    total = int(matrix.sum())
    return {
        "reviews": total,
        "accuracy": float(np.trace(matrix) / total) if total else 0.0,
        "macro_f1": float(np.mean([s["f1"] for s in per_label])),
        "per_label": dict(zip(names, per_label, strict=True)),
        "confusion_matrix": matrix.tolist(),
    }


def classification_metrics(
    labels: np.ndarray, predictions: np.ndarray, n_labels: int | None = None
) -> dict[str, float]:
    """The four numbers a training epoch reports: accuracy, F1, precision, recall.

    Two labels: precision, recall and F1 of the positive class (index 1), as before. More
    labels: their macro averages (each label weighs the same, however rare). ``macro_f1`` is
    always there too. ``n_labels`` defaults to the largest index seen, plus one.
    """
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    if n_labels is None:
        seen = int(max(labels.max(initial=0), predictions.max(initial=0))) + 1
        n_labels = max(2, seen)
    matrix = confusion_matrix(labels, predictions, n_labels)
    per_label = per_label_scores(matrix)
    macro = {
        key: float(np.mean([s[key] for s in per_label])) for key in ("precision", "recall", "f1")
    }
    headline = per_label[_POSITIVE] if n_labels == 2 else macro
    total = int(matrix.sum())
    return {
        "accuracy": float(np.trace(matrix) / total) if total else 0.0,
        "f1": float(headline["f1"]),
        "precision": float(headline["precision"]),
        "recall": float(headline["recall"]),
        "macro_f1": macro["f1"],
    }
