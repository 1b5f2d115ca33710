"""What a finished run shows a person: metrics.json's summary, curves.png, errors.csv, a table."""

from __future__ import annotations

import csv
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from rich.console import Console
from rich.table import Table

from senticlf import __version__, artifacts, atomic, data
from senticlf.evaluation import error_analysis
from senticlf.runtime.calibrator import softmax
from senticlf.runtime.tokenize import ReviewEncoder

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def epoch_history(log_history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge Trainer's separate train/eval log lines into one row per epoch."""
    rows: dict[int, dict[str, Any]] = {}
    for entry in log_history:
        epoch = round(entry.get("epoch", 0))
        row = rows.setdefault(epoch, {"epoch": epoch})
        if "loss" in entry:
            row["train_loss"] = entry["loss"]
        if "train_accuracy" in entry:
            row["train_accuracy"] = entry["train_accuracy"]
        for key, value in entry.items():
            if key.startswith("eval_") and not key.endswith(("runtime", "per_second")):
                row["val_" + key.removeprefix("eval_")] = value
    return [row for _, row in sorted(rows.items()) if "val_accuracy" in row and "train_loss" in row]


def final_metrics(
    epochs: list[dict[str, Any]],
    logits: np.ndarray,
    encoder: ReviewEncoder,
    val_rows: list[data.Review],
    labels: tuple[str, ...],
    run_dir: Path,
) -> dict[str, Any]:
    """Score the best model's validation logits, write errors.csv and curves.png, summarise."""
    best = max(epochs, key=lambda row: row["val_accuracy"])
    probabilities = softmax(logits.astype(np.float64))
    predicted = probabilities.argmax(axis=1)
    wrong = [i for i, row in enumerate(val_rows) if predicted[i] != row.label]
    wrong_texts = [val_rows[i].text for i in wrong]
    lengths = encoder.untruncated_lengths(wrong_texts)
    groups = [
        error_analysis.error_groups(t, n, encoder.max_length)
        for t, n in zip(wrong_texts, lengths, strict=True)
    ]
    write_errors(
        run_dir / artifacts.RUN_ERRORS,
        [
            ErrorRow(
                text=val_rows[i].text,
                true_label=labels[val_rows[i].label],
                predicted_label=labels[predicted[i]],
                probability=float(probabilities[i, predicted[i]]),
                groups=g,
            )
            for i, g in zip(wrong, groups, strict=True)
        ],
    )
    plot_curves(epochs, run_dir / artifacts.RUN_CURVES, best["epoch"])
    return {
        "status": artifacts.RUN_COMPLETE,
        "labels": list(labels),
        "epochs": epochs,
        "best_epoch": best["epoch"],
        "best": best,
        "completed_epochs": len(epochs),
        "val_size": len(val_rows),
        "misclassified": len(wrong),
        "error_groups": error_analysis.tally(groups),
    }


def versions() -> dict[str, str]:
    import torch
    import transformers

    return {
        "senticlf": __version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
    }


def plot_curves(epochs: list[dict[str, Any]], path: Path, best_epoch: int) -> None:
    """curves.png: loss and accuracy per epoch, train beside validation, the kept epoch marked."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    figure = curves_figure(epochs, best_epoch)
    with atomic.atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=100)
    plt.close(figure)


def curves_figure(epochs: list[dict[str, Any]], best_epoch: int) -> Figure:
    """Loss and accuracy per epoch, to spot over-fitting at a glance.

    Epochs are whole numbers, so the x axis ticks whole epochs only (matplotlib would put
    ticks at 1.25, 1.5, ... between three epochs); a dashed line marks the epoch whose model
    the run kept (the best validation accuracy).
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    x = [row["epoch"] for row in epochs]
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 4))
    loss_axis.plot(x, [row["train_loss"] for row in epochs], "o-", label="train")
    loss_axis.plot(x, [row["val_loss"] for row in epochs], "o-", label="validation")
    loss_axis.set(title="Cross-entropy loss", xlabel="epoch", ylabel="loss")
    accuracy_axis.plot(x, [row["train_accuracy"] for row in epochs], "o-", label="train")
    accuracy_axis.plot(x, [row["val_accuracy"] for row in epochs], "o-", label="validation")
    accuracy_axis.set(title="Accuracy", xlabel="epoch", ylabel="accuracy")
    for axis in (loss_axis, accuracy_axis):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        axis.axvline(best_epoch, color="0.4", linestyle="--", label=f"kept (epoch {best_epoch})")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    return figure


class ErrorRow(NamedTuple):
    text: str
    true_label: str
    predicted_label: str
    probability: float  # of the predicted label
    groups: list[str]


def write_errors(path: Path, rows: list[ErrorRow]) -> None:
    """Misclassified reviews: true and predicted label, the model's confidence, error groups."""
    with atomic.atomic_open(path) as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "true_label", "predicted_label", "probability", "groups"])
        for row in rows:
            writer.writerow(
                [
                    row.text,
                    row.true_label,
                    row.predicted_label,
                    f"{row.probability:.4f}",
                    ";".join(row.groups),
                ]
            )


def print_summary(console: Console, metrics: dict[str, Any]) -> None:
    table = Table(title=f"senticlf run: best epoch {metrics['best_epoch']}")
    for column in ("epoch", "train loss", "val loss", "accuracy", "F1", "precision", "recall"):
        table.add_column(column, justify="right")
    for row in metrics["epochs"]:
        style = "bold green" if row["epoch"] == metrics["best_epoch"] else None
        table.add_row(
            str(row["epoch"]),
            f"{row['train_loss']:.4f}",
            f"{row['val_loss']:.4f}",
            f"{row['val_accuracy']:.2%}",
            f"{row['val_f1']:.4f}",
            f"{row['val_precision']:.4f}",
            f"{row['val_recall']:.4f}",
            style=style,
        )
    console.print(table)
