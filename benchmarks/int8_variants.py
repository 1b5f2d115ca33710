"""Every INT8 recipe ONNX Runtime offers, built from one fused fp32 graph, timed side by side.

    python -m benchmarks.int8_variants --run RUN [--bundle BUNDLE] --extra CSV --name int8-variants-avx2
    python -m benchmarks.int8_variants --shape distilbert --tokenizer DIR --reviews CSV --name ...

Each variant of benchmarks.common.int8_recipes.ALL_VARIANTS (the export ladders' and more) (Optimum's preset for this CPU, ONNX Runtime's
dynamic s8/u8 weights per-tensor/per-channel/reduced range, static QDQ calibrated on training
reviews) is built from the same fused fp32 model, then timed on the same pre-tokenized,
length-sorted batches (8, and 1) with PyTorch eager and fp32 as references, twice: interleaved in
one process (rotating order), and each model alone in its own process (benchmarks.common.int8_worker),
which shows whether sharing a process depresses some of them. ``--openvino-python`` names the
Python of a separate environment holding onnxruntime-openvino (its ``onnxruntime`` module would
replace ours), whose OpenVINO execution provider is then timed in its own processes too.
Accuracy and agreement with fp32 are scored on the validation reviews (the export gate's set)
and, with ``--extra``, on a larger labelled file.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer

from benchmarks.common import int8_recipes, int8_worker, internals, records, results
from benchmarks.common.records import Accuracy, Column, Runs
from benchmarks.common.timing import read_reviews, rotate
from senticlf import artifacts, cpu
from senticlf.export.options import ExportOptions

if TYPE_CHECKING:
    from benchmarks.common.internals import ReviewEncoder

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

TORCH, FP32 = "torch-eager", "fp32"
# Export's own gate at its defaults (ExportOptions): at most 1 point lost, 98% agreement.
GATE = ExportOptions()


def padded_batches(
    encoder: ReviewEncoder, texts: list[str], size: int
) -> tuple[list[int], list[int8_worker.Batch]]:
    """Length-sorted batches as the predictor forms them; returns the order too."""
    ids = encoder.encode(texts)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    batches = [
        encoder.pad([ids[i] for i in order[s : s + size]]) for s in range(0, len(order), size)
    ]
    return order, batches


def label(name: str, preset: str) -> str:
    """Optimum's variants take the preset's integer types: say which preset in the name."""
    if int8_recipes.ALL_VARIANTS[name].method == "optimum":
        return f"int8 optimum-{preset} {name}"
    return f"int8 {name}"


def build_variants(
    fp32: Path, folder: Path, names: list[str], calibration: int8_recipes.Feeds
) -> tuple[dict[str, Path], dict[str, dict[str, Any]]]:
    """Returns the models built and, by the same labels, how (or why not)."""
    preset = cpu.int8_preset()
    built: dict[str, Path] = {}
    info: dict[str, dict[str, Any]] = {}
    for name in names:
        target = folder / f"{len(info):02d}.onnx"
        key = label(name, preset)
        start = time.perf_counter()
        try:
            int8_recipes.build(fp32, target, preset, name, calibration)
        except Exception as exc:  # a recipe that cannot be built is a result, not a crash
            info[key] = {"error": str(exc).splitlines()[0][:200]}
            continue
        built[key] = target
        info[key] = {
            "variant": name,
            "build_s": time.perf_counter() - start,
            "size_mb": target.stat().st_size / 1e6,
            "method": int8_recipes.ALL_VARIANTS[name].method,
        }
    return built, info


def interleaved(
    runners: dict[str, int8_worker.Logits],
    batches: list[int8_worker.Batch],
    singles: list[int8_worker.Batch],
    rounds: int,
) -> tuple[dict[str, float], dict[str, float], dict[str, np.ndarray]]:
    names = list(runners)
    for name in names:
        runners[name](*batches[-1])
    speeds: dict[str, list[float]] = {n: [] for n in names}
    outputs: dict[str, np.ndarray] = {}
    for r in range(rounds):
        for name in rotate(names, r):
            start = time.perf_counter()
            logits = [runners[name](*b) for b in batches]
            speeds[name].append(sum(len(b[0]) for b in batches) / (time.perf_counter() - start))
            outputs[name] = np.concatenate(logits)
    times: dict[str, list[float]] = {n: [] for n in names}
    for i, single in enumerate(singles):
        for name in rotate(names, i):
            start = time.perf_counter()
            runners[name](*single)
            times[name].append(1000 * (time.perf_counter() - start))
    return (
        {n: statistics.median(s) for n, s in speeds.items()},
        {n: statistics.median(t) for n, t in times.items()},
        outputs,
    )


def own_process(
    path: Path, batches_file: Path, threads: int, rounds: int, python: str, **flags: bool
) -> dict[str, Any]:
    command = [python, "-m", "benchmarks.common.int8_worker", str(path), str(batches_file)]
    command += ["--threads", str(threads), "--rounds", str(rounds)]
    command += [f"--{flag}" if flag == "torch" else f"--provider={flag}" for flag in flags]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1][:200]}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def scored(logits: np.ndarray, reference: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    predicted = logits.argmax(1)
    return {
        "accuracy": float(np.mean(predicted == labels)),
        "agreement": float(np.mean(predicted == reference.argmax(1))),
    }


def extra_scores(
    models: dict[str, Path],
    encoder: ReviewEncoder,
    texts: list[str],
    labels: np.ndarray,
    threads: int,
) -> Iterator[tuple[str, dict[str, float]]]:
    """One model at a time (fp32 first, the reference), so that partial results can be kept."""
    ids = encoder.encode(texts)
    reference = None
    for name, path in models.items():
        runner = internals.onnx_runner(path, threads)
        logits = internals.run_length_sorted(ids, 8, lambda b, r=runner: r.logits(*encoder.pad(b)))
        reference = logits if reference is None else reference
        yield name, scored(logits, reference, labels)


@app.command()
def main(
    run: Annotated[
        Path | None, typer.Option(help="A finished run folder (model/, val.csv, train.csv).")
    ] = None,
    bundle: Annotated[
        Path | None, typer.Option(help="The run's bundle: its INT8 file is timed too.")
    ] = None,
    shape: Annotated[
        str, typer.Option(help="'real' (the run's model) or 'distilbert' (random weights).")
    ] = "real",
    tokenizer: Annotated[
        Path | None, typer.Option(help="Tokenizer folder for --shape distilbert.")
    ] = None,
    reviews: Annotated[
        Path | None, typer.Option(help="Reviews to time [default: the run's val.csv].")
    ] = None,
    extra: Annotated[Path | None, typer.Option(help="Larger labelled CSV for accuracy.")] = None,
    variants: Annotated[
        str, typer.Option(help="Comma-separated variant names [default: all].")
    ] = "",
    calibration_reviews: Annotated[
        int, typer.Option(help="Training reviews for static INT8.")
    ] = 64,
    threads: int = 2,
    rounds: Annotated[int, typer.Option(help="Batch-8 passes per model, median kept.")] = 2,
    latency_reviews: Annotated[int, typer.Option(help="Reviews timed one at a time.")] = 40,
    openvino_python: Annotated[
        Path | None, typer.Option(help="Python of a venv with onnxruntime-openvino.")
    ] = None,
    own_processes: Annotated[bool, typer.Option(help="Also time each model alone.")] = True,
    own_rounds: Annotated[int, typer.Option(help="Batch-8 passes per model alone.")] = 1,
    extra_limit: Annotated[int, typer.Option(help="Score only the first N extra reviews.")] = 2000,
    out: Path = results.FOLDER,
    name: str = "int8-variants",
) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="int8-variants-"))
    load = results.LoadWindow()  # other work shared the machine: its load, start to end
    if shape == "distilbert":
        from benchmarks.common.synthetic import distilbert_shaped_bundle

        if tokenizer is None or reviews is None:
            raise typer.BadParameter("--shape distilbert needs --tokenizer and --reviews")
        model_dir, synthetic = distilbert_shaped_bundle(tokenizer, scratch, 512, "head", int8=False)
        fp32_path = synthetic / artifacts.FP32_MODEL
        encoder = internals.bundle_encoder(synthetic)
        calibration_csv = reviews
    else:
        if run is None:
            raise typer.BadParameter("--shape real needs --run")
        model_dir = run / artifacts.RUN_MODEL_DIR
        reviews = reviews or run / artifacts.RUN_VAL_CSV
        calibration_csv = run / artifacts.RUN_TRAIN_CSV
        fp32_path = internals.fp32_onnx(model_dir, scratch)
        encoder = internals.run_encoder(run, scratch / artifacts.TOKENIZER)
    texts, labels = read_reviews(reviews)
    order, batches = padded_batches(encoder, texts, 8)
    sorted_labels = labels[order]
    singles = [encoder.pad(encoder.encode([t])) for t in texts[:latency_reviews]]
    calibration = int8_recipes.calibration_feeds(
        fp32_path,
        padded_batches(encoder, read_reviews(calibration_csv)[0][:calibration_reviews], 8)[1],
    )
    names = [v.strip() for v in variants.split(",") if v.strip()] or list(int8_recipes.ALL_VARIANTS)
    print(f"building {len(names)} INT8 variants", flush=True)
    (scratch / "variants").mkdir()
    built, info = build_variants(fp32_path, scratch / "variants", names, calibration)
    models: dict[str, Path] = {FP32: fp32_path, **built}
    if bundle is not None and (bundle / artifacts.INT8_MODEL).is_file():
        models["int8 bundle file"] = bundle / artifacts.INT8_MODEL
        info["int8 bundle file"] = {
            "export_check": (artifacts.read_manifest(bundle).export_check or {}).to_dict(),
            "size_mb": models["int8 bundle file"].stat().st_size / 1e6,
        }

    runners: dict[str, int8_worker.Logits] = {TORCH: int8_worker.torch_logits(model_dir, threads)}
    for key, path in models.items():
        runners[key] = internals.onnx_runner(path, threads).logits
    print("timing interleaved", flush=True)
    speed, latency, outputs = interleaved(runners, batches, singles, rounds)
    del runners
    result: dict[str, Any] = {
        "shape": shape,
        "reviews": len(texts),
        "mean_tokens": float(np.mean([int(row.sum()) for _, mask in batches for row in mask])),
        "threads": threads,
        "rounds": rounds,
        "preset": cpu.int8_preset(),
        "variants": info,
        "interleaved_batch8_reviews_per_s": speed,
        "interleaved_batch1_median_ms": latency,
        "own_process": {},
    }
    if shape == "real":
        reference = outputs[FP32]
        result["fp32_torch_max_logit_difference"] = float(
            np.max(np.abs(outputs[TORCH] - reference))
        )
        result["validation"] = {n: scored(o, reference, sorted_labels) for n, o in outputs.items()}
    write(result, out, name, load)  # each phase is kept as soon as it is done
    batches_file = scratch / "batches.npz"
    int8_worker.save_batches(batches_file, {"8": batches, "1": singles})
    alone = result["own_process"]
    if own_processes:
        print("timing each model in its own process", flush=True)
        alone[TORCH] = own_process(
            model_dir, batches_file, threads, own_rounds, sys.executable, torch=True
        )
        for key, path in models.items():
            alone[key] = own_process(path, batches_file, threads, own_rounds, sys.executable)
    if openvino_python:
        best_dynamic = next(
            (f"int8 {n}" for n in int8_recipes.ladder("avx2") if f"int8 {n}" in models), None
        )
        for key in (FP32, best_dynamic):
            if key:
                alone[f"openvino EP {key}"] = own_process(
                    models[key],
                    batches_file,
                    threads,
                    own_rounds,
                    str(openvino_python),
                    openvino=True,
                )
    write(result, out, name, load)
    if shape == "real" and extra:
        print("scoring the extra reviews", flush=True)
        extra_texts, extra_labels = read_reviews(extra)
        extra_texts, extra_labels = extra_texts[:extra_limit], extra_labels[:extra_limit]
        result["extra"] = {"reviews": len(extra_texts)}
        for key, scores in extra_scores(models, encoder, extra_texts, extra_labels, threads):
            result["extra"][key] = scores
            write(result, out, name, load)
    load.close()
    print(write(result, out, name, load))


def write(result: dict[str, Any], out: Path, name: str, load: results.LoadWindow) -> str:
    figures = {f"{name}.png": lambda path: plot(result, path)}
    return results.write(
        name, result, report(result), title=title(result), load=load, folder=out, figures=figures
    )


def title(r: dict[str, Any]) -> str:
    return (
        f"INT8 variants, {r['shape']} model: {r['reviews']} reviews, mean "
        f"{r['mean_tokens']:.0f} tokens, {r['threads']} threads"
    )


def _row_names(r: dict[str, Any]) -> list[str]:
    return list(r["interleaved_batch8_reviews_per_s"]) + [
        n for n in r["own_process"] if n not in r["interleaved_batch8_reviews_per_s"]
    ]


@dataclass(frozen=True)
class ModelRow:
    """One model: batch-8 reviews/s interleaved and alone, batch-1 latency, scores, size."""

    name: str
    interleaved: float | None  # median of the rounds, every model in one process
    alone: Runs | None  # each pass alone in its own process
    alone_error: str | None
    latency_ms: float | None  # interleaved
    alone_latency_ms: float | None
    validation: Accuracy | None
    extra: Accuracy | None
    size_mb: float | None


def model_rows(r: dict[str, Any]) -> list[ModelRow]:
    def scores(section: str, name: str, reviews: int) -> Accuracy | None:
        found = r.get(section, {}).get(name)
        return Accuracy(name, reviews, found["accuracy"], found["agreement"]) if found else None

    rows = []
    for name in _row_names(r):
        own = r["own_process"].get(name, {})
        rows.append(
            ModelRow(
                name,
                interleaved=r["interleaved_batch8_reviews_per_s"].get(name),
                alone=Runs.of(own["batch8_rounds"]) if "batch8_rounds" in own else None,
                alone_error=own.get("error"),
                latency_ms=r["interleaved_batch1_median_ms"].get(name),
                alone_latency_ms=own.get("batch1_median_ms"),
                validation=scores("validation", name, r["reviews"]),
                extra=scores("extra", name, r.get("extra", {}).get("reviews", 0)),
                size_mb=r["variants"].get(name, {}).get("size_mb"),
            )
        )
    return rows


def columns(r: dict[str, Any], rows: list[ModelRow]) -> list[Column[ModelRow]]:
    """Ratios are against torch-eager in the same column; the gate is the export's."""
    eager = next(row for row in rows if row.name == TORCH)
    eager_alone = eager.alone.median if eager.alone else float("nan")
    fp32 = next(row for row in rows if row.name == FP32).validation

    def interleaved_cell(row: ModelRow) -> str:
        if row.interleaved is None or eager.interleaved is None:
            return "-"
        return f"{row.interleaved:.1f} ({row.interleaved / eager.interleaved:.2f}x)"

    def alone_cell(row: ModelRow) -> str:
        if row.alone is None:
            return row.alone_error or "-"
        return f"{row.alone.median:.1f} ({row.alone.median / eager_alone:.2f}x)"

    def latency_cell(row: ModelRow) -> str:
        if row.latency_ms:
            return f"{row.latency_ms:.0f}"
        return f"{row.alone_latency_ms or float('nan'):.0f} (own)"

    def gate_cell(row: ModelRow) -> str:
        v = row.validation
        if not v or fp32 is None or not row.name.startswith("int8"):
            return ""
        agreement = v.agreement or 0.0
        passes = GATE.passes_gate(fp32.accuracy, v.accuracy, agreement)
        return "yes" if passes else "**no**"

    found = [
        Column("model", lambda row: row.name),
        Column("batch 8 reviews/s interleaved", interleaved_cell),
        Column("batch 8 reviews/s own process", alone_cell),
        Column("batch 1 median ms", latency_cell),
    ]
    if "validation" in r:
        found += [
            Column("val accuracy (agreement)", lambda row: row.validation.cell() if row.validation else "-"),
            Column("passes gate", gate_cell),
        ]  # fmt: skip
    if "extra" in r:
        found.append(
            Column(
                f"{r['extra']['reviews']} more: accuracy (agreement)",
                lambda row: row.extra.cell() if row.extra else "-",
            )
        )
    found.append(Column("size MB", lambda row: f"{row.size_mb:.0f}" if row.size_mb else ""))
    return found


def report(r: dict[str, Any]) -> list[results.Block]:
    rows = model_rows(r)
    notes = [
        "Ratios are against torch-eager in the same column (interleaved: same process, rotating "
        "order; own process: each model alone, one after another). Agreement is with fp32. "
        f"Gate: at most {GATE.max_accuracy_drop:g} point lost and {GATE.min_agreement:.0%} agreement on the validation reviews. "
        f"INT8 variants are built from the same fused fp32 graph; optimum variants use this CPU's preset ({r['preset']})."
    ]
    notes += [f"Not built: {n}: {v['error']}" for n, v in r["variants"].items() if "error" in v]
    return [records.Table(rows, columns(r, rows)), "\n".join(notes)]


def plot(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = _row_names(r)
    inter = [r["interleaved_batch8_reviews_per_s"].get(n, 0) for n in names]
    alone = [r["own_process"].get(n, {}).get("batch8_reviews_per_s", 0) for n in names]
    figure, axis = plt.subplots(figsize=(12, 5))
    x = np.arange(len(names))
    axis.bar(x - 0.2, inter, 0.4, label="interleaved, one process")
    axis.bar(x + 0.2, alone, 0.4, label="each in its own process")
    axis.set_xticks(x, names, rotation=35, ha="right")
    axis.set(ylabel="reviews / s, batch 8 (higher is better)")
    axis.legend()
    figure.suptitle(
        f"INT8 variants, {r['shape']} model, {r['threads']} threads, {cpu.cpu_name()} ({', '.join(cpu.instruction_sets())})"
    )
    figure.tight_layout()
    results.save_png(figure, path)


if __name__ == "__main__":
    app()
