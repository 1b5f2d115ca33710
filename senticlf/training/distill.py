"""Distil a finished run (the teacher) into a smaller student, as DistilBERT did to BERT.

The student starts from the teacher itself, keeping N of its layers spread over the depth
(embeddings, head and those layers copied), or from any encoder that shares the teacher's
vocabulary. It learns from the teacher's temperature-softened distribution mixed with the hard
labels; reviews without a label (``--unlabelled``) learn from the teacher alone. The teacher's
logits are computed once, by its PyTorch weights or by its exported ONNX bundle
(``--teacher-bundle``, several times faster on a CPU), and cached in the run folder with what
produced them, so a resumed run does not recompute them. Everything else (loop, checkpoints,
resume, report) is ``train``'s, via trainer.fit: the result is an ordinary run folder that
export, predict and evaluate take unchanged.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from rich.console import Console

from senticlf import artifacts, atomic, data
from senticlf.errors import SenticlfError
from senticlf.runtime.tokenize import ReviewEncoder
from senticlf.training import run_folder, trainer
from senticlf.training.config import TrainConfig
from senticlf.training.inference import predict_logits

# Where each family keeps its transformer layers and its layer count.
_LAYER_PATHS = {
    "bert": ("bert.encoder.layer", "num_hidden_layers"),
    "distilbert": ("distilbert.transformer.layer", "n_layers"),
}


@dataclass
class DistillConfig(TrainConfig):
    """A training config plus the teacher and how to learn from it, saved as the run's config.

    It is a TrainConfig (``data``/``eval_data`` point at the teacher's subsets, ``base_model``
    at the student's starting point), so ``export`` and ``--resume`` read it like any run's.
    """

    command: ClassVar[str] = "distill"

    teacher: str = ""
    layers: int | None = None  # keep this many of the teacher's layers (None with --student)
    student: str | None = None  # or start from this encoder (same vocabulary as the teacher)
    temperature: float = 2.0
    alpha: float = 0.5  # weight of the teacher's soft targets; 1 - alpha on the hard labels
    unlabelled: str | None = None
    teacher_bundle: str | None = None  # label with this export of the teacher (ONNX)
    # Written when the run is created, for config.json and the model card: what it learnt from.
    teacher_sha256: str = ""
    transfer_set: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.teacher:
            raise SenticlfError("distill needs a teacher run folder")
        if self.layers is not None and self.student is not None:
            raise SenticlfError("pass --layers or --student, not both")
        if not self.temperature > 0:
            raise SenticlfError(f"--temperature must be > 0, got {self.temperature}")
        if not 0 <= self.alpha <= 1:
            raise SenticlfError(f"--alpha must be in [0, 1], got {self.alpha}")
        if self.unlabelled is not None and self.alpha == 0:
            raise SenticlfError(
                "--unlabelled texts learn only from the teacher, which --alpha 0 switches off"
            )


def config_from_teacher(teacher_dir: Path, **options: Any) -> DistillConfig:
    """The teacher's recipe and subsets, with the options given (None: keep the teacher's)."""
    teacher_config, _ = run_folder.finished_run(teacher_dir)
    settings = teacher_config.to_dict()
    settings.update(
        data=str(teacher_dir / artifacts.RUN_TRAIN_CSV),
        eval_data=str(teacher_dir / artifacts.RUN_VAL_CSV),
        text_column=None,
        label_column=None,
        train_size=None,
        val_size=None,
        teacher=str(teacher_dir),
    )
    settings.update({k: v for k, v in options.items() if v is not None})
    if settings.get("student") is None:
        if settings.get("layers") is None:
            depth = teacher_depth(teacher_dir)
            settings["layers"] = max(1, depth // 2)  # DistilBERT's ratio
        settings["base_model"] = str(teacher_dir / artifacts.RUN_MODEL_DIR)
    else:
        settings["base_model"] = settings["student"]
    return DistillConfig.from_dict(settings)


def distill(
    config: DistillConfig,
    run_dir: Path,
    resume: bool = False,
    overwrite: bool = False,
    console: Console | None = None,
) -> dict[str, Any]:
    """Run one distillation into ``run_dir`` and return its metrics."""
    console = console or Console(stderr=True)
    started = time.perf_counter()
    teacher_dir = Path(config.teacher)
    teacher_config, teacher_metrics = run_folder.finished_run(teacher_dir)
    unlabelled = read_unlabelled(Path(config.unlabelled)) if config.unlabelled else []
    producer = logit_producer(teacher_dir, teacher_config, teacher_metrics, config)
    config.teacher_sha256 = teacher_weights_sha256(teacher_dir)
    layers = config.layers

    def record_transfer_set(train_rows: list[data.Review]) -> None:
        config.transfer_set = transfer_record(config, len(train_rows), len(unlabelled), producer)

    prepared = trainer.prepare(
        config, run_dir, resume, overwrite, console,
        check_tokenizer=lambda tokenizer: check_same_vocabulary(
            tokenizer, teacher_dir, config.base_model
        ),
        build_model=None if layers is None else (
            lambda: student_from_teacher(teacher_dir / artifacts.RUN_MODEL_DIR, layers)
        ),
        before_create=record_transfer_set,
    )  # fmt: skip
    texts = [row.text for row in prepared.train_rows] + unlabelled
    logits = cached_teacher_logits(run_dir, teacher_dir, texts, producer, console, config)
    no_labels = [trainer.IGNORED_LABEL] * len(unlabelled)
    prepared.train_set += trainer.encode_texts(prepared.encoder, unlabelled, no_labels)
    for row, row_logits in zip(prepared.train_set, logits.tolist(), strict=True):
        row["teacher_logits"] = row_logits
    prepared.trainer_class = _trainer_class(config.temperature, config.alpha)
    prepared.extra_metrics = {
        "teacher": {
            "run": str(teacher_dir),
            "sha256": config.teacher_sha256,
            "val_accuracy": teacher_metrics.get("best", {}).get("val_accuracy"),
            "logits_from": producer,
        },
        "student_layers": student_depth(prepared.model),
        "unlabelled_size": len(unlabelled),
    }
    return trainer.fit(config, run_dir, prepared, resume, console, started)


# ---------------------------------------------------------------------------- the student


def _family(model_config: Any) -> tuple[str, str]:
    paths = _LAYER_PATHS.get(getattr(model_config, "model_type", ""))
    if paths is None:
        raise SenticlfError(
            f"--layers supports BERT- and DistilBERT-family teachers, not "
            f"{model_config.model_type!r}; pass --student with a smaller encoder instead"
        )
    return paths


def teacher_depth(teacher_dir: Path) -> int:
    from transformers import AutoConfig

    model_config = AutoConfig.from_pretrained(teacher_dir / artifacts.RUN_MODEL_DIR)
    return int(getattr(model_config, _family(model_config)[1]))


def student_depth(model: Any) -> int | None:
    """The student's layer count where its family is known (any --student may be given)."""
    paths = _LAYER_PATHS.get(getattr(model.config, "model_type", ""))
    return int(getattr(model.config, paths[1])) if paths else None


def spread_layers(depth: int, keep: int) -> list[int]:
    """``keep`` layer indices spread evenly from the first to the last of ``depth``.

    6 of 12 gives 0, 2, 4, 7, 9, 11: exactly the layers DistilBERT kept from BERT-base. The
    last layer always stays, since the classification head was trained on its output.
    """
    if keep == 1:
        return [depth - 1]
    return [round(i * (depth - 1) / (keep - 1)) for i in range(keep)]


def student_from_teacher(model_dir: Path, keep: int) -> Any:
    """The teacher with only ``keep`` of its layers: embeddings, head and layers copied."""
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, use_safetensors=True, dtype=torch.float32
    )
    path, count_field = _family(model.config)
    holder = model.get_submodule(path.rsplit(".", 1)[0])
    layers = getattr(holder, path.rsplit(".", 1)[1])
    if not 1 <= keep <= len(layers):  # the one range check of --layers (a resume comes here too)
        raise SenticlfError(
            f"--layers must be between 1 and {len(layers)} (the teacher's layers), got {keep}"
        )
    kept = spread_layers(len(layers), keep)
    setattr(holder, path.rsplit(".", 1)[1], torch.nn.ModuleList([layers[i] for i in kept]))
    setattr(model.config, count_field, keep)
    model.config.distilled_from_layers = kept  # recorded in model/config.json
    return model


def check_same_vocabulary(tokenizer: Any, teacher_dir: Path, student: str) -> None:
    """Teacher logits are computed on the teacher's tokens: the student must see the same."""
    from transformers import AutoTokenizer

    teacher_tokenizer = AutoTokenizer.from_pretrained(teacher_dir / artifacts.RUN_MODEL_DIR)
    if tokenizer.get_vocab() != teacher_tokenizer.get_vocab():
        raise SenticlfError(
            f"student {student} has a different vocabulary from the teacher {teacher_dir} "
            f"({len(tokenizer.get_vocab())} vs {len(teacher_tokenizer.get_vocab())} tokens); "
            "pick a student with the teacher's tokenizer"
        )


# ---------------------------------------------------------------------------- the loss


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    temperature: float,
    alpha: float,
) -> torch.Tensor:
    """alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * cross-entropy on the labels.

    T^2 keeps the soft term's gradients on the scale of the hard term's whatever T is
    (Hinton et al., 2015). The KL is averaged over every review; the cross-entropy over the
    reviews that have a label (IGNORED_LABEL marks those the teacher alone labels).
    """
    log_student = F.log_softmax(student_logits / temperature, dim=-1)
    log_teacher = F.log_softmax(teacher_logits / temperature, dim=-1)
    soft = F.kl_div(log_student, log_teacher, reduction="batchmean", log_target=True)
    known = labels != trainer.IGNORED_LABEL
    hard = (
        F.cross_entropy(student_logits[known], labels[known])
        if bool(known.any())
        else student_logits.sum() * 0.0
    )
    return alpha * temperature**2 * soft + (1 - alpha) * hard


def _trainer_class(temperature: float, alpha: float) -> type:
    class DistillationTrainer(trainer.AccuracyTrackingTrainer):
        """Training steps learn from the teacher; evaluation keeps plain cross-entropy."""

        def loss_and_outputs(self, model, inputs, **kwargs):
            if "teacher_logits" not in inputs:  # validation batches: the usual loss
                return super().loss_and_outputs(model, inputs, **kwargs)
            inputs = dict(inputs)
            teacher_logits = inputs.pop("teacher_logits")
            labels = inputs.pop("labels")
            outputs = model(**inputs)
            loss = distillation_loss(
                outputs.logits, teacher_logits.to(outputs.logits.dtype), labels, temperature, alpha
            )
            return loss, outputs

    return DistillationTrainer


# ---------------------------------------------------------------------------- teacher logits


def teacher_weights_sha256(teacher_dir: Path) -> str:
    return artifacts.sha256_of(teacher_dir / artifacts.RUN_MODEL_DIR / artifacts.WEIGHTS)


def transfer_record(
    config: DistillConfig, labelled: int, unlabelled: int, producer: dict[str, str]
) -> dict[str, Any]:
    """What the student learnt from, as config.json and the model card state it."""
    return {
        "size": labelled + unlabelled,
        "labelled": labelled,
        "unlabelled": unlabelled,
        "source": config.unlabelled,
        "max_length": config.max_length,
        "logits_from": producer,
    }


def logit_producer(
    teacher_dir: Path,
    teacher_config: TrainConfig,
    teacher_metrics: dict[str, Any],
    config: DistillConfig,
) -> dict[str, str]:
    """The model file that labels the texts, by path and sha256 (the logit cache records it).

    A bundle is checked against the teacher run first: logits from another model, or from the
    teacher reading other tokens, would teach the student something the run does not say.
    """
    if config.teacher_bundle is None:
        weights = teacher_dir / artifacts.RUN_MODEL_DIR / artifacts.WEIGHTS
        return _producer("pytorch", weights, artifacts.sha256_of(weights))
    bundle_dir, model_file = resolve_bundle(Path(config.teacher_bundle))
    manifest = artifacts.read_manifest(bundle_dir, verify=True)
    check_bundle_matches(bundle_dir, manifest, teacher_dir, teacher_config, teacher_metrics)
    return _producer("onnx", bundle_dir / model_file, manifest.files[model_file])


def _producer(kind: str, path: Path, sha256: str) -> dict[str, str]:
    """The file's name and hash identify it (the fingerprint); its path is for people."""
    return {"kind": kind, "file": path.name, "sha256": sha256, "path": str(path)}


def resolve_bundle(path: Path) -> tuple[Path, str]:
    """A bundle folder (its INT8 model when it has one) or one of its two ONNX files."""
    if path.is_file() and path.name in (artifacts.INT8_MODEL, artifacts.FP32_MODEL):
        return path.parent, path.name
    if not (path / artifacts.MANIFEST).is_file():
        raise SenticlfError(
            f"--teacher-bundle {path} is not a bundle from `senticlf export` (no "
            f"{artifacts.MANIFEST}) nor its {artifacts.INT8_MODEL} or {artifacts.FP32_MODEL}"
        )
    has_int8 = (path / artifacts.INT8_MODEL).is_file()
    return path, artifacts.INT8_MODEL if has_int8 else artifacts.FP32_MODEL


def check_bundle_matches(
    bundle_dir: Path,
    manifest: artifacts.Manifest,
    teacher_dir: Path,
    teacher_config: TrainConfig,
    teacher_metrics: dict[str, Any],
) -> None:
    """The bundle must be this teacher, reading reviews with its tokens, length and labels."""
    from tokenizers import Tokenizer

    def refuse(what: str) -> None:
        raise SenticlfError(
            f"--teacher-bundle {bundle_dir} does not match the teacher run {teacher_dir}: "
            f"{what}; export the teacher with: senticlf export {teacher_dir} --quantize"
        )

    if list(manifest.labels) != list(teacher_config.label_names):
        refuse(f"labels {manifest.labels} vs {list(teacher_config.label_names)}")
    reading = (manifest.max_length, manifest.truncation)
    trained = (teacher_config.max_length, teacher_config.truncation)
    if reading != trained:
        refuse(f"it reads {reading} (tokens, truncation), the teacher was trained on {trained}")
    bundle_vocab = Tokenizer.from_file(str(bundle_dir / artifacts.TOKENIZER)).get_vocab()
    run_tokenizer = teacher_dir / artifacts.RUN_MODEL_DIR / artifacts.TOKENIZER
    if bundle_vocab != Tokenizer.from_file(str(run_tokenizer)).get_vocab():
        refuse("its tokenizer has another vocabulary")
    keys = ("best_epoch", "best", "train_size", "val_size")
    if manifest.training_metrics != {k: teacher_metrics.get(k) for k in keys}:
        refuse("it was exported from another run (its training metrics differ)")


def cached_teacher_logits(
    run_dir: Path,
    teacher_dir: Path,
    texts: list[str],
    producer: dict[str, str],
    console: Console,
    config: DistillConfig,
) -> np.ndarray:
    """The teacher's logits for ``texts``, from the run's cache when it holds exactly these.

    The cache records the teacher's weights, the texts and the model file that produced the
    logits (PyTorch weights or a bundle's ONNX file, with its sha256): a change to any of
    them (a re-exported bundle, a retrained teacher, other texts) recomputes the logits.
    """
    cache = run_dir / artifacts.RUN_TEACHER_LOGITS
    teacher_sha256 = teacher_weights_sha256(teacher_dir)
    fingerprint = _fingerprint(teacher_sha256, texts, producer)
    if cache.is_file():
        with np.load(cache) as stored:
            if str(stored["fingerprint"]) == fingerprint:
                console.print(f"teacher logits: reusing {cache}")
                return np.asarray(stored["logits"])
    console.print(f"teacher logits: scoring {len(texts)} reviews with {producer['path']}")
    logits = teacher_logits(teacher_dir, texts, config, console)
    with atomic.atomic_open(cache, "wb") as handle:
        np.savez(
            handle,
            logits=logits,
            fingerprint=np.array(fingerprint),
            producer=np.array(json.dumps(producer, sort_keys=True)),
            teacher_sha256=np.array(teacher_sha256),
        )
    return logits


def teacher_logits(
    teacher_dir: Path, texts: list[str], config: DistillConfig, console: Console | None = None
) -> np.ndarray:
    """The teacher reads each review as it was trained to: its own length and truncation."""
    if config.teacher_bundle is not None:
        return bundle_logits(Path(config.teacher_bundle), texts, console)
    from transformers import AutoModelForSequenceClassification

    teacher_config = TrainConfig.load(teacher_dir)
    model_dir = teacher_dir / artifacts.RUN_MODEL_DIR
    encoder = ReviewEncoder.load(teacher_config.encoder_settings(model_dir / artifacts.TOKENIZER))
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, use_safetensors=True, dtype=torch.float32
    )
    if not trainer.use_cpu(config.device):
        model = model.cuda()
    return predict_logits(model, encoder, encoder.encode(texts)).astype(np.float32)


def bundle_logits(path: Path, texts: list[str], console: Console | None = None) -> np.ndarray:
    """The bundle's raw logits (no temperature): what the teacher's PyTorch model gives, with a
    progress bar (a transfer set of thousands of reviews takes minutes on a CPU)."""
    from senticlf.evaluation.scoring import run_logits
    from senticlf.runtime.options import PredictorOptions
    from senticlf.runtime.predictor import SentimentClassifier

    bundle_dir, model_file = resolve_bundle(path)
    options = PredictorOptions(quantized=model_file == artifacts.INT8_MODEL)
    classifier = SentimentClassifier(bundle_dir, options)
    logits, _ = run_logits(classifier, texts, console or Console(quiet=True))
    return logits.astype(np.float32)


def _fingerprint(teacher_sha256: str, texts: list[str], producer: dict[str, str]) -> str:
    """Changes when the teacher's weights, the producing model file or the texts do."""
    digest = hashlib.sha256(teacher_sha256.encode())
    digest.update(f"{producer['kind']} {producer['file']} {producer['sha256']}".encode())
    for text in texts:
        digest.update(hashlib.sha256(text.encode("utf-8")).digest())
    return digest.hexdigest()


def read_unlabelled(path: Path) -> list[str]:
    """Texts only the teacher labels: one per line, any table ``predict`` reads (gzipped too),
    or the ``train/unsup/`` reviews of an aclImdb folder or archive."""
    from senticlf import tables
    from senticlf.runtime.inputs import read_inputs

    if data.looks_like_aclimdb(path):
        return data.read_aclimdb_unlabelled(path)
    tables.check(path)
    texts = [item.text for item in read_inputs(str(path)) if item.text is not None]
    if not texts:
        raise SenticlfError(f"--unlabelled {path} holds no text")
    return texts
