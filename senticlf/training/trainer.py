"""Fine-tune a sequence classifier on a run's subsets with the transformers Trainer.

Reads top to bottom like the run itself: prepare the run folder, read the data, build the
model, train with per-epoch evaluation and checkpoints, then write the best model and the
report. Trainer brings mixed precision, gradient accumulation, length-grouped batches and
multi-GPU (``accelerate launch``) without code of ours.
"""

from __future__ import annotations

import json
import platform
import shutil
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    EvalPrediction,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)

from senticlf import __version__, artifacts, atomic, data
from senticlf.errors import SenticlfError
from senticlf.runtime.predictor import softmax
from senticlf.runtime.tokenize import ReviewEncoder
from senticlf.training import error_analysis, report
from senticlf.training.config import TrainConfig
from senticlf.training.inference import predict_logits
from senticlf.training.metrics import classification_metrics

_DROPOUT_FIELDS = (
    "dropout",  # DistilBERT
    "seq_classif_dropout",  # DistilBERT head
    "hidden_dropout_prob",  # BERT
    "attention_probs_dropout_prob",  # BERT
    "classifier_dropout",  # BERT head
)
# Above this estimate on a CPU, say so and suggest a quicker configuration.
_SLOW_RUN_SECONDS = 20 * 60


def train(
    config: TrainConfig,
    run_dir: Path,
    resume: bool = False,
    overwrite: bool = False,
    console: Console | None = None,
) -> dict[str, Any]:
    """Run one training job into ``run_dir`` and return its metrics."""
    console = console or Console(stderr=True)
    started = time.perf_counter()
    # The base model is checked before anything is written, so a typo leaves no run folder.
    tokenizer, encoder = _load_tokenizer(config)
    torch.manual_seed(config.seed)
    model = _load_model(config)
    train_rows, val_rows = _prepare_run(config, run_dir, resume, overwrite, console)
    train_set = _encode(encoder, train_rows)
    val_set = _encode(encoder, val_rows)
    # Training accuracy per epoch is measured on a sample of the training subset, no larger
    # than the validation subset, so the curves cost little extra time.
    train_sample = train_set[: max(len(val_set), 2)]

    use_cpu = _use_cpu(config.device)
    args = _training_arguments(config, run_dir, use_cpu, steps_per_epoch(config, len(train_set)))
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset={"val": val_set, "train": train_sample},
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=_compute_metrics,
        callbacks=[_CheckpointLedger(run_dir), _DurationEstimate(console, use_cpu)],
    )
    previous_time = _previous_wall_time(run_dir) if resume else 0.0
    _write_status(run_dir, "running")
    with _sigterm_as_interrupt():
        try:
            trainer.train(resume_from_checkpoint=_last_good_checkpoint(run_dir) if resume else None)
        except KeyboardInterrupt:
            _record_interruption(run_dir, trainer, previous_time + time.perf_counter() - started)
            raise SenticlfError(
                f"training interrupted; completed epochs are kept in {run_dir}; "
                f"continue with: senticlf train --resume {run_dir}"
            ) from None

    _save_model(trainer, tokenizer, run_dir)
    metrics = _finish_report(trainer, config, encoder, val_rows, val_set, run_dir, use_cpu)
    metrics["wall_time_s"] = round(previous_time + time.perf_counter() - started, 1)
    _write_metrics(run_dir, metrics)
    shutil.rmtree(run_dir / artifacts.RUN_CHECKPOINTS_DIR, ignore_errors=True)
    report.print_summary(console, metrics)
    return metrics


# ---------------------------------------------------------------------------- run folder


def _prepare_run(
    config: TrainConfig, run_dir: Path, resume: bool, overwrite: bool, console: Console
) -> tuple[list[data.Review], list[data.Review]]:
    """Create the run folder and its subset CSVs, or read them back when resuming."""
    if resume:
        status = _read_metrics(run_dir).get("status")
        if status == "complete":
            raise SenticlfError(f"{run_dir} is already complete; nothing to resume")
        return (
            data.read_table(run_dir / artifacts.RUN_TRAIN_CSV),
            data.read_table(run_dir / artifacts.RUN_VAL_CSV),
        )
    if run_dir.is_file():
        raise SenticlfError(f"--output {run_dir} is a file; expected a folder for the run")
    existing = run_dir.exists() and any(run_dir.iterdir())
    if existing and not overwrite:
        raise SenticlfError(
            f"run folder {run_dir} already exists; pass --overwrite to replace it, "
            f"or --resume {run_dir} to continue it"
        )
    splits = data.load_splits(
        config.data,
        config.eval_data,
        text_column=config.text_column,
        label_column=config.label_column,
    )
    train_rows, val_rows = data.make_subsets(
        splits, config.train_size, config.val_size, config.seed
    )
    if existing:  # only now that the new data is known to be good
        shutil.rmtree(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SenticlfError(f"cannot create run folder {run_dir}: {exc.strerror}") from None
    data.write_csv(run_dir / artifacts.RUN_TRAIN_CSV, train_rows)
    data.write_csv(run_dir / artifacts.RUN_VAL_CSV, val_rows)
    config.save(run_dir)
    console.print(
        f"[bold]senticlf[/] {len(train_rows)} training and {len(val_rows)} validation reviews "
        f"from {config.data} -> {run_dir}"
    )
    return train_rows, val_rows


def _read_metrics(run_dir: Path) -> dict[str, Any]:
    path = run_dir / artifacts.RUN_METRICS
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def _write_metrics(run_dir: Path, metrics: dict[str, Any]) -> None:
    atomic.write_text(run_dir / artifacts.RUN_METRICS, json.dumps(metrics, indent=2) + "\n")


def _write_status(run_dir: Path, status: str, **extra: Any) -> None:
    metrics = _read_metrics(run_dir)
    metrics.update(status=status, **extra)
    _write_metrics(run_dir, metrics)


def _previous_wall_time(run_dir: Path) -> float:
    return float(_read_metrics(run_dir).get("wall_time_s", 0.0))


# ---------------------------------------------------------------------------- model and data


def _check_local_model(base_model: str) -> None:
    """A local folder must hold a model we can load safely; say what is missing."""
    folder = Path(base_model)
    if not folder.exists():
        return  # a hub id: transformers resolves it
    if not folder.is_dir():
        raise SenticlfError(f"--base-model {folder} is a file; expected a model folder or hub id")
    if not (folder / "config.json").is_file():
        raise SenticlfError(f"cannot load base model {folder}: no config.json, not a model folder")
    if not any(folder.glob("*.safetensors")) and not any(folder.glob("*.safetensors.index.json")):
        raise SenticlfError(
            f"cannot load base model {folder}: no model.safetensors (senticlf loads safetensors "
            "only, never pickled .bin weights)"
        )


def _load_tokenizer(config: TrainConfig) -> tuple[Any, ReviewEncoder]:
    _check_local_model(config.base_model)
    try:
        tokenizer = AutoTokenizer.from_pretrained(config.base_model, use_fast=True)
    except (OSError, ValueError) as exc:
        raise SenticlfError(_base_model_error(config.base_model, exc)) from None
    limit = getattr(tokenizer, "model_max_length", None) or 10**9
    if config.max_length > limit:
        raise SenticlfError(
            f"--max-length {config.max_length} exceeds {config.base_model}'s limit of {limit}"
        )
    encoder = ReviewEncoder(tokenizer.backend_tokenizer, config.max_length, config.truncation)
    return tokenizer, encoder


def _load_model(config: TrainConfig) -> Any:
    try:
        model_config = AutoConfig.from_pretrained(
            config.base_model,
            num_labels=2,
            id2label=dict(enumerate(artifacts.LABELS)),
            label2id={label: i for i, label in enumerate(artifacts.LABELS)},
        )
    except (OSError, ValueError) as exc:
        raise SenticlfError(_base_model_error(config.base_model, exc)) from None
    limit = getattr(model_config, "max_position_embeddings", None)
    if limit and config.max_length > limit:
        raise SenticlfError(
            f"--max-length {config.max_length} exceeds {config.base_model}'s limit of {limit}"
        )
    if config.dropout is not None:
        for name in _DROPOUT_FIELDS:
            if getattr(model_config, name, None) is not None or name == "classifier_dropout":
                setattr(model_config, name, config.dropout)
    try:
        return AutoModelForSequenceClassification.from_pretrained(
            # fp32 master weights whatever the checkpoint stores (transformers 5 loads "auto");
            # mixed precision on the GPU comes from autocast, not from half-precision weights.
            config.base_model,
            config=model_config,
            use_safetensors=True,
            dtype=torch.float32,
        )
    except (OSError, ValueError) as exc:
        raise SenticlfError(_base_model_error(config.base_model, exc)) from None


def _base_model_error(base_model: str, exc: Exception) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (
        f"cannot load base model {base_model!r} ({first}); offline, pass --base-model "
        "with a local folder holding config.json, model.safetensors and tokenizer.json"
    )


def _encode(encoder: ReviewEncoder, rows: list[data.Review]) -> list[dict[str, Any]]:
    ids = encoder.encode([row.text for row in rows])
    return [
        {"input_ids": seq, "attention_mask": [1] * len(seq), "labels": row.label}
        for seq, row in zip(ids, rows, strict=True)
    ]


def _compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
    logits = prediction.predictions
    logits = logits[0] if isinstance(logits, tuple) else logits
    return classification_metrics(np.asarray(prediction.label_ids), np.argmax(logits, axis=-1))


# ---------------------------------------------------------------------------- trainer set-up


def _use_cpu(device: str) -> bool:
    if device == "cuda" and not torch.cuda.is_available():
        raise SenticlfError("--device cuda was asked for, but torch sees no CUDA GPU")
    return device == "cpu" or not torch.cuda.is_available()


def steps_per_epoch(config: TrainConfig, n_train: int) -> int:
    per_step = config.batch_size * config.gradient_accumulation
    return max(1, -(-n_train // per_step))


def _training_arguments(
    config: TrainConfig, run_dir: Path, use_cpu: bool, epoch_steps: int
) -> TrainingArguments:
    bf16 = not use_cpu and torch.cuda.is_bf16_supported()
    return TrainingArguments(
        output_dir=str(run_dir / artifacts.RUN_CHECKPOINTS_DIR),
        num_train_epochs=config.epochs,
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size * 2,
        gradient_accumulation_steps=config.gradient_accumulation,
        weight_decay=config.weight_decay,
        lr_scheduler_type=config.scheduler,
        # An integer count works on transformers 4.x and 5.x alike (5.x dropped warmup_ratio).
        warmup_steps=round(config.warmup_ratio * epoch_steps * config.epochs),
        optim="adamw_torch",
        eval_strategy="epoch",
        save_strategy="epoch",
        logging_strategy="epoch",
        load_best_model_at_end=True,
        metric_for_best_model="eval_val_accuracy",
        greater_is_better=True,
        save_total_limit=2,
        **_length_grouping(),
        use_cpu=use_cpu,
        bf16=bf16,
        fp16=not use_cpu and not bf16,
        seed=config.seed,
        data_seed=config.seed,
        report_to=[],
        dataloader_num_workers=0,
    )


def _length_grouping() -> dict[str, Any]:
    """Batches of similar length waste little on padding; the option was renamed in 5.x."""
    if "group_by_length" in TrainingArguments.__dataclass_fields__:
        return {"group_by_length": True}
    return {"train_sampling_strategy": "group_by_length"}


class _CheckpointLedger(TrainerCallback):
    """Records each checkpoint only once Trainer has finished writing it.

    A checkpoint folder cut short by Ctrl-C looks like any other; resuming from the last
    checkpoint named in ``checkpoint.json`` never picks up a half-written one.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def on_save(self, args, state, control, **kwargs):
        name = f"checkpoint-{state.global_step}"
        ledger = {"last_checkpoint": name, "epoch": round(state.epoch or 0)}
        atomic.write_text(self.run_dir / "checkpoint.json", json.dumps(ledger) + "\n")
        _write_status(self.run_dir, "running", completed_epochs=ledger["epoch"])


def _last_good_checkpoint(run_dir: Path) -> str | None:
    ledger = run_dir / "checkpoint.json"
    if not ledger.is_file():
        return None
    name = json.loads(ledger.read_text(encoding="utf-8"))["last_checkpoint"]
    path = run_dir / artifacts.RUN_CHECKPOINTS_DIR / name
    return str(path) if path.is_dir() else None


class _DurationEstimate(TrainerCallback):
    """After a few steps, say how long the run will take, and warn when a CPU run is slow."""

    _MEASURE_FROM, _MEASURE_TO = 1, 4

    def __init__(self, console: Console, use_cpu: bool) -> None:
        self.console = console
        self.use_cpu = use_cpu
        self.start: float | None = None

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self._MEASURE_FROM:
            self.start = time.perf_counter()
        elif state.global_step == self._MEASURE_TO and self.start is not None:
            per_step = (time.perf_counter() - self.start) / (self._MEASURE_TO - self._MEASURE_FROM)
            remaining = per_step * (state.max_steps - state.global_step)
            self.console.print(f"estimated training time: {remaining / 60:.1f} min more")
            if self.use_cpu and remaining > _SLOW_RUN_SECONDS:
                self.console.print(
                    "[yellow]this is a CPU run of several hours at this size; for a quick run try "
                    "--max-length 256 --epochs 2 --train-size 500, or use a CUDA GPU[/]"
                )


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (a scheduler stopping the job) like Ctrl-C, so both keep finished epochs."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _record_interruption(run_dir: Path, trainer: Trainer, wall_time: float) -> None:
    history = _epoch_history(trainer.state.log_history)
    _write_status(
        run_dir,
        "interrupted",
        completed_epochs=len(history),
        epochs=history,
        wall_time_s=round(wall_time, 1),
    )


# ---------------------------------------------------------------------------- results


def _save_model(trainer: Trainer, tokenizer: Any, run_dir: Path) -> None:
    """Write the best epoch's weights and the tokenizer, all or nothing."""
    with atomic.atomic_dir(run_dir / artifacts.RUN_MODEL_DIR, overwrite=True) as staging:
        trainer.save_model(str(staging))
        tokenizer.save_pretrained(str(staging))
        # Trainer adds its arguments as a pickle; a model folder should hold no pickle at all.
        (staging / "training_args.bin").unlink(missing_ok=True)


def _epoch_history(log_history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge Trainer's separate train/eval log lines into one row per epoch."""
    rows: dict[int, dict[str, Any]] = {}
    for entry in log_history:
        epoch = round(entry.get("epoch", 0))
        row = rows.setdefault(epoch, {"epoch": epoch})
        if "loss" in entry:
            row["train_loss"] = entry["loss"]
        for key, value in entry.items():
            if key.startswith("eval_val_") and not key.endswith(("runtime", "per_second")):
                row["val_" + key.removeprefix("eval_val_")] = value
            elif key == "eval_train_accuracy":
                row["train_accuracy"] = value
    return [row for _, row in sorted(rows.items()) if "val_accuracy" in row and "train_loss" in row]


def _finish_report(
    trainer: Trainer,
    config: TrainConfig,
    encoder: ReviewEncoder,
    val_rows: list[data.Review],
    val_set: list[dict[str, Any]],
    run_dir: Path,
    use_cpu: bool,
) -> dict[str, Any]:
    epochs = _epoch_history(trainer.state.log_history)
    best = max(epochs, key=lambda row: row["val_accuracy"])
    logits = predict_logits(trainer.model, encoder, [row["input_ids"] for row in val_set])
    positive = softmax(logits.astype(np.float64))[:, 1]
    wrong = [i for i, row in enumerate(val_rows) if int(positive[i] >= 0.5) != row.label]
    wrong_texts = [val_rows[i].text for i in wrong]
    lengths = encoder.untruncated_lengths(wrong_texts)
    groups = [
        error_analysis.error_groups(t, n, config.max_length)
        for t, n in zip(wrong_texts, lengths, strict=True)
    ]
    report.write_errors(
        run_dir / artifacts.RUN_ERRORS,
        [
            (val_rows[i].text, val_rows[i].label, float(positive[i]), g)
            for i, g in zip(wrong, groups, strict=True)
        ],
    )
    report.plot_curves(epochs, run_dir / artifacts.RUN_CURVES)
    return {
        "status": "complete",
        "epochs": epochs,
        "best_epoch": best["epoch"],
        "best": best,
        "completed_epochs": len(epochs),
        "train_size": len(trainer.train_dataset),  # type: ignore[arg-type]
        "val_size": len(val_rows),
        "misclassified": len(wrong),
        "error_groups": error_analysis.count_groups(wrong_texts, lengths, config.max_length),
        "train_time_s": round(
            sum(e.get("train_runtime", 0.0) for e in trainer.state.log_history), 1
        ),
        "device": _device_name(use_cpu),
        "versions": _versions(),
    }


def _device_name(use_cpu: bool) -> str:
    if not use_cpu:
        return f"cuda: {torch.cuda.get_device_name(0)}"
    return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def _versions() -> dict[str, str]:
    import transformers

    return {
        "senticlf": __version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
    }
