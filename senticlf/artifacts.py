"""The contract between the stages: file names, the bundle manifest, and how both are checked.

Training writes a run folder, export turns it into a bundle, the runtime loads the bundle.
Each stage knows the others only through the names and the manifest defined here, which is
why this module (like ``runtime/``) imports nothing heavier than the standard library.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
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

# Bundle folder (written by `senticlf export`, read by the runtime).
MANIFEST = "senticlf.json"
FP32_MODEL = "model.onnx"
INT8_MODEL = "model.int8.onnx"
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


def sha256_of(path: Path) -> str:
    """Hash in 1 MiB blocks so that a large model never sits in memory twice."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
    export_check: dict[str, Any] = field(default_factory=dict)
    quantization: dict[str, Any] | None = None
    # Temperature scaling: logits are divided by this before the softmax (1.0: uncalibrated).
    # Kept beside ``calibration`` (its nearest single temperature) for older readers.
    temperature: float = 1.0
    # The calibrator (senticlf.evaluation.calibration.Calibrator.to_dict); None in bundles
    # from before it existed, which are calibrated by ``temperature`` alone.
    calibration: dict[str, Any] | None = None
    format: int = MANIFEST_FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: Path) -> Manifest:
        known = set(cls.__dataclass_fields__)
        missing = [name for name in ("max_length", "truncation", "files") if name not in data]
        if missing:
            raise SenticlfError(f"{source} is not a senticlf manifest: missing {missing}")
        manifest = cls(**{k: v for k, v in data.items() if k in known})
        check_truncation(manifest.truncation, option=f"{source}: truncation")
        if not manifest.temperature > 0:
            raise SenticlfError(f"{source}: temperature must be > 0, got {manifest.temperature}")
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
