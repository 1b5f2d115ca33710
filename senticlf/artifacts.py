"""The contract between the stages: file names, the bundle manifest, and how both are checked.

Training writes a run folder, export turns it into a bundle, the runtime loads the bundle.
Each stage knows the others only through the names and the manifest defined here, which is
why this module (like ``runtime/``) imports nothing heavier than the standard library.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from senticlf import atomic
from senticlf.errors import SenticlfError

# Run folder (written by `senticlf train`).
RUN_CONFIG = "config.json"
RUN_METRICS = "metrics.json"
RUN_CURVES = "curves.png"
RUN_ERRORS = "errors.csv"
RUN_TRAIN_CSV = "train.csv"
RUN_VAL_CSV = "val.csv"
RUN_MODEL_DIR = "model"
RUN_CHECKPOINTS_DIR = "checkpoints"
# Names the last checkpoint Trainer finished writing; --resume trusts only this one.
RUN_CHECKPOINT_LEDGER = "checkpoint.json"
# `senticlf distill`: the teacher's logits for the training texts, computed once per run.
RUN_TEACHER_LOGITS = "teacher_logits.npz"
# The weights file inside model/ (safetensors only: no pickle is ever loaded).
WEIGHTS = "model.safetensors"
RUN_COMPLETE = "complete"
# `train --report-to tensorboard`: the event files (kept; checkpoints/ is dropped at the end).
RUN_LOGS_DIR = "logs"

# Where commands put their folders when not told: runs/<timestamp>/, export/<run name>/.
RUNS_ROOT = Path("runs")
EXPORT_ROOT = Path("export")

# Bundle folder (written by `senticlf export`, read by the runtime).
MANIFEST = "senticlf.json"
FP32_MODEL = "model.onnx"
INT8_MODEL = "model.int8.onnx"
# `export --fp16`: the fused graph in float16 with float32 inputs and outputs, for CUDA.
FP16_MODEL = "model.fp16.onnx"
# The numeric precision of each model file (batch invariance is judged per precision).
MODEL_PRECISION = {FP32_MODEL: "fp32", INT8_MODEL: "int8", FP16_MODEL: "fp16"}
TOKENIZER = "tokenizer.json"
CARD = "README.md"  # the model card, hashed in the manifest like every other file
MANIFEST_FORMAT = 1

LABELS = ("negative", "positive")
# Column names recognised as the review text in a user's CSV/JSONL/Parquet, for training,
# evaluation and prediction alike (first match wins; --text-column overrides).
TEXT_COLUMNS = ("text", "review", "sentence", "content")
TRUNCATIONS = ("head", "head+tail")


def is_binary_sentiment(labels: list[str] | tuple[str, ...]) -> bool:
    """negative/positive bundles keep P(positive) and accept a decision threshold."""
    return tuple(labels) == LABELS


def check_truncation(truncation: str, option: str = "--truncation") -> str:
    """The one check of a truncation name, for the CLI, run configs, manifests and encoders."""
    if truncation not in TRUNCATIONS:
        raise SenticlfError(f"{option} must be one of {', '.join(TRUNCATIONS)}, got {truncation!r}")
    return truncation


@dataclass(frozen=True)
class EncoderSettings:
    """How text becomes token ids: one value, built from a run or from a bundle.

    The predictor, the export check, training and evaluation all build their encoder from
    this, so the truncation a model was trained with is the one it is served with.
    """

    tokenizer_file: Path
    max_length: int
    truncation: str

    def __post_init__(self) -> None:
        check_truncation(self.truncation)


def new_run_dir() -> Path:
    """The run folder of a `train` or `distill` given no --output: runs/<timestamp>."""
    return RUNS_ROOT / datetime.now().strftime("%Y%m%d-%H%M%S")


def default_bundle_dir(run_dir: Path) -> Path:
    """The bundle `export` writes when given no --output: export/<run folder's name>."""
    return EXPORT_ROOT / run_dir.resolve().name


def newest_bundle(root: Path = EXPORT_ROOT) -> Path:
    """The most recently exported bundle under ``root``: what `predict` and `serve` default to."""
    bundles = [p.parent for p in root.glob(f"*/{MANIFEST}")]
    if not bundles:
        raise SenticlfError(
            f"no bundle under {root}/; pass --model DIR or create one with `senticlf export`"
        )
    return max(bundles, key=lambda p: (p / MANIFEST).stat().st_mtime)


def sha256_of(path: Path) -> str:
    """Hash in 1 MiB blocks so that a large model never sits in memory twice."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Execution:
    """How many calls run at once over one session, with how many threads each.

    On 2 cores one call on 2 intra-op threads whose pool spins between calls fell into a slow
    mode (about 43 instead of 56 reviews/s) in some fresh processes and not in others; two
    calls at once on one thread each did not. So the configuration is measured, in fresh
    processes taking turns, and recorded with the batch size it was measured at.
    """

    streams: int
    threads: int
    spinning: bool

    def label(self) -> str:
        spin = "spinning" if self.spinning else "no spinning"
        return f"{self.streams} stream(s) x {self.threads} thread(s), {spin}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Execution:
        return cls(int(data["streams"]), int(data["threads"]), bool(data["spinning"]))


@dataclass(frozen=True)
class ExecutionTrial:
    """One configuration's reviews/s in each fresh process it was timed in."""

    execution: Execution
    batch_size: int
    reviews_per_s: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.reviews_per_s)

    @property
    def worst(self) -> float:
        return min(self.reviews_per_s)

    def to_dict(self) -> dict[str, Any]:
        return {
            "execution": self.execution.to_dict(),
            "batch_size": self.batch_size,
            "reviews_per_s": list(self.reviews_per_s),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExecutionTrial:
        runs = tuple(float(v) for v in data["reviews_per_s"])
        return cls(Execution.from_dict(data["execution"]), int(data["batch_size"]), runs)


@dataclass(frozen=True)
class BatchProfile:
    """How one model of a bundle batches on the CPU that measured it.

    A text's probabilities must not depend on its batch-mates. Dynamic INT8 picks one
    activation scale per call, so its answers move with whatever shares the call; fp32 does
    not. Export measures each model alone and in batches, and the runtime never batches a
    model beyond ``invariant_up_to``: ``batch_size`` is the fastest size within that bound.
    ``execution`` is the streams/threads/spinning configuration that won at that size in
    fresh processes (None in bundles exported before it was measured).
    """

    batch_size: int
    invariant_up_to: int
    # Largest probability change, text alone vs in a batch of that size (keys: batch sizes).
    max_probability_change: dict[int, float]
    # Throughput at each batch size that was timed (the invariant ones).
    reviews_per_s: dict[int, float]
    execution: Execution | None = None
    trials: tuple[ExecutionTrial, ...] = ()

    @property
    def speed(self) -> float:
        """Reviews/s as the runtime will run the model: its execution's median if measured."""
        for trial in self.trials:
            if trial.execution == self.execution and trial.batch_size == self.batch_size:
                return trial.median
        return self.reviews_per_s[self.batch_size]

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch_size": self.batch_size,
            "invariant_up_to": self.invariant_up_to,
            "max_probability_change": {str(k): v for k, v in self.max_probability_change.items()},
            "reviews_per_s": {str(k): v for k, v in self.reviews_per_s.items()},
            "execution": self.execution.to_dict() if self.execution else None,
            "trials": [trial.to_dict() for trial in self.trials],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BatchProfile:
        execution = data.get("execution")
        return cls(
            batch_size=int(data["batch_size"]),
            invariant_up_to=int(data["invariant_up_to"]),
            max_probability_change={
                int(k): float(v) for k, v in data.get("max_probability_change", {}).items()
            },
            reviews_per_s={int(k): float(v) for k, v in data.get("reviews_per_s", {}).items()},
            execution=Execution.from_dict(execution) if isinstance(execution, dict) else None,
            trials=tuple(ExecutionTrial.from_dict(t) for t in data.get("trials", [])),
        )


@dataclass(frozen=True)
class Batching:
    """Every model's :class:`BatchProfile`, and the CPU they were measured on.

    A bundle loaded on another CPU is measured again there (runtime/plan.py).
    """

    cpu: str
    instruction_sets: tuple[str, ...]
    models: dict[str, BatchProfile]

    def to_dict(self) -> dict[str, Any]:
        return {
            "cpu": self.cpu,
            "instruction_sets": list(self.instruction_sets),
            "models": {name: profile.to_dict() for name, profile in self.models.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Batching:
        return cls(
            cpu=str(data["cpu"]),
            instruction_sets=tuple(data.get("instruction_sets", ())),
            models={k: BatchProfile.from_dict(v) for k, v in data["models"].items()},
        )


@dataclass(frozen=True)
class Int8Attempt:
    """One INT8 variant the export gate scored (alone per text, as it would be served)."""

    variant: str
    accuracy: float
    agreement: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Int8Attempt:
        return cls(str(data["variant"]), float(data["accuracy"]), float(data["agreement"]))


@dataclass(frozen=True)
class Int8Result:
    """The INT8 ladder's outcome: every attempt, and the variant kept (None: none passed)."""

    preset: str
    tried: tuple[Int8Attempt, ...]
    variant: str | None

    @property
    def kept(self) -> Int8Attempt | None:
        return next((t for t in self.tried if t.variant == self.variant), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "preset": self.preset,
            "variant": self.variant,
            "tried": [attempt.to_dict() for attempt in self.tried],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Int8Result:
        return cls(
            preset=str(data.get("preset", "")),
            tried=tuple(Int8Attempt.from_dict(t) for t in data.get("tried", ())),
            variant=data.get("variant"),
        )


@dataclass(frozen=True)
class Fp16Result:
    """How the fp16 model compares with fp32 on the validation reviews, and where it ran.

    ``provider`` says which execution provider scored it: on a CPU-only machine export runs
    fp16 with the CPU provider (ONNX Runtime casts the ops it has no fp16 kernel for), so the
    figures are real but say nothing of CUDA's own kernels.
    """

    accuracy: float
    agreement: float
    max_probability_difference: float
    provider: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fp16Result:
        return cls(
            accuracy=float(data["accuracy"]),
            agreement=float(data["agreement"]),
            max_probability_difference=float(data["max_probability_difference"]),
            provider=str(data.get("provider", "")),
        )


@dataclass(frozen=True)
class CalibrationCheck:
    """What export measured around the calibrator it fitted (the export check's ``calibration``).

    On the labelled reviews it was fitted on (``source``): accuracy, ECE and log-loss before
    (uncalibrated, T = 1) and after (in-sample: optimistic), and the cross-validated figures
    that chose it among ``candidates`` (every kind tried); then accuracy on the validation
    reviews after it. Accuracy is given before and after because Platt and isotonic can move
    the 0.5 crossing. ``kind``, ``description`` and ``temperature`` (its nearest single
    temperature) say which calibrator, in words. Bundles from before the choice of calibrators
    recorded a temperature fit only: ``kind`` is None there, and what they lack is None.
    """

    kind: str | None = None
    description: str = ""
    temperature: float = 1.0
    source: str = ""
    reviews: int = 0
    accuracy_before: float | None = None
    accuracy_after: float | None = None
    ece_before: float | None = None
    ece_after: float | None = None
    nll_before: float | None = None
    nll_after: float | None = None
    cv_log_loss: float | None = None
    cv_ece: float | None = None
    candidates: dict[str, dict[str, float]] = field(default_factory=dict)
    validation_accuracy_after: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CalibrationCheck:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class ExportCheck:
    """What export measured before declaring a bundle done (the manifest's ``export_check``)."""

    reviews: int
    torch_accuracy: float
    fp32_accuracy: float
    fp32_max_logit_difference: float
    graph_optimization: str
    calibration: CalibrationCheck | None = None
    int8: Int8Result | None = None
    fp16: Fp16Result | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["calibration"] = self.calibration.to_dict() if self.calibration else None
        data["int8"] = self.int8.to_dict() if self.int8 else None
        data["fp16"] = self.fp16.to_dict() if self.fp16 else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExportCheck:
        calibration, int8, fp16 = data.get("calibration"), data.get("int8"), data.get("fp16")
        return cls(
            reviews=int(data.get("reviews", 0)),
            torch_accuracy=float(data.get("torch_accuracy", float("nan"))),
            fp32_accuracy=float(data.get("fp32_accuracy", float("nan"))),
            fp32_max_logit_difference=float(data.get("fp32_max_logit_difference", float("nan"))),
            graph_optimization=str(data.get("graph_optimization", "")),
            calibration=(
                CalibrationCheck.from_dict(calibration) if isinstance(calibration, dict) else None
            ),
            int8=Int8Result.from_dict(int8) if isinstance(int8, dict) else None,
            fp16=Fp16Result.from_dict(fp16) if isinstance(fp16, dict) else None,
        )


@dataclass
class Manifest:
    """What a bundle holds and how its model must be fed."""

    max_length: int
    truncation: str
    base_model: str
    files: dict[str, str]
    labels: list[str] = field(default_factory=lambda: list(LABELS))
    opset: int | None = None
    senticlf_version: str = ""
    training_metrics: dict[str, Any] = field(default_factory=dict)
    export_check: ExportCheck | None = None
    batching: Batching | None = None
    # The calibrator (senticlf.runtime.calibrator.Calibrator.to_dict): the one source of how
    # logits become probabilities; None: uncalibrated (the softmax of the raw logits).
    calibration: dict[str, Any] | None = None
    format: int = MANIFEST_FORMAT

    def to_json(self) -> str:
        data = asdict(self)
        data["export_check"] = self.export_check.to_dict() if self.export_check else None
        data["batching"] = self.batching.to_dict() if self.batching else None
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: Path) -> Manifest:
        known = set(cls.__dataclass_fields__)
        missing = [name for name in ("max_length", "truncation", "files") if name not in data]
        if missing:
            raise SenticlfError(f"{source} is not a senticlf manifest: missing {missing}")
        fields = {k: v for k, v in data.items() if k in known}
        if fields.get("calibration") is None and "temperature" in data:
            # Bundles from before calibrators stored a temperature alone: it is the calibrator.
            fields["calibration"] = {"kind": "temperature", "temperature": data["temperature"]}
        try:
            if isinstance(fields.get("export_check"), dict):
                fields["export_check"] = ExportCheck.from_dict(fields["export_check"])
            if isinstance(fields.get("batching"), dict):
                fields["batching"] = Batching.from_dict(fields["batching"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SenticlfError(f"{source} is corrupted: {exc!r}") from None
        manifest = cls(**fields)
        check_truncation(manifest.truncation, option=f"{source}: truncation")
        return manifest

    def encoder_settings(self, bundle_dir: Path) -> EncoderSettings:
        return EncoderSettings(bundle_dir / TOKENIZER, self.max_length, self.truncation)

    def write(self, bundle_dir: Path) -> None:
        atomic.write_text(bundle_dir / MANIFEST, self.to_json())


def read_run_metrics(run_dir: Path) -> dict[str, Any]:
    """A run's metrics.json ({} before the first write); a corrupt one is a clear error."""
    path = run_dir / RUN_METRICS
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SenticlfError(
            f"{path} is corrupted ({exc}); delete the run folder and train again"
        ) from None
    if not isinstance(data, dict):
        raise SenticlfError(f"{path} is corrupted: expected a JSON object")
    return data


def write_run_metrics(run_dir: Path, metrics: dict[str, Any]) -> None:
    atomic.write_text(run_dir / RUN_METRICS, json.dumps(metrics, indent=2) + "\n")


def hash_files(bundle_dir: Path, names: list[str]) -> dict[str, str]:
    return {name: sha256_of(bundle_dir / name) for name in names}


def read_manifest(bundle_dir: str | Path, verify: bool = True) -> Manifest:
    """Load a bundle's manifest; with ``verify``, refuse a bundle whose files do not match it.

    Checking every sha256 before a session is created means a truncated download or a
    tampered model is reported as such instead of failing deep inside ONNX Runtime.
    """
    bundle = Path(bundle_dir)
    if not bundle.exists():
        raise SenticlfError(f"model folder {bundle} does not exist")
    if not bundle.is_dir():
        raise SenticlfError(f"{bundle} is a file; --model expects an exported bundle folder")
    path = bundle / MANIFEST
    if not path.is_file():
        raise SenticlfError(
            f"{bundle} has no {MANIFEST}: not a senticlf bundle (create one with `senticlf export`)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SenticlfError(f"{path} is corrupted: {exc}") from None
    if not isinstance(data, dict):
        raise SenticlfError(f"{path} is corrupted: expected a JSON object")
    manifest = Manifest.from_dict(data, path)
    if verify:
        verify_files(bundle, manifest)
    return manifest


def verify_files(bundle: Path, manifest: Manifest) -> None:
    for name, expected in manifest.files.items():
        file = bundle / name
        if not file.is_file():
            raise SenticlfError(f"bundle {bundle} is incomplete: {name} is missing")
        if sha256_of(file) != expected:
            raise SenticlfError(
                f"bundle {bundle}: {name} does not match its sha256 in {MANIFEST} "
                "(truncated, corrupted or modified); export it again"
            )
