"""Child process of benchmarks.engines: one engine alone, or every engine interleaved.

    python -m benchmarks.common.engines_worker alone SPEC.json BATCHES.npz OUT --threads 2 --rounds 2
    python -m benchmarks.common.engines_worker interleaved SPECS.json BATCHES.npz OUT --threads 2

An engine is a JSON spec (``kind``: ort, openvino, ct2 or torch, plus its files and options);
each kind imports its own library only, so that one engine's runtime never shares a process
with another's unless asked (``interleaved``). The batches are pre-padded by the parent from
the same token ids for every engine (benchmarks.int8_worker's npz format): ``s1``/``s8``/``s32``
length-sorted, ``x8``/``x32`` the same reviews shuffled, ``e8`` the further test reviews.
``alone`` prints ``first-answer`` as soon as its first review is classified (the parent times
the cold start up to that line), then writes OUT.json (timings, peak RSS) and OUT.npz (logits
per batch key, in batch order).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common.coldstart import peak_rss_kb
from benchmarks.common.int8_worker import Batch, Logits, load_batches, reviews_per_s, torch_logits

TIMED = ("s1", "s8", "s32")  # length-sorted batches of 1, 8 and 32: the speed figures


def ort_logits(spec: dict[str, Any], threads: int) -> Logits:
    from benchmarks.common import internals

    return internals.onnx_runner(spec["model"], threads).logits


def openvino_logits(spec: dict[str, Any], threads: int) -> Logits:
    """OpenVINO's own runtime on an ONNX file or IR, with dynamic shapes and one stream.

    The precision is always set: on CPUs with AMX or AVX512_BF16 OpenVINO's default is bf16,
    so an unset hint would silently time bf16 under the name fp32.
    """
    import openvino as ov

    core = ov.Core()
    config = {
        "INFERENCE_NUM_THREADS": threads,
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": spec["precision"],
    }
    compiled = core.compile_model(core.read_model(spec["model"]), "CPU", config)
    request = compiled.create_infer_request()
    names = [port.get_any_name() for port in compiled.inputs]
    output = compiled.output(0)

    def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return np.array(request.infer({n: feed[n] for n in names})[output], dtype=np.float32)

    return run


def classification_head(path: str) -> Logits:
    """The head on the first token's hidden state, from the weights benchmarks.engines_build
    saved: BERT's pooler (tanh) or DistilBERT's pre_classifier (ReLU), then the classifier."""
    weights = np.load(path)
    act = np.tanh if str(weights["activation"]) == "tanh" else (lambda x: np.maximum(x, 0))
    w1, b1, w2, b2 = (weights[k] for k in ("dense_w", "dense_b", "out_w", "out_b"))

    def head(first: np.ndarray, _: np.ndarray) -> np.ndarray:
        return act(first @ w1.T + b1) @ w2.T + b2

    return head


def ct2_logits(spec: dict[str, Any], threads: int) -> Logits:
    """CTranslate2's Encoder on the unpadded ids (it pads by itself), then the numpy head."""
    import ctranslate2

    encoder = ctranslate2.Encoder(
        spec["model"],
        device="cpu",
        compute_type=spec["compute_type"],
        intra_threads=threads,
        inter_threads=1,
    )
    head = classification_head(spec["head"])
    token_types = bool(spec.get("token_types"))

    def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        lengths = mask.sum(1)
        rows = [row[:n].tolist() for row, n in zip(ids, lengths, strict=True)]
        types = [[0] * len(row) for row in rows] if token_types else None
        out = encoder.forward_batch(rows, token_type_ids=types)
        hidden = out.last_hidden_state
        if str(hidden.dtype) != "DataType.float32":
            hidden = hidden.to(ctranslate2.DataType.float32)
        first = np.array(hidden)[:, 0, :].astype(np.float32)
        return head(first, mask)

    return run


def load_engine(spec: dict[str, Any], threads: int) -> Logits:
    kind = spec["kind"]
    if kind == "ort":
        return ort_logits(spec, threads)
    if kind == "openvino":
        return openvino_logits(spec, threads)
    if kind == "ct2":
        return ct2_logits(spec, threads)
    if kind == "torch":
        return torch_logits(Path(spec["model"]), threads)
    raise ValueError(f"unknown engine kind {kind!r}")


def logits_of(run: Logits, batches: list[Batch]) -> np.ndarray:
    return np.concatenate([run(ids, mask) for ids, mask in batches])


def timed_pass(run: Logits, batches: list[Batch]) -> tuple[float, np.ndarray]:
    """Reviews/s over one pass, and its logits (the timed answers are the scored answers)."""
    start = time.perf_counter()
    logits = logits_of(run, batches)
    return len(logits) / (time.perf_counter() - start), logits


def alone(
    spec: dict[str, Any], batches: dict[str, list[Batch]], threads: int, rounds: int
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    run = load_engine(spec, threads)
    run(*batches["s1"][0])
    print("first-answer", flush=True)
    run(*batches["s32"][-1])  # warm-up: the longest batch allocates the most
    speeds: dict[str, list[float]] = {k: [] for k in TIMED}
    logits: dict[str, np.ndarray] = {}
    for key in TIMED:
        for _ in range(rounds):
            speed, logits[key] = timed_pass(run, batches[key])
            speeds[key].append(speed)
    for key in batches.keys() - set(TIMED):
        logits[key] = logits_of(run, batches[key])
    return {
        "reviews_per_s": {k[1:]: statistics.median(s) for k, s in speeds.items()},
        "rounds": {k[1:]: s for k, s in speeds.items()},
        "peak_rss_mb": peak_rss_kb() / 1024,
    }, logits


def interleaved(
    specs: list[dict[str, Any]], batches: dict[str, list[Batch]], threads: int, rounds: int
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Every engine in one process, in rotating order, so that drift hits them alike."""
    runs = {spec["name"]: load_engine(spec, threads) for spec in specs}
    for run in runs.values():
        run(*batches["s32"][-1])
    names = list(runs)
    speeds: dict[str, dict[str, list[float]]] = {n: {k[1:]: [] for k in TIMED} for n in names}
    for key in TIMED:
        for r in range(rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                speeds[name][key[1:]].append(reviews_per_s(runs[name], batches[key]))
    medians = {n: {b: statistics.median(s) for b, s in by.items()} for n, by in speeds.items()}
    return {"reviews_per_s": medians}, {}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("alone", "interleaved"))
    parser.add_argument("spec", type=Path)
    parser.add_argument("batches", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    spec = json.loads(args.spec.read_text())
    batches = load_batches(args.batches)
    start = time.perf_counter()
    if args.mode == "alone":
        result, logits = alone(spec, batches, args.threads, args.rounds)
    else:
        result, logits = interleaved(spec, batches, args.threads, args.rounds)
    result["worker_s"] = time.perf_counter() - start
    np.savez(args.out.with_suffix(".npz"), **logits)
    args.out.with_suffix(".json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
