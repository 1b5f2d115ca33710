"""The lightweight classifier: an exported bundle in, labelled probabilities out.

Imports onnxruntime, tokenizers and numpy only (a test enforces it), so
``pip install senticlf`` can serve a model without torch or transformers.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import numpy as np

from senticlf import artifacts
from senticlf.errors import SenticlfError
from senticlf.runtime.session import create_session, model_inputs
from senticlf.runtime.tokenize import ReviewEncoder

# Reviews sorted by length inside a chunk share a padded width, which roughly doubles
# throughput on IMDb; the chunk bounds memory however many texts stream through.
_CHUNK = 1024
# Measured on 2 cores with IMDb-length reviews (benchmarks/results/speed-*.md): batches of 8
# beat batches of 32 by 19-39% (activations of 32 x 512 tokens fall out of cache).
DEFAULT_BATCH = 8


@dataclass(frozen=True)
class Prediction:
    """One text's result: the winning label, its probability, and P(positive)."""

    label: str
    score: float
    positive: float

    def as_dict(self) -> dict[str, float | str]:
        return {"label": self.label, "score": self.score, "positive": self.positive}


class SentimentClassifier:
    """A loaded bundle. Thread-safe: ONNX Runtime sessions may be run from several threads."""

    def __init__(
        self,
        bundle_dir: str | Path,
        quantized: bool | None = None,
        providers: Sequence[str] | None = None,
        threads: int | None = None,
        batch_size: int = DEFAULT_BATCH,
    ) -> None:
        if batch_size < 1:
            raise SenticlfError(f"batch size must be at least 1, got {batch_size}")
        self.bundle_dir = Path(bundle_dir)
        self.manifest = artifacts.read_manifest(self.bundle_dir, verify=True)
        self.model_file = self._choose_model(quantized)
        self.session = create_session(self.bundle_dir / self.model_file, providers, threads)
        self.encoder = ReviewEncoder.from_file(
            self.bundle_dir / artifacts.TOKENIZER,
            self.manifest.max_length,
            self.manifest.truncation,
        )
        self.labels = list(self.manifest.labels)
        self.batch_size = batch_size
        self._output_name = self.session.get_outputs()[0].name

    def _choose_model(self, quantized: bool | None) -> str:
        has_int8 = artifacts.INT8_MODEL in self.manifest.files
        if quantized and not has_int8:
            raise SenticlfError(
                f"bundle {self.bundle_dir} has no INT8 model; export it with --quantize"
            )
        if quantized is None:
            quantized = has_int8
        return artifacts.INT8_MODEL if quantized else artifacts.FP32_MODEL

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
        iterator = iter(texts)
        while chunk := list(itertools.islice(iterator, _CHUNK)):
            yield from self._predict_chunk(chunk)

    def _predict_chunk(self, texts: list[str]) -> list[Prediction]:
        for text in texts:
            if not isinstance(text, str):
                raise SenticlfError(f"predict expects strings, got {type(text).__name__}")
        encoded = self.encoder.encode(texts)
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        probabilities = np.empty((len(texts), len(self.labels)), dtype=np.float64)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            probabilities[rows] = self._run([encoded[i] for i in rows])
        return [self._to_prediction(row) for row in probabilities]

    def _run(self, batch: list[list[int]]) -> np.ndarray:
        feed = model_inputs(self.session, *self.encoder.pad(batch))
        (logits,) = self.session.run([self._output_name], feed)
        return softmax(logits.astype(np.float64))

    def _to_prediction(self, probabilities: np.ndarray) -> Prediction:
        best = int(np.argmax(probabilities))
        return Prediction(
            label=self.labels[best],
            score=float(probabilities[best]),
            positive=float(probabilities[self.labels.index("positive")]),
        )


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def load(bundle_dir: str | Path, quantized: bool | None = None, **options) -> SentimentClassifier:
    """Load an exported bundle; uses the INT8 model when the bundle has one, unless told not to."""
    return SentimentClassifier(bundle_dir, quantized=quantized, **options)
