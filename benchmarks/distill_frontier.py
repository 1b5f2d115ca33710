"""The accuracy/speed frontier of students distilled from a teacher that learned.

    python -m benchmarks.distill_frontier --work runs/frontier            # CPU scale, ~1.5 h
    python -m benchmarks.distill_frontier --work /tmp/frontier-smoke --smoke   # minutes

The teacher is a finished `senticlf train` run (default: the shared MiniLM run on the seeded
1,000/200 IMDb subset), used as it is: nothing is written inside it. Steps, each skipped on a
rerun once its output exists, so an interrupted benchmark continues where it stopped:

1. texts: the transfer set (IMDb training reviews outside the teacher's 1,000, labels dropped)
   and the held-out set (test reviews drawn with a fixed seed, disjoint from the teacher's 200
   validation reviews), written under --work;
2. the teacher's bundle (`senticlf export --quantize`), whose INT8 model labels the transfer
   set (`distill --teacher-bundle`);
3. students of 6, 3 and 2 of the teacher's layers, each with distillation (the 1,000 labelled
   reviews plus the transfer set) and as the hard-label control (the 1,000 alone, alpha 0);
4. every student exported with `--quantize`, and every INT8 bundle (teacher's included)
   scored once on the held-out reviews: accuracy, macro F1, ECE;
5. speed, in one run: reviews/s at 8 texts a call (the models taking turns, 3 rounds) and
   batch-1 latency (each model in one block) of every student's INT8 bundle, the teacher's
   INT8 bundle and the teacher's PyTorch eager model.

Settings (temperature, alpha, epochs, length) are chosen on the validation reviews only; the
held-out reviews are scored once per model, at the end.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from benchmarks.common import backends, results, timing
from benchmarks.common.records import Accuracy, Column, Table
from senticlf import artifacts, atomic, cpu, data

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

TEACHER_NAME = "teacher"


@dataclass(frozen=True)
class Setting:
    """Everything the frontier depends on; recorded in the results beside the command."""

    teacher: str
    data: str
    transfer_size: int = 8000
    eval_size: int = 5000
    max_length: int = 256  # the students'; the teacher labels at its own length
    student_epochs: int = 1
    # More epoch counts tried on the distilled students of these depths (none given: the
    # smallest, the one the settings search is spent on); validation chooses between them.
    searched_epochs: tuple[int, ...] = ()
    searched_layers: tuple[int, ...] = ()
    control_epochs: int = 5  # the teacher's recipe on the same 1,000 labelled reviews
    layers: tuple[int, ...] = (6, 3, 2)
    temperature: float = 2.0
    alpha: float = 0.5
    speed_reviews: int = 200
    latency_reviews: int = 50
    rounds: int = 3
    threads: int = 2
    seed: int = 1234  # draws the transfer and held-out reviews; students keep the teacher's


# A run of minutes that passes through every step: tiny sets, short reviews, one layer.
SMOKE = {
    "transfer_size": 48, "eval_size": 64, "max_length": 32, "student_epochs": 1,
    "control_epochs": 1, "layers": (1,), "searched_epochs": (2,), "speed_reviews": 16,
    "latency_reviews": 4, "rounds": 1,
}  # fmt: skip


def students(setting: Setting) -> list[dict[str, Any]]:
    """(name, layers, alpha, epochs, transfer set?) of every student, distilled then control."""
    found = []
    for layers in setting.layers:
        found.append(
            {"name": f"{layers}L-distil", "layers": layers, "alpha": setting.alpha,
             "epochs": setting.student_epochs, "transfer": True}
        )  # fmt: skip
        found.append(
            {"name": f"{layers}L-hard", "layers": layers, "alpha": 0.0,
             "epochs": setting.control_epochs, "transfer": False}
        )  # fmt: skip
    for depth in searched_depths(setting.layers, setting.searched_layers):
        for epochs in setting.searched_epochs:
            found.append(
                {"name": f"{depth}L-distil-{epochs}ep", "layers": depth, "alpha": setting.alpha,
                 "epochs": epochs, "transfer": True}
            )  # fmt: skip
    return found


def searched_depths(layers: Sequence[int], searched_layers: Sequence[int]) -> list[int]:
    return list(searched_layers) or [min(layers)]


def chosen_on_validation(r: dict[str, Any]) -> dict[int, str]:
    """For each searched depth, the distilled student the validation reviews choose (ties:
    fewer epochs)."""
    s = r["setting"]
    if not s["searched_epochs"]:
        return {}
    chosen = {}
    for depth in searched_depths(s["layers"], s.get("searched_layers", ())):
        tried = [t for t in r["students"] if t["layers"] == depth and t["transfer"]]
        best = max(tried, key=lambda t: (r["models"][t["name"]]["val_accuracy"], -t["epochs"]))
        chosen[depth] = str(best["name"])
    return chosen


def senticlf_cli(*args: str) -> None:
    print("$ senticlf " + " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "senticlf.cli", *args], check=True)


def finished(run_dir: Path) -> bool:
    return artifacts.read_run_metrics(run_dir).get("status") == artifacts.RUN_COMPLETE


# ---------------------------------------------------------------------------- 1. texts


def prepare_texts(setting: Setting, work: Path) -> tuple[Path, Path]:
    """The transfer set (JSONL of texts) and the held-out reviews (CSV), drawn once."""
    transfer, heldout = work / "transfer.jsonl", work / "heldout.csv"
    if transfer.is_file() and heldout.is_file():
        return transfer, heldout
    teacher = Path(setting.teacher)
    seen_train = {r.text for r in data.read_table(teacher / artifacts.RUN_TRAIN_CSV)}
    seen_val = {r.text for r in data.read_table(teacher / artifacts.RUN_VAL_CSV)}
    splits = data.load_splits(setting.data)
    pool = [r for r in splits.train if r.text not in seen_train and r.text not in seen_val]
    test = [r for r in splits.test if r.text not in seen_val and r.text not in seen_train]
    rng = random.Random(setting.seed)
    chosen = rng.sample(pool, min(setting.transfer_size, len(pool)))
    held = rng.sample(test, min(setting.eval_size, len(test)))
    work.mkdir(parents=True, exist_ok=True)
    data.write_csv(heldout, held)
    atomic.write_text(transfer, "".join(json.dumps({"text": r.text}) + "\n" for r in chosen))
    return transfer, heldout


# ---------------------------------------------------------------------------- 2-4. models


def export(run_dir: Path, bundle: Path) -> Path:
    if not (bundle / artifacts.MANIFEST).is_file():
        senticlf_cli("export", str(run_dir), "--output", str(bundle), "--quantize", "--overwrite")
    return bundle


def train_student(
    setting: Setting, work: Path, student: dict[str, Any], teacher_bundle: Path, transfer: Path
) -> Path:
    run_dir = work / student["name"]
    if finished(run_dir):
        return run_dir
    if (run_dir / artifacts.RUN_CHECKPOINT_LEDGER).is_file():  # cut short: continue it
        senticlf_cli("distill", "--resume", str(run_dir))
    else:
        senticlf_cli(
            "distill", setting.teacher, "--output", str(run_dir),
            "--layers", str(student["layers"]), "--alpha", str(student["alpha"]),
            "--temperature", str(setting.temperature), "--epochs", str(student["epochs"]),
            "--max-length", str(setting.max_length), "--teacher-bundle", str(teacher_bundle),
            "--overwrite",
            *(["--unlabelled", str(transfer)] if student["transfer"] else []),
        )  # fmt: skip
    return run_dir


def score(bundle: Path, heldout: Path, cache: Path, threads: int) -> dict[str, Any]:
    """Accuracy, macro F1 and ECE of the INT8 predictor on the held-out reviews, once."""
    if cache.is_file():
        return dict(json.loads(cache.read_text()))
    import senticlf
    from senticlf.evaluation.calibration import expected_calibration_error
    from senticlf.evaluation.label_metrics import classification_metrics

    rows = data.read_table(heldout, labels=artifacts.LABELS)
    labels = np.array([r.label for r in rows])
    classifier = senticlf.load(bundle, quantized=True, threads=threads)
    probabilities = classifier.probabilities([r.text for r in rows])
    metrics = classification_metrics(labels, probabilities.argmax(axis=1), n_labels=2)
    result = {
        "reviews": len(rows),
        "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        "ece": expected_calibration_error(probabilities, labels),
    }
    atomic.write_text(cache, json.dumps(result, indent=2) + "\n")
    return result


# ---------------------------------------------------------------------------- 5. speed


def time_side_by_side(setting: Setting, bundles: dict[str, Path], heldout: Path) -> dict[str, Any]:
    """Reviews/s at 8 texts a call and batch-1 latency of every model in one run, with the
    load averages around it (the step for which the machine must be idle)."""
    with results.load_window() as window:
        texts = [r.text for r in data.read_table(heldout, labels=artifacts.LABELS)][
            : setting.speed_reviews
        ]
        teacher_model = Path(setting.teacher) / artifacts.RUN_MODEL_DIR
        eager = backends.TorchEager(teacher_model, bundles[TEACHER_NAME], setting.threads)
        eager.name = f"{TEACHER_NAME} torch-eager"
        models: list[Any] = [eager]
        served = [backends.ServedInt8(f"{n} int8", b, setting.threads) for n, b in bundles.items()]
        models += served
        encoder = models[1].classifier.encoder  # the teacher's length: the longest of all
        order = sorted(range(len(texts)), key=lambda i: len(encoder.encode([texts[i]])[0]))
        sorted_texts = [texts[i] for i in order]
        for model in models:  # warm-up: first calls allocate and pick kernels
            model.positive(sorted_texts[-8:])
        per_s, _ = timing.throughput(models, sorted_texts, 8, setting.rounds)
        latency = timing.latency(models, texts[: setting.latency_reviews])
    return {
        "load_average": window.load.to_dict(),
        "models": {
            m.name: {"reviews_per_s_batch8": per_s[m.name].median, **latency[m.name].to_dict()}
            for m in models
        },
        "int8_batch_size": {m.name: m.classifier.batch_size for m in served},
    }


# ---------------------------------------------------------------------------- the run


@app.command()
def main(
    work: Annotated[Path, typer.Option(help="Folder for texts, runs, bundles and scores.")],
    teacher: Annotated[
        str, typer.Option(help="A finished teacher run (read only).")
    ] = "../shared/runs/minilm-imdb-1k",
    data_source: Annotated[
        str, typer.Option("--data", help="aclImdb archive the teacher's subsets came from.")
    ] = "../shared/data/aclImdb_labelled.tar.gz",
    smoke: Annotated[
        bool, typer.Option("--smoke", help="Tiny sets, 32 tokens, 1 layer: checks every step.")
    ] = False,
    transfer_size: Annotated[int | None, typer.Option()] = None,
    eval_size: Annotated[int | None, typer.Option()] = None,
    max_length: Annotated[int | None, typer.Option(help="Students' tokens per review.")] = None,
    student_epochs: Annotated[int | None, typer.Option()] = None,
    control_epochs: Annotated[int | None, typer.Option()] = None,
    layers: Annotated[str | None, typer.Option(help="Comma-separated, e.g. 6,3,2.")] = None,
    search_epochs: Annotated[
        str | None,
        typer.Option(help="More epoch counts for the searched distilled students, e.g. 2."),
    ] = None,
    search_layers: Annotated[
        str | None,
        typer.Option(help="Depths the epoch search covers, e.g. 3,2 [default: the smallest]."),
    ] = None,
    temperature: Annotated[float | None, typer.Option()] = None,
    alpha: Annotated[float | None, typer.Option()] = None,
    threads: Annotated[int | None, typer.Option()] = None,
    retime: Annotated[bool, typer.Option("--retime", help="Measure speed again.")] = False,
    name: Annotated[str | None, typer.Option(help="Results file stem.")] = None,
    out: Annotated[Path | None, typer.Option(help="[default: benchmarks/results]")] = None,
) -> None:
    started = time.perf_counter()
    given = {
        "transfer_size": transfer_size, "eval_size": eval_size, "max_length": max_length,
        "student_epochs": student_epochs, "control_epochs": control_epochs,
        "layers": integers(layers), "searched_epochs": integers(search_epochs),
        "searched_layers": integers(search_layers),
        "temperature": temperature, "alpha": alpha, "threads": threads,
    }  # fmt: skip
    setting = Setting(teacher=teacher, data=data_source)
    setting = replace(setting, **(SMOKE if smoke else {}))
    setting = replace(setting, **{k: v for k, v in given.items() if v is not None})
    name = name or ("distill-frontier-smoke" if smoke else "distill-frontier")
    out = out or (work if smoke else results.FOLDER)

    transfer, heldout = prepare_texts(setting, work)
    teacher_bundle = export(Path(setting.teacher), work / "bundles" / TEACHER_NAME)
    runs = {TEACHER_NAME: Path(setting.teacher)}
    for student in students(setting):
        runs[student["name"]] = train_student(setting, work, student, teacher_bundle, transfer)
    bundles = {n: export(r, work / "bundles" / n) for n, r in runs.items()}
    scores = {
        n: score(b, heldout, work / "scores" / f"{n}.json", setting.threads)
        for n, b in bundles.items()
    }
    speed_file = work / "speed.json"
    if retime or not timed_all(speed_file, bundles):
        atomic.write_text(
            speed_file, json.dumps(time_side_by_side(setting, bundles, heldout), indent=2)
        )
    measured = json.loads(speed_file.read_text())
    speeds = measured["models"]

    result = {
        "setting": asdict(setting),
        "students": students(setting),
        "models": {n: model_row(n, runs[n], scores[n], speeds) for n in runs},
        "teacher_eager": speeds[f"{TEACHER_NAME} torch-eager"],
        "int8_batch_size": measured.get("int8_batch_size", {}),
        "benchmark_wall_s": round(time.perf_counter() - started, 1),
    }
    load = results.Load.from_dict(measured["load_average"])  # around the timing step
    figures = {f"{name}.png": lambda path: plot(result, path)}
    text = results.write(
        name, result, report(result), title=TITLE, load=load, folder=out, figures=figures
    )
    print(text)


def integers(option: str | None) -> tuple[int, ...] | None:
    """A comma-separated option ("6,3,2") as numbers; None where it was not given."""
    return tuple(int(k) for k in option.split(",")) if option else None


def timed_all(speed_file: Path, bundles: dict[str, Path]) -> bool:
    """Whether the speed step has timed every model: a model added since is timed with all
    the others again, so every ratio still comes from one run."""
    if not speed_file.is_file():
        return False
    timed = json.loads(speed_file.read_text())["models"]
    return all(f"{name} int8" in timed for name in bundles)


def model_row(
    name: str, run_dir: Path, scores: dict[str, Any], speeds: dict[str, Any]
) -> dict[str, Any]:
    metrics = artifacts.read_run_metrics(run_dir)
    return {
        **scores,
        **{f"int8_{k}": v for k, v in speeds[f"{name} int8"].items()},
        "val_accuracy": metrics["best"]["val_accuracy"],
        "train_time_s": metrics.get("train_time_s"),
        "train_size": metrics.get("train_size"),
    }


TITLE = "Distillation frontier: INT8 students against their teacher"


@dataclass(frozen=True)
class FrontierRow:
    """One model of the frontier; the teacher's PyTorch eager model is timed, not scored."""

    name: str
    scores: Accuracy | None  # the INT8 predictor on the held-out reviews
    val_accuracy: float | None
    reviews_per_s: float  # 8 texts a call
    median_ms: float  # batch 1
    train_time_s: float | None


def frontier_rows(r: dict[str, Any]) -> list[FrontierRow]:
    eager = r["teacher_eager"]
    rows = [FrontierRow("teacher, PyTorch eager", None, None, eager["reviews_per_s_batch8"], eager["median_ms"], None)]  # fmt: skip
    for name, row in r["models"].items():
        scores = Accuracy(name, row["reviews"], row["accuracy"], macro_f1=row["macro_f1"], ece=row["ece"])  # fmt: skip
        rows.append(
            FrontierRow(
                f"{name} INT8", scores, row["val_accuracy"], row["int8_reviews_per_s_batch8"],
                row["int8_median_ms"], row["train_time_s"],
            )
        )  # fmt: skip
    return rows


def columns(rows: list[FrontierRow]) -> list[Column[FrontierRow]]:
    """Differences and ratios against the teacher's INT8 bundle and its eager model."""
    eager = rows[0]
    teacher = next(row for row in rows if row.name == f"{TEACHER_NAME} INT8")
    teacher_accuracy = teacher.scores.accuracy if teacher.scores else float("nan")

    def scored(cell: Any) -> Any:
        return lambda row: cell(row, row.scores) if row.scores else "-"

    return [
        Column("model", lambda row: row.name),
        Column("validation (200)", lambda row: "-" if row.val_accuracy is None else f"{row.val_accuracy:.1%}"),
        Column("accuracy", scored(lambda row, s: f"{s.accuracy:.2%}")),
        Column("vs teacher (points)", scored(lambda row, s: f"{100 * (s.accuracy - teacher_accuracy):+.2f}")),
        Column("macro F1", scored(lambda row, s: f"{s.macro_f1:.4f}")),
        Column("ECE", scored(lambda row, s: f"{s.ece:.4f}")),
        Column("reviews/s (8 a call)", lambda row: f"{row.reviews_per_s:.1f}"),
        Column("vs teacher INT8", scored(lambda row, s: f"{row.reviews_per_s / teacher.reviews_per_s:.2f}x")),
        Column("vs teacher eager", lambda row: f"{row.reviews_per_s / eager.reviews_per_s:.2f}x"),
        Column("batch-1 median ms", lambda row: f"{row.median_ms:.1f}"),
        Column("training min", lambda row: "-" if row.train_time_s is None else f"{row.train_time_s / 60:.1f}"),
    ]  # fmt: skip


def report(r: dict[str, Any]) -> list[results.Block]:
    s, teacher = r["setting"], r["models"][TEACHER_NAME]
    rows = frontier_rows(r)
    return [
        f"Teacher `{s['teacher']}`. Students: every k-th teacher layer, {s['max_length']} tokens; "
        f"distilled on the 1,000 labelled reviews + {s['transfer_size']:,} transfer reviews for "
        f"{s['student_epochs']} epoch(s) (T {s['temperature']}, alpha {s['alpha']}, logits of "
        f"the teacher's INT8 bundle); hard-label controls on the 1,000 alone for "
        f"{s['control_epochs']} epoch(s). Scores: INT8 predictor on {teacher['reviews']:,} "
        f"held-out test reviews (seed {s['seed']}, none of the 200 validation reviews). Speed: "
        f"{s['speed_reviews']} of them in length-sorted calls of 8 texts, {s['threads']} "
        f"threads (PyTorch runs each call as one batch; each INT8 predictor at its own "
        f"batch-invariant size: {batch_sizes(r)}), the models taking turns over "
        f"{s['rounds']} rounds; batch-1 latency over {s['latency_reviews']}, each model in one "
        "block; the load averages above are those around this timing. Training minutes: each "
        "run's metrics.json (the teacher's from its own run).",
        *search_line(r),
        Table(rows, columns(rows)),
    ]


def search_line(r: dict[str, Any]) -> list[str]:
    chosen = chosen_on_validation(r)
    if not chosen:
        return []
    tried = ", ".join(map(str, [r["setting"]["student_epochs"], *r["setting"]["searched_epochs"]]))
    picks = "; ".join(f"{depth} layers: `{name}`" for depth, name in chosen.items())
    return [
        f"Epochs of the distilled students tried: {tried}; the validation reviews chose "
        f"{picks}. Every held-out score below was computed once, after training, and chose "
        "nothing.",
    ]


def batch_sizes(r: dict[str, Any]) -> str:
    sizes = sorted(set(r["int8_batch_size"].values()))
    return "batch " + ", ".join(map(str, sizes)) if sizes else "not recorded"


def plot(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    for name, row in r["models"].items():
        marker = "s" if name == TEACHER_NAME else ("o" if "distil" in name else "x")
        x, y = row["int8_reviews_per_s_batch8"], 100 * row["accuracy"]
        axis.scatter(x, y, marker=marker, s=60)
        axis.annotate(f"{name} int8", (x, y), textcoords="offset points", xytext=(5, 5))
    eager = r["teacher_eager"]["reviews_per_s_batch8"]
    axis.axvline(eager, color="grey", linestyle=":")
    axis.annotate(
        "teacher eager speed", (eager, axis.get_ylim()[0]), rotation=90,
        textcoords="offset points", xytext=(-12, 5), color="grey",
    )  # fmt: skip
    axis.set(
        xlabel="reviews / s (8 texts a call; INT8 predictor as served)",
        ylabel=f"accuracy on {r['models'][TEACHER_NAME]['reviews']} test reviews (%)",
        title=f"Distillation frontier, {r['setting']['threads']} threads, {cpu.cpu_name()}",
    )
    axis.grid(alpha=0.3)
    figure.tight_layout()
    results.save_png(figure, path)


if __name__ == "__main__":
    app()
