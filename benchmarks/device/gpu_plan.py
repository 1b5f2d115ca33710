"""Plan the GPU inference session: build its payload here, print its calls.

    python -m benchmarks.device.gpu_plan prepare --wheel WHEEL --run ../shared/runs/minilm-imdb-1k
    python -m benchmarks.device.gpu_plan calls        # the device calls, in order, as JSON

The device image has PyTorch (CUDA 13) and onnxruntime 1.30 for the CPU only, and installs
nothing from a registry. Everything the benchmark needs that it lacks travels as one tar
stream split into parts small enough for one call each (a call carries 64 MiB in all,
working tree included):

- the onnxruntime-gpu 1.31.1 wheel for CUDA 13 / Python 3.12 (256 MB, manylinux_2_28);
- the fine-tuned stand-in exported here by ``senticlf export --fp16`` (fp32 and fp16 ONNX);
- the DistilBERT-base shape as fused fp32 and fp16 ONNX graphs *without* their weights
  (speed does not depend on them): each large float initializer points into an external
  file that ``gpu_inference`` fills with seeded random values on the device;
- the reference subsets and 2,000 disjoint test reviews, and the MiniLM base encoder
  (``prepare_device_data``'s ``.device/``), for ``senticlf train`` and PyTorch eager.

Each part goes in its own call, back to back: a warm machine keeps /tmp for 30 s after a
call, so every call first stashes its part under /tmp/gpu-payload; the last one joins,
checks the sha256, installs the wheel with ``pip install --no-deps --target`` and runs the
benchmark (benchmarks/device/run_gpu_session.sh).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True)

ROOT = Path(".device")
PARTS = ROOT / "gpu-parts"  # git-ignored (.device/)
STAGE = ROOT / "gpu-payload"
# Below the 64 MiB a call carries, leaving room for the working tree (~2 MiB).
PART_BYTES = 56 * 2**20
DATA_FILES = ("ref_train.csv.gz", "ref_val.csv.gz", "extra_eval.csv.gz")
SHAPE_DIR = "distilbert-shape"
STANDIN_DIR = "standin"
# Large float initializers become external data (filled on the device); small ones and every
# integer tensor (shapes, indices) stay in the graph as they are.
STRIP_MIN_ELEMENTS = 1024
ALIGN = 4096


def strip_weights(model_path: Path, out_dir: Path, weights_name: str) -> dict[str, Any]:
    """Save ``model_path`` to ``out_dir`` with its large float initializers made external,
    pointing into ``weights_name`` (not written); returns the spec to fill it with."""
    import numpy as np
    import onnx

    model = onnx.load(model_path)
    dtypes = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.FLOAT16: "float16"}
    tensors, offset = [], 0
    for tensor in model.graph.initializer:
        count = int(np.prod(tensor.dims)) if tensor.dims else 1
        if tensor.data_type not in dtypes or count < STRIP_MIN_ELEMENTS:
            continue
        dtype = dtypes[tensor.data_type]
        length = count * np.dtype(dtype).itemsize
        for field in ("raw_data", "float_data", "int32_data"):
            tensor.ClearField(field)
        tensor.data_location = onnx.TensorProto.EXTERNAL
        del tensor.external_data[:]
        for key, value in (("location", weights_name), ("offset", offset), ("length", length)):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, str(value)
        tensors.append({"name": tensor.name, "dtype": dtype, "offset": offset, "length": length})
        offset += -(-length // ALIGN) * ALIGN
    out_dir.mkdir(parents=True, exist_ok=True)
    # Raw bytes: onnx.save would try to read (and validate) the external file.
    (out_dir / model_path.name).write_bytes(model.SerializeToString())
    return {"weights": weights_name, "bytes": offset, "tensors": tensors}


def _shape_graphs(minilm: Path, out_dir: Path) -> None:
    """DistilBERT-base with random weights, exported and fused like a bundle, then fp16."""
    import tempfile

    import torch
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    from benchmarks.common import internals

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = Path(scratch) / "model"
        DistilBertForSequenceClassification(DistilBertConfig(num_labels=2)).save_pretrained(
            model_dir
        )
        for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
            shutil.copy(minilm / name, model_dir / name)  # BERT uncased vocabulary, as DistilBERT's
        staging = Path(scratch) / "bundle"
        staging.mkdir()
        fp32_path = internals.fp32_onnx(model_dir, staging, quiet=False)
        fp16_path = staging / "model.fp16.onnx"
        internals.fp16_onnx(fp32_path, fp16_path)
        specs = {
            "model.onnx": strip_weights(fp32_path, out_dir, "weights.fp32.bin"),
            "model.fp16.onnx": strip_weights(fp16_path, out_dir, "weights.fp16.bin"),
        }
    (out_dir / "weights.json").write_text(json.dumps(specs, indent=1) + "\n")


@app.command()
def prepare(
    wheel: Annotated[Path, typer.Option(help="onnxruntime_gpu-1.31.1-cp312-...whl")],
    run: Annotated[Path, typer.Option(help="The fine-tuned stand-in's run folder.")],
    device_data: Annotated[
        Path, typer.Option(help="prepare_device_data's folder (data/, minilm/).")
    ] = ROOT,
) -> None:
    """Build the payload (stand-in export, shape graphs, data, wheel) and split it."""
    from benchmarks.common import internals

    shutil.rmtree(STAGE, ignore_errors=True)
    STAGE.mkdir(parents=True)
    internals.export_bundle(run, STAGE / STANDIN_DIR, fp16=True)
    _shape_graphs(device_data / "minilm", STAGE / SHAPE_DIR)
    shutil.copytree(device_data / "minilm", STAGE / "minilm")
    (STAGE / "data").mkdir()
    for name in DATA_FILES:
        shutil.copy(device_data / "data" / name, STAGE / "data" / name)
    shutil.copy(wheel, STAGE / wheel.name)
    split(STAGE, PARTS)


def split(stage: Path, parts_dir: Path) -> list[Path]:
    """``stage`` as one uncompressed tar (the wheel and the ONNX weights do not compress),
    in parts of :data:`PART_BYTES`, with the whole stream's sha256 beside them."""
    shutil.rmtree(parts_dir, ignore_errors=True)
    parts_dir.mkdir(parents=True)
    stream = parts_dir / "payload.tar"
    with tarfile.open(stream, "w") as archive:
        archive.add(stage, arcname="payload")
    digest = hashlib.sha256()
    parts = []
    with open(stream, "rb") as handle:
        while block := handle.read(PART_BYTES):
            digest.update(block)
            part = parts_dir / f"part-{len(parts):02d}"
            part.write_bytes(block)
            parts.append(part)
    stream.unlink()
    (parts_dir / "SHA256").write_text(f"{digest.hexdigest()}  payload.tar\n")
    return parts


def device_calls(parts: list[str]) -> list[dict[str, Any]]:
    """The device tool's calls in order: one part each, the last also installs and runs."""
    calls = []
    script = "bash benchmarks/device/run_gpu_session.sh"
    for index, part in enumerate(parts):
        carry = [part] + ([f"{PARTS}/SHA256"] if index == len(parts) - 1 else [])
        last = index == len(parts) - 1
        command = f"{script} stash {part}" + (f" && {script} inference" if last else "")
        calls.append({"command": command, "carry": carry, "timeout_s": 480 if last else 60})
    calls.append({"command": f"{script} train", "carry": [], "timeout_s": 420})
    return calls


@app.command()
def calls() -> None:
    """Print the device calls, in order, as JSON (make them back to back: /tmp lives 30 s)."""
    parts = sorted(str(p) for p in PARTS.glob("part-*"))
    if not parts:
        raise SystemExit(f"no parts under {PARTS}: run `prepare` first")
    print(json.dumps(device_calls(parts), indent=1))


if __name__ == "__main__":
    app()
