"""PyTorch vs ONNX fp32 vs INT8 (and the pipelines a user would otherwise pick), side by side.

    python -m benchmarks.speed --run runs/ref --bundle export/ref          # the fine-tuned model
    python -m benchmarks.speed --shape distilbert --tokenizer DIR --reviews runs/ref/val.csv

One run measures every backend on the same reviews with the same thread count: accuracy,
batch-1 latency, throughput at batch 8 and 32 (length-sorted batches), cold start, peak RSS and
size on disk. Backends are interleaved (round-robin, rotating order) so that drift on a shared
machine hits them alike; each is warmed up first. Writes JSON, Markdown and a PNG plot.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from benchmarks.common import backends, footprint, internals, records, results, roofline
from benchmarks.common.records import Column, Percentiles
from benchmarks.common.timing import latency, read_reviews, throughput
from senticlf import artifacts, cpu
from senticlf.evaluation.comparison import mcnemar_p
from senticlf.evaluation.label_metrics import classification_metrics

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
    ghz: Annotated[
        float, typer.Option(help="Clock assumed for the CPU's peak multiply-adds per second.")
    ] = roofline.DEFAULT_GHZ,
    out: Annotated[Path, typer.Option(help="Results folder.")] = results.FOLDER,
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
    encoder = internals.bundle_encoder(bundle)
    lengths = [len(ids) for ids in encoder.encode(texts)]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    sorted_texts = [texts[i] for i in order]

    with results.load_window() as load:
        models = [backends.make(n, model_dir, bundle, threads) for n in backends.NAMES]
        for model in models:  # warm-up: first calls allocate and pick kernels
            model.positive(sorted_texts[-8:])
            model.positive(texts[:1])
        result: dict[str, Any] = {
            "shape": shape,
            "reviews": len(texts),
            "mean_tokens": float(np.mean(lengths)),
            "max_length": manifest.max_length,
            "truncation": manifest.truncation,
            "threads": threads,
            "roofline": roofline_record(model_dir, lengths, ghz),
            "latency_batch1": {
                n: p.to_dict() for n, p in latency(models, texts[:latency_reviews]).items()
            },
            "throughput": {},
        }
        outputs: dict[str, np.ndarray] = {}
        for batch_size in (int(b) for b in batch_sizes.split(",")):
            speeds, outputs = throughput(models, sorted_texts, batch_size, rounds)
            result["throughput"][str(batch_size)] = {n: runs.median for n, runs in speeds.items()}
        if shape == "real":
            sorted_labels = labels[order]
            result["accuracy"] = accuracy_section(outputs, sorted_labels)
            if extra_reviews:
                result["extra_eval"] = extra_eval(bundle, *extra_reviews, threads)
        del models
        result["process"] = {
            n: cold_start(n, model_dir, bundle, threads, reviews) for n in backends.NAMES
        }
    result["size"] = sizes(model_dir, bundle)
    result["install"] = footprint.footprint_mb()
    stem = name or f"speed-{shape}"
    figures = {f"{stem}.png": lambda path: plot(result, path)}
    print(
        results.write(
            stem,
            result,
            report(result),
            title=title(result),
            load=load,
            folder=out,
            figures=figures,
        )
    )


def roofline_record(model_dir: Path, lengths: list[int], ghz: float) -> dict[str, Any]:
    """What the share of the CPU's peak is computed from: the model's multiply-adds per review
    (the bundle encoder's tokens), the clock assumed and the instruction sets."""
    shape = roofline.Shape.of_model(model_dir)
    macs = roofline.per_review(roofline.total_macs(shape, lengths), len(lengths))
    return {
        "model": asdict(shape),
        "macs_per_review": {"linear": macs.linear, "attention": macs.attention},
        "ghz": ghz,
        "instruction_sets": cpu.instruction_sets(),
        "cpu": cpu.cpu_name(),
    }


# The precision each backend's linear layers run at; the others are fp32.
BACKEND_PRECISION = {"senticlf-int8": "int8"}


def roofline_blocks(r: dict[str, Any]) -> list[results.Block]:
    """Each backend's multiply-adds per second at each batch size against the CPU's peaks."""
    found = r.get("roofline")
    if not found:  # results written before the roofline was recorded
        return []
    shape = roofline.Shape(**found["model"])
    macs = roofline.Macs(**found["macs_per_review"])
    flags, name, ghz = found["instruction_sets"], found["cpu"], found["ghz"]

    def limit(backend: str) -> roofline.Limit:
        precision = BACKEND_PRECISION.get(backend, "fp32")
        return roofline.limit_for(macs, precision, flags, name, r["threads"], ghz)

    batches = list(r["throughput"])
    columns: list[Column[str]] = [Column("backend", lambda n: n)]
    columns += [
        Column(
            f"batch {b}: GMAC/s (share of limit)",
            lambda n, b=b: roofline.cell(limit(n), r["throughput"][b][n]),
            right=True,
        )
        for b in batches
    ]
    table = records.Table(list(backends.NAMES), columns)
    note = (
        "Achieved multiply-adds per second of each backend (the reviews' tokens as the bundle's "
        "encoder cuts them; the pipelines tokenize for themselves), and the share of the limit: "
        "senticlf-int8's linear layers at the INT8 peak, everything else at the fp32 peak."
    )
    return [roofline.assumptions(shape, macs, flags, name, r["threads"], ghz), note, table]


@dataclass(frozen=True)
class BackendRow:
    """One backend in the table: its latency, reviews/s per batch size, process figures."""

    name: str
    latency: Percentiles
    reviews_per_s: dict[str, float]  # batch size -> median over the rounds
    cold_start_s: float
    peak_rss_mb: float
    accuracy: float | None


def title(r: dict[str, Any]) -> str:
    return (
        f"{r['shape']} model: {r['reviews']} reviews, mean {r['mean_tokens']:.0f} tokens, "
        f"max length {r['max_length']}, {r['threads']} threads"
    )


def backend_rows(r: dict[str, Any]) -> list[BackendRow]:
    return [
        BackendRow(
            name,
            Percentiles.from_dict(r["latency_batch1"][name]),
            {b: speeds[name] for b, speeds in r["throughput"].items()},
            r["process"][name]["cold_start_s"],
            r["process"][name]["peak_rss_mb"],
            r["accuracy"][name]["accuracy"] if "accuracy" in r else None,
        )
        for name in backends.NAMES
    ]


def columns(rows: list[BackendRow]) -> list[Column[BackendRow]]:
    """Ratios are against torch-eager, the first backend, in the same run."""
    eager = rows[0]

    def speed(b: str) -> Column[BackendRow]:
        return Column(
            f"batch {b} reviews/s",
            lambda row: (
                f"{row.reviews_per_s[b]:.1f} ({row.reviews_per_s[b] / eager.reviews_per_s[b]:.2f}x)"
            ),
        )

    found: list[Column[BackendRow]] = [Column("backend", lambda row: row.name)]
    if eager.accuracy is not None:
        found.append(Column("accuracy", lambda row: f"{row.accuracy:.1%}"))
    found.append(
        Column(
            "batch 1 median ms (p90 / p99)",
            lambda row: (
                f"{row.latency.median_ms:.1f} ({row.latency.p90_ms:.0f} / {row.latency.p99_ms:.0f}), "
                f"{eager.latency.median_ms / row.latency.median_ms:.2f}x"
            ),
        )
    )
    found += [speed(b) for b in eager.reviews_per_s]
    found += [
        Column("cold start s", lambda row: f"{row.cold_start_s:.1f}"),
        Column("peak RSS MB", lambda row: f"{row.peak_rss_mb:.0f}"),
    ]
    return found


def report(r: dict[str, Any]) -> list[results.Block]:
    rows = backend_rows(r)
    notes = ["Ratios in parentheses are against torch-eager in the same run."]
    if "accuracy" in r:
        a = r["accuracy"]
        notes.append(
            f"INT8 agrees with fp32 on {a['int8_fp32_agreement']:.1%} of reviews; McNemar p = {a['int8_vs_fp32_mcnemar_p']:.2f}; "
            f"F1 fp32 {a['senticlf-fp32']['f1']:.3f}, INT8 {a['senticlf-int8']['f1']:.3f}."
        )
    if "extra_eval" in r:
        e = r["extra_eval"]
        notes.append(
            f"On {e['reviews']} further labelled reviews: fp32 {e['fp32_accuracy']:.2%}, INT8 {e['int8_accuracy']:.2%}, "
            f"agreement {e['agreement']:.1%}, McNemar p = {e['mcnemar_p']:.2f}."
        )
    s, i = r["size"], r["install"]
    notes.append(
        f"Size on disk: PyTorch {s['pytorch_safetensors_mb']:.0f} MB, ONNX fp32 {s['onnx_fp32_mb']:.0f} MB, INT8 {s['onnx_int8_mb']:.0f} MB. "
        f"Installed: predictor only {i['predictor_only_mb']:.0f} MB ({i['predictor_packages']} packages), "
        f"training {i['training_mb']:.0f} MB ({i['training_packages']} packages)."
    )
    return [records.Table(rows, columns(rows)), "\n".join(notes), *roofline_blocks(r)]


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
    figure.suptitle(f"{r['shape']} model, {r['threads']} threads, {cpu.cpu_name()}")
    figure.tight_layout()
    results.save_png(figure, path)


if __name__ == "__main__":
    app()
