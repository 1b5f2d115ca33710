"""Can a model's probabilities be trusted as probabilities? Measure it, and fix it.

Fine-tuned transformers are over-confident: a review scored 0.99 is right far less than 99%
of the time. Expected calibration error (ECE) measures the gap. Three calibrators map raw
logits to probabilities, each fitted on held-out labelled reviews:

- temperature (Guo et al., 2017): softmax(logits / T), one scalar; labels never change.
- Platt (binary only): P(positive) = sigmoid(a * (z_pos - z_neg) + b); a scale and a bias,
  so the 0.5 crossing can move.
- isotonic (binary only): temperature first, then a monotone step map of P(positive) fitted by
  pool-adjacent-violators (Zadrozny & Elkan, 2002); rich enough for a model whose
  miscalibration is not a single scale, but it needs many reviews. It is fitted on each side
  of 0.5 separately and kept there, so it never changes a label: on the shared IMDb run a free
  map moved the crossing and cost a point of accuracy for no gain in log-loss.

For more than two labels only temperature is fitted: one scalar keeps the argmax and needs
no per-class data, where per-class maps renormalised would need many reviews per class.
:func:`fit_calibrator` picks among the candidates by k-fold cross-validated log-loss, and
temperature is always a candidate, so the choice never scores worse in cross-validation than
temperature alone. Applying the chosen calibrator belongs to the runtime
(:class:`senticlf.runtime.calibrator.Calibrator`), so a served bundle never imports fitting
code. numpy only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from senticlf import artifacts
from senticlf.runtime.calibrator import (
    ABOVE_HALF,
    KINDS,
    Calibrator,
    logit_difference,
    scaled_probabilities,
    sigmoid,
    softmax,
    temperature_words,
)

# Guo et al. use 15 equal-width confidence bins; so do we, so numbers compare with theirs.
ECE_BINS = 15
# T outside [0.05, 20] means the logits are degenerate, not mis-scaled; the search stops there.
_LOG_T_RANGE = (math.log(0.05), math.log(20.0))
_GOLDEN = (math.sqrt(5) - 1) / 2
_SEARCH_STEPS = 80  # shrinks the bracket by 0.618^80: far below any meaningful digit of T


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

    calibrator: str  # what made the probabilities, in words ("temperature 1.626", ...)
    ece: float
    nll: float
    bins: list[ReliabilityBin] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def probability_scores(
    probabilities: np.ndarray, labels: np.ndarray, calibrator: str, bins: int = ECE_BINS
) -> CalibrationScores:
    return CalibrationScores(
        calibrator=calibrator,
        ece=expected_calibration_error(probabilities, labels, bins),
        nll=negative_log_likelihood(probabilities, labels),
        bins=reliability_bins(probabilities, labels, bins),
    )


def calibration_scores(
    logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0, bins: int = ECE_BINS
) -> CalibrationScores:
    """Scores of softmax(logits / T), the NLL computed from the logits (exact in the tails)."""
    scored = probability_scores(
        scaled_probabilities(logits, temperature), labels, temperature_words(temperature), bins
    )
    exact = _nll_of_logits(np.asarray(logits, dtype=np.float64), np.asarray(labels), temperature)
    return CalibrationScores(scored.calibrator, scored.ece, exact, scored.bins)


# ---------------------------------------------------------------------------- Platt

_NEWTON_STEPS = 100
_RIDGE = 1e-8  # keeps the 2x2 Hessian invertible when the reviews are separable


def _log_loss_binary(z: np.ndarray, y: np.ndarray) -> float:
    """Mean logistic loss of scores z (log-odds of y = 1), stable for any |z|."""
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def fit_platt(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Scale a and bias b minimising the log-loss of sigmoid(a * d + b), d the logit difference.

    A two-parameter logistic regression: Newton steps with a backtracking line search, from
    the uncalibrated (a, b) = (1, 0), so every step lowers the loss and the result is
    deterministic.
    """
    x = logit_difference(logits)
    y = np.asarray(labels, dtype=np.float64)
    design = np.stack([x, np.ones_like(x)], axis=1)
    params = np.array([1.0, 0.0])
    loss = _log_loss_binary(design @ params, y)
    for _ in range(_NEWTON_STEPS):
        p = sigmoid(design @ params)
        gradient = design.T @ (p - y) / len(y)
        hessian = (design.T * (p * (1 - p))) @ design / len(y) + _RIDGE * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        shrink = 1.0
        while shrink > 1e-6:
            candidate = params - shrink * step
            candidate_loss = _log_loss_binary(design @ candidate, y)
            if candidate_loss <= loss:
                break
            shrink /= 2
        else:
            break  # no step lowers the loss: at the minimum, to rounding
        moved = float(np.abs(candidate - params).max())
        params, loss = candidate, candidate_loss
        if moved < 1e-10:
            break
    return float(params[0]), float(params[1])


# ---------------------------------------------------------------------------- isotonic


def fit_isotonic(scores: np.ndarray, labels: np.ndarray) -> tuple[list[float], list[float]]:
    """Pool-adjacent-violators: the non-decreasing step function of ``scores`` nearest ``labels``.

    Returns knots (x, y) for :func:`numpy.interp`: each pooled block contributes its lowest and
    highest score at the block's mean label, so the map is flat inside a block and linear
    between blocks (sklearn's IsotonicRegression does the same). Tied scores are pooled first,
    so the knots' x are strictly increasing.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    order = np.argsort(scores, kind="stable")
    unique, starts = np.unique(scores[order], return_index=True)
    sums = np.add.reduceat(labels[order], starts)
    counts = np.diff(np.append(starts, len(scores))).astype(np.float64)
    blocks: list[list[float]] = []  # [mean, weight, first index, last index]
    for i in range(len(unique)):
        mean, weight, first = float(sums[i] / counts[i]), float(counts[i]), float(i)
        while blocks and blocks[-1][0] >= mean:
            prev_mean, prev_weight, prev_first, _ = blocks.pop()
            mean = (prev_mean * prev_weight + mean * weight) / (prev_weight + weight)
            weight, first = prev_weight + weight, prev_first
        blocks.append([mean, weight, first, float(i)])
    knots_x: list[float] = []
    knots_y: list[float] = []
    for mean, _, first, last in blocks:
        for index in dict.fromkeys((int(first), int(last))):
            knots_x.append(float(unique[index]))
            knots_y.append(float(mean))
    return knots_x, knots_y


# ---------------------------------------------------------------------------- the calibrator

# Folds of the cross-validation that picks the calibrator (each fits on 4/5 of the reviews).
CV_FOLDS = 5
CV_SEED = 0
# A richer calibrator must beat temperature's cross-validated log-loss by this many nats to be
# chosen: on temperature-shaped data Platt and isotonic differ from it by fold noise only, and
# the simpler map is the safer bet when the evidence does not separate them.
CV_MARGIN = 0.002


def fit_isotonic_by_side(raw: np.ndarray, labels: np.ndarray) -> tuple[list[float], list[float]]:
    """Isotonic P(positive) fitted on each side of the model's label, each clipped to its side.

    The reviews the model calls negative and those it calls positive are two independent
    bounded isotonic problems (the bound at 0.5 makes the order across them automatic), and
    PAV then clipping solves each exactly; the knots stay monotone.
    """
    said_positive = raw.argmax(axis=1) == 1
    knots_x: list[float] = []
    knots_y: list[float] = []
    for side, bound in ((~said_positive, np.minimum), (said_positive, np.maximum)):
        if side.any():
            xs, ys = fit_isotonic(raw[side, 1], labels[side])
            edge = 0.5 if bound is np.minimum else ABOVE_HALF
            knots_x += xs
            knots_y += [float(bound(y, edge)) for y in ys]
    return knots_x, knots_y


def candidate_kinds(n_labels: int) -> tuple[str, ...]:
    return KINDS if n_labels == 2 else ("temperature",)


def fit_kind(kind: str, logits: np.ndarray, labels: np.ndarray) -> Calibrator:
    """One calibrator of ``kind`` fitted on all of these reviews (no cross-validation)."""
    n = len(labels)
    if kind == "platt":
        scale, bias = fit_platt(logits, labels)
        return Calibrator(kind="platt", scale=scale, bias=bias, reviews=n)
    temperature = fit_temperature(logits, labels)
    if kind == "temperature":
        return Calibrator(kind="temperature", temperature=temperature, reviews=n)
    knots_x, knots_y = fit_isotonic_by_side(scaled_probabilities(logits, temperature), labels)
    return Calibrator(
        kind="isotonic", temperature=temperature, knots_x=tuple(knots_x),
        knots_y=tuple(knots_y), floor=1.0 / (n + 2), reviews=n,
    )  # fmt: skip


def cross_validate(
    kind: str, logits: np.ndarray, labels: np.ndarray, folds: int = CV_FOLDS, seed: int = CV_SEED
) -> dict[str, float]:
    """Log-loss and ECE of out-of-fold probabilities: each fold scored by a fit on the others."""
    fold_of = np.random.default_rng(seed).permutation(len(labels)) % folds
    held_out = np.zeros((len(labels), logits.shape[1]))
    for k in range(folds):
        inside = fold_of == k
        fitted = fit_kind(kind, logits[~inside], labels[~inside])
        held_out[inside] = fitted.apply(logits[inside])
    return {
        "log_loss": negative_log_likelihood(held_out, labels),
        "ece": expected_calibration_error(held_out, labels),
    }


def fit_calibrator(
    logits: np.ndarray,
    labels: np.ndarray,
    kinds: tuple[str, ...] | None = None,
    folds: int = CV_FOLDS,
    seed: int = CV_SEED,
) -> Calibrator:
    """The candidate with the lowest cross-validated log-loss, refitted on all the reviews.

    Temperature is always among the candidates, and a rival must beat its cross-validated
    log-loss by :data:`CV_MARGIN`, so the default never does worse in cross-validation than
    temperature scaling alone. With fewer than two reviews per fold, temperature is fitted
    without cross-validation.
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if logits.ndim != 2 or len(logits) != len(labels) or len(labels) == 0:
        raise ValueError(f"need one row of logits per label, got {logits.shape} and {labels.shape}")
    allowed = candidate_kinds(logits.shape[1])
    wanted = tuple(dict.fromkeys(("temperature", *(kinds or allowed))))
    if unknown := [k for k in wanted if k not in allowed]:
        raise ValueError(f"calibrators {unknown} need 2 labels; this model has {logits.shape[1]}")
    if len(labels) < 2 * folds:
        return fit_kind("temperature", logits, labels)
    scores = {kind: cross_validate(kind, logits, labels, folds, seed) for kind in wanted}
    handicap = {kind: 0.0 if kind == "temperature" else CV_MARGIN for kind in wanted}
    best = min(wanted, key=lambda kind: scores[kind]["log_loss"] + handicap[kind])
    fitted = fit_kind(best, logits, labels)
    return Calibrator(
        **{
            **asdict(fitted),
            "knots_x": fitted.knots_x,
            "knots_y": fitted.knots_y,
            "cv_log_loss": scores[best]["log_loss"],
            "cv_ece": scores[best]["ece"],
            "candidates": scores,
        }
    )


@dataclass(frozen=True)
class CalibrationFit:
    """A calibrator fitted for export, and what it does on the reviews it was fitted on.

    The calibrator goes to the manifest's ``calibration``; ``check`` (what it did, and the
    cross-validated figures that chose it) to the export check and the model card.
    """

    calibrator: Calibrator
    check: artifacts.CalibrationCheck


def fit_and_measure(
    logits: np.ndarray, labels: np.ndarray, source: str = "validation"
) -> CalibrationFit:
    """Fit the calibrator on ``logits`` (fp32, held out from training) and measure before and
    after it on the same reviews: what export's calibration step records.

    The label is the argmax of the calibrated probabilities, so accuracy is measured on both
    sides too: Platt and isotonic can move the 0.5 crossing.
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    calibrator = fit_calibrator(logits, labels)
    raw, calibrated = softmax(logits), calibrator.apply(logits)
    check = artifacts.CalibrationCheck(
        kind=calibrator.kind,
        description=calibrator.describe(),
        temperature=calibrator.equivalent_temperature,
        source=source,
        reviews=len(labels),
        accuracy_before=float(np.mean(raw.argmax(axis=1) == labels)),
        accuracy_after=float(np.mean(calibrated.argmax(axis=1) == labels)),
        ece_before=expected_calibration_error(raw, labels),
        ece_after=expected_calibration_error(calibrated, labels),
        nll_before=negative_log_likelihood(raw, labels),
        nll_after=negative_log_likelihood(calibrated, labels),
        cv_log_loss=calibrator.cv_log_loss,
        cv_ece=calibrator.cv_ece,
        candidates=calibrator.candidates,
    )
    return CalibrationFit(calibrator, check)
