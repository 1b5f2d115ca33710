"""Does fusing transformer operators before INT8 quantization pay off? Plain vs fused, A/B.

    python -m benchmarks.fusion --run runs/full

Exports the run twice (Optimum export as is, and after ONNX Runtime's transformer optimizer at
level O2), quantizes both with the same preset, then times all four models interleaved on the
run's validation reviews (batch 32 length-sorted, and batch 1), with their accuracy.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console

from benchmarks.common import machine
from senticlf import artifacts, cpu, data
from senticlf.export import quantize
from senticlf.export.bundle import export_fp32
from senticlf.runtime.session import ModelRunner
from senticlf.runtime.tokenize import ReviewEncoder
from senticlf.training.config import TrainConfig

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command()
def main(
    run: Annotated[Path, typer.Option(help="A finished run folder.")],
    threads: int = 2,
    rounds: int = 3,
    out: Path = Path("benchmarks/results/fusion"),
) -> None:
    config = TrainConfig.load(run)
    reviews = data.read_table(run / artifacts.RUN_VAL_CSV)
    labels = np.array([r.label for r in reviews])
    scratch = Path(tempfile.mkdtemp(prefix="fusion-"))
    models: dict[str, Path] = {}
    preset = cpu.int8_preset()
    for variant, optimize in (("plain", False), ("fused", True)):
        folder = scratch / variant
        folder.mkdir()
        fp32 = export_fp32(
            run / artifacts.RUN_MODEL_DIR, folder, None, Console(quiet=True), optimize=optimize
        )
        quantize.quantize(fp32, folder / "int8.onnx", preset, quantize.LADDERS[preset][0])
        models[f"{variant} fp32"] = fp32
        models[f"{variant} int8"] = folder / "int8.onnx"
    encoder = ReviewEncoder.load(config.encoder_settings(scratch / "plain" / artifacts.TOKENIZER))
    ids = encoder.encode([r.text for r in reviews])
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    batches = [[ids[i] for i in order[s : s + 32]] for s in range(0, len(order), 32)]
    sessions = {name: ModelRunner(path, threads=threads) for name, path in models.items()}

    def logits_of(name: str, batch: list[list[int]]) -> np.ndarray:
        return sessions[name].logits(*encoder.pad(batch))

    names = list(sessions)
    for name in names:  # warm-up
        logits_of(name, batches[-1])
    speed: dict[str, list[float]] = {n: [] for n in names}
    latency: dict[str, list[float]] = {n: [] for n in names}
    predictions: dict[str, np.ndarray] = {}
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
    result = {
        "command": f"python -m benchmarks.fusion --run {run}",
        "threads": threads,
        "preset": preset,
        "reviews": len(ids),
        "models": {
            name: {
                "batch32_reviews_per_s": statistics.median(speed[name]),
                "batch1_median_ms": 1000 * statistics.median(latency[name]),
                "accuracy": float(np.mean(predictions[name] == labels)),
                "size_mb": models[name].stat().st_size / 1e6,
            }
            for name in names
        },
        "machine": machine.describe(),
    }
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "| model | batch 32 reviews/s | batch 1 median ms | accuracy | size MB |",
        "|---|---|---|---|---|",
    ]
    for name, m in result["models"].items():
        lines.append(
            f"| {name} | {m['batch32_reviews_per_s']:.1f} | {m['batch1_median_ms']:.1f} | {m['accuracy']:.1%} | {m['size_mb']:.0f} |"
        )
    lines.append(
        f"\n{len(ids)} reviews, {threads} threads, INT8 preset {preset}, {result['machine']['cpu']}. Command: `{result['command']}`"
    )
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    app()
