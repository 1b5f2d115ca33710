"""Why batch-1 latency is timed one model at a time: the same bundles timed both ways.

    python -m benchmarks.latency_order --reviews CSV BUNDLE [BUNDLE ...]

Review by review, with the models taking turns, every call comes right after another ONNX
Runtime session's, whose worker threads are still spinning on the same cores. Timing each
model in one block (what `common/timing.latency` does) removes that. This command times the
INT8 predictor of each bundle both ways, on the same reviews in one process, so the size of
the effect is on record with its machine and load.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from benchmarks.common import records, results, timing
from benchmarks.common.backends import ServedInt8
from senticlf import artifacts, data

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
TITLE = "Batch-1 latency: each model in one block, and the models taking turns"


@dataclass(frozen=True)
class Orders:
    """One bundle's batch-1 median (ms) in each order."""

    name: str
    one_block_ms: float
    taking_turns_ms: float
    one_block_again_ms: float

    @property
    def turns_over_block(self) -> float:
        return self.taking_turns_ms / min(self.one_block_ms, self.one_block_again_ms)


COLUMNS: tuple[records.Column[Orders], ...] = (
    records.Column("bundle", lambda o: o.name),
    records.Column("one block", lambda o: f"{o.one_block_ms:.1f}"),
    records.Column("taking turns", lambda o: f"{o.taking_turns_ms:.1f}"),
    records.Column("one block again", lambda o: f"{o.one_block_again_ms:.1f}"),
    records.Column("turns / block", lambda o: f"{o.turns_over_block:.2f}x"),
)


def interleaved(models: list[ServedInt8], texts: list[str]) -> dict[str, float]:
    """Median ms at batch 1 with the models taking turns on every review."""
    times: dict[str, list[float]] = {m.name: [] for m in models}
    for i, text in enumerate(texts):
        for model in timing.rotate(models, i):
            start = time.perf_counter()
            model.positive([text])
            times[model.name].append(time.perf_counter() - start)
    return {name: 1000 * statistics.median(t) for name, t in times.items()}


@app.command()
def main(
    bundles: Annotated[list[Path], typer.Argument(help="Bundles whose INT8 models are timed.")],
    reviews: Annotated[Path, typer.Option(help="A labelled CSV; its first reviews are timed.")],
    count: Annotated[int, typer.Option(help="Reviews timed.")] = 50,
    threads: Annotated[int, typer.Option()] = 2,
    out: Annotated[
        Path, typer.Option(help="The Markdown file; the JSON goes beside it.")
    ] = results.FOLDER / "latency-order.md",
) -> None:
    with results.load_window() as load:
        texts = [r.text for r in data.read_table(reviews, labels=artifacts.LABELS)][:count]
        models = [ServedInt8(b.name, b, threads) for b in bundles]
        for model in models:
            model.positive(texts[:8])
        block = timing.latency(models, texts)
        turns = interleaved(models, texts)
        block_again = timing.latency(models, texts)
    rows = [
        Orders(m.name, block[m.name].median_ms, turns[m.name], block_again[m.name].median_ms)
        for m in models
    ]
    result = {"threads": threads, "reviews": len(texts), "bundles": records.keyed(rows)}
    print(
        results.write(out.stem, result, report(result), title=TITLE, load=load, folder=out.parent)
    )


def report(r: dict[str, Any]) -> list[results.Block]:
    rows = [Orders(name, **medians) for name, medians in r["bundles"].items()]
    return [
        f"INT8 predictor of each bundle, {r['threads']} threads, batch 1, {r['reviews']} "
        "reviews; median ms.",
        records.Table(rows, COLUMNS),
    ]


if __name__ == "__main__":
    app()
