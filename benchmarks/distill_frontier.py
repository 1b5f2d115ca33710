"""The accuracy/speed frontier of distilled students against their teacher.

    python -m benchmarks.distill_frontier --work /tmp/distill-frontier       # CPU subset
    python -m benchmarks.distill_frontier --work runs/frontier --full        # GPU session

Trains a teacher with `senticlf train`, distils students of 3 and 2 of its layers with
`senticlf distill` (soft targets, alpha 0.5) and, as the control, the same students on hard
labels only (alpha 0), exports every run with `senticlf export --quantize`, scores each INT8
bundle on held-out labelled reviews, and times every INT8 bundle and the teacher's PyTorch
eager model on the same reviews in one interleaved run. Finished runs and bundles under
--work are reused, so an interrupted benchmark continues where it stopped.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from benchmarks.common import backends, machine, timing
from senticlf import artifacts, data

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

# (name, layers, alpha): alpha 0 is the hard-label control of the same student.
STUDENTS = (("3L-distil", 3, 0.5), ("3L-hard", 3, 0.0), ("2L-distil", 2, 0.5), ("2L-hard", 2, 0.0))


def senticlf_cli(*args: str) -> None:
    command = [sys.executable, "-m", "senticlf.cli", *args]
    print("$ senticlf " + " ".join(args), flush=True)
    subprocess.run(command, check=True)


def finished(run_dir: Path) -> bool:
    return artifacts.read_run_metrics(run_dir).get("status") == artifacts.RUN_COMPLETE


def train_teacher(work: Path, train_args: list[str]) -> Path:
    teacher = work / "teacher"
    if not finished(teacher):
        senticlf_cli("train", *train_args, "--output", str(teacher), "--overwrite")
    return teacher


def distil_students(
    work: Path, teacher: Path, names: list[str], epochs: int | None
) -> dict[str, Path]:
    runs = {}
    for name, layers, alpha in (s for s in STUDENTS if s[0] in names):
        run_dir = work / name
        if not finished(run_dir):
            senticlf_cli(
                "distill", str(teacher), "--output", str(run_dir), "--layers", str(layers),
                "--alpha", str(alpha), "--overwrite",
                *(["--epochs", str(epochs)] if epochs else []),
            )  # fmt: skip
        runs[name] = run_dir
    return runs


def export(run_dir: Path) -> Path:
    bundle = run_dir.parent / "bundles" / run_dir.name
    if not (bundle / artifacts.MANIFEST).is_file():
        senticlf_cli("export", str(run_dir), "--output", str(bundle), "--quantize", "--overwrite")
    return bundle


def int8_accuracy(bundle: Path, texts: list[str], labels: np.ndarray, threads: int) -> float:
    import senticlf

    classifier = senticlf.load(bundle, quantized=True, threads=threads)
    positive = np.array([p.positive for p in classifier.predict_stream(texts)])
    return float(np.mean((positive >= 0.5) == labels))


class NamedInt8(backends.Senticlf):
    """The INT8 predictor of one bundle, under the model's name in the tables."""

    def __init__(self, name: str, bundle: Path, threads: int) -> None:
        super().__init__(bundle, threads, quantized=True)
        self.name = name


def time_side_by_side(
    teacher: Path, bundles: dict[str, Path], texts: list[str], threads: int, rounds: int
) -> dict[str, float]:
    """Reviews/s of the teacher's eager model and every INT8 bundle, interleaved, batch 8."""
    eager = backends.TorchEager(teacher / artifacts.RUN_MODEL_DIR, bundles["teacher"], threads)
    eager.name = "teacher torch-eager"
    models = [eager, *(NamedInt8(f"{n} int8", b, threads) for n, b in bundles.items())]
    encoder = models[-1].classifier.encoder  # the same tokenizer and length for every model
    order = sorted(range(len(texts)), key=lambda i: len(encoder.encode([texts[i]])[0]))
    sorted_texts = [texts[i] for i in order]
    for model in models:  # warm-up: first calls allocate and pick kernels
        model.positive(sorted_texts[-8:])
    speeds, _ = timing.throughput(models, sorted_texts, 8, rounds)
    return speeds


@app.command()
def main(
    work: Annotated[Path, typer.Option(help="Folder for the runs and bundles.")],
    data_source: Annotated[
        str, typer.Option("--data", help="Training data for the teacher.")
    ] = "/work/shared/data/aclImdb_labelled.tar.gz",
    base_model: Annotated[str, typer.Option()] = "/work/shared/models/all-MiniLM-L6-v2",
    eval_file: Annotated[Path, typer.Option(help="Held-out labelled reviews for accuracy.")] = Path(
        "/work/main/.device/data/extra_eval.csv.gz"
    ),
    eval_size: Annotated[int, typer.Option(help="Reviews of --eval-file scored.")] = 2000,
    train_size: Annotated[int, typer.Option()] = 1000,
    max_length: Annotated[int, typer.Option()] = 128,
    epochs: Annotated[int, typer.Option()] = 2,
    students: Annotated[
        str, typer.Option(help="Comma-separated students to run [default: all].")
    ] = ",".join(s[0] for s in STUDENTS),
    student_epochs: Annotated[
        int | None, typer.Option(help="Students' epochs [default: the teacher's].")
    ] = None,
    lr: Annotated[float, typer.Option("--lr")] = 1e-4,
    full: Annotated[bool, typer.Option("--full", help="All 25,000 / 25,000 reviews.")] = False,
    speed_reviews: Annotated[int, typer.Option(help="Reviews timed per model.")] = 200,
    rounds: Annotated[int, typer.Option()] = 3,
    threads: Annotated[int, typer.Option()] = 2,
    name: Annotated[str, typer.Option(help="Results file stem.")] = "distill-frontier",
    out: Annotated[Path, typer.Option()] = Path("benchmarks/results"),
) -> None:
    started = time.perf_counter()
    sizes = ["--full"] if full else ["--train-size", str(train_size), "--val-size", "200"]
    train_args = [
        "--data", data_source, "--base-model", base_model, "--max-length", str(max_length),
        "--epochs", str(epochs), "--lr", str(lr), *sizes,
    ]  # fmt: skip
    teacher = train_teacher(work, train_args)
    chosen = students.split(",")
    runs = {"teacher": teacher, **distil_students(work, teacher, chosen, student_epochs)}
    bundles = {name: export(run_dir) for name, run_dir in runs.items()}

    rows = data.read_table(eval_file)[:eval_size]
    texts, labels = [r.text for r in rows], np.array([r.label for r in rows])
    accuracy = {n: int8_accuracy(b, texts, labels, threads) for n, b in bundles.items()}
    speeds = time_side_by_side(teacher, bundles, texts[:speed_reviews], threads, rounds)

    results: dict[str, Any] = {
        "command": " ".join(["python -m benchmarks.distill_frontier", *sys.argv[1:]]),
        "teacher_train_args": train_args,
        "students": [
            {"name": n, "layers": k, "alpha": a, "epochs": student_epochs or epochs}
            for n, k, a in STUDENTS
            if n in chosen
        ],
        "eval_file": str(eval_file),
        "eval_reviews": len(texts),
        "speed_reviews": min(speed_reviews, len(texts)),
        "batch_size": 8,
        "threads": threads,
        "machine": machine.describe(),
        "models": {
            n: {
                "int8_accuracy": accuracy[n],
                "int8_reviews_per_s": speeds[f"{n} int8"],
                "val_accuracy": artifacts.read_run_metrics(r)["best"]["val_accuracy"],
                "train_time_s": artifacts.read_run_metrics(r).get("train_time_s"),
            }
            for n, r in runs.items()
        },
        "teacher_eager_reviews_per_s": speeds["teacher torch-eager"],
        "benchmark_wall_s": round(time.perf_counter() - started, 1),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / f"{name}.md").write_text(markdown(results))
    plot(results, out / f"{name}.png")
    print(markdown(results))


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    teacher = r["models"]["teacher"]
    eager = r["teacher_eager_reviews_per_s"]
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, {', '.join(m['instruction_sets'])}; "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        "",
        f"Command: `{r['command']}`",
        "",
        f"Accuracy: INT8 predictor on {r['eval_reviews']} held-out test reviews. Speed: "
        f"{r['speed_reviews']} of them, length-sorted batches of {r['batch_size']}, "
        f"{r['threads']} threads, all models interleaved in one run.",
        "",
        "| model | INT8 accuracy | vs teacher (points) | INT8 reviews/s | vs teacher INT8 "
        "| vs teacher eager |",
        "|---|---|---|---|---|---|",
        f"| teacher, PyTorch eager | - | - | {eager:.1f} | - | 1.00x |",
    ]
    for name, row in r["models"].items():
        lines.append(
            f"| {name} | {row['int8_accuracy']:.2%} "
            f"| {100 * (row['int8_accuracy'] - teacher['int8_accuracy']):+.2f} "
            f"| {row['int8_reviews_per_s']:.1f} "
            f"| {row['int8_reviews_per_s'] / teacher['int8_reviews_per_s']:.2f}x "
            f"| {row['int8_reviews_per_s'] / eager:.2f}x |"
        )
    return "\n".join(lines) + "\n"


def plot(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    for name, row in r["models"].items():
        marker = "s" if name == "teacher" else ("o" if "distil" in name else "x")
        axis.scatter(row["int8_reviews_per_s"], 100 * row["int8_accuracy"], marker=marker, s=60)
        axis.annotate(
            f"{name} int8",
            (row["int8_reviews_per_s"], 100 * row["int8_accuracy"]),
            textcoords="offset points",
            xytext=(5, 5),
        )
    axis.axvline(r["teacher_eager_reviews_per_s"], color="grey", linestyle=":")
    axis.annotate(
        "teacher eager speed",
        (r["teacher_eager_reviews_per_s"], axis.get_ylim()[0]),
        rotation=90,
        textcoords="offset points",
        xytext=(-12, 5),
        color="grey",
    )
    axis.set(
        xlabel="reviews / s (INT8 predictor, batch 8)",
        ylabel=f"accuracy on {r['eval_reviews']} test reviews (%)",
        title=f"Distillation frontier, {r['threads']} threads, {r['machine']['cpu']}",
    )
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


if __name__ == "__main__":
    app()
