"""``senticlf evaluate``: a bundle (or two models side by side) on a labelled file.

Answers what a user asks before shipping: how good is it on my data, can its probabilities be
trusted, how accurate it is on the reviews it is sure of, where does it fail. Reads any file ``train --data`` reads, maps its labels onto the
bundle's, and writes report.json, report.md, reliability.png and coverage.png into a folder that appears
only complete.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from senticlf import __version__, artifacts, cpu, data
from senticlf.errors import SenticlfError
from senticlf.evaluation import comparison, report, scoring
from senticlf.runtime.options import PredictorOptions
from senticlf.runtime.predictor import SentimentClassifier


@dataclass(frozen=True)
class EvaluationRequest:
    """What to score, on what, and where to write; checked before any model is loaded."""

    bundle: Path
    data: str
    out: Path | None = None
    compare: Path | None = None
    fp32: bool = False  # compare the bundle's fp32 model with its INT8 (CUDA: fp16) model
    text_column: str | None = None
    label_column: str | None = None
    overwrite: bool = False
    target_accuracy: float | None = None  # report the threshold that reaches this accuracy
    predictor: PredictorOptions = PredictorOptions()  # threads, streams, batch size, device
    explain: bool = False  # the decisive sentences of every misclassified review

    def __post_init__(self) -> None:
        if self.compare is not None and self.fp32:
            raise SenticlfError(
                "--compare OTHER_BUNDLE and --fp32 (fp32 vs INT8 of one bundle) exclude each other"
            )
        if self.out is not None and self.out.exists() and not self.overwrite:
            raise SenticlfError(f"{self.out} already exists; pass --overwrite to replace it")
        if self.target_accuracy is not None and not 0 < self.target_accuracy <= 1:
            raise SenticlfError(f"--target-accuracy must be in (0, 1], got {self.target_accuracy}")


def evaluate(request: EvaluationRequest, console: Console, progress: Console) -> dict[str, Any]:
    """Score, print the report on ``console``, write it to ``request.out``; returns the report."""
    classifiers = _classifiers(request)
    labels = classifiers[0].labels
    reviews = data.read_labelled(request.data, labels, request.text_column, request.label_column)
    texts = [review.text for review in reviews]
    truth = np.array([review.label for review in reviews], dtype=np.int64)
    models = [
        scoring.score_model(c, texts, truth, progress, request.target_accuracy, request.explain)
        for c in classifiers
    ]
    result: dict[str, Any] = {
        "data": request.data,
        "reviews": len(reviews),
        "labels": list(labels),
        "models": models,
        "machine": {"cpu": cpu.cpu_name(), "instruction_sets": cpu.instruction_sets()},
        "threads": request.predictor.threads,
        "plan": classifiers[0].plan.describe(),
        "senticlf_version": __version__,
    }
    if len(models) == 2:
        result["comparison"] = comparison.compare_predictions(
            truth, models[0]["predictions"], models[1]["predictions"]
        )
    for model in models:
        model.pop("predictions")
    report.print_report(console, result)
    if request.out is not None:
        report.write_report(result, request.out, request.overwrite, progress)
    return result


def _classifiers(request: EvaluationRequest) -> list[SentimentClassifier]:
    def load(bundle: Path, quantized: bool | None) -> SentimentClassifier:
        return SentimentClassifier(bundle, request.predictor.with_changes(quantized=quantized))

    if request.fp32:
        # The reduced-precision model of this device (INT8 on a CPU, fp16 on CUDA) vs fp32.
        first = load(request.bundle, None)
        reduced = "fp16" if first.device == "cuda" else "INT8"
        has_reduced = (
            first.model_file != artifacts.FP32_MODEL
            if first.device == "cuda"
            else artifacts.INT8_MODEL in first.manifest.files
        )
        if not has_reduced:
            raise SenticlfError(
                f"bundle {request.bundle} has no {reduced} model; --fp32 compares its fp32 model "
                f"with its {reduced} one ({first.device})"
            )
        if first.device == "cpu" and first.model_file != artifacts.INT8_MODEL:
            first = load(request.bundle, True)
        return [first, load(request.bundle, False)]
    first = load(request.bundle, None)
    if request.compare is None:
        return [first]
    other = load(request.compare, None)
    if other.labels != first.labels:
        raise SenticlfError(
            f"cannot compare: {request.bundle} has labels {', '.join(first.labels)} and "
            f"{request.compare} has {', '.join(other.labels)}"
        )
    return [first, other]
