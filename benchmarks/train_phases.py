"""Where a training run's time goes: optimizer steps, evaluation, checkpoints, the rest.

    python -m benchmarks.train_phases --data TRAIN.csv --eval-data VAL.csv --base-model DIR \
        --name train-phases-cpu-tiny [--epochs 5 --max-length 128 --device cpu]

Runs senticlf's own ``train()`` with timers around Trainer's training step, evaluation loop
and checkpoint save, so a run that spends most of its time outside the optimizer steps shows
where. The reference run on an H200 made 6.6 steps/s where the GPU check reaches 66: this is
the command to rerun on a GPU session (``--device cuda``).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from benchmarks.common.machine import describe

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
RESULTS = Path(__file__).parent / "results"
_TIMED = ("training_step", "evaluation_loop", "_save_checkpoint")


def _timed_run(config: Any, run_dir: Path) -> tuple[dict[str, float], dict[str, Any]]:
    from transformers import Trainer

    from senticlf.training.trainer import train

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
        metrics = train(config, run_dir, console=Console(quiet=True))
        spent["train() total"] = time.perf_counter() - start
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
    from senticlf.training.config import TrainConfig

    config = TrainConfig(
        data=str(data), eval_data=str(eval_data), base_model=str(base_model), train_size=None,
        val_size=None, epochs=epochs, max_length=max_length, batch_size=batch_size,
        device=device, learning_rate=lr,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        spent, metrics = _timed_run(config, Path(scratch) / "run")
    total = spent["train() total"]
    steps = metrics.get("train_size", 0)
    rows = [
        (phase, seconds, seconds / total)
        for phase, seconds in sorted(spent.items(), key=lambda kv: -kv[1])
        if phase != "train() total"
    ]
    accounted = sum(seconds for _, seconds, _ in rows)
    rows.append(
        ("everything else (loading, data, report)", total - accounted, 1 - accounted / total)
    )
    result = {
        "machine": describe(),
        "command": f"python -m benchmarks.train_phases --data {data} --eval-data {eval_data} "
        f"--base-model {base_model} --name {name} --epochs {epochs} --max-length {max_length} "
        f"--device {device}",
        "train_reviews": steps,
        "epochs": epochs,
        "total_s": total,
        "phases_s": spent,
        "train_time_s": metrics.get("train_time_s"),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# Training phases: {name}",
        "",
        f"Command: `{result['command']}`",
        "",
        f"Machine: {result['machine']}",
        "",
        "| phase | seconds | share of train() |",
        "|---|---|---|",
        *(f"| {phase} | {seconds:.2f} | {share:.0%} |" for phase, seconds, share in rows),
        f"| **train() total** | {total:.2f} | 100% |",
        "",
    ]
    (RESULTS / f"{name}.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    app()
