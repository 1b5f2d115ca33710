"""Export's calibration step: which labelled reviews to fit on, and the fit itself.

By default the run's validation reviews (held out from training, already scored by the
export check). ``--calibration-data`` names any labelled source ``train --data`` reads; its
reviews are read before the slow ONNX export, so a bad file fails at once, and scored with
the fp32 ONNX model the bundle ships, as served.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from rich.console import Console

from senticlf import artifacts, data
from senticlf.errors import SenticlfError
from senticlf.evaluation import calibration
from senticlf.export import check
from senticlf.export.options import ExportOptions
from senticlf.runtime.tokenize import ReviewEncoder
from senticlf.training.config import TrainConfig

VALIDATION_SOURCE = "the run's validation reviews"


def read_reviews(options: ExportOptions, config: TrainConfig) -> list[data.Review] | None:
    """The ``--calibration-data`` reviews, labels mapped onto the run's; None: use validation."""
    if not options.calibrate or options.calibration_data is None:
        return None
    reviews = data.read_labelled(
        options.calibration_data, config.label_names, config.text_column, config.label_column
    )
    if not reviews:
        raise SenticlfError(f"--calibration-data {options.calibration_data} has no reviews")
    return reviews


def fit(
    reviews: list[data.Review] | None,
    options: ExportOptions,
    model_path: Path,
    encoder: ReviewEncoder,
    val: check.Scores,
    val_labels: np.ndarray,
    console: Console,
) -> calibration.CalibrationFit:
    """The calibrator fitted on ``reviews`` (None: the run's validation reviews, ``val``)."""
    if reviews is None:
        return calibration.fit_and_measure(val.logits, val_labels, VALIDATION_SOURCE)
    console.print(f"scoring {len(reviews)} calibration reviews ({options.calibration_data})")
    labels = np.array([review.label for review in reviews], dtype=np.int64)
    ids = encoder.encode([review.text for review in reviews])
    scored = check.onnx_scores(model_path, encoder, ids, labels)
    return calibration.fit_and_measure(scored.logits, labels, str(options.calibration_data))


def report(
    fitted: calibration.CalibrationFit, val: check.Scores, val_labels: np.ndarray
) -> artifacts.CalibrationCheck:
    """The export check's ``calibration``: the fit, and validation accuracy with its labels."""
    predicted = fitted.calibrator.apply(val.logits).argmax(axis=1)
    return dataclasses.replace(
        fitted.check, validation_accuracy_after=float(np.mean(predicted == val_labels))
    )
