"""Child process of benchmarks.engines: one engine alone, or one configuration timed once.

    python -m benchmarks.common.engines_worker alone SPEC.json BATCHES.npz OUT --threads 2 --rounds 1
    python -m benchmarks.common.engines_worker timed SPEC.json BATCHES.npz OUT --batch 8 \
        --streams 2 --threads 1 [--spinning]

An engine is a JSON spec (``kind``: ort, openvino, ct2, torch or senticlf, plus its files and
options); each kind imports its own library only, so one engine's runtime never shares a
process with another's. The batches are pre-padded by the parent from the same token ids for
every engine (benchmarks.common.int8_worker's npz format): ``s1``/``s8``/``s32`` length-sorted,
``x8``/``x32`` the same reviews shuffled, ``e8`` the further test reviews.

``alone`` runs the engine one call at a time on ``--threads``: it prints ``first-answer`` as
soon as its first review is classified (the parent times the cold start up to that line), then
writes OUT.json (one pass per batch size, peak RSS) and OUT.npz (logits per batch key, in batch
order): the invariance and accuracy figures, and the batch size the timed runs use.

``timed`` is one run of the alternating rounds: the engine in one configuration (``--streams``
calls in flight from as many Python threads, ``--threads`` each), warmed up with one call per stream, then one timed pass
over every review in the length-sorted batches of ``--batch`` (each call holds one batch and
nothing else, so a text's answer cannot depend on the number of streams). It writes OUT.json
(reviews/s, what the engine says it runs with) and OUT.npz (the timed pass's logits, checked
by the parent against the engine alone at batch 1).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common.coldstart import peak_rss_kb
from benchmarks.common.int8_worker import Batch, Logits, load_batches, torch_logits

TIMED = ("s1", "s8", "s32")  # length-sorted batches of 1, 8 and 32: the speed figures
RunAll = Callable[[list[Batch]], np.ndarray]  # logits of every batch, rows in batch order


def ort_logits(spec: dict[str, Any], threads: int, spinning: bool = True) -> Logits:
    from benchmarks.common import internals

    return internals.onnx_runner(spec["model"], threads, spinning=spinning).logits


def _openvino_compiled(spec: dict[str, Any], config: dict[str, Any]) -> Any:
    """The precision is always set: on CPUs with AMX or AVX512_BF16 OpenVINO's default is
    bf16, so an unset hint would silently time bf16 under the name fp32."""
    import openvino as ov

    core = ov.Core()
    config = {**config, "INFERENCE_PRECISION_HINT": spec["precision"]}
    return core.compile_model(core.read_model(spec["model"]), "CPU", config)


def _openvino_feed(compiled: Any, ids: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    return {port.get_any_name(): feed[port.get_any_name()] for port in compiled.inputs}


def openvino_logits(spec: dict[str, Any], threads: int) -> Logits:
    """OpenVINO's own runtime on an ONNX file or IR, dynamic shapes, one stream (LATENCY)."""
    return openvino_single(spec, threads)[0]


def openvino_single(spec: dict[str, Any], threads: int) -> tuple[Logits, dict[str, Any]]:
    """:func:`openvino_logits`, and what OpenVINO says it compiled (the precision it runs)."""
    compiled = _openvino_compiled(
        spec, {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
    )
    request = compiled.create_infer_request()
    output = compiled.output(0)

    def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        answer = request.infer(_openvino_feed(compiled, ids, mask))[output]
        return np.array(answer, dtype=np.float32)

    return run, _openvino_described(compiled, "LATENCY", 1)


def _openvino_described(compiled: Any, hint: str, requests: int) -> dict[str, Any]:
    streams = int(compiled.get_property("NUM_STREAMS"))
    return {
        "hint": hint,
        "streams": streams,
        "threads": int(compiled.get_property("INFERENCE_NUM_THREADS")) // max(streams, 1),
        "infer_requests": requests,
        "precision": compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name(),
    }


def openvino_streams(spec: dict[str, Any], streams: int, threads: int) -> tuple[RunAll, dict[str, Any]]:  # fmt: skip
    """OpenVINO's THROUGHPUT hint with ``streams`` CPU streams of ``threads`` threads, each fed
    by a Python thread of its own holding its own infer request (``infer`` releases the GIL),
    so the cores never wait for Python and each request holds one batch.

    Not an AsyncInferQueue: with a Python callback set, its compiled model deadlocked in its
    destructor (openvino 2026.4: the stream threads wait for the GIL the destroying thread
    holds), and without one the results of a reused request cannot be matched to its batch.
    """
    compiled = _openvino_compiled(
        spec,
        {
            "PERFORMANCE_HINT": "THROUGHPUT",
            "NUM_STREAMS": streams,
            "INFERENCE_NUM_THREADS": streams * threads,
        },
    )
    output = compiled.output(0)
    local = threading.local()

    def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if not hasattr(local, "request"):
            local.request = compiled.create_infer_request()
        answer = local.request.infer(_openvino_feed(compiled, ids, mask))[output]
        return np.array(answer, dtype=np.float32)

    return in_flight(run, streams), _openvino_described(compiled, "THROUGHPUT", streams)


def classification_head(path: str) -> Logits:
    """The head on the first token's hidden state, from the weights benchmarks.engines_build
    saved: BERT's pooler (tanh) or DistilBERT's pre_classifier (ReLU), then the classifier."""
    weights = np.load(path)
    act = np.tanh if str(weights["activation"]) == "tanh" else (lambda x: np.maximum(x, 0))
    w1, b1, w2, b2 = (weights[k] for k in ("dense_w", "dense_b", "out_w", "out_b"))

    def head(first: np.ndarray, _: np.ndarray) -> np.ndarray:
        return act(first @ w1.T + b1) @ w2.T + b2

    return head


def ct2_logits(spec: dict[str, Any], threads: int, streams: int = 1) -> Logits:
    """CTranslate2's Encoder on the unpadded ids (it pads by itself), then the numpy head.

    ``streams`` > 1 is ``inter_threads``: that many encoder replicas sharing the weights, each
    on ``threads`` intra-op threads; ``forward_batch`` releases the GIL, so as many Python
    threads calling it keep them busy.
    """
    import ctranslate2

    encoder = ctranslate2.Encoder(
        spec["model"],
        device="cpu",
        compute_type=spec["compute_type"],
        intra_threads=threads,
        inter_threads=streams,
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
    """One call at a time on ``threads`` threads (ONNX Runtime's pool spinning, its default)."""
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


def in_flight(run: Logits, streams: int) -> RunAll:
    """``run`` over the batches, one at a time, or ``streams`` at once from as many threads
    (ONNX Runtime's ``run`` and CTranslate2's ``forward_batch`` release the GIL)."""
    if streams == 1:
        return lambda batches: np.concatenate([run(ids, mask) for ids, mask in batches])
    pool = ThreadPoolExecutor(streams, "engine-stream")

    def run_all(batches: list[Batch]) -> np.ndarray:
        return np.concatenate(list(pool.map(lambda batch: run(*batch), batches)))

    return run_all


def load_configuration(
    spec: dict[str, Any], streams: int, threads: int, spinning: bool
) -> tuple[RunAll, dict[str, Any]]:
    """The engine as one timed configuration, and what it says it runs with."""
    kind = spec["kind"]
    described: dict[str, Any] = {"streams": streams, "threads": threads}
    if kind == "senticlf":
        return senticlf_default(spec)
    if kind == "openvino" and streams > 1:
        return openvino_streams(spec, streams, threads)
    if kind == "ort":
        described["spinning"] = spinning
        return in_flight(ort_logits(spec, threads, spinning), streams), described
    if kind == "ct2":
        return in_flight(ct2_logits(spec, threads, streams), streams), described
    if streams > 1:
        raise ValueError(f"{kind} is timed one call at a time only")
    if kind == "openvino":
        run, described = openvino_single(spec, threads)
        return in_flight(run, 1), described
    return in_flight(load_engine(spec, threads), 1), described


def senticlf_default(spec: dict[str, Any]) -> tuple[RunAll, dict[str, Any]]:
    """``senticlf.load(bundle)`` as a user gets it (its plan: model, texts per call, streams,
    threads), timed on its logits path: ``clf.logits_of_ids`` takes the same token ids the other
    engines get and makes the plan's calls; no tokenizing, no softmax, like theirs."""
    import senticlf

    clf = senticlf.load(spec["bundle"], **spec.get("options", {}))

    def run_all(batches: list[Batch]) -> np.ndarray:
        ids = [row[: int(n)].tolist() for ids, mask in batches for row, n in zip(ids, mask.sum(1), strict=True)]  # fmt: skip
        return np.asarray(clf.logits_of_ids(ids), dtype=np.float32)

    described = {
        "model_file": clf.model_file,
        "plan": clf.plan.describe(),
        "batch_size": clf.batch_size,
        "streams": clf.plan.streams,
        "threads": clf.plan.execution.threads,
        "spinning": clf.plan.execution.spinning,
    }
    return run_all, described


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
        "reviews_per_s": {k[1:]: float(np.median(s)) for k, s in speeds.items()},
        "rounds": {k[1:]: s for k, s in speeds.items()},
        "peak_rss_mb": peak_rss_kb() / 1024,
    }, logits


def timed(
    spec: dict[str, Any],
    batches: list[Batch],
    streams: int,
    threads: int,
    spinning: bool,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One fresh-process run: warm every stream with one of the longest batches, then time one
    pass over every review."""
    run_all, described = load_configuration(spec, streams, threads, spinning)
    run_all(batches[-max(1, described.get("streams", streams)) :])
    start = time.perf_counter()
    logits = run_all(batches)
    seconds = time.perf_counter() - start
    result = {
        "reviews_per_s": len(logits) / seconds,
        "seconds": seconds,
        "described": described,
        "peak_rss_mb": peak_rss_kb() / 1024,
    }
    return result, {"logits": logits}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("alone", "timed"))
    parser.add_argument("spec", type=Path)
    parser.add_argument("batches", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1, help="timed: texts per call")
    parser.add_argument("--streams", type=int, default=1, help="timed: calls in flight")
    parser.add_argument("--spinning", action="store_true", help="timed: ONNX Runtime only")
    args = parser.parse_args()
    spec = json.loads(args.spec.read_text())
    batches = load_batches(args.batches)
    start = time.perf_counter()
    if args.mode == "alone":
        result, logits = alone(spec, batches, args.threads, args.rounds)
    else:
        chosen = batches[f"s{args.batch}"]
        result, logits = timed(spec, chosen, args.streams, args.threads, args.spinning)
    result["worker_s"] = time.perf_counter() - start
    np.savez(args.out.with_suffix(".npz"), **logits)
    args.out.with_suffix(".json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
