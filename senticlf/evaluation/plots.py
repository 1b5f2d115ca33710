"""The reliability diagram: accuracy against confidence, bin by bin, beside the diagonal.

matplotlib is imported here only, and only when a diagram is drawn: it belongs to the
``evaluate`` (and ``train``) extra, not to the predictor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from senticlf import atomic
from senticlf.errors import SenticlfError
from senticlf.evaluation.calibration import CalibrationScores


def matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise SenticlfError("diagrams need matplotlib: pip install 'senticlf[evaluate]'") from None
    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    return plt


def plot_reliability(panels: dict[str, CalibrationScores], path: Path) -> None:
    """One panel per title: bars of accuracy per confidence bin, the gap to the diagonal in red."""
    plt = _pyplot()

    figure, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 4.5), squeeze=False)
    for axis, (title, scores) in zip(axes[0], panels.items(), strict=True):
        filled = [b for b in scores.bins if b.reviews]
        width = scores.bins[0].upper - scores.bins[0].lower if scores.bins else 1.0
        centres = [(b.lower + b.upper) / 2 for b in filled]
        axis.bar(centres, [b.accuracy for b in filled], width=width, edgecolor="black",
                 color="#4c72b0", label="accuracy")  # fmt: skip
        # The gap runs from accuracy to mean confidence: above the bar when over-confident.
        axis.bar(centres, [abs(b.confidence - b.accuracy) for b in filled],
                 bottom=[min(b.confidence, b.accuracy) for b in filled], width=width,
                 color="#c44e52", alpha=0.3, hatch="//", edgecolor="#c44e52",
                 label="gap to mean confidence")  # fmt: skip
        axis.plot([0, 1], [0, 1], "k--", linewidth=1, label="perfect calibration")
        axis.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (top probability)",
                 ylabel="accuracy", title=f"{title}\nECE {scores.ece:.4f}, NLL {scores.nll:.4f}")  # fmt: skip
        axis.legend(loc="upper left", fontsize=8)
        axis.grid(alpha=0.3)
    _save(figure, path)


def plot_coverage(lines: dict[str, list[dict[str, Any]]], path: Path) -> None:
    """Accuracy of the answered reviews against the share answered, one line per model.

    ``lines`` maps a name to coverage points (dicts with coverage, accuracy, threshold), as
    senticlf.evaluation.coverage stores them; thresholds 0.6/0.7/0.8/0.9 are marked.
    """
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6, 4.5))
    for name, points in lines.items():
        kept = [p for p in points if p["accuracy"] is not None]
        axis.plot([p["coverage"] for p in kept], [p["accuracy"] for p in kept], label=name)
        for p in kept:
            if round(p["threshold"], 3) in (0.6, 0.7, 0.8, 0.9):
                axis.annotate(f"{p['threshold']:.1f}", (p["coverage"], p["accuracy"]),
                              fontsize=7, textcoords="offset points", xytext=(3, -9))  # fmt: skip
                axis.plot(p["coverage"], p["accuracy"], "k.", markersize=4)
    axis.set(xlim=(0, 1.02), xlabel="coverage (share of reviews answered)",
             ylabel="accuracy of the answered reviews",
             title="Abstention: accuracy vs coverage (labels: min confidence)")  # fmt: skip
    axis.legend(loc="lower left", fontsize=8)
    axis.grid(alpha=0.3)
    _save(figure, path)


def _save(figure: Any, path: Path) -> None:
    """Write the figure as a PNG atomically (no half-written picture), then free it."""
    plt = _pyplot()
    figure.tight_layout()
    with atomic.atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=100)
    plt.close(figure)
