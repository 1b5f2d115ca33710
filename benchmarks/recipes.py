"""Which training recipe gives the best accuracy per minute? Measured over seeds.

    python -m benchmarks.recipes sweep --train T.csv --val V.csv --extra E.csv --base-model DIR
    python -m benchmarks.recipes evaluate RUN_DIR --data test.csv    # a run's PyTorch model, GPU
    python -m benchmarks.recipes report results.jsonl                # -> accuracy.md / accuracy.json

Each recipe is trained with ``senticlf train``'s own code on the same subsets, once per seed,
and scored on the 200-review validation subset and on a larger disjoint evaluation set: 200
reviews carry about +/-2 points of sampling error, too much to rank recipes alone.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from benchmarks.common import internals, results
from benchmarks.common.records import Column, Spread, Table
from senticlf import artifacts, data
from senticlf.evaluation.label_metrics import classification_metrics

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

# name -> TrainConfig overrides; everything else is the package default.
RECIPES: dict[str, dict[str, Any]] = {
    "reference (lr 2e-5, no warm-up, head)": {
        "learning_rate": 2e-5,
        "warmup_ratio": 0.0,
        "truncation": "head",
    },
    "lr 1e-4, warm-up 10%, head": {
        "learning_rate": 1e-4,
        "warmup_ratio": 0.1,
        "truncation": "head",
    },
    "lr 1e-4, warm-up 10%, head+tail": {
        "learning_rate": 1e-4,
        "warmup_ratio": 0.1,
        "truncation": "head+tail",
    },
    "lr 5e-5, warm-up 10%, head+tail": {
        "learning_rate": 5e-5,
        "warmup_ratio": 0.1,
        "truncation": "head+tail",
    },
    "lr 1e-4, warm-up 10%, head+tail, 3 epochs": {
        "learning_rate": 1e-4,
        "warmup_ratio": 0.1,
        "truncation": "head+tail",
        "epochs": 3,
    },
    "lr 2e-5, warm-up 10%, head+tail": {
        "learning_rate": 2e-5,
        "warmup_ratio": 0.1,
        "truncation": "head+tail",
    },
    "lr 5e-5, no warm-up, head+tail": {
        "learning_rate": 5e-5,
        "warmup_ratio": 0.0,
        "truncation": "head+tail",
    },
}


def evaluate_model(model_dir: Path, config: Any, reviews: list[data.Review]) -> dict[str, float]:
    """Accuracy of a saved model on ``reviews``, on the GPU when there is one."""
    import torch
    from transformers import AutoModelForSequenceClassification

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, use_safetensors=True).to(
        device
    )
    encoder = internals.config_encoder(config, model_dir / artifacts.TOKENIZER)
    logits = internals.torch_logits(model, encoder, encoder.encode([r.text for r in reviews]))
    labels = np.array([r.label for r in reviews])
    return classification_metrics(labels, np.argmax(logits, axis=1))


@app.command()
def sweep(
    train: Annotated[Path, typer.Option(help="Training subset (all of it is used).")],
    val: Annotated[Path, typer.Option(help="Validation subset (best-epoch selection).")],
    extra: Annotated[Path, typer.Option(help="Larger labelled set, disjoint from both.")],
    base_model: Annotated[str, typer.Option(help="Pretrained encoder.")],
    out: Annotated[Path, typer.Option(help="JSONL file, one line per run (appended).")],
    seeds: str = "42,43,44",
    max_length: int = 512,
    budget_s: Annotated[
        float, typer.Option(help="Stop starting new runs after this many seconds.")
    ] = 1e9,
    only: Annotated[
        str, typer.Option(help="Comma-separated recipe indices to run [default: all].")
    ] = "",
) -> None:
    started = time.perf_counter()
    extra_rows = data.read_table(extra)
    names = list(RECIPES)
    chosen = [names[int(i)] for i in only.split(",")] if only else names
    for seed in (int(s) for s in seeds.split(",")):
        for name in chosen:
            if time.perf_counter() - started > budget_s:
                print(f"budget reached, skipping {name} seed {seed}", flush=True)
                continue
            config = internals.train_config(
                data=str(train), eval_data=str(val), base_model=base_model, train_size=None,
                val_size=None, max_length=max_length, seed=seed, **RECIPES[name],
            )  # fmt: skip
            run_dir = Path(tempfile.mkdtemp(prefix="recipe-")) / "run"
            metrics = internals.train(config, run_dir)
            record = {
                "recipe": name,
                "seed": seed,
                "base_model": Path(base_model).name,
                "train_size": metrics["train_size"],
                "val_size": metrics["val_size"],
                "val_accuracy_per_epoch": [e["val_accuracy"] for e in metrics["epochs"]],
                "best_epoch": metrics["best_epoch"],
                "val": {
                    k.removeprefix("val_"): v
                    for k, v in metrics["best"].items()
                    if k.startswith("val_")
                },
                "extra_size": len(extra_rows),
                "extra": evaluate_model(run_dir / artifacts.RUN_MODEL_DIR, config, extra_rows),
                "train_time_s": metrics["train_time_s"],
                "device": metrics["device"],
                "config": config.to_dict(),
            }
            with open(out, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
            print(f"{name} seed {seed}: val {record['val']['accuracy']:.3f} extra {record['extra']['accuracy']:.4f} "
                  f"{record['train_time_s']:.0f}s", flush=True)  # fmt: skip


@app.command()
def evaluate(
    run_dir: Path,
    test: Annotated[Path, typer.Option("--data", help="Labelled CSV/JSONL (gzip allowed).")],
    out: Annotated[Path, typer.Option(help="JSON results file (the Markdown goes beside it).")],
) -> None:
    """Score a finished run's model on a large labelled file (GPU when present)."""
    config = internals.train_config(run_dir)
    rows = data.read_table(test)
    with results.load_window() as load:
        start = time.perf_counter()
        scores = evaluate_model(run_dir / artifacts.RUN_MODEL_DIR, config, rows)
        seconds = time.perf_counter() - start
    metrics = json.loads((run_dir / artifacts.RUN_METRICS).read_text())
    result = {
        "run_config": config.to_dict(),
        "train_size": metrics["train_size"],
        "train_time_s": metrics["train_time_s"],
        "best_epoch": metrics["best_epoch"],
        "val_accuracy_per_epoch": [e["val_accuracy"] for e in metrics["epochs"]],
        "device": metrics["device"],
        "test_size": len(rows),
        "test": scores,
        "eval_time_s": seconds,
    }
    body = [
        f"The PyTorch model of `{run_dir}` ({result['train_size']:,} training reviews, best "
        f"epoch {result['best_epoch']}, trained on {result['device']}) on {len(rows):,} "
        f"labelled reviews: accuracy {scores['accuracy']:.2%}, F1 {scores['f1']:.3f}, scored "
        f"in {seconds:.0f} s."
    ]
    title = f"Run {run_dir.name} on {test.name}"
    print(results.write(out.stem, result, body, title=title, load=load, folder=out.parent))


@dataclass(frozen=True)
class RecipeRow:
    """One recipe over its seeds."""

    recipe: str
    train_size: int
    val_accuracy: Spread
    extra_accuracy: Spread
    extra_f1: float  # mean over the seeds
    epochs: int
    train_s: float  # median over the seeds


def _over_seeds(values: list[float]) -> Spread:
    """Exact means (statistics, not numpy), as the table has always shown them: numpy's
    0.8845000000000001 prints as 88.5 where the exact 0.8845 prints as 88.4."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return Spread(statistics.mean(values), sd, min(values), max(values))


def _points(spread: Spread) -> str:
    return f"{100 * spread.mean:.1f} ± {100 * spread.sd:.1f}"


RECIPE_COLUMNS: tuple[Column[RecipeRow], ...] = (
    Column("recipe", lambda r: r.recipe),
    Column("train", lambda r: str(r.train_size)),
    Column("validation (200) accuracy, mean ± sd", lambda r: _points(r.val_accuracy)),
    Column("2,000 more test reviews: accuracy", lambda r: _points(r.extra_accuracy)),
    Column("F1", lambda r: f"{r.extra_f1:.3f}"),
    Column("epochs", lambda r: str(r.epochs)),
    Column("GPU train s (median)", lambda r: f"{r.train_s:.0f}"),
)


def _train_command(config: dict[str, Any]) -> str:
    return (
        "senticlf train --data aclImdb_labelled.tar.gz --base-model all-MiniLM-L6-v2 "
        f"--epochs {config['epochs']} --lr {config['learning_rate']:g} --warmup-ratio {config['warmup_ratio']:g} "
        f"--truncation {config['truncation']} --seed {config['seed']}"
    )


@app.command()
def report(
    results_file: Annotated[Path, typer.Argument(metavar="results")],
    full_run: Annotated[Path, typer.Option(help="metrics.json of the full-data run.")],
    full_test: Annotated[
        Path, typer.Option(help="benchmarks.evaluate JSON of that run on the test split.")
    ],
    out: Path = results.FOLDER / "accuracy",
) -> None:
    """Write accuracy.md and accuracy.json: recipes (mean ± sd over seeds) and the full run."""
    with results.load_window() as load:  # nothing is timed: the figures are read from files
        runs = [json.loads(line) for line in results_file.read_text().splitlines()]
        full = json.loads(full_run.read_text())
        test = json.loads(full_test.read_text())
    rows = []
    for name in RECIPES:
        mine = [r for r in runs if r["recipe"] == name]
        if not mine:
            continue
        rows.append({
            "recipe": name,
            "base_model": "all-MiniLM-L6-v2",
            "train_size": mine[0]["train_size"],
            "val_size": mine[0]["val_size"],
            "extra_size": mine[0]["extra_size"],
            "seeds": [r["seed"] for r in mine],
            "val_accuracy": [r["val"]["accuracy"] for r in mine],
            "extra_accuracy": [r["extra"]["accuracy"] for r in mine],
            "extra_f1": [r["extra"]["f1"] for r in mine],
            "train_time_s": [r["train_time_s"] for r in mine],
            "epochs": mine[0]["config"]["epochs"],
            "device": mine[0]["device"],
            "commands": [_train_command(r["config"]) for r in mine],
        })  # fmt: skip
    summary = {"recipes": rows, "full_run": {"metrics": full, "test": test}}
    text = results.write(
        out.name, summary, summary_report(summary), title=TITLE, load=load, folder=out.parent
    )
    print(text)


TITLE = "Training recipes over seeds, and the full-data run"


def recipe_rows(summary: dict[str, Any]) -> list[RecipeRow]:
    return [
        RecipeRow(
            row["recipe"],
            row["train_size"],
            _over_seeds(row["val_accuracy"]),
            _over_seeds(row["extra_accuracy"]),
            statistics.mean(row["extra_f1"]),
            row["epochs"],
            statistics.median(row["train_time_s"]),
        )
        for row in summary["recipes"]
    ]


def summary_report(summary: dict[str, Any]) -> list[results.Block]:
    rows = summary["recipes"]
    full, test = summary["full_run"]["metrics"], summary["full_run"]["test"]
    best = full["best"]
    return [
        Table(recipe_rows(summary), RECIPE_COLUMNS),
        f"Seeds {rows[0]['seeds']}; every run trains on the same 1,000 reviews and selects its best epoch on the same 200"
        f" (the seed-42 subsets of `senticlf train`), on {rows[0]['device']}. Sweep command: "
        "`OUT=... bash benchmarks/device/device_session.sh` (runs `python -m benchmarks.recipes sweep`); "
        "one run by hand: " + f"`{rows[0]['commands'][0]}` (change the flags per row). "
        "GPU seconds are wall-clock on a shared GPU and include CUDA warm-up in the first run of a session; "
        "the compute of a recipe is proportional to its epochs.",
        f"Full data: {full['train_size']:,} training reviews, {full['completed_epochs']} epochs, best epoch {full['best_epoch']}: "
        f"{best['val_accuracy']:.1%} on the 200 validation reviews; INT8 ONNX on all {test['reviews']:,} test reviews: "
        f"accuracy {test['metrics']['accuracy']:.2%}, F1 {test['metrics']['f1']:.3f} ({full['train_time_s']:.0f} s of training on {full['device']}; "
        f"scored at {test['reviews_per_s']:.0f} reviews/s on {test['machine']['cpu']}, {test['threads']} threads). "
        "Commands: `OUT=... bash benchmarks/device/device_full_run.sh`, then `senticlf export runs/full --quantize --output export/full` and "
        f"`{test['command']}`.",
        "Misclassified test reviews by group (a review can be in several): "
        + ", ".join(f"{g} {n:,}" for g, n in test["error_groups"].items())
        + f" of {test['misclassified']:,}.",
    ]


if __name__ == "__main__":
    app()
