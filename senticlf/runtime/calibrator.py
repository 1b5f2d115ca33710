"""Applying a bundle's calibrator: raw logits in, the probabilities every path serves out.

A :class:`Calibrator` is a record in the manifest (``calibration``): one kind and its
parameters. :meth:`Calibrator.apply` is the one function that turns logits into
probabilities, for ``predict``, the server, Ray workers and export's own measurements alike.
Fitting one (temperature, Platt, isotonic, the cross-validated choice) is evaluation's job
(:mod:`senticlf.evaluation.calibration`), which builds on the maps defined here. numpy only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

KINDS = ("temperature", "platt", "isotonic")
BINARY_ONLY = ("platt", "isotonic")
# The smallest P(positive) whose argmax is positive (at exactly 0.5 argmax says negative).
ABOVE_HALF = float(np.nextafter(0.5, 1.0))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities along the last axis (float64), shifted by the row maximum so none overflows."""
    shifted = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def scaled_probabilities(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """softmax(logits / T): temperature scaling."""
    return softmax(np.asarray(logits, dtype=np.float64) / temperature)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-z)), stable for any |z|."""
    return np.exp(-np.logaddexp(0.0, -z))


def logit_difference(logits: np.ndarray) -> np.ndarray:
    """z_positive - z_negative: the log-odds a binary model gives, before calibration."""
    logits = np.asarray(logits, dtype=np.float64)
    return logits[:, 1] - logits[:, 0]


def temperature_words(temperature: float) -> str:
    return "uncalibrated (T=1)" if temperature == 1.0 else f"temperature {temperature:.3f}"


def same_side(positive: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """P(positive) held on the side of 0.5 of the model's own label (argmax of ``raw``)."""
    said_positive = raw.argmax(axis=1) == 1
    return np.where(said_positive, np.maximum(positive, ABOVE_HALF), np.minimum(positive, 0.5))


@dataclass(frozen=True)
class Calibrator:
    """How a bundle turns logits into probabilities: one kind, its parameters, how it scored.

    Stored in the manifest (``calibration``) by :meth:`to_dict`; :meth:`apply` is the single
    implementation every runtime path uses. ``cv_log_loss`` / ``cv_ece`` are the
    cross-validated figures that chose it (None when nothing was fitted), ``candidates`` those
    of every kind that was tried. ``Calibrator()`` is uncalibrated: temperature 1.
    """

    kind: str = "temperature"
    temperature: float = 1.0  # temperature, and the first step of isotonic
    scale: float = 1.0  # Platt: a in sigmoid(a * d + b)
    bias: float = 0.0  # Platt: b
    knots_x: tuple[float, ...] = ()  # isotonic: P(positive) after temperature ...
    knots_y: tuple[float, ...] = ()  # ... and the calibrated P(positive) there
    floor: float = 0.0  # isotonic: outputs kept in [floor, 1 - floor] (no certain 0 or 1)
    reviews: int = 0  # labelled reviews it was fitted on (0: not fitted)
    cv_log_loss: float | None = None
    cv_ece: float | None = None
    candidates: dict[str, dict[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"calibrator kind must be one of {', '.join(KINDS)}, got {self.kind!r}"
            )
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if self.kind == "isotonic" and (not self.knots_x or len(self.knots_x) != len(self.knots_y)):
            raise ValueError("an isotonic calibrator needs as many knots_x as knots_y (>= 1)")

    def apply(self, logits: np.ndarray) -> np.ndarray:
        """Probabilities (float64), one row per row of raw logits: THE calibrated scores."""
        logits = np.asarray(logits, dtype=np.float64)
        if self.kind in BINARY_ONLY and logits.shape[-1] != 2:
            raise ValueError(f"a {self.kind} calibrator needs 2 labels, got {logits.shape[-1]}")
        if self.kind == "temperature":
            return softmax(logits / self.temperature)
        if self.kind == "platt":
            positive = sigmoid(self.scale * logit_difference(logits) + self.bias)
        else:
            raw = scaled_probabilities(logits, self.temperature)
            mapped = np.interp(raw[:, 1], self.knots_x, self.knots_y)
            positive = same_side(np.clip(mapped, self.floor, 1.0 - self.floor), raw)
        return np.stack([1.0 - positive, positive], axis=1)

    @property
    def equivalent_temperature(self) -> float:
        """The nearest single temperature, for readers that know temperature scaling only."""
        if self.kind == "platt":
            return 1.0 / self.scale if self.scale > 0 else 1.0
        return self.temperature

    def describe(self) -> str:
        if self.kind == "temperature":
            return temperature_words(self.temperature)
        if self.kind == "platt":
            return f"Platt scale {self.scale:.3f}, bias {self.bias:+.3f}"
        return f"isotonic ({len(self.knots_x)} knots) after temperature {self.temperature:.3f}"

    def to_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record["knots_x"], record["knots_y"] = list(self.knots_x), list(self.knots_y)
        return record

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        """The manifest's ``calibration``; a ValueError names what is wrong."""
        if not isinstance(data, dict):
            raise ValueError("calibration must be a JSON object")
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        try:
            return cls(
                **{
                    **known,
                    "knots_x": tuple(float(x) for x in known.get("knots_x", ())),
                    "knots_y": tuple(float(y) for y in known.get("knots_y", ())),
                }
            )
        except TypeError as exc:
            raise ValueError(f"calibration is malformed: {exc}") from None

    @classmethod
    def for_manifest(cls, calibration: dict[str, Any] | None) -> Calibrator:
        """A bundle's calibrator from the manifest's ``calibration`` (None: uncalibrated)."""
        return cls() if calibration is None else cls.from_dict(calibration)
