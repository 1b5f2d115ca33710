"""The lightweight classifier: an exported bundle in, labelled probabilities out.

Imports onnxruntime, tokenizers and numpy only (a test enforces it), so
``pip install senticlf`` can serve a model without torch or transformers.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from senticlf import artifacts
from senticlf.errors import SenticlfError
from senticlf.evaluation.calibration import Calibrator
from senticlf.runtime import batch_choice
from senticlf.runtime.batching import (
    TOKEN_BUDGET,
    TokenIds,
    chunks,
    run_length_sorted,
    run_token_budget,
)
from senticlf.runtime.device import choose_model, providers_for
from senticlf.runtime.session import CPU, CUDA, ModelRunner
from senticlf.runtime.tokenize import ReviewEncoder

if TYPE_CHECKING:
    from senticlf.runtime.explain import Explanation

# None: the fastest batch-invariant size measured for this model on this CPU (batch_choice.py).
DEFAULT_BATCH: int | None = None
# One softmax for every caller (it lives beside the batch measurement, which needs it too).
softmax = batch_choice.softmax
# Binary bundles label a text positive when P(positive) reaches this.
DEFAULT_THRESHOLD = 0.5
# The label of a text whose probability falls below ``min_confidence`` (abstention).
UNCERTAIN = "uncertain"
__all__ = ["DEFAULT_BATCH", "UNCERTAIN", "Prediction", "SentimentClassifier", "load", "softmax"]


@dataclass(frozen=True)
class Prediction:
    """One text's result: the winning label, its probability and every label's probability.

    ``positive`` is P(positive) for binary sentiment bundles (None for other label sets), kept
    because it is the one number most binary users want. With ``min_confidence`` the label
    may be ``uncertain``; ``score`` is then the probability of the label it would have given.
    """

    label: str
    score: float
    scores: dict[str, float] = field(default_factory=dict)
    positive: float | None = None

    def as_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {"label": self.label, "score": self.score}
        if self.positive is not None:
            record["positive"] = self.positive
        record["scores"] = dict(self.scores)
        return record


class SentimentClassifier:
    """A loaded bundle. Thread-safe: ONNX Runtime sessions may be run from several threads.

    On CUDA (``device="cuda"``, or by default when onnxruntime-gpu sees a GPU) it runs the
    bundle's fp16 model (fp32 without one, or with ``quantized=False``) in calls of at most
    :data:`~senticlf.runtime.batching.TOKEN_BUDGET` padded tokens; on the CPU the INT8 model
    when the bundle has one, in calls of :attr:`batch_size` texts.
    """

    def __init__(
        self,
        bundle_dir: str | Path,
        quantized: bool | None = None,
        providers: Sequence[str] | None = None,
        threads: int | None = None,
        batch_size: int | None = None,
        threshold: float | None = None,
        min_confidence: float | None = None,
        device: str | None = None,
    ) -> None:
        if batch_size is not None and batch_size < 1:
            raise SenticlfError(f"batch size must be at least 1, got {batch_size}")
        self.bundle_dir = Path(bundle_dir)
        self.manifest = artifacts.read_manifest(self.bundle_dir, verify=True)
        self.labels = list(self.manifest.labels)
        self.threshold = _checked_threshold(threshold, self.labels)
        self.min_confidence = _checked_min_confidence(min_confidence, self.labels)
        self.model_file, self.runner = self._open(
            providers_for(device, providers), quantized, threads
        )
        self.device = "cuda" if self.runner.provider == CUDA else "cpu"
        # On CUDA a call is sized by padded tokens (batch_size then bounds its texts).
        self.token_budget: int | None = TOKEN_BUDGET if self.device == "cuda" else None
        self.encoder = ReviewEncoder.for_bundle(self.bundle_dir, self.manifest)
        self.calibrator = _calibrator_of(self.manifest, self.bundle_dir)
        self.batch_profile = self._batch_profile()
        self.batch_size = batch_choice.effective_batch_size(
            self.batch_profile, batch_size, by_tokens=self.token_budget is not None
        )

    def _open(
        self, providers: list[str], quantized: bool | None, threads: int | None
    ) -> tuple[str, ModelRunner]:
        """The model for the planned provider, opened; chosen again if CUDA did not start.

        ONNX Runtime drops CUDA (with a log line) when its libraries cannot load; the fp16
        model must not then run on the CPU by accident.
        """
        model_file = choose_model(self.manifest, providers[0], quantized, self.bundle_dir)
        runner = ModelRunner(self.bundle_dir / model_file, providers, threads)
        if providers[0] == CUDA and runner.provider != CUDA:
            warnings.warn(
                f"onnxruntime could not start CUDA for {self.bundle_dir}; running on the CPU",
                stacklevel=3,
            )
            model_file = choose_model(self.manifest, CPU, quantized, self.bundle_dir)
            runner = ModelRunner(self.bundle_dir / model_file, [CPU], threads)
        return model_file, runner

    def _batch_profile(self) -> artifacts.BatchProfile:
        """Export's measurement of this model on this CPU, else one taken here and now
        (always on CUDA), with the tolerance of the model's precision."""
        on_cpu = self.runner.provider == CPU
        recorded = batch_choice.recorded_profile(self.manifest, self.model_file, on_cpu)
        if recorded is not None:
            return recorded
        encoder = self.encoder
        probe = batch_choice.probe_ids(
            encoder.tokenizer.get_vocab_size(),
            encoder.prefix,
            encoder.suffix,
            encoder.max_length,
            count=batch_choice.PROBE_TEXTS if on_cpu else batch_choice.CUDA_PROBE_TEXTS,
        )
        return batch_choice.measure(
            probe,
            self._run,
            self.calibrated,
            batch_sizes=batch_choice.CANDIDATE_BATCH_SIZES
            if on_cpu
            else batch_choice.CUDA_BATCH_SIZES,
            cap=batch_choice.recorded_cap(self.manifest, self.model_file),
            precision=artifacts.MODEL_PRECISION[self.model_file],
        )
        cap = batch_choice.recorded_cap(self.manifest, self.model_file)
        return batch_choice.measure(probe, self._run, self.calibrated, cap=cap)

    @overload
    def predict(self, texts: str) -> Prediction: ...  # type: ignore[overload-overlap]
    @overload
    def predict(self, texts: Iterable[str]) -> list[Prediction]: ...

    def predict(self, texts: str | Iterable[str]) -> Prediction | list[Prediction]:
        """Classify one text (returns a Prediction) or many (returns a list, in input order)."""
        if isinstance(texts, str):
            return next(self.predict_stream([texts]))
        return list(self.predict_stream(texts))

    def predict_stream(self, texts: Iterable[str]) -> Iterator[Prediction]:
        """Yield one Prediction per text, in order, holding at most one chunk in memory."""
        for chunk in chunks(texts):
            yield from self._predict_chunk(chunk)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities, one row per text and one column per label, in input order."""
        for text in texts:
            if not isinstance(text, str):
                raise SenticlfError(f"predict expects strings, got {type(text).__name__}")
        return self.calibrated(self.logits_of_ids(self.encoder.encode(texts)))

    @overload
    def explain(self, texts: str, budget: int | None = None) -> Explanation: ...  # type: ignore[overload-overlap]
    @overload
    def explain(self, texts: Iterable[str], budget: int | None = None) -> list[Explanation]: ...

    def explain(
        self, texts: str | Iterable[str], budget: int | None = None
    ) -> Explanation | list[Explanation]:
        """Why a text (or each of many) got its label: its sentences' and decisive words'
        contributions, by occlusion through :meth:`probabilities` (senticlf.runtime.explain).
        ``budget`` caps the re-scored variants per text (default: by its length)."""
        from senticlf.runtime.explain import explain_with

        if isinstance(texts, str):
            return explain_with(self, [texts], budget)[0]
        return explain_with(self, list(texts), budget)

    def calibrated(self, logits: np.ndarray) -> np.ndarray:
        """Probabilities from raw logits through the bundle's calibrator, row by row.

        Public so that callers which run :meth:`logits_of_ids` themselves (the server's batcher,
        ``senticlf evaluate``) get exactly the numbers :meth:`predict` gives: this is the one
        place :meth:`Calibrator.apply` is called.
        """
        return self.calibrator.apply(logits)

    def logits_of_ids(self, ids: Sequence[TokenIds]) -> np.ndarray:
        """Raw (uncalibrated) logits for already-encoded texts, length-sorted internally."""
        if self.token_budget is not None:
            return run_token_budget(ids, self.token_budget, self.batch_size, self._run)
        return run_length_sorted(ids, self.batch_size, self._run)

    def _predict_chunk(self, texts: list[str]) -> list[Prediction]:
        return [self.to_prediction(row) for row in self.probabilities(texts)]

    def _run(self, batch: list[TokenIds]) -> np.ndarray:
        return self.runner.logits(*self.encoder.pad(batch))

    def to_prediction(
        self, probabilities: np.ndarray, min_confidence: float | None = None
    ) -> Prediction:
        """One row of :meth:`probabilities` as a Prediction.

        The threshold picks the label first; then, with ``min_confidence`` (this call's, else
        the classifier's), a label whose probability is below it becomes ``uncertain`` (every
        score is still reported). A per-call value lets a server take it per request.
        """
        if min_confidence is None:
            min_confidence = self.min_confidence
        else:
            min_confidence = _checked_min_confidence(min_confidence, self.labels)
        scores = {label: float(p) for label, p in zip(self.labels, probabilities, strict=True)}
        positive = scores.get("positive") if artifacts.is_binary_sentiment(self.labels) else None
        if positive is not None and self.threshold is not None:
            label = "positive" if positive >= self.threshold else "negative"
        else:
            label = self.labels[int(np.argmax(probabilities))]
        score = scores[label]
        if min_confidence is not None and score < min_confidence:
            label = UNCERTAIN
        return Prediction(label=label, score=score, scores=scores, positive=positive)


def _checked_threshold(threshold: float | None, labels: list[str]) -> float | None:
    if threshold is None:
        return None
    if not artifacts.is_binary_sentiment(labels):
        raise SenticlfError(
            f"a threshold applies to negative/positive bundles only; this one has {labels}"
        )
    if not 0 < threshold < 1:
        raise SenticlfError(f"threshold must be between 0 and 1, got {threshold}")
    return threshold


def _checked_min_confidence(min_confidence: float | None, labels: list[str]) -> float | None:
    if min_confidence is None:
        return None
    if not 0 < min_confidence <= 1:
        raise SenticlfError(f"min confidence must be in (0, 1], got {min_confidence}")
    if UNCERTAIN in labels:
        raise SenticlfError(
            f"this bundle already has a label named {UNCERTAIN!r}, so abstaining with "
            "min confidence would be ambiguous; drop --min-confidence or rename that label"
        )
    return min_confidence


def _calibrator_of(manifest: artifacts.Manifest, bundle_dir: Path) -> Calibrator:
    """The manifest's calibrator; bundles from before ``calibration`` keep their temperature."""
    try:
        calibrator = Calibrator.for_manifest(manifest.calibration, manifest.temperature)
    except ValueError as exc:
        raise SenticlfError(f"{bundle_dir / artifacts.MANIFEST}: {exc}") from None
    if calibrator.kind != "temperature" and len(manifest.labels) != 2:
        raise SenticlfError(
            f"{bundle_dir / artifacts.MANIFEST}: a {calibrator.kind} calibrator needs 2 labels"
        )
    return calibrator


def load(
    bundle_dir: str | Path,
    quantized: bool | None = None,
    *,
    threads: int | None = None,
    providers: Sequence[str] | None = None,
    batch_size: int | None = None,
    threshold: float | None = None,
    min_confidence: float | None = None,
    device: str | None = None,
) -> SentimentClassifier:
    """Load an exported bundle; on the CPU uses the INT8 model when the bundle has one, on CUDA
    the fp16 one, unless told not to (``quantized=False``: fp32 on either).

    ``device`` is "cpu" or "cuda" (default: CUDA when onnxruntime-gpu sees a GPU, else the
    CPU; CUDA asked for where there is none warns and runs on the CPU), ``threads`` sets ONNX
    Runtime's intra-op threads (default: all cores), ``providers`` its execution providers
    (instead of ``device``, for other providers),
    ``batch_size`` the most texts per ONNX Runtime call (default: the size measured fastest on
    this CPU; never more than the model was measured batch-invariant at, so a text's answer
    does not depend on its batch-mates), and ``threshold`` the P(positive) at which a binary
    bundle says positive (default: the most probable label). With ``min_confidence`` a text
    whose label has a (calibrated) probability below it is labelled ``uncertain``.
    """
    return SentimentClassifier(
        bundle_dir,
        quantized=quantized,
        providers=providers,
        threads=threads,
        batch_size=batch_size,
        threshold=threshold,
        min_confidence=min_confidence,
        device=device,
    )
