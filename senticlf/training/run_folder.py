"""The run folder's bookkeeping: its creation, its status, its checkpoint ledger, its model/.

Everything a run writes goes through here (and through senticlf.artifacts for the names), so
that the rules which make a run resumable live in one place: metrics.json always says how far
the run got, a checkpoint counts only once the ledger names it, and model/ appears complete
or not at all. Under a launcher (torchrun, accelerate launch) every process trains, but only
the main one writes: the other processes compute the same seeded subsets and write nothing.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from rich.console import Console

from senticlf import artifacts, atomic, data
from senticlf.errors import SenticlfError
from senticlf.training.config import TrainConfig, run_command


def is_main_process() -> bool:
    """torchrun and accelerate launch set RANK for each process before Python starts."""
    return int(os.environ.get("RANK", "0")) == 0


def leave_process_group(trainer: Any) -> None:
    """Under a launcher, free DDP's wrapper of the model, then close the process group.

    The order matters. DDP's reducer holds a reference to the gloo group; when it held the
    last one, the group was destroyed inside the reducer's deallocation (as ``train``
    returned), which keeps the GIL while it joins gloo's worker threads, and a worker still
    releasing the tensors of the last all-gather waits for the GIL: that rank never exited
    (py-spy: ``~ProcessGroupGloo`` under ``Reducer`` dealloc, the worker in
    ``gil_scoped_acquire``; about one resumed launcher run in four). Freed first, the
    reducer leaves the group to ``destroy_process_group``, whose last reference is torch's
    GIL-releasing one. Closing is local (no barrier: one was seen to hang when a rank had
    left), and a rank that exits with its group open can abort in gloo's destructor.
    """
    import gc

    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return
    trainer.accelerator.free_memory()  # its list of prepared models holds the DDP wrapper
    trainer.model_wrapped = trainer.model
    gc.collect()  # the wrapper and its reducer go now, while the group is still registered
    dist.destroy_process_group()


def read_subsets(
    config: TrainConfig, run_dir: Path, resume: bool, overwrite: bool
) -> tuple[list[data.Review], list[data.Review]]:
    """The run's training and validation reviews, checked before anything is written.

    A new run draws its seeded subsets from the data (and learns the label set); a resumed
    one reads back the subsets it wrote.
    """
    if resume:
        status = artifacts.read_run_metrics(run_dir).get("status")
        if status == artifacts.RUN_COMPLETE:
            raise SenticlfError(f"{run_dir} is already complete; nothing to resume")
        return _saved_subsets(run_dir, config)
    if is_main_process():
        if run_dir.is_file():
            raise SenticlfError(f"--output {run_dir} is a file; expected a folder for the run")
        if run_dir.exists() and any(run_dir.iterdir()) and not overwrite:
            raise SenticlfError(
                f"run folder {run_dir} already exists; pass --overwrite to replace it, "
                f"or --resume {run_dir} to continue it"
            )
    return _subsets(config)


def create(
    config: TrainConfig,
    run_dir: Path,
    subsets: tuple[list[data.Review], list[data.Review]],
    console: Console,
) -> None:
    """Write the new run folder: its subset CSVs and config.json (main process only)."""
    if not is_main_process():
        return
    if run_dir.exists():  # --overwrite, and only now that the new data and model are good
        shutil.rmtree(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SenticlfError(f"cannot create run folder {run_dir}: {exc.strerror}") from None
    train_rows, val_rows = subsets
    labels = config.label_names
    data.write_csv(run_dir / artifacts.RUN_TRAIN_CSV, train_rows, labels)
    data.write_csv(run_dir / artifacts.RUN_VAL_CSV, val_rows, labels)
    config.save(run_dir)
    console.print(
        f"[bold]senticlf[/] {len(train_rows)} training and {len(val_rows)} validation reviews "
        f"from {config.data} -> {run_dir}; labels: {', '.join(labels)}"
    )


def _subsets(config: TrainConfig) -> tuple[list[data.Review], list[data.Review]]:
    """The seeded subsets: every process of a multi-process run draws the same ones.

    The label set found in the data (or fixed by --labels) is recorded in ``config.labels``,
    so the model head, config.json, the bundle and every output use the same names.
    """
    splits = data.load_splits(
        config.data,
        config.eval_data,
        labels=config.labels,
        text_column=config.text_column,
        label_column=config.label_column,
    )
    config.labels = list(splits.labels)
    return data.make_subsets(splits, config.train_size, config.val_size, config.seed)


def _saved_subsets(
    run_dir: Path, config: TrainConfig
) -> tuple[list[data.Review], list[data.Review]]:
    return read_subset(run_dir, artifacts.RUN_TRAIN_CSV, config), read_subset(
        run_dir, artifacts.RUN_VAL_CSV, config
    )


def read_subset(run_dir: Path, name: str, config: TrainConfig) -> list[data.Review]:
    """A subset the run wrote, with its labels mapped exactly as when it was written."""
    return data.read_table(run_dir / name, labels=config.label_names)


def write_status(run_dir: Path, status: str, **extra: Any) -> None:
    if not is_main_process():
        return
    metrics = artifacts.read_run_metrics(run_dir)
    metrics.update(status=status, **extra)
    artifacts.write_run_metrics(run_dir, metrics)


def previous_wall_time(run_dir: Path) -> float:
    return float(artifacts.read_run_metrics(run_dir).get("wall_time_s", 0.0))


def record_checkpoint(run_dir: Path, global_step: int, epoch: float | None) -> None:
    """Called once Trainer has finished writing a checkpoint: only now may --resume use it."""
    if not is_main_process():
        return
    ledger = {"last_checkpoint": f"checkpoint-{global_step}", "epoch": round(epoch or 0)}
    atomic.write_text(run_dir / artifacts.RUN_CHECKPOINT_LEDGER, json.dumps(ledger) + "\n")
    write_status(run_dir, "running", completed_epochs=ledger["epoch"])


def last_good_checkpoint(run_dir: Path) -> str | None:
    ledger = run_dir / artifacts.RUN_CHECKPOINT_LEDGER
    if not ledger.is_file():
        return None
    try:
        name = json.loads(ledger.read_text(encoding="utf-8"))["last_checkpoint"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise SenticlfError(
            f"{ledger} is corrupted; delete it to restart the run from epoch 0"
        ) from None
    path = run_dir / artifacts.RUN_CHECKPOINTS_DIR / name
    return str(path) if path.is_dir() else None


def drop_unrecorded_checkpoints(run_dir: Path) -> None:
    """Remove checkpoints newer than the last one the ledger names: a failed write leaves none.

    Older checkpoints stay: Trainer keeps the best epoch's one besides the last.
    """
    folder = run_dir / artifacts.RUN_CHECKPOINTS_DIR
    if not folder.is_dir() or not is_main_process():
        return
    try:
        recorded = last_good_checkpoint(run_dir)
    except SenticlfError:
        recorded = None
    last_step = _step_of(Path(recorded)) if recorded else -1
    for checkpoint in folder.glob("checkpoint-*"):
        if _step_of(checkpoint) > last_step:
            shutil.rmtree(checkpoint, ignore_errors=True)


def _step_of(checkpoint: Path) -> int:
    suffix = checkpoint.name.removeprefix("checkpoint-")
    return int(suffix) if suffix.isdigit() else 1 << 62


def save_model(trainer: Any, tokenizer: Any, run_dir: Path) -> None:
    """Write the best epoch's weights and the tokenizer, all or nothing."""
    if not is_main_process():
        return
    with atomic.atomic_dir(run_dir / artifacts.RUN_MODEL_DIR, overwrite=True) as staging:
        trainer.save_model(str(staging))
        tokenizer.save_pretrained(str(staging))
        # Trainer adds its arguments as a pickle; a model folder should hold no pickle at all.
        (staging / "training_args.bin").unlink(missing_ok=True)


def drop_checkpoints(run_dir: Path) -> None:
    """A complete run keeps its best weights in model/; the checkpoints only served resuming."""
    if not is_main_process():
        return
    shutil.rmtree(run_dir / artifacts.RUN_CHECKPOINTS_DIR, ignore_errors=True)
    (run_dir / artifacts.RUN_CHECKPOINT_LEDGER).unlink(missing_ok=True)


def settings(run_dir: Path) -> dict[str, Any]:
    """Everything config.json records, a distilled run's teacher and transfer set included
    (``TrainConfig.load`` keeps only the fields every run has)."""
    recorded = json.loads((run_dir / artifacts.RUN_CONFIG).read_text(encoding="utf-8"))
    return recorded if isinstance(recorded, dict) else {}


def finished_run(run_dir: Path) -> tuple[TrainConfig, dict[str, Any]]:
    """The config and metrics of a complete run, or a clear error saying how to finish it."""
    if run_dir.is_file():
        raise SenticlfError(
            f"{run_dir} is a file; expected a run folder from `senticlf train` or `distill`"
        )
    if not run_dir.is_dir():
        raise SenticlfError(f"run folder {run_dir} does not exist")
    config = TrainConfig.load(run_dir)
    metrics = artifacts.read_run_metrics(run_dir)
    weights = run_dir / artifacts.RUN_MODEL_DIR / artifacts.WEIGHTS
    if metrics.get("status") != artifacts.RUN_COMPLETE or not weights.is_file():
        raise SenticlfError(
            f"{run_dir} has no finished model (status: {metrics.get('status', 'unknown')}); "
            f"finish it with: senticlf {run_command(run_dir)} --resume {run_dir}"
        )
    return config, metrics
