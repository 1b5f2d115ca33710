"""The settings of one training run: one flat, validated dataclass saved with the run.

As in setfit's ``TrainingArguments``: every value is checked in ``__post_init__`` with the bad
value in the message, and ``to_dict``/``from_dict`` round-trip through the run's config.json,
so ``--resume`` and ``senticlf export`` read back exactly what was trained.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from senticlf import artifacts, atomic, data
from senticlf.data import HUB_DATASET
from senticlf.errors import SenticlfError

DEFAULT_BASE_MODEL = "distilbert-base-uncased"
# Where the Trainer also sends its per-epoch logs (its own report_to integrations), and the
# package each needs: none, or the tracker a team already keeps its runs in.
REPORT_TO = {"none": None, "tensorboard": "tensorboard", "mlflow": "mlflow", "wandb": "wandb"}
_Config = TypeVar("_Config", bound="TrainConfig")  # from_dict/load give the subclass asked


@dataclass
class TrainConfig:
    """The reference experiment's data and sizes with the recipe measured best for it.

    1,000 / 200 IMDb reviews, batch 16, weight decay 0.01, max length 512 as in the reference;
    lr 5e-5 with 10% warm-up and head+tail truncation instead of lr 2e-5 / head, which gained
    about 2 points over 3 seeds (benchmarks/results/accuracy.md). The reference recipe stays one
    flag set away: --lr 2e-5 --warmup-ratio 0 --truncation head.
    """

    # The senticlf command that makes and resumes a run of this config (DistillConfig: distill).
    command: ClassVar[str] = "train"

    data: str = HUB_DATASET
    eval_data: str | None = None
    text_column: str | None = None
    label_column: str | None = None
    base_model: str = DEFAULT_BASE_MODEL
    train_size: int | None = 1000
    val_size: int | None = 200
    epochs: int = 5
    learning_rate: float = 5e-5
    batch_size: int = 16
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    scheduler: str = "linear"
    max_length: int = 512
    truncation: str = "head+tail"
    dropout: float | None = None
    gradient_accumulation: int = 1
    seed: int = 42
    device: str = "auto"
    # The label names, in the order of the model's outputs. None: taken from the data (see
    # senticlf.data.infer_labels) and recorded here when the run starts.
    labels: list[str] | None = None
    # Also log the per-epoch figures to this tracker (REPORT_TO); checked to be installed
    # before training starts (trainer.check_report_to), not here: export reads configs too.
    report_to: str = "none"

    def __post_init__(self) -> None:
        positive_ints = {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "gradient_accumulation": self.gradient_accumulation,
        }
        for name, value in positive_ints.items():
            if value < 1:
                raise SenticlfError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        for name in ("train_size", "val_size"):
            value = getattr(self, name)
            if value is not None and value < 2:
                raise SenticlfError(f"--{name.replace('_', '-')} must be at least 2, got {value}")
        if not 0 < self.learning_rate < 1:
            raise SenticlfError(f"--lr must be in (0, 1), got {self.learning_rate}")
        if not 0 <= self.weight_decay < 1:
            raise SenticlfError(f"--weight-decay must be in [0, 1), got {self.weight_decay}")
        if not 0 <= self.warmup_ratio < 1:
            raise SenticlfError(f"--warmup-ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.dropout is not None and not 0 <= self.dropout < 1:
            raise SenticlfError(f"--dropout must be in [0, 1), got {self.dropout}")
        if not 8 <= self.max_length <= 8192:
            raise SenticlfError(f"--max-length must be between 8 and 8192, got {self.max_length}")
        artifacts.check_truncation(self.truncation)
        if self.scheduler not in ("linear", "cosine", "constant_with_warmup"):
            raise SenticlfError(
                f"--scheduler must be linear, cosine or constant_with_warmup, got {self.scheduler!r}"
            )
        if self.device not in ("auto", "cpu", "cuda"):
            raise SenticlfError(f"--device must be auto, cpu or cuda, got {self.device!r}")
        if self.report_to not in REPORT_TO:
            raise SenticlfError(
                f"--report-to must be one of {', '.join(REPORT_TO)}, got {self.report_to!r}"
            )
        if self.labels is not None:
            self.labels = list(data.check_labels(self.labels))

    @property
    def label_names(self) -> tuple[str, ...]:
        """The labels of a run; runs from before label sets were negative/positive."""
        return tuple(self.labels) if self.labels else artifacts.LABELS

    def encoder_settings(self, tokenizer_file: Path) -> artifacts.EncoderSettings:
        return artifacts.EncoderSettings(tokenizer_file, self.max_length, self.truncation)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls: type[_Config], data: dict[str, Any]) -> _Config:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, run_dir: Path) -> None:
        atomic.write_text(run_dir / artifacts.RUN_CONFIG, json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls: type[_Config], run_dir: Path) -> _Config:
        path = run_dir / artifacts.RUN_CONFIG
        if not path.is_file():
            raise SenticlfError(f"{run_dir} is not a senticlf run: {artifacts.RUN_CONFIG} missing")
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except json.JSONDecodeError as exc:
            raise SenticlfError(f"{path} is corrupted: {exc}") from None


def run_command(run_dir: Path) -> str:
    """The command that made the run in ``run_dir``: a distilled run's config names a teacher."""
    try:
        saved = json.loads((run_dir / artifacts.RUN_CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return TrainConfig.command
    return "distill" if isinstance(saved, dict) and saved.get("teacher") else TrainConfig.command
