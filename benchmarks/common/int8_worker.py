"""Time one model alone in its own process: are interleaved numbers depressed by neighbours?

    python -m benchmarks.common.int8_worker MODEL BATCHES.npz --threads 2 --rounds 2 [--provider openvino]
    python -m benchmarks.common.int8_worker TORCH_MODEL_DIR BATCHES.npz --torch

Reads pre-tokenized batches (written by benchmarks.int8_variants) and prints one JSON line.
Imports numpy and onnxruntime only (torch with --torch), so that it also runs in a throw-away
environment holding onnxruntime-openvino, whose ``onnxruntime`` module would replace ours.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

Batch = tuple[np.ndarray, np.ndarray]
Logits = Callable[[np.ndarray, np.ndarray], np.ndarray]


def load_batches(path: Path) -> dict[str, list[Batch]]:
    """``{"8": [(ids, mask), ...], "1": [...]}`` from the npz written by ``save_batches``."""
    arrays = np.load(path)
    found: dict[str, list[Batch]] = {}
    for key in sorted(arrays.files, key=lambda k: int(k.split("_")[1])):
        size, index, kind = key.split("_")
        if kind == "ids":
            found.setdefault(size, []).append((arrays[key], arrays[f"{size}_{index}_mask"]))
    return found


def save_batches(path: Path, batches: dict[str, list[Batch]]) -> None:
    arrays = {}
    for size, items in batches.items():
        for i, (ids, mask) in enumerate(items):
            arrays[f"{size}_{i}_ids"], arrays[f"{size}_{i}_mask"] = ids, mask
    np.savez(path, **arrays)


def onnx_logits(model: Path, threads: int, provider: str) -> Logits:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    if provider == "openvino":
        providers: list = [
            ("OpenVINOExecutionProvider", {"device_type": "CPU", "num_of_threads": str(threads)}),
            "CPUExecutionProvider",
        ]
    else:
        providers = ["CPUExecutionProvider"]
    session = ort.InferenceSession(str(model), sess_options=options, providers=providers)
    names = [i.name for i in session.get_inputs()]

    def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return session.run(None, {n: feed[n] for n in names})[0]

    return run


def torch_logits(model_dir: Path, threads: int) -> Logits:
    import torch
    from transformers import AutoModelForSequenceClassification

    torch.set_num_threads(threads)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()

    def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
        return out.logits.float().numpy()

    return run


def reviews_per_s(run: Logits, batches: list[Batch]) -> float:
    start = time.perf_counter()
    for ids, mask in batches:
        run(ids, mask)
    return sum(len(ids) for ids, _ in batches) / (time.perf_counter() - start)


def latencies_ms(run: Logits, singles: list[Batch]) -> list[float]:
    times = []
    for ids, mask in singles:
        start = time.perf_counter()
        run(ids, mask)
        times.append(1000 * (time.perf_counter() - start))
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", type=Path)
    parser.add_argument("batches", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--provider", default="cpu", choices=("cpu", "openvino"))
    parser.add_argument("--torch", action="store_true")
    args = parser.parse_args()
    batches = load_batches(args.batches)
    run = (
        torch_logits(args.model, args.threads)
        if args.torch
        else onnx_logits(args.model, args.threads, args.provider)
    )
    run(*batches["8"][-1])  # warm-up: the longest batch allocates the most
    speeds = [reviews_per_s(run, batches["8"]) for _ in range(args.rounds)]
    single = latencies_ms(run, batches.get("1", []))
    result = {"batch8_reviews_per_s": statistics.median(speeds), "batch8_rounds": speeds}
    if single:
        result["batch1_median_ms"] = statistics.median(single)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
