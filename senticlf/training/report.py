"""What a finished run shows a person: curves.png, errors.csv and the summary table."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from senticlf import atomic


def plot_curves(epochs: list[dict[str, Any]], path: Path) -> None:
    """Loss and accuracy per epoch, train beside validation, to spot over-fitting at a glance."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    x = [row["epoch"] for row in epochs]
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 4))
    loss_axis.plot(x, [row["train_loss"] for row in epochs], "o-", label="train")
    loss_axis.plot(x, [row["val_loss"] for row in epochs], "o-", label="validation")
    loss_axis.set(title="Cross-entropy loss", xlabel="epoch", ylabel="loss")
    accuracy_axis.plot(x, [row["train_accuracy"] for row in epochs], "o-", label="train")
    accuracy_axis.plot(x, [row["val_accuracy"] for row in epochs], "o-", label="validation")
    accuracy_axis.set(title="Accuracy", xlabel="epoch", ylabel="accuracy")
    for axis in (loss_axis, accuracy_axis):
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    with atomic.atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=100)
    plt.close(figure)


def write_errors(path: Path, rows: list[tuple[str, int, float, list[str]]]) -> None:
    """Misclassified reviews with the true label, P(positive) and their error groups."""
    with atomic.atomic_open(path) as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "true_label", "positive_probability", "groups"])
        for text, label, positive, groups in rows:
            writer.writerow([text, label, f"{positive:.4f}", ";".join(groups)])


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
