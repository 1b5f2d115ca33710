"""PyTorch vs ONNX fp32 vs INT8 (and the pipelines a user would otherwise pick), side by side.

    python -m benchmarks.speed --run runs/ref --bundle export/ref          # the fine-tuned model
    python -m benchmarks.speed --shape distilbert --tokenizer DIR --reviews runs/ref/val.csv

One run measures every backend on the same reviews with the same thread count: accuracy,
batch-1 latency, throughput at batch 8 and 32 (length-sorted batches), cold start, peak RSS and
size on disk. Backends are interleaved (round-robin, rotating order) so that drift on a shared
machine hits them alike; each is warmed up first. Writes JSON, Markdown and a PNG plot.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from benchmarks.common import backends, footprint, machine
from benchmarks.common.machine import machine_line
from benchmarks.common.timing import latency, read_reviews, throughput
from senticlf import artifacts
from senticlf.evaluation.comparison import mcnemar_p
from senticlf.evaluation.label_metrics import classification_metrics
from senticlf.runtime.tokenize import ReviewEncoder

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


def cold_start(
    name: str, model_dir: Path, bundle: Path, threads: int, reviews: Path
) -> dict[str, float]:
    command = [
        sys.executable,
        "-m",
        "benchmarks.common.coldstart",
        name,
        str(model_dir),
        str(bundle),
        str(threads),
        str(reviews),
    ]
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    ready = time.perf_counter() - start
    rest = process.stdout.read()
    process.wait()
    if process.returncode or not first.startswith("first-prediction"):
        return {"cold_start_s": float("nan"), "peak_rss_mb": float("nan")}
    rss_kb = int(rest.split("peak-rss-kb")[1].split()[0])
    return {"cold_start_s": ready, "peak_rss_mb": rss_kb / 1024}


def accuracy_section(outputs: dict[str, np.ndarray], labels: np.ndarray) -> dict[str, Any]:
    section: dict[str, Any] = {}
    for name, positive in outputs.items():
        section[name] = classification_metrics(labels, (positive >= 0.5).astype(int))
    fp32, int8 = outputs["senticlf-fp32"] >= 0.5, outputs["senticlf-int8"] >= 0.5
    section["int8_fp32_agreement"] = float(np.mean(fp32 == int8))
    section["int8_vs_fp32_mcnemar_p"] = mcnemar_p(fp32 == labels, int8 == labels)
    return section


def extra_eval(bundle: Path, texts: list[str], labels: np.ndarray, threads: int) -> dict[str, Any]:
    """fp32 vs INT8 on a larger labelled file: 200 reviews cannot resolve half a point."""
    import senticlf

    fp32 = (
        np.array(
            [
                p.positive
                for p in senticlf.load(bundle, quantized=False, threads=threads).predict_stream(
                    texts
                )
            ]
        )
        >= 0.5
    )
    int8 = (
        np.array(
            [
                p.positive
                for p in senticlf.load(bundle, quantized=True, threads=threads).predict_stream(
                    texts
                )
            ]
        )
        >= 0.5
    )
    return {
        "reviews": len(texts),
        "fp32_accuracy": float(np.mean(fp32 == labels)),
        "int8_accuracy": float(np.mean(int8 == labels)),
        "agreement": float(np.mean(fp32 == int8)),
        "mcnemar_p": mcnemar_p(fp32 == labels, int8 == labels),
    }


def sizes(model_dir: Path, bundle: Path) -> dict[str, float]:
    return {
        "pytorch_safetensors_mb": (model_dir / "model.safetensors").stat().st_size / 1e6,
        "onnx_fp32_mb": (bundle / artifacts.FP32_MODEL).stat().st_size / 1e6,
        "onnx_int8_mb": (bundle / artifacts.INT8_MODEL).stat().st_size / 1e6,
    }


@app.command()
def main(
    run: Annotated[
        Path | None, typer.Option(help="A finished run folder (its model/ and val.csv).")
    ] = None,
    bundle: Annotated[
        Path | None, typer.Option(help="The run's exported bundle, with INT8.")
    ] = None,
    shape: Annotated[
        str,
        typer.Option(
            help="'real' (the run's model) or 'distilbert' (random weights, DistilBERT-base shape)."
        ),
    ] = "real",
    tokenizer: Annotated[
        Path | None, typer.Option(help="Tokenizer folder for --shape distilbert.")
    ] = None,
    reviews: Annotated[
        Path | None, typer.Option(help="Labelled CSV to time on [default: the run's val.csv].")
    ] = None,
    extra: Annotated[
        Path | None, typer.Option(help="Larger labelled CSV for fp32 vs INT8 accuracy.")
    ] = None,
    threads: Annotated[int, typer.Option(help="Threads for every backend.")] = 2,
    batch_sizes: Annotated[
        str, typer.Option(help="Comma-separated throughput batch sizes.")
    ] = "8,32",
    rounds: Annotated[
        int, typer.Option(help="Interleaved throughput rounds (median reported).")
    ] = 2,
    latency_reviews: Annotated[int, typer.Option(help="Reviews timed one at a time.")] = 100,
    out: Annotated[Path, typer.Option(help="Results folder.")] = Path("benchmarks/results"),
    name: Annotated[
        str | None, typer.Option(help="File stem of the results [default: speed-<shape>].")
    ] = None,
) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="senticlf-bench-"))
    if shape == "distilbert":
        from benchmarks.common.synthetic import distilbert_shaped_bundle

        if tokenizer is None or reviews is None:
            raise typer.BadParameter("--shape distilbert needs --tokenizer and --reviews")
        model_dir, bundle = distilbert_shaped_bundle(tokenizer, scratch, 512, "head")
    else:
        if run is None or bundle is None:
            raise typer.BadParameter("--shape real needs --run and --bundle")
        model_dir = run / artifacts.RUN_MODEL_DIR
        reviews = reviews or run / artifacts.RUN_VAL_CSV
    assert reviews is not None and bundle is not None
    texts, labels = read_reviews(reviews)
    extra_reviews = read_reviews(extra) if extra else None
    manifest = artifacts.read_manifest(bundle)
    encoder = ReviewEncoder.for_bundle(bundle, manifest)
    lengths = [len(ids) for ids in encoder.encode(texts)]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    sorted_texts = [texts[i] for i in order]

    models = [backends.make(n, model_dir, bundle, threads) for n in backends.NAMES]
    for model in models:  # warm-up: first calls allocate and pick kernels
        model.positive(sorted_texts[-8:])
        model.positive(texts[:1])

    results: dict[str, Any] = {
        "command": " ".join(["python -m benchmarks.speed", *sys.argv[1:]]),
        "shape": shape,
        "reviews": len(texts),
        "mean_tokens": float(np.mean(lengths)),
        "max_length": manifest.max_length,
        "truncation": manifest.truncation,
        "threads": threads,
        "machine": machine.describe(),
        "latency_batch1": latency(models, texts[:latency_reviews]),
        "throughput": {},
    }
    outputs: dict[str, np.ndarray] = {}
    for batch_size in (int(b) for b in batch_sizes.split(",")):
        speeds, outputs = throughput(models, sorted_texts, batch_size, rounds)
        results["throughput"][str(batch_size)] = speeds
    if shape == "real":
        sorted_labels = labels[order]
        results["accuracy"] = accuracy_section(outputs, sorted_labels)
        if extra_reviews:
            results["extra_eval"] = extra_eval(bundle, *extra_reviews, threads)
    del models
    results["process"] = {
        n: cold_start(n, model_dir, bundle, threads, reviews) for n in backends.NAMES
    }
    results["size"] = sizes(model_dir, bundle)
    results["install"] = footprint.footprint_mb()
    stem = name or f"speed-{shape}"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / f"{stem}.md").write_text(markdown(results))
    plot(results, out / f"{stem}.png")
    print(markdown(results))


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        f"### {r['shape']} model: {r['reviews']} reviews, mean {r['mean_tokens']:.0f} tokens, max length {r['max_length']}, {r['threads']} threads",
        "",
        machine_line(m),
        "",
        f"Command: `{r['command']}`",
        "",
    ]
    batch_sizes = list(r["throughput"])
    header = [
        "backend",
        "batch 1 median ms (p90 / p99)",
        *[f"batch {b} reviews/s" for b in batch_sizes],
        "cold start s",
        "peak RSS MB",
    ]
    if "accuracy" in r:
        header.insert(1, "accuracy")
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    base = r["throughput"]
    eager_latency = r["latency_batch1"]["torch-eager"]["median_ms"]
    for name in backends.NAMES:
        lat = r["latency_batch1"][name]
        row = [
            name,
            f"{lat['median_ms']:.1f} ({lat['p90_ms']:.0f} / {lat['p99_ms']:.0f}), {eager_latency / lat['median_ms']:.2f}x",
        ]
        row += [
            f"{base[b][name]:.1f} ({base[b][name] / base[b]['torch-eager']:.2f}x)"
            for b in batch_sizes
        ]
        row += [
            f"{r['process'][name]['cold_start_s']:.1f}",
            f"{r['process'][name]['peak_rss_mb']:.0f}",
        ]
        if "accuracy" in r:
            row.insert(1, f"{r['accuracy'][name]['accuracy']:.1%}")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("Ratios in parentheses are against torch-eager in the same run.")
    if "accuracy" in r:
        a = r["accuracy"]
        lines.append(
            f"INT8 agrees with fp32 on {a['int8_fp32_agreement']:.1%} of reviews; McNemar p = {a['int8_vs_fp32_mcnemar_p']:.2f}; "
            f"F1 fp32 {a['senticlf-fp32']['f1']:.3f}, INT8 {a['senticlf-int8']['f1']:.3f}."
        )
    if "extra_eval" in r:
        e = r["extra_eval"]
        lines.append(
            f"On {e['reviews']} further labelled reviews: fp32 {e['fp32_accuracy']:.2%}, INT8 {e['int8_accuracy']:.2%}, "
            f"agreement {e['agreement']:.1%}, McNemar p = {e['mcnemar_p']:.2f}."
        )
    s, i = r["size"], r["install"]
    lines.append(
        f"Size on disk: PyTorch {s['pytorch_safetensors_mb']:.0f} MB, ONNX fp32 {s['onnx_fp32_mb']:.0f} MB, INT8 {s['onnx_int8_mb']:.0f} MB. "
        f"Installed: predictor only {i['predictor_only_mb']:.0f} MB ({i['predictor_packages']} packages), "
        f"training {i['training_mb']:.0f} MB ({i['training_packages']} packages)."
    )
    return "\n".join(lines) + "\n"


def plot(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(backends.NAMES)
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    left.bar(names, [r["latency_batch1"][n]["median_ms"] for n in names], color="tab:blue")
    left.set(title="Batch-1 latency, median (lower is better)", ylabel="ms per review")
    width = 0.8 / len(r["throughput"])
    for k, (batch, speeds) in enumerate(r["throughput"].items()):
        right.bar(
            [i + k * width for i in range(len(names))],
            [speeds[n] for n in names],
            width,
            label=f"batch {batch}",
        )
    right.set_xticks([i + width * (len(r["throughput"]) - 1) / 2 for i in range(len(names))], names)
    right.set(title="Throughput, length-sorted batches (higher is better)", ylabel="reviews / s")
    right.legend()
    for axis in (left, right):
        axis.tick_params(axis="x", rotation=20)
    figure.suptitle(f"{r['shape']} model, {r['threads']} threads, {r['machine']['cpu']}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


if __name__ == "__main__":
    app()
