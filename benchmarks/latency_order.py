"""Why batch-1 latency is timed one model at a time: the same bundles timed both ways.

    python -m benchmarks.latency_order --reviews CSV BUNDLE [BUNDLE ...]

Review by review, with the models taking turns, every call comes right after another ONNX
Runtime session's, whose worker threads are still spinning on the same cores. Timing each
model in one block (what `common/timing.latency` does) removes that. This command times the
INT8 predictor of each bundle both ways, on the same reviews in one process, so the size of
the effect is on record with its machine and load.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from benchmarks.common import machine, timing
from benchmarks.common.backends import ServedInt8
from senticlf import artifacts, atomic, data

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


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
    out: Annotated[Path, typer.Option()] = Path("benchmarks/results/latency-order.md"),
) -> None:
    load_before = os.getloadavg()
    texts = [r.text for r in data.read_table(reviews, labels=artifacts.LABELS)][:count]
    models = [ServedInt8(b.name, b, threads) for b in bundles]
    for model in models:
        model.positive(texts[:8])
    block = timing.latency(models, texts)
    turns = interleaved(models, texts)
    block_again = timing.latency(models, texts)
    load_after = os.getloadavg()
    lines = [
        machine.machine_line(machine.describe()),
        "",
        f"Command: `python -m benchmarks.latency_order {' '.join(sys.argv[1:])}`",
        "",
        f"Load average before {', '.join(f'{x:.2f}' for x in load_before)}, after "
        f"{', '.join(f'{x:.2f}' for x in load_after)}. INT8 predictor of each bundle, "
        f"{threads} threads, batch 1, {len(texts)} reviews; median ms.",
        "",
        "| bundle | one block | taking turns | one block again | turns / block |",
        "|---|---|---|---|---|",
    ]
    for m in models:
        first, again = block[m.name]["median_ms"], block_again[m.name]["median_ms"]
        lines.append(
            f"| {m.name} | {first:.1f} | {turns[m.name]:.1f} | {again:.1f} "
            f"| {turns[m.name] / min(first, again):.2f}x |"
        )
    text = "\n".join(lines) + "\n"
    atomic.write_text(out, text)
    print(text)


if __name__ == "__main__":
    app()
