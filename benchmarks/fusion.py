"""Does fusing transformer operators before INT8 quantization pay off? Plain vs fused, A/B.

    python -m benchmarks.fusion --run runs/full

Exports the run twice (Optimum export as is, and after ONNX Runtime's transformer optimizer at
level O2), quantizes both with the same preset, then times all four models interleaved on the
run's validation reviews (batch 32 length-sorted, and batch 1), with their accuracy.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from benchmarks.common import internals, records, results
from senticlf import artifacts, cpu, data

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@dataclass(frozen=True)
class Model:
    """One export of the run, as the table shows it."""

    name: str
    batch32_reviews_per_s: float
    batch1_median_ms: float
    accuracy: float
    size_mb: float


COLUMNS: tuple[records.Column[Model], ...] = (
    records.Column("model", lambda m: m.name),
    records.Column("batch 32 reviews/s", lambda m: f"{m.batch32_reviews_per_s:.1f}"),
    records.Column("batch 1 median ms", lambda m: f"{m.batch1_median_ms:.1f}"),
    records.Column("accuracy", lambda m: f"{m.accuracy:.1%}"),
    records.Column("size MB", lambda m: f"{m.size_mb:.0f}"),
)


@app.command()
def main(
    run: Annotated[Path, typer.Option(help="A finished run folder.")],
    threads: int = 2,
    rounds: int = 3,
    out: Path = results.FOLDER / "fusion",
) -> None:
    reviews = data.read_table(run / artifacts.RUN_VAL_CSV)
    labels = np.array([r.label for r in reviews])
    scratch = Path(tempfile.mkdtemp(prefix="fusion-"))
    models: dict[str, Path] = {}
    for variant, optimize in (("plain", False), ("fused", True)):
        folder = scratch / variant
        folder.mkdir()
        fp32 = internals.fp32_onnx(run / artifacts.RUN_MODEL_DIR, folder, optimize=optimize)
        internals.int8_onnx(fp32, folder / "int8.onnx")
        models[f"{variant} fp32"] = fp32
        models[f"{variant} int8"] = folder / "int8.onnx"
    encoder = internals.run_encoder(run, scratch / "plain" / artifacts.TOKENIZER)
    ids = encoder.encode([r.text for r in reviews])
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    batches = [[ids[i] for i in order[s : s + 32]] for s in range(0, len(order), 32)]
    sessions = {name: internals.onnx_runner(path, threads) for name, path in models.items()}

    def logits_of(name: str, batch: list[list[int]]) -> np.ndarray:
        return sessions[name].logits(*encoder.pad(batch))

    names = list(sessions)
    speed: dict[str, list[float]] = {n: [] for n in names}
    latency: dict[str, list[float]] = {n: [] for n in names}
    predictions: dict[str, np.ndarray] = {}
    with results.load_window() as load:
        for name in names:  # warm-up
            logits_of(name, batches[-1])
        for r in range(rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                start = time.perf_counter()
                logits = np.concatenate([logits_of(name, batch) for batch in batches])
                speed[name].append(len(ids) / (time.perf_counter() - start))
                predictions[name] = np.empty(len(ids), dtype=int)
                predictions[name][order] = logits.argmax(1)
        for i in range(0, len(ids), 4):  # batch 1 on every 4th review
            for name in names:
                start = time.perf_counter()
                logits_of(name, [ids[i]])
                latency[name].append(time.perf_counter() - start)
    rows = [
        Model(
            name,
            batch32_reviews_per_s=statistics.median(speed[name]),
            batch1_median_ms=1000 * statistics.median(latency[name]),
            accuracy=float(np.mean(predictions[name] == labels)),
            size_mb=models[name].stat().st_size / 1e6,
        )
        for name in names
    ]
    result = {
        "threads": threads,
        "preset": cpu.int8_preset(),
        "reviews": len(ids),
        "models": records.keyed(rows),
    }
    print(
        results.write(out.name, result, report(result), title=TITLE, load=load, folder=out.parent)
    )


TITLE = "Operator fusion before INT8: plain and fused exports"


def report(r: dict[str, Any]) -> list[results.Block]:
    rows = [Model(name, **figures) for name, figures in r["models"].items()]
    return [
        f"{r['reviews']} reviews, {r['threads']} threads, INT8 preset {r['preset']}; batch 32 "
        "length-sorted (models interleaved, median of the rounds) and batch 1 on every 4th review.",
        records.Table(rows, COLUMNS),
    ]


if __name__ == "__main__":
    app()
