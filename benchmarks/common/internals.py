"""The one place the benchmarks reach into senticlf beyond its public API.

Benchmarks take models apart (export without fusing, quantize other ways, feed pre-padded
batches to one ONNX session) in ways ``senticlf.load`` does not offer, so they need some of
the package's internals: the exporter, the session runner, the review encoder, the training
entry points. They get them here, under names and signatures the benchmarks chose, so that a
refactor of the package changes this file and not a dozen commands.

What stays outside: the public API (``senticlf.load``, ``SentimentClassifier``), the contract
between stages (``senticlf.artifacts``), and the small leaf modules a benchmark computes or
writes with (``senticlf.cpu``, ``data``, ``atomic``, ``evaluation.*``: the measures themselves).
Heavy libraries are imported inside each function, so that a worker process that only runs
CTranslate2 or OpenVINO does not load ONNX Runtime or torch by importing this module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from senticlf import artifacts, cpu
from senticlf.export import quantize  # INT8 recipes (Variant, VARIANTS, LADDERS): no heavy import

if TYPE_CHECKING:
    from senticlf.runtime.session import ModelRunner
    from senticlf.runtime.tokenize import ReviewEncoder
    from senticlf.training.config import TrainConfig

__all__ = ["quantize"]

TokenIds = Sequence[int]  # one review's token ids
RunBatch = Callable[[list[TokenIds]], np.ndarray]  # a padded batch's logits


# ---------------------------------------------------------------------------- export


def fp32_onnx(model_dir: Path, folder: Path, optimize: bool = True, quiet: bool = True) -> Path:
    """``folder``/model.onnx (and tokenizer.json) exported from a PyTorch model folder;
    ``optimize`` fuses the transformer operators as ``senticlf export`` does."""
    from rich.console import Console

    from senticlf.export.bundle import export_fp32

    console = Console(quiet=True) if quiet else Console(stderr=True)
    return export_fp32(model_dir, folder, None, console, optimize=optimize)


def int8_onnx(fp32_model: Path, target: Path) -> artifacts.Int8Result:
    """Dynamic INT8 of ``fp32_model`` by the first recipe ``senticlf export`` tries on this CPU."""
    preset = cpu.int8_preset()
    name = quantize.LADDERS[preset][0]
    quantize.quantize(fp32_model, target, preset, name)
    return artifacts.Int8Result(preset, (), name)


def fp16_onnx(fp32_model: Path, target: Path) -> None:
    from senticlf.export import fp16

    fp16.convert(fp32_model, target)


def export_bundle(run_dir: Path, output: Path, fp16: bool = False) -> None:
    """``senticlf export RUN --output OUTPUT --overwrite [--fp16]``, in this process."""
    from rich.console import Console

    from senticlf.export.bundle import export_run
    from senticlf.export.options import ExportOptions

    export_run(run_dir, output, ExportOptions(fp16=fp16, overwrite=True), Console(stderr=True))


# ---------------------------------------------------------------------------- runtime


def onnx_runner(
    model: Path | str,
    threads: int | None = None,
    providers: Sequence[str] | None = None,
    spinning: bool = True,
) -> ModelRunner:
    """One ONNX Runtime session as the predictor opens it: ``.logits(ids, mask)``, ``.feed``
    (the graph's inputs by name) and ``.provider`` (the one that runs it). ``spinning=False``
    lets its intra-op threads sleep between calls, as the call plan's streams run them."""
    from senticlf.runtime.session import ModelRunner

    return ModelRunner(model, providers, threads, spinning=spinning)


def execution_providers() -> tuple[list[str], bool]:
    """The providers the predictor would ask for here, and whether CUDA is among them."""
    from senticlf.runtime.session import CUDA, default_providers

    providers = default_providers()
    return providers, CUDA in providers


def bundle_encoder(bundle: Path, verify: bool = True) -> ReviewEncoder:
    """The review encoder (tokenizer, max length, truncation) a bundle's predictor uses."""
    from senticlf.runtime.tokenize import ReviewEncoder

    return ReviewEncoder.for_bundle(bundle, artifacts.read_manifest(bundle, verify=verify))


def config_encoder(config: TrainConfig, tokenizer: Path) -> ReviewEncoder:
    """The encoder a training configuration implies, with ``tokenizer`` (a tokenizer.json)."""
    from senticlf.runtime.tokenize import ReviewEncoder

    return ReviewEncoder.load(config.encoder_settings(tokenizer))


def run_encoder(run_dir: Path, tokenizer: Path) -> ReviewEncoder:
    """The encoder of a finished run (its max length and truncation), with ``tokenizer``."""
    return config_encoder(train_config(run_dir), tokenizer)


def encoder(tokenizer: Path, max_length: int, truncation: str = "head") -> ReviewEncoder:
    from senticlf.runtime.tokenize import ReviewEncoder

    return ReviewEncoder.load(artifacts.EncoderSettings(tokenizer, max_length, truncation))


def softmax(logits: np.ndarray) -> np.ndarray:
    from senticlf.runtime.calibrator import softmax as runtime_softmax

    return runtime_softmax(logits)


def run_length_sorted(ids: Sequence[TokenIds], batch_size: int, run: RunBatch) -> np.ndarray:
    """``run`` over length-sorted batches of ``batch_size``, rows back in input order."""
    from senticlf.runtime.batching import run_length_sorted as batched

    return batched(ids, batch_size, run)


def token_budget() -> int:
    """The most padded tokens the predictor puts in one call on a GPU."""
    from senticlf.runtime.batching import TOKEN_BUDGET

    return TOKEN_BUDGET


def run_token_budget(ids: Sequence[TokenIds], run: RunBatch) -> np.ndarray:
    """``run`` over batches of at most :func:`token_budget` padded tokens, as on a GPU."""
    from senticlf.runtime.batching import TOKEN_BUDGET
    from senticlf.runtime.batching import run_token_budget as batched

    return batched(ids, TOKEN_BUDGET, len(ids), run)


def candidate_batch_sizes() -> tuple[int, ...]:
    """The batch sizes the runtime tries on the CPU (the plan's invariance test)."""
    from senticlf.runtime.plan import CANDIDATE_BATCH_SIZES

    return tuple(CANDIDATE_BATCH_SIZES)


def invariance_tolerance(precision: str) -> float:
    """The largest probability change the runtime still counts as the same answer."""
    from senticlf.runtime.plan import INVARIANCE_TOLERANCE

    return INVARIANCE_TOLERANCE[precision]


def predict_csv(classifier: Any, source: Path, output: Path) -> None:
    """``senticlf predict SOURCE --format csv --output OUTPUT`` with a loaded classifier."""
    from rich.console import Console

    from senticlf.runtime.predict_file import FilePredictionRequest, predict_file

    request = FilePredictionRequest(str(source), "csv", output)
    predict_file(request, classifier, Console(quiet=True))


def ray_label_column() -> str:
    """The column Ray Data predictions carry their label in."""
    from senticlf.scale.ray_data import LABEL_COLUMN

    return LABEL_COLUMN


# ---------------------------------------------------------------------------- training


def train_config(run_dir: Path | None = None, **settings: Any) -> TrainConfig:
    """A finished run's configuration, or a new one from ``settings`` (validated)."""
    from senticlf.training.config import TrainConfig

    return TrainConfig.load(run_dir) if run_dir is not None else TrainConfig(**settings)


def train(config: TrainConfig, run_dir: Path) -> dict[str, Any]:
    """``senticlf train`` in this process, quietly; returns the run's metrics."""
    from rich.console import Console

    from senticlf.training.trainer import train as run_training

    return run_training(config, run_dir, console=Console(quiet=True))


def torch_logits(model: Any, encoder: ReviewEncoder, ids: list[list[int]]) -> np.ndarray:
    """Logits of a PyTorch classifier on token ids, batched as training's evaluation does."""
    from senticlf.training.inference import predict_logits

    return predict_logits(model, encoder, ids)
