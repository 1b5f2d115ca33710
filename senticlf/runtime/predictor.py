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
from senticlf.runtime import hub, plan
from senticlf.runtime.batching import (
    TOKEN_BUDGET,
    TokenIds,
    chunks,
    length_sorted_batches,
    token_budget_batches,
)
from senticlf.runtime.calibrator import Calibrator
from senticlf.runtime.device import choose_model, providers_for
from senticlf.runtime.options import UNCERTAIN, PredictorOptions, check_min_confidence
from senticlf.runtime.session import CPU, CUDA, ModelRunner
from senticlf.runtime.streams import Streams
from senticlf.runtime.tokenize import ReviewEncoder

if TYPE_CHECKING:
    from senticlf.runtime.explain import Explanation

# None: the fastest batch-invariant size measured for this model on this CPU (plan.py).
DEFAULT_BATCH: int | None = None
__all__ = [
    "DEFAULT_BATCH",
    "UNCERTAIN",
    "Prediction",
    "PredictorOptions",
    "SentimentClassifier",
    "load",
]


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

    It follows one :class:`~senticlf.runtime.plan.CallPlan`: on the CPU the model export
    measured faster here (INT8 or fp32) in calls of :attr:`batch_size` texts, several calls at
    once (streams) over one session; on CUDA (``device="cuda"``, or by default when
    onnxruntime-gpu sees a GPU) the bundle's fp16 model (fp32 without one, or with
    ``quantized=False``) in calls of at most :data:`~senticlf.runtime.batching.TOKEN_BUDGET`
    padded tokens.
    """

    def __init__(self, bundle_dir: str | Path, options: PredictorOptions | None = None) -> None:
        self.options = options = options or PredictorOptions()
        self.bundle_dir = hub.resolve_bundle(bundle_dir)  # a folder, or a Hub id fetched
        self.manifest = artifacts.read_manifest(self.bundle_dir, verify=True)
        self.labels = list(self.manifest.labels)
        self.threshold = _checked_threshold(options.threshold, self.labels)
        self.min_confidence = _checked_min_confidence(options.min_confidence, self.labels)
        self.model_file, self.runner, execution, source = self._open(
            providers_for(options.device, options.providers)
        )
        self.device = "cuda" if self.runner.provider == CUDA else "cpu"
        self.encoder = ReviewEncoder.for_bundle(self.bundle_dir, self.manifest)
        self.calibrator = _calibrator_of(self.manifest, self.bundle_dir)
        self.batch_profile = self._batch_profile()
        by_tokens = self.device == "cuda"
        self.plan = plan.CallPlan(
            batch_size=plan.effective_batch_size(
                self.batch_profile, options.batch_size, by_tokens=by_tokens
            ),
            execution=execution,
            token_budget=TOKEN_BUDGET if by_tokens else None,
            source=source,
        )
        self.streams = Streams(execution.streams)

    @property
    def batch_size(self) -> int:
        """Most texts in one ONNX Runtime call (the plan's)."""
        return self.plan.batch_size

    @property
    def token_budget(self) -> int | None:
        """Padded tokens per call on CUDA (None on the CPU)."""
        return self.plan.token_budget

    def _open(self, providers: list[str]) -> tuple[str, ModelRunner, artifacts.Execution, str]:
        """The model for the planned provider, opened; chosen again if CUDA did not start.

        ONNX Runtime drops CUDA (with a log line) when its libraries cannot load; the fp16
        model must not then run on the CPU by accident.
        """
        quantized = self.options.quantized
        model_file = choose_model(self.manifest, providers[0], quantized, self.bundle_dir)
        runner, execution, source = self._runner(model_file, providers)
        if providers[0] == CUDA and runner.provider != CUDA:
            warnings.warn(
                f"onnxruntime could not start CUDA for {self.bundle_dir}; running on the CPU",
                stacklevel=3,
            )
            model_file = choose_model(self.manifest, CPU, quantized, self.bundle_dir)
            runner, execution, source = self._runner(model_file, [CPU])
        return model_file, runner, execution, source

    def _runner(
        self, model_file: str, providers: list[str]
    ) -> tuple[ModelRunner, artifacts.Execution, str]:
        """A session sized by the execution export measured for this model here (or the
        caller's, or the default for an unmeasured CPU)."""
        on_cpu = providers[0] == CPU
        recorded = plan.recorded_profile(self.manifest, model_file, on_cpu)
        execution, source = plan.choose_execution(
            self.options, recorded.execution if recorded else None, on_cpu
        )
        runner = ModelRunner(
            self.bundle_dir / model_file, providers, execution.threads, spinning=execution.spinning
        )
        return runner, execution, source

    def _batch_profile(self) -> artifacts.BatchProfile:
        """Export's measurement of this model on this CPU, else one taken here and now
        (always on CUDA), with the tolerance of the model's precision."""
        on_cpu = self.runner.provider == CPU
        recorded = plan.recorded_profile(self.manifest, self.model_file, on_cpu)
        if recorded is not None:
            return recorded
        encoder = self.encoder
        probe = plan.probe_ids(
            encoder.tokenizer.get_vocab_size(),
            encoder.prefix,
            encoder.suffix,
            encoder.max_length,
            count=plan.PROBE_TEXTS if on_cpu else plan.CUDA_PROBE_TEXTS,
        )
        return plan.measure(
            probe,
            self.run_call,
            self.calibrated,
            batch_sizes=plan.CANDIDATE_BATCH_SIZES if on_cpu else plan.CUDA_BATCH_SIZES,
            cap=plan.recorded_cap(self.manifest, self.model_file),
            precision=artifacts.MODEL_PRECISION[self.model_file],
        )

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
        """Raw (uncalibrated) logits for already-encoded texts, in input order: the plan's
        length-sorted calls, up to its number of streams at once."""
        lengths = [len(seq) for seq in ids]
        if self.plan.token_budget is not None:
            groups = token_budget_batches(lengths, self.plan.token_budget, self.batch_size)
        else:
            groups = length_sorted_batches(lengths, self.batch_size)
        return self.streams.run(ids, groups, self.run_call)

    def run_call(self, batch: list[TokenIds]) -> np.ndarray:
        """One ONNX Runtime call on ``batch`` as given (the server's workers call this with
        the texts the plan lets share a call)."""
        return self.runner.logits(*self.encoder.pad(batch))

    def close(self) -> None:
        """Stop the stream threads (they are daemons: dropping the classifier is enough too)."""
        self.streams.close()

    def _predict_chunk(self, texts: list[str]) -> list[Prediction]:
        return [self.to_prediction(row) for row in self.probabilities(texts)]

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
    if threshold is not None and not artifacts.is_binary_sentiment(labels):
        raise SenticlfError(
            f"a threshold applies to negative/positive bundles only; this one has {labels}"
        )
    return threshold


def _checked_min_confidence(min_confidence: float | None, labels: list[str]) -> float | None:
    if check_min_confidence(min_confidence) is not None and UNCERTAIN in labels:
        raise SenticlfError(
            f"this bundle already has a label named {UNCERTAIN!r}, so abstaining with "
            "min confidence would be ambiguous; drop --min-confidence or rename that label"
        )
    return min_confidence


def _calibrator_of(manifest: artifacts.Manifest, bundle_dir: Path) -> Calibrator:
    """The manifest's calibrator, checked against the bundle's labels."""
    try:
        calibrator = Calibrator.for_manifest(manifest.calibration)
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
    streams: int | None = None,
    providers: Sequence[str] | None = None,
    batch_size: int | None = None,
    threshold: float | None = None,
    min_confidence: float | None = None,
    device: str | None = None,
) -> SentimentClassifier:
    """Load an exported bundle and run it as export measured fastest on this CPU.

    ``bundle_dir`` is a folder, or a Hugging Face Hub id ``org/name[@revision]`` fetched into
    the Hub's cache and usable offline from there (:mod:`senticlf.runtime.hub`); a folder that
    exists wins.

    On the CPU the faster of the bundle's INT8 and fp32 models as export measured them here
    (INT8 on a CPU export did not measure), on CUDA the fp16 one; ``quantized=False`` means
    fp32 on either, ``True`` insists on INT8 (CPU only). ``device`` is "cpu" or "cuda"
    (default: CUDA when onnxruntime-gpu sees a GPU; CUDA asked for where there is none warns
    and runs on the CPU); ``providers`` names ONNX Runtime execution providers instead.
    ``streams`` is how many ONNX Runtime calls run at once and ``threads`` the intra-op threads
    of each (default: the configuration export measured fastest and steadiest here, else one
    single-thread call per core). ``batch_size`` is the most texts per call (default: the
    fastest size measured here; never more than the model was measured batch-invariant at,
    so a text's answer does not depend on its batch-mates). ``threshold`` is the P(positive)
    at which a binary bundle says positive (default: the most probable label); with
    ``min_confidence`` a text whose label has a (calibrated) probability below it is labelled
    ``uncertain``.
    """
    options = PredictorOptions(
        providers=tuple(providers) if providers is not None else None,
        quantized=quantized,
        threads=threads,
        streams=streams,
        batch_size=batch_size,
        threshold=threshold,
        min_confidence=min_confidence,
        device=device,
    )
    return SentimentClassifier(bundle_dir, options)
