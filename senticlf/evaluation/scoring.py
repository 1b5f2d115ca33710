"""One model on labelled reviews: every number ``senticlf evaluate`` reports for it.

The model runs once; raw logits give the uncalibrated (T = 1) and the calibrated (the
bundle's calibrator, as served) probabilities alike, so both calibration figures cost one pass.
Labels are the argmax of the calibrated probabilities, as ``predict`` gives them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress

from senticlf import artifacts
from senticlf.evaluation import (
    calibration,
    coverage,
    error_analysis,
    explained_errors,
    label_metrics,
    lengths,
)
from senticlf.runtime.batching import chunks
from senticlf.runtime.predictor import SentimentClassifier

# Misclassified reviews quoted per error group, cut to this many characters.
_EXAMPLES = 3
_EXAMPLE_CHARS = 300


def model_name(classifier: SentimentClassifier) -> str:
    precision = artifacts.MODEL_PRECISION[classifier.model_file].replace("int8", "INT8")
    return f"{classifier.bundle_dir.name} ({precision})"


def run_logits(
    classifier: SentimentClassifier, texts: Sequence[str], console: Console
) -> tuple[np.ndarray, float]:
    """Raw logits in input order and the seconds taken (tokenizing included, as in predict)."""
    parts = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"scoring {model_name(classifier)}", total=len(texts))
        start = time.perf_counter()
        for chunk in chunks(texts):
            parts.append(classifier.logits_of_ids(classifier.encoder.encode(list(chunk))))
            progress.advance(task, len(chunk))
        seconds = time.perf_counter() - start
    return np.concatenate(parts).astype(np.float64), seconds


def score_model(
    classifier: SentimentClassifier,
    texts: Sequence[str],
    labels: np.ndarray,
    console: Console,
    target_accuracy: float | None = None,
    explain: bool = False,
) -> dict[str, Any]:
    """Metrics, calibration (T = 1 and as served), coverage, lengths, error groups, speed;
    with ``explain``, the decisive sentences of every misclassified review."""
    logits, seconds = run_logits(classifier, texts, console)
    probabilities = classifier.calibrated(logits)
    predictions = probabilities.argmax(axis=1)
    names = classifier.labels
    served = classifier.calibrator.describe()
    calibrated = calibration.probability_scores(probabilities, labels, served)
    raw = calibration.calibration_scores(logits, labels, 1.0)
    max_length = classifier.manifest.max_length
    token_counts = classifier.encoder.untruncated_lengths(list(texts))
    correct = predictions == labels
    result = {
        "name": model_name(classifier),
        "bundle": str(classifier.bundle_dir),
        "model_file": classifier.model_file,
        "max_length": max_length,
        "truncation": classifier.manifest.truncation,
        "calibrator": served,
        "metrics": label_metrics.classification_report(labels, predictions, names),
        "calibration": {"calibrated": calibrated.to_dict(), "uncalibrated": raw.to_dict()},
        "coverage": coverage.summary(probabilities, labels, target_accuracy),
        "by_length": lengths.accuracy_by_length(token_counts, correct, max_length),
        **_errors(texts, labels, predictions, probabilities, token_counts, max_length, names),
        "throughput": {
            "seconds": seconds,
            "reviews_per_s": len(texts) / seconds if seconds else None,
            "batch_size": classifier.batch_size,
        },
        "predictions": predictions,  # kept for the comparison; dropped before writing
    }
    if explain:
        result["explained_errors"] = explained_errors.explain_errors(
            classifier, texts, labels, predictions, console
        )
    return result


def _errors(
    texts: Sequence[str],
    labels: np.ndarray,
    predictions: np.ndarray,
    probabilities: np.ndarray,
    token_counts: Sequence[int],
    max_length: int,
    names: Sequence[str],
) -> dict[str, Any]:
    """The training report's error groups, over the misclassified reviews, with examples."""
    wrong = np.flatnonzero(predictions != labels)
    counts = {group: 0 for group in error_analysis.GROUPS}
    examples: dict[str, list[dict[str, Any]]] = {group: [] for group in error_analysis.GROUPS}
    for i in wrong.tolist():
        for group in error_analysis.error_groups(texts[i], token_counts[i], max_length):
            counts[group] += 1
            if len(examples[group]) < _EXAMPLES:
                examples[group].append({
                    "label": names[labels[i]],
                    "predicted": names[predictions[i]],
                    "score": round(float(probabilities[i, predictions[i]]), 3),
                    "text": texts[i][:_EXAMPLE_CHARS],
                })  # fmt: skip
    return {"misclassified": len(wrong), "error_groups": counts, "error_examples": examples}
