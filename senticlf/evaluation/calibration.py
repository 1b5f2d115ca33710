"""Can a model's probabilities be trusted as probabilities? Measure it, and fix it.

Fine-tuned transformers are over-confident: a review scored 0.99 is right far less than 99%
of the time. Temperature scaling (Guo et al., 2017) divides the logits by one scalar T fitted
on held-out reviews by minimising the negative log-likelihood; the argmax, and so every
label, is unchanged. Expected calibration error (ECE) measures the gap that remains.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from senticlf.runtime.predictor import softmax

# Guo et al. use 15 equal-width confidence bins; so do we, so numbers compare with theirs.
ECE_BINS = 15
# T outside [0.05, 20] means the logits are degenerate, not mis-scaled; the search stops there.
_LOG_T_RANGE = (math.log(0.05), math.log(20.0))
_GOLDEN = (math.sqrt(5) - 1) / 2
_SEARCH_STEPS = 80  # shrinks the bracket by 0.618^80: far below any meaningful digit of T


def scaled_probabilities(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    return softmax(np.asarray(logits, dtype=np.float64) / temperature)


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean -log p(true label) (the log-loss); probabilities clipped so a 0 costs 34.5, not inf."""
    labels = np.asarray(labels, dtype=np.int64)
    picked = np.asarray(probabilities, dtype=np.float64)[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(picked, 1e-15, 1.0))))


def _nll_of_logits(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    """NLL straight from logits (log-softmax), exact even where a probability underflows."""
    scaled = logits / temperature
    shifted = scaled - scaled.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1))
    return float(np.mean(log_norm - shifted[np.arange(len(labels)), labels]))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T > 0 that minimises the NLL of softmax(logits / T) on these labelled reviews.

    The NLL is convex in 1/T (log-sum-exp of a linear function, minus a linear term), hence
    unimodal in log T: a golden-section search on log T finds the minimum, deterministically
    and without scipy. The result is clamped to [0.05, 20].
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if logits.ndim != 2 or len(logits) != len(labels) or len(labels) == 0:
        raise ValueError(f"need one row of logits per label, got {logits.shape} and {labels.shape}")

    def cost(log_t: float) -> float:
        return _nll_of_logits(logits, labels, math.exp(log_t))

    low, high = _LOG_T_RANGE
    left, right = high - _GOLDEN * (high - low), low + _GOLDEN * (high - low)
    cost_left, cost_right = cost(left), cost(right)
    for _ in range(_SEARCH_STEPS):
        if cost_left <= cost_right:
            high, right, cost_right = right, left, cost_left
            left = high - _GOLDEN * (high - low)
            cost_left = cost(left)
        else:
            low, left, cost_left = left, right, cost_right
            right = low + _GOLDEN * (high - low)
            cost_right = cost(right)
    return math.exp((low + high) / 2)


@dataclass(frozen=True)
class ReliabilityBin:
    """Reviews whose top probability fell in (lower, upper]: how sure, and how often right."""

    lower: float
    upper: float
    reviews: int
    confidence: float  # mean top probability (0.0 for an empty bin)
    accuracy: float  # share of them labelled correctly (0.0 for an empty bin)


def reliability_bins(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS
) -> list[ReliabilityBin]:
    """Equal-width bins of the top probability, the material of ECE and its diagram."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Bin k holds (edge_k, edge_k+1]; a confidence of exactly 0 cannot occur (max of a softmax).
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    result = []
    for k in range(bins):
        inside = which == k
        count = int(inside.sum())
        result.append(
            ReliabilityBin(
                lower=float(edges[k]),
                upper=float(edges[k + 1]),
                reviews=count,
                confidence=float(confidence[inside].mean()) if count else 0.0,
                accuracy=float(correct[inside].mean()) if count else 0.0,
            )
        )
    return result


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS
) -> float:
    """Sum over bins of (share of reviews) x |accuracy - mean confidence|."""
    table = reliability_bins(probabilities, labels, bins)
    total = sum(b.reviews for b in table)
    return float(sum(b.reviews / total * abs(b.accuracy - b.confidence) for b in table))


@dataclass(frozen=True)
class CalibrationScores:
    """How well one set of probabilities is calibrated on one set of labelled reviews."""

    temperature: float
    ece: float
    nll: float
    bins: list[ReliabilityBin] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def calibration_scores(
    logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0, bins: int = ECE_BINS
) -> CalibrationScores:
    probabilities = scaled_probabilities(logits, temperature)
    return CalibrationScores(
        temperature=temperature,
        ece=expected_calibration_error(probabilities, labels, bins),
        nll=_nll_of_logits(np.asarray(logits, dtype=np.float64), np.asarray(labels), temperature),
        bins=reliability_bins(probabilities, labels, bins),
    )


@dataclass(frozen=True)
class Calibration:
    """The export step: a temperature fitted on held-out reviews, with ECE and NLL around it.

    ``to_dict`` is what export stores in the manifest (``export_check["calibration"]``) and
    what the model card shows.
    """

    temperature: float
    reviews: int
    ece_before: float
    ece_after: float
    nll_before: float
    nll_after: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def calibrate(logits: np.ndarray, labels: np.ndarray) -> Calibration:
    """Fit the temperature on ``logits`` (fp32, held out from training) and measure both sides."""
    temperature = fit_temperature(logits, labels)
    before = calibration_scores(logits, labels, 1.0)
    after = calibration_scores(logits, labels, temperature)
    return Calibration(
        temperature=temperature,
        reviews=len(labels),
        ece_before=before.ece,
        ece_after=after.ece,
        nll_before=before.nll,
        nll_after=after.nll,
    )
