"""Where a training run's time goes: optimizer steps, evaluation, checkpoints, the rest.

    python -m benchmarks.train_phases --data TRAIN.csv --eval-data VAL.csv --base-model DIR \
        --name train-phases-cpu-tiny [--epochs 5 --max-length 128 --device cpu]

Runs senticlf's own ``train()`` with timers around Trainer's training step, evaluation loop
and checkpoint save, so a run that spends most of its time outside the optimizer steps shows
where. The reference run on an H200 made 6.6 steps/s where the GPU check reaches 66: this is
the command to rerun on a GPU session (``--device cuda``).
"""

from __future__ import annotations

import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from benchmarks.common import internals, records, results
from benchmarks.common.records import Column

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
_TIMED = ("training_step", "evaluation_loop", "_save_checkpoint")
TOTAL = "train() total"


@dataclass(frozen=True)
class Phase:
    """Where part of a training run's time went."""

    name: str
    seconds: float
    share: float  # of train()'s wall time


COLUMNS: tuple[Column[Phase], ...] = (
    Column("phase", lambda p: p.name),
    Column("seconds", lambda p: f"{p.seconds:.2f}"),
    Column("share of train()", lambda p: f"{p.share:.0%}"),
)


def _timed_run(config: Any, run_dir: Path) -> tuple[dict[str, float], dict[str, Any]]:
    from transformers import Trainer

    spent: dict[str, float] = defaultdict(float)
    originals = {name: getattr(Trainer, name) for name in _TIMED}

    def timer(name: str, method: Any) -> Any:
        def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return method(self, *args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - start

        return wrapped

    for name, method in originals.items():
        setattr(Trainer, name, timer(name, method))
    try:
        start = time.perf_counter()
        metrics = internals.train(config, run_dir)
        spent[TOTAL] = time.perf_counter() - start
    finally:
        for name, method in originals.items():
            setattr(Trainer, name, method)
    return dict(spent), metrics


@app.command()
def main(
    data: Annotated[Path, typer.Option(help="Training CSV (text,label).")],
    eval_data: Annotated[Path, typer.Option(help="Validation CSV.")],
    base_model: Annotated[Path, typer.Option(help="Local model folder.")],
    name: Annotated[str, typer.Option(help="Results file stem under benchmarks/results/.")],
    epochs: int = 5,
    max_length: int = 128,
    batch_size: int = 16,
    device: str = "cpu",
    lr: float = 5e-5,
) -> None:
    config = internals.train_config(
        data=str(data), eval_data=str(eval_data), base_model=str(base_model), train_size=None,
        val_size=None, epochs=epochs, max_length=max_length, batch_size=batch_size,
        device=device, learning_rate=lr,
    )  # fmt: skip
    with results.load_window() as load, tempfile.TemporaryDirectory() as scratch:
        spent, metrics = _timed_run(config, Path(scratch) / "run")
    result = {
        "train_reviews": metrics.get("train_size", 0),
        "epochs": epochs,
        "total_s": spent[TOTAL],
        "phases_s": spent,
        "train_time_s": metrics.get("train_time_s"),
    }
    print(results.write(name, result, report(result), title=f"Training phases: {name}", load=load))


def phases(r: dict[str, Any]) -> list[Phase]:
    """The timed phases, longest first, then what none of them covers, then the total."""
    total = r["total_s"]
    timed = sorted(((p, s) for p, s in r["phases_s"].items() if p != TOTAL), key=lambda ps: -ps[1])
    rows = [Phase(phase, seconds, seconds / total) for phase, seconds in timed]
    accounted = sum(row.seconds for row in rows)
    rows.append(
        Phase("everything else (loading, data, report)", total - accounted, 1 - accounted / total)
    )
    return [*rows, Phase(f"**{TOTAL}**", total, 1.0)]


def report(r: dict[str, Any]) -> list[results.Block]:
    return [records.Table(phases(r), COLUMNS)]


if __name__ == "__main__":
    app()
