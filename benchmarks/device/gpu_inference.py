"""GPU inference: ORT fp16 and fp32 on CUDA against PyTorch eager, on one GPU.

    python -m benchmarks.device.gpu_inference --payload PAYLOAD --out OUT

Run on the device by benchmarks/device/run_gpu_session.sh (``inference``), with
onnxruntime-gpu first on PYTHONPATH; PAYLOAD is what ``gpu_plan prepare`` built. Measures:

- reviews/s of ORT fp16 and fp32 on CUDA (senticlf's own ModelRunner: I/O binding on) and
  PyTorch eager fp16 and bf16, for the DistilBERT-base shape (random weights, seeded) and the
  fine-tuned MiniLM stand-in, on the 2,000 test reviews truncated at 512 tokens and sorted by
  length, at batch 1, 32, 128 and at the token budget (batching.TOKEN_BUDGET);
- end to end (tokenization included), the stand-in bundle's SentimentClassifier on CUDA;
- fp16 vs fp32 on CUDA on the 2,000 reviews: accuracy, agreement, largest probability change;
- batch invariance of fp16 on CUDA: each review alone vs in the classifier's own batches,
  against fp16's tolerance (plan.INVARIANCE_TOLERANCE["fp16"]) and label flips.

``--allow-cpu`` runs the same code on the CPU provider (with ``--reviews`` small) to check the
script where no GPU is; its figures are not GPU figures and are marked so.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from benchmarks.common import internals, machine, records, results

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
BATCHES: tuple[int | str, ...] = (1, 32, 128, "budget")
MAX_LENGTH = 512
WEIGHT_STD = 0.02
Run = Callable[[list[list[int]]], np.ndarray]


def fill_weights(shape_dir: Path, seed: int = 0) -> None:
    """Write the external weight files ``gpu_plan.strip_weights`` left out: seeded N(0, 0.02)."""
    specs = json.loads((shape_dir / "weights.json").read_text())
    for spec in specs.values():
        rng = np.random.default_rng(seed)
        with open(shape_dir / spec["weights"], "wb") as handle:
            handle.truncate(spec["bytes"])
            for tensor in spec["tensors"]:
                count = tensor["length"] // np.dtype(tensor["dtype"]).itemsize
                values = rng.normal(0.0, WEIGHT_STD, count).astype(tensor["dtype"])
                handle.seek(tensor["offset"])
                handle.write(values.tobytes())


def reviews_per_s(run: Run, ids: list[list[int]], batch: int | str, alone_limit: int) -> float:
    sample = ids[:alone_limit] if batch == 1 else ids
    run(sorted(sample, key=len)[-2:])  # warm-up: kernels chosen, memory allocated
    start = time.perf_counter()
    if batch == "budget":
        internals.run_token_budget(sample, run)
    else:
        internals.run_length_sorted(sample, int(batch), run)
    return len(sample) / (time.perf_counter() - start)


def ort_run(model: Path, encoder: Any, providers: list[str]) -> tuple[Run, str]:
    runner = internals.onnx_runner(model, providers=providers)
    return (lambda batch: runner.logits(*encoder.pad(batch))), runner.provider


def torch_run(model: Any, encoder: Any, torch: Any) -> Run:
    def run(batch: list[list[int]]) -> np.ndarray:
        ids, mask = encoder.pad(batch)
        with torch.inference_mode():
            out = model(
                input_ids=torch.from_numpy(ids).cuda(), attention_mask=torch.from_numpy(mask).cuda()
            )
        return out.logits.float().cpu().numpy()

    return run


def torch_models(payload: Path, torch: Any) -> dict[str, Any]:
    """PyTorch eager models of both shapes (weights do not change speed; MiniLM's are the
    base encoder's, the head random)."""
    from transformers import (
        AutoModelForSequenceClassification,
        DistilBertConfig,
        DistilBertForSequenceClassification,
    )

    torch.manual_seed(0)
    return {
        "distilbert-shape": DistilBertForSequenceClassification(DistilBertConfig(num_labels=2)),
        "standin": AutoModelForSequenceClassification.from_pretrained(
            payload / "minilm", num_labels=2
        ),
    }


def speed_rows(
    payload: Path, ids: list[list[int]], encoder: Any, providers: list[str], alone_limit: int
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    models = {
        "distilbert-shape": payload / "distilbert-shape",
        "standin": payload / "standin",
    }
    for shape, folder in models.items():
        for precision, name in (("fp16", "model.fp16.onnx"), ("fp32", "model.onnx")):
            run, provider = ort_run(folder / name, encoder, providers)
            for batch in BATCHES:
                speed = reviews_per_s(run, ids, batch, alone_limit)
                rows.append(dict(shape=shape, engine=f"ORT {precision}", provider=provider,
                                 batch=batch, reviews_per_s=speed))  # fmt: skip
                print(rows[-1], flush=True)
    try:
        import torch
    except ImportError:
        return rows
    if not torch.cuda.is_available():
        return rows
    for shape, model in torch_models(payload, torch).items():
        for dtype_name in ("float16", "bfloat16"):
            typed = model.to("cuda", getattr(torch, dtype_name)).eval()
            run = torch_run(typed, encoder, torch)
            for batch in BATCHES:
                speed = reviews_per_s(run, ids, batch, alone_limit)
                rows.append(dict(shape=shape, engine=f"PyTorch eager {dtype_name}",
                                 provider="cuda", batch=batch, reviews_per_s=speed))  # fmt: skip
                print(rows[-1], flush=True)
        model.to("cpu")
    return rows


def quality(payload: Path, texts: list[str], labels: np.ndarray, device: str) -> dict[str, Any]:
    """fp16 vs fp32 of the stand-in bundle on ``device``, and fp16's batch invariance."""
    import senticlf

    half = senticlf.load(payload / "standin", device=device)
    full = senticlf.load(payload / "standin", device=device, quantized=False)
    start = time.perf_counter()
    p16 = half.probabilities(texts)
    end_to_end = len(texts) / (time.perf_counter() - start)
    p32 = full.probabilities(texts)
    alone = np.vstack([half.probabilities([t]) for t in texts])
    tolerance = internals.invariance_tolerance("fp16")
    change = float(np.max(np.abs(alone - p16)))
    return {
        "fp16_model": half.model_file,
        "device": half.device,
        "fp16_accuracy": float(np.mean(p16.argmax(1) == labels)),
        "fp32_accuracy": float(np.mean(p32.argmax(1) == labels)),
        "agreement": float(np.mean(p16.argmax(1) == p32.argmax(1))),
        "max_probability_difference_fp16_vs_fp32": float(np.max(np.abs(p16 - p32))),
        "end_to_end_fp16_reviews_per_s": end_to_end,
        "fp16_batch_size": half.batch_size,
        "fp16_token_budget": half.token_budget,
        "fp16_batch_profile": half.batch_profile.to_dict(),
        "invariance": {
            "max_probability_change_alone_vs_batched": change,
            "tolerance": tolerance,
            "label_flips": int(np.sum(alone.argmax(1) != p16.argmax(1))),
            "passes": change <= tolerance,
        },
    }


TITLE = "GPU inference: ONNX Runtime fp16 and fp32 on CUDA against PyTorch eager"


@dataclass(frozen=True)
class EngineSpeeds:
    """One engine on one model shape: reviews/s at each batch size it was timed at."""

    shape: str
    engine: str
    reviews_per_s: dict[int | str, float]


def _speed_cell(batch: int | str) -> Callable[[EngineSpeeds], str]:
    return lambda row: f"{row.reviews_per_s[batch]:,.0f}" if batch in row.reviews_per_s else "-"


COLUMNS: tuple[records.Column[EngineSpeeds], ...] = (
    records.Column("shape", lambda row: row.shape),
    records.Column("engine", lambda row: row.engine),
    *(records.Column(f"batch {b}", _speed_cell(b), right=True) for b in BATCHES),
)


def report(result: dict[str, Any]) -> list[results.Block]:
    keyed: dict[tuple[str, str], dict[int | str, float]] = {}
    for row in result["speed"]:
        keyed.setdefault((row["shape"], row["engine"]), {})[row["batch"]] = row["reviews_per_s"]
    rows = [EngineSpeeds(shape, engine, speeds) for (shape, engine), speeds in keyed.items()]
    q = result["quality"]
    return [
        "`bash benchmarks/device/run_gpu_session.sh inference` "
        f"({result['reviews']} test reviews, {MAX_LENGTH} tokens, length-sorted; "
        f"batch 1 on the first {result['alone_limit']})",
        records.Table(rows, COLUMNS),
        f"Stand-in on {q['device']}: fp16 accuracy {q['fp16_accuracy']:.2%}, fp32 "
        f"{q['fp32_accuracy']:.2%}, agreement {q['agreement']:.2%}, largest probability "
        f"difference {q['max_probability_difference_fp16_vs_fp32']:.1e}; end to end "
        f"{q['end_to_end_fp16_reviews_per_s']:,.0f} reviews/s.\n"
        f"Batch invariance (fp16): largest change alone vs batched "
        f"{q['invariance']['max_probability_change_alone_vs_batched']:.1e} (tolerance "
        f"{q['invariance']['tolerance']}), {q['invariance']['label_flips']} label flips.\n"
        f"Wall time of this script: {result['seconds']:.0f} s.",
    ]


@app.command()
def main(
    payload: Annotated[Path, typer.Option(help="gpu_plan's payload folder, unpacked.")],
    out: Annotated[Path, typer.Option(help="Folder for gpu-inference.{json,md}.")],
    reviews: Annotated[int, typer.Option(help="Test reviews used (at most 2,000).")] = 2000,
    alone_limit: Annotated[int, typer.Option(help="Reviews timed at batch 1.")] = 256,
    allow_cpu: Annotated[bool, typer.Option(help="Run on the CPU (script check only).")] = False,
) -> None:
    started = time.perf_counter()
    try:
        import torch  # loads CUDA's libraries into the process before onnxruntime needs them
    except ImportError:
        torch = None
    import onnxruntime as ort

    from senticlf import artifacts, data

    if hasattr(ort, "preload_dlls"):
        ort.preload_dlls()  # CUDA and cuDNN from the nvidia-* wheels PyTorch brought
    providers, has_cuda = internals.execution_providers()
    if not has_cuda and not allow_cpu:
        raise SystemExit(f"no CUDAExecutionProvider in {ort.__file__}; see run_gpu_session.sh")
    fill_weights(payload / "distilbert-shape")
    labelled = data.read_labelled(
        str(payload / "data" / "extra_eval.csv.gz"), list(artifacts.LABELS)
    )
    labelled = labelled[:reviews]
    texts = [r.text for r in labelled]
    labels = np.array([r.label for r in labelled])
    encoder = internals.encoder(payload / "standin" / artifacts.TOKENIZER, MAX_LENGTH, "head")
    ids = encoder.encode(texts)
    random.Random(0).shuffle(ids)  # batch 1 times a random sample, not the shortest reviews
    on_gpu = torch is not None and torch.cuda.is_available()
    gpu = torch.cuda.get_device_name(0) if on_gpu else "-"
    load = results.LoadWindow()
    result: dict[str, Any] = {
        "gpu": gpu,
        "onnxruntime": f"{ort.__version__} ({ort.__file__})",
        "measured_on_gpu": has_cuda,
        "reviews": len(texts),
        "mean_tokens": float(np.mean([len(i) for i in ids])),
        "alone_limit": alone_limit,
        "speed": speed_rows(payload, ids, encoder, providers, alone_limit),
        "quality": quality(payload, texts, labels, "cuda" if has_cuda else "cpu"),
    }
    load.close()
    result["seconds"] = time.perf_counter() - started
    on = machine.describe(gpu=gpu if on_gpu else None)
    text = results.write(
        "gpu-inference", result, report(result), title=TITLE, load=load, folder=out, machine=on
    )
    print(text)


if __name__ == "__main__":
    app()
