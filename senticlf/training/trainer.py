"""Fine-tune a sequence classifier on a run's subsets with the transformers Trainer.

Reads top to bottom like the run itself: prepare the run folder, read the data, build the
model, train with per-epoch evaluation and checkpoints, then write the best model and the
report. Trainer brings mixed precision, gradient accumulation, length-grouped batches and
multi-GPU (``accelerate launch``) without code of ours; the run folder's rules live in
run_folder.py, model loading in model.py and the final report in report.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from transformers import (
    DataCollatorWithPadding,
    EvalPrediction,
    Trainer,
    TrainingArguments,
)

from senticlf import artifacts, atomic, data, interrupts
from senticlf.errors import SenticlfError, first_line
from senticlf.evaluation.label_metrics import classification_metrics
from senticlf.runtime.tokenize import ReviewEncoder
from senticlf.training import callbacks, estimate, report, run_folder
from senticlf.training import model as model_loading
from senticlf.training.config import REPORT_TO, TrainConfig
from senticlf.training.inference import predict_logits

# The label of a review that has none (teacher-labelled text): cross-entropy's ignore_index.
IGNORED_LABEL = -100


def train(
    config: TrainConfig,
    run_dir: Path,
    resume: bool = False,
    overwrite: bool = False,
    console: Console | None = None,
) -> dict[str, Any]:
    """Run one training run into ``run_dir`` and return its metrics."""
    console = console or Console(stderr=True)
    started = time.perf_counter()
    prepared = prepare(config, run_dir, resume, overwrite, console)
    return fit(config, run_dir, prepared, resume, console, started)


@dataclass
class PreparedRun:
    """What one run fits: the model, its encoded data, and the Trainer class with its loss.

    ``train`` and ``distill`` differ only in these; the loop, checkpoints, resume, interruption
    and the final report below are the same for both.
    """

    tokenizer: Any
    encoder: ReviewEncoder
    model: Any
    train_rows: list[data.Review]
    train_set: list[dict[str, Any]]
    val_set: list[dict[str, Any]]
    val_rows: list[data.Review]
    trainer_class: type[Trainer] = field(default_factory=lambda: AccuracyTrackingTrainer)
    extra_metrics: dict[str, Any] = field(default_factory=dict)


def prepare(
    config: TrainConfig,
    run_dir: Path,
    resume: bool,
    overwrite: bool,
    console: Console,
    check_tokenizer: Callable[[Any], None] | None = None,
    build_model: Callable[[], Any] | None = None,
    before_create: Callable[[list[data.Review]], None] | None = None,
) -> PreparedRun:
    """The set-up ``train`` and ``distill`` share: tokenizer, subsets, model, run folder.

    Everything that can fail on the user's input (the base model, the data, a student's
    vocabulary) is checked before the run folder is written, so a mistake leaves none.
    """
    check_report_to(config.report_to)
    tokenizer, encoder = model_loading.load_tokenizer(config)
    if check_tokenizer is not None:
        check_tokenizer(tokenizer)
    train_rows, val_rows = run_folder.read_subsets(config, run_dir, resume, overwrite)
    torch.manual_seed(config.seed)
    model = build_model() if build_model else model_loading.load_model(config, config.label_names)
    if not resume:
        if before_create is not None:  # what the run records about its subsets (distill)
            before_create(train_rows)
        run_folder.create(config, run_dir, (train_rows, val_rows), console)
    return PreparedRun(
        tokenizer, encoder, model, train_rows, encode(encoder, train_rows),
        encode(encoder, val_rows), val_rows,
    )  # fmt: skip


def fit(
    config: TrainConfig,
    run_dir: Path,
    prepared: PreparedRun,
    resume: bool,
    console: Console,
    started: float,
) -> dict[str, Any]:
    """Train a prepared run in its run folder, then write its model and report."""
    on_cpu = use_cpu(config.device)
    args = training_arguments(
        config, run_dir, on_cpu, steps_per_epoch(config, len(prepared.train_set))
    )
    trainer = prepared.trainer_class(
        model=prepared.model,
        args=args,
        train_dataset=prepared.train_set,
        eval_dataset=prepared.val_set,
        data_collator=DataCollatorWithPadding(prepared.tokenizer),
        compute_metrics=_compute_metrics,
        callbacks=[
            callbacks.CheckpointLedger(run_dir),
            estimate.for_run(config, prepared.train_set, console, on_cpu),
        ],
    )
    resume_hint = f"senticlf {config.command} --resume {run_dir}"
    previous_time = run_folder.previous_wall_time(run_dir) if resume else 0.0
    run_folder.write_status(run_dir, "running")
    with interrupts.sigterm_as_interrupt():
        try:
            checkpoint = run_folder.last_good_checkpoint(run_dir) if resume else None
            with atomic.write_errors_reported(run_dir / artifacts.RUN_CHECKPOINTS_DIR):
                trainer.train(resume_from_checkpoint=checkpoint)
        except KeyboardInterrupt:
            callbacks.record_interruption(
                run_dir, trainer, previous_time + time.perf_counter() - started
            )
            raise SenticlfError(
                f"training interrupted; completed epochs are kept in {run_dir}; "
                f"continue with: {resume_hint}"
            ) from None
        except SenticlfError as exc:  # a checkpoint could not be written (full disk, ...)
            run_folder.drop_unrecorded_checkpoints(run_dir)
            raise SenticlfError(
                f"{exc}; completed epochs are kept in {run_dir}; once fixed, continue with: "
                f"{resume_hint}"
            ) from None

    run_folder.save_model(trainer, prepared.tokenizer, run_dir)
    run_folder.leave_process_group(
        trainer
    )  # no collective follows: what is left is the main process's
    if not run_folder.is_main_process():  # the main process alone reports and writes
        return {"status": artifacts.RUN_COMPLETE}
    val_ids = [row["input_ids"] for row in prepared.val_set]
    logits = predict_logits(trainer.model, prepared.encoder, val_ids)
    epochs = report.epoch_history(trainer.state.log_history)
    metrics = report.final_metrics(
        epochs, logits, prepared.encoder, prepared.val_rows, config.label_names, run_dir
    )
    metrics.update(
        train_size=len(prepared.train_set),
        train_time_s=round(sum(e.get("train_runtime", 0.0) for e in trainer.state.log_history), 1),
        wall_time_s=round(previous_time + time.perf_counter() - started, 1),
        device=_device_name(on_cpu),
        versions=report.versions(),
        **prepared.extra_metrics,
    )
    artifacts.write_run_metrics(run_dir, metrics)
    run_folder.drop_checkpoints(run_dir)
    report.print_summary(console, metrics)
    return metrics


def encode(encoder: ReviewEncoder, rows: list[data.Review]) -> list[dict[str, Any]]:
    return encode_texts(encoder, [row.text for row in rows], [row.label for row in rows])


def encode_texts(
    encoder: ReviewEncoder, texts: list[str], labels: list[int]
) -> list[dict[str, Any]]:
    """Trainer's rows; a label of :data:`IGNORED_LABEL` marks a text without one."""
    return [
        {"input_ids": seq, "attention_mask": [1] * len(seq), "labels": label}
        for seq, label in zip(encoder.encode(texts), labels, strict=True)
    ]


def _compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
    logits = prediction.predictions
    logits = logits[0] if isinstance(logits, tuple) else logits
    return classification_metrics(
        np.asarray(prediction.label_ids), np.argmax(logits, axis=-1), n_labels=logits.shape[-1]
    )


# ---------------------------------------------------------------------------- trainer set-up


def use_cpu(device: str) -> bool:
    if device == "cuda" and not torch.cuda.is_available():
        raise SenticlfError("--device cuda was asked for, but torch sees no CUDA GPU")
    return device == "cpu" or not torch.cuda.is_available()


def _device_name(use_cpu: bool) -> str:
    import platform

    if not use_cpu:
        return f"cuda: {torch.cuda.get_device_name(0)}"
    return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def steps_per_epoch(config: TrainConfig, n_train: int) -> int:
    per_step = config.batch_size * config.gradient_accumulation
    return max(1, -(-n_train // per_step))


def training_arguments(
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
        metric_for_best_model="eval_accuracy",
        greater_is_better=True,
        save_total_limit=2,
        **_length_grouping(),
        use_cpu=use_cpu,
        bf16=bf16,
        fp16=not use_cpu and not bf16,
        seed=config.seed,
        data_seed=config.seed,
        **_reporting(config, run_dir),
        dataloader_num_workers=0,
        # Our datasets are lists of dicts holding only what the loss reads (the model's inputs,
        # labels and, when distilling, the teacher's logits): nothing to drop, and dropping
        # would lose the teacher's logits, which the model's forward does not take.
        remove_unused_columns=False,
    )


def check_report_to(report_to: str) -> None:
    """Refuse, before anything is read or written, a tracker whose package is not installed.

    The same checks as transformers' own (its integrations raise mid-set-up otherwise).
    """
    from transformers.integrations import (
        is_mlflow_available,
        is_tensorboard_available,
        is_wandb_available,
    )

    available = {
        "tensorboard": is_tensorboard_available,
        "mlflow": is_mlflow_available,
        "wandb": is_wandb_available,
    }
    package = REPORT_TO[report_to]
    if package is not None and not available[report_to]():
        raise SenticlfError(
            f"--report-to {report_to} needs the {package} package: pip install {package}"
        )
    if report_to == "mlflow":
        _check_mlflow_store()


def _check_mlflow_store() -> None:
    """Open MLflow's tracking store now: a store it cannot open (MLflow 3's default SQLite
    file without SQLAlchemy, a server that is down) would otherwise fail the run mid-set-up."""
    import mlflow

    try:
        mlflow.tracking.MlflowClient().search_experiments(max_results=1)
    except Exception as exc:  # MLflow raises its own and its dependencies' exceptions
        raise SenticlfError(
            f"--report-to mlflow cannot open MLflow's tracking store {mlflow.get_tracking_uri()} "
            f"({first_line(exc)}); set MLFLOW_TRACKING_URI to a server or database"
        ) from None


def _reporting(config: TrainConfig, run_dir: Path) -> dict[str, Any]:
    """Trainer's own integrations: none, or one tracker, with the run folder's name as the run
    name and TensorBoard's event files in the run folder (checkpoints/ is dropped at the end)."""
    if config.report_to == "none":
        return {"report_to": []}
    settings: dict[str, Any] = {"report_to": [config.report_to], "run_name": run_dir.name}
    if "logging_dir" in TrainingArguments.__dataclass_fields__:
        settings["logging_dir"] = str(run_dir / artifacts.RUN_LOGS_DIR)
    return settings


def _length_grouping() -> dict[str, Any]:
    """Batches of similar length waste little on padding; the option was renamed in 5.x."""
    if "group_by_length" in TrainingArguments.__dataclass_fields__:
        return {"group_by_length": True}
    return {"train_sampling_strategy": "group_by_length"}


class AccuracyTrackingTrainer(Trainer):
    """Counts correct training predictions from the logits the training step computes anyway.

    The training-accuracy curve used to cost an extra evaluation pass over a sample of the
    training set every epoch; the forward pass of each step already has the logits. The
    figure is the accuracy over the epoch's batches as trained (dropout on), the usual
    "training accuracy" of a training loop.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._correct = 0
        self._seen = 0

    def compute_loss(self, model, inputs, return_outputs=False, **kwargs):  # type: ignore[override]
        loss, outputs = self.loss_and_outputs(model, inputs, **kwargs)
        labels = inputs.get("labels")
        if labels is not None and model.training:
            with torch.no_grad():
                known = labels != IGNORED_LABEL  # reviews without a label (distillation) skip
                predicted = outputs.logits.argmax(dim=-1)
                self._correct += int((predicted == labels)[known].sum())
                self._seen += int(known.sum())
        return (loss, outputs) if return_outputs else loss

    def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
        """Resume on CPUs under torchrun, where transformers maps optimizer state to "cpu:0".

        transformers loads the optimizer with ``map_location=args.device`` when several
        processes train; on CPUs that device is "cpu:0", a location torch.load cannot restore
        (transformers 4.57), so ``--resume`` under a launcher failed. Plain "cpu" works.
        """
        optimizer, scheduler = self.optimizer, self.lr_scheduler
        cpu_launcher = self.args.world_size > 1 and self.args.device.type == "cpu"
        if checkpoint is None or not cpu_launcher or optimizer is None or scheduler is None:
            return super()._load_optimizer_and_scheduler(checkpoint)
        folder = Path(checkpoint)
        optimizer.load_state_dict(
            torch.load(folder / "optimizer.pt", map_location="cpu", weights_only=True)
        )
        scheduler.load_state_dict(torch.load(folder / "scheduler.pt", weights_only=True))

    def loss_and_outputs(
        self, model: Any, inputs: dict[str, Any], **kwargs: Any
    ) -> tuple[Any, Any]:
        """The loss a subclass changes (distillation); the model's own cross-entropy here."""
        return super().compute_loss(model, inputs, return_outputs=True, **kwargs)

    def log(self, logs: dict[str, float], *args: Any, **kwargs: Any) -> None:
        if "loss" in logs and self._seen:
            counts = torch.tensor([self._correct, self._seen], device=self.args.device)
            counts = self.accelerator.reduce(counts, reduction="sum")  # all ranks' batches
            logs["train_accuracy"] = float(counts[0]) / float(counts[1])
            self._correct = self._seen = 0
        super().log(logs, *args, **kwargs)
