"""benchmarks.engines: the peer engines compute the same model as PyTorch and ONNX Runtime in
every configuration they are timed in (one call at a time, or several in flight), the
batch-invariance rule picks the batch they are timed at, and the decision rule names a peer only
when it is far enough ahead. Engine tests are skipped without the bench extra."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import engines
from benchmarks.common import engines_report, results
from benchmarks.common.engines_report import DEFAULT, Configuration, Configured, Report
from benchmarks.common.records import Runs, Timing
from benchmarks.common.roofline import Shape

IDS = np.array([[2, 10, 11, 12, 3, 0, 0], [2, 13, 14, 15, 16, 17, 3]], dtype=np.int64)
MASK = (np.arange(IDS.shape[1])[None] < np.array([[5], [7]])).astype(np.int64)
# Four calls of one or two texts: what a timed run hands its engine, in batch order.
BATCHES = [(IDS[:1, :5], MASK[:1, :5]), (IDS, MASK), (IDS[1:], MASK[1:]), (IDS, MASK)]


def torch_reference(model_dir: Path) -> np.ndarray:
    from benchmarks.common.int8_worker import torch_logits

    return torch_logits(model_dir, threads=1)(IDS, MASK)


@pytest.fixture(scope="module", params=["bert", "distilbert"])
def tiny_model(request, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from benchmarks.common.engines_smoke import tiny_model

    return tiny_model(tmp_path_factory.mktemp("engines") / "model", request.param)


def test_ctranslate2_with_numpy_head_equals_pytorch(tiny_model: Path, tmp_path: Path) -> None:
    pytest.importorskip("ctranslate2", reason="the bench extra is not installed")
    from benchmarks.common import engines_build, engines_worker

    converted = engines_build.ct2_model(tiny_model, tmp_path / "ct2")
    head = engines_build.head_weights(tiny_model, tmp_path / "head.npz")
    spec = {"model": str(converted), "compute_type": "float32", **head}
    logits = engines_worker.ct2_logits(spec, threads=1)(IDS, MASK)
    np.testing.assert_allclose(logits, torch_reference(tiny_model), atol=1e-4)
    # inter_threads: two replicas fed from two Python threads give the same rows, in order
    alone = engines_worker.in_flight(engines_worker.ct2_logits(spec, threads=1), 1)(BATCHES)
    streams = engines_worker.in_flight(engines_worker.ct2_logits(spec, 1, streams=2), 2)
    np.testing.assert_allclose(streams(BATCHES), alone, atol=1e-6)


def test_openvino_fp32_equals_onnx_runtime_fp32(tiny_model: Path, tmp_path: Path) -> None:
    pytest.importorskip("openvino", reason="the bench extra is not installed")
    from benchmarks.common import engines_build, engines_worker
    from senticlf.runtime.session import ModelRunner

    plain = engines_build.plain_onnx(tiny_model, tmp_path / "plain")
    spec = {"model": str(plain), "precision": "f32"}
    logits = engines_worker.openvino_logits(spec, threads=1)(IDS, MASK)
    np.testing.assert_allclose(logits, ModelRunner(plain, threads=1).logits(IDS, MASK), atol=1e-4)
    # THROUGHPUT, two streams fed from two threads: every batch's rows come back in batch order
    streams, described = engines_worker.openvino_streams(spec, streams=2, threads=1)
    alone = engines_worker.in_flight(engines_worker.openvino_logits(spec, threads=1), 1)(BATCHES)
    np.testing.assert_allclose(streams(BATCHES), alone, atol=1e-5)
    assert described["hint"] == "THROUGHPUT" and described["precision"] == "f32"
    assert described["streams"] == 2 and described["infer_requests"] == 2


def test_a_timed_run_of_openvino_streams_ends_and_writes_its_result(
    tiny_model: Path, tmp_path: Path
) -> None:
    """One alternating run as the parent starts it: the child ends (an OpenVINO compiled model
    fed through an AsyncInferQueue with a Python callback deadlocked in its destructor) and
    leaves its speed and the logits it timed."""
    pytest.importorskip("openvino", reason="the bench extra is not installed")
    from benchmarks.common import engines_build, int8_worker

    plain = engines_build.plain_onnx(tiny_model, tmp_path / "plain")
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"kind": "openvino", "model": str(plain), "precision": "f32"}))
    int8_worker.save_batches(tmp_path / "batches.npz", {"s1": BATCHES})
    command = [sys.executable, "-m", "benchmarks.common.engines_worker", "timed", str(spec)]
    command += [str(tmp_path / "batches.npz"), str(tmp_path / "out"), "--streams", "2"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-500:]
    assert json.loads((tmp_path / "out.json").read_text())["reviews_per_s"] > 0
    assert np.load(tmp_path / "out.npz")["logits"].shape == (6, 2)


def test_static_int8_on_the_fused_graph_leaves_attention_fp32(
    tiny_model: Path, tmp_path: Path
) -> None:
    """The finding the benchmark reports: ONNX Runtime's QDQ quantizer cannot quantize the fused
    Attention operator, while on the unfused graph every MatMul (attention's too) is quantized."""
    from rich.console import Console

    from benchmarks.common import engines_build
    from senticlf.export.bundle import export_fp32

    fused = export_fp32(tiny_model, _fresh(tmp_path / "fused"), None, Console(quiet=True))
    plain = engines_build.plain_onnx(tiny_model, tmp_path / "plain")
    rows = [list(row[: int(n)]) for row, n in zip(IDS, MASK.sum(1), strict=True)]
    fused_int8 = engines_build.graph_summary(
        engines_build.static_int8(
            fused, tmp_path / "f.onnx", engines_build.single_feeds(fused, rows)
        )
    )
    plain_int8 = engines_build.graph_summary(
        engines_build.static_int8(
            plain, tmp_path / "p.onnx", engines_build.single_feeds(plain, rows)
        )
    )
    assert fused_int8["Attention"] == 2 and fused_int8["QAttention"] == 0
    assert plain_int8["Attention"] == 0 and plain_int8["MatMul fp32"] == 0
    # 2 layers: Q, K, V, QK^T, AV, output, 2 feed-forward
    assert plain_int8["MatMul int8 (QDQ both inputs)"] == 16


def _fresh(folder: Path) -> Path:
    folder.mkdir(parents=True)
    return folder


def test_the_timed_batch_is_the_fastest_invariant_batch_size() -> None:
    speeds = {"1": 50.0, "8": 90.0, "32": 80.0}
    checks = {"8": {"invariant": False}, "32": {"invariant": True}}
    found = engines.best_invariant_batch(speeds, checks)
    assert found["batch"] == 32 and found["reviews_per_s"] == 80.0
    assert found["fastest_non_invariant"] == {"batch": 8, "reviews_per_s": 90.0}
    all_bad = {"8": {"invariant": False}, "32": {"invariant": False}}
    assert engines.best_invariant_batch(speeds, all_bad)["batch"] == 1


def test_invariance_counts_changes_and_flips_in_both_orders() -> None:
    alone = np.array([[0.9, 0.1], [0.45, 0.55], [0.2, 0.8]])
    probs = {"s1": alone, "s8": alone.copy(), "x8": alone.copy(), "s32": alone, "x32": alone}
    probs["x8"][1] = [0.56, 0.44]  # a flip, only in the shuffled batch
    found = engines.invariance(probs)
    assert not found["8"]["invariant"] and found["8"]["shuffled_flips"] == 1
    assert found["8"]["sorted_flips"] == 0 and found["8"]["shuffled_max_change"] == pytest.approx(
        0.11
    )
    assert found["32"]["invariant"]


def test_groups_cover_every_review_once_and_scatter_restores_order() -> None:
    ids = [[1] * n for n in (5, 1, 9, 3, 7, 2, 8, 4, 6, 10)]
    groups = engines.groups_of(ids)
    for key, batches in groups.items():
        assert sorted(i for rows in batches for i in rows) == list(range(10)), key
    assert [len(ids[i]) for i in (rows[0] for rows in groups["s1"])] == sorted(map(len, ids))
    logits = np.arange(10.0)[:, None]
    order = [i for rows in groups["x8"] for i in rows]
    np.testing.assert_array_equal(engines.scatter(logits[order], groups["x8"]), logits)


def test_several_calls_in_flight_keep_each_batch_whole_and_in_order() -> None:
    from benchmarks.common import engines_worker

    seen: list[int] = []

    def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        seen.append(len(ids))  # a call gets its batch and nothing else
        return np.stack([ids.sum(1), mask.sum(1)], axis=1).astype(np.float32)

    alone = engines_worker.in_flight(run, 1)(BATCHES)
    np.testing.assert_array_equal(engines_worker.in_flight(run, 2)(BATCHES), alone)
    assert sorted(seen) == sorted([1, 2, 1, 2] * 2)


def test_senticlf_default_is_timed_on_its_logits_path(tmp_path: Path) -> None:
    """The default (``senticlf.load``'s own plan) returns each text's logits of the model it
    picked, in the order the timed run gave them, from the same token ids."""
    from benchmarks.common import engines_worker, internals
    from benchmarks.common.engines_smoke import tiny_run

    _, bundle, _, _ = tiny_run(tmp_path / "run", "bert")
    run_all, described = engines_worker.senticlf_default({"bundle": str(bundle)})
    singles = [(IDS[i : i + 1, : int(n)], MASK[i : i + 1, : int(n)]) for i, n in enumerate(MASK.sum(1))]  # fmt: skip
    runner = internals.onnx_runner(bundle / described["model_file"], threads=1)
    expected = np.concatenate([runner.logits(ids, mask) for ids, mask in singles])
    np.testing.assert_allclose(run_all(singles[::-1] + singles), np.concatenate([expected[::-1], expected]), atol=1e-4)  # fmt: skip
    assert described["streams"] >= 1 and "stream" in described["plan"]


def test_every_engine_gets_one_call_at_a_time_and_calls_in_flight() -> None:
    specs = [
        {"name": "ort fp32", "kind": "ort"},
        {"name": "pytorch eager fp32", "kind": "torch"},
        {"name": "openvino fp32", "kind": "openvino"},
        {"name": "ctranslate2 int8", "kind": "ct2"},
        {"name": "not timed alone", "kind": "ort"},
    ]
    picked = {"ort fp32": 8, "pytorch eager fp32": 32, "openvino fp32": 1, "ctranslate2 int8": 1}
    found = engines.configurations(specs, picked, cores=2)
    shapes = {(c.engine, c.batch, c.streams, c.threads, c.spinning) for c in found}
    assert shapes == {
        (DEFAULT, 1, 0, 0, False),  # its own plan
        ("ort fp32", 8, 1, 2, True),  # ONNX Runtime's default pool spins
        ("ort fp32", 8, 2, 1, False),
        ("pytorch eager fp32", 32, 1, 2, False),  # PyTorch: one call at a time only
        ("openvino fp32", 1, 1, 2, False),
        ("openvino fp32", 1, 2, 1, False),
        ("ctranslate2 int8", 1, 1, 2, False),
        ("ctranslate2 int8", 1, 2, 1, False),
    }
    assert len(found) == len(shapes)
    assert "THROUGHPUT" in next(c.label for c in found if c.kind == "openvino" and c.streams == 2)
    assert "inter_threads 2" in next(c.label for c in found if c.kind == "ct2" and c.streams == 2)


def configured(engine: str, kind: str, runs: list[float], same: bool = True, streams: int = 1) -> Configured:  # fmt: skip
    config = Configuration(engine, kind, 1, streams, 2 // streams, False)
    return Configured(
        config, Timing(config.name, Runs.of(runs), batch=1), None, {}, "ort fp32",
        0.0 if same else 0.3, 0 if same else 2, same, "int8", False,
    )  # fmt: skip


def test_a_peer_ships_only_when_its_median_and_its_slowest_run_are_ahead() -> None:
    default = configured(DEFAULT, "senticlf", [50.0, 52.0, 54.0, 56.0])
    ort = configured("ort int8", "ort", [55.0, 56.0, 57.0, 58.0], streams=2)
    steady = configured("openvino bf16", "openvino", [63.0, 64.0, 65.0, 66.0])
    lucky = configured("ctranslate2 int8", "ct2", [50.0, 70.0, 70.0, 70.0])  # slowest run behind
    moved = configured("openvino int8", "openvino", [90.0, 90.0, 90.0, 90.0], same=False)
    verdict = engines_report.decide([default, ort, steady, lucky, moved])
    assert verdict.best_ort is ort and verdict.default is default
    assert verdict.ahead == (steady,)  # 64.5 >= 1.1 x 56.5 and 63 > 56.5
    text = engines_report.verdict_markdown(verdict)
    assert text.startswith("**Decision: ship openvino bf16 as an optional backend.**")
    close = configured("openvino bf16", "openvino", [60.0, 61.0, 62.0, 63.0])
    verdict = engines_report.decide([default, ort, close, lucky])
    assert verdict.ahead == () and verdict.best_peer is lucky
    text = engines_report.verdict_markdown(verdict)
    assert text.startswith("**Decision: no peer to ship.**")
    assert "senticlf's default runs at 53.0 (50.0-56.0) reviews/s, -6% against" in text
    assert "behind the best peer" in text  # 53 against 70: further behind than 10%


def test_the_report_ranks_engines_and_writes_through_the_results_writer(tmp_path: Path) -> None:
    report = Report(
        shape="stand-in", smoke=False, reviews=2, mean_tokens=6.0, max_length=64,
        truncation="head", extra_reviews=0, cores=2, runs=4, rounds=1,
        calibration_reviews=8, invariance_bound=1e-4, bf16_instructions=False, not_built={},
        shape_of_model=Shape(2, 32, 64, 2), lengths=[5, 7], ghz=2.6,
        instruction_sets=["avx512_vnni", "avx512f", "avx2"], cpu_name="Intel Xeon",
    )  # fmt: skip
    report.configured = [
        configured(DEFAULT, "senticlf", [50.0, 52.0, 54.0, 56.0]),
        configured("openvino bf16", "openvino", [63.0, 64.0, 65.0, 66.0]),
        configured("openvino bf16", "openvino", [40.0, 41.0, 42.0, 43.0], streams=2),
        configured("ctranslate2 int8", "ct2", [1.0, 1.0, 1.0, 1.0], same=False),
    ]
    text = results.write("engines-test", report.to_dict(), report.body(), title=report.title(), load=results.Load.from_dict({"before": [1, 1, 1], "after": [1, 1, 1]}), folder=tmp_path)  # fmt: skip
    assert "ship openvino bf16" in text
    engine_rows = [line for line in text.splitlines() if line.startswith("| openvino bf16 |")]
    assert engine_rows and "64.5 (63.0-66.0)" in engine_rows[0]  # one call at a time and best
    assert "Not ranked: ctranslate2 int8" in text
    assert "| int8 | vector | 64 |" in text  # the assumption table
    stored = json.loads((tmp_path / "engines-test.json").read_text())
    assert stored["decision"]["ship"] == ["openvino bf16 [LATENCY, 2 threads]"]
    assert stored["configurations"][1]["reviews_per_s"]["runs"] == [63.0, 64.0, 65.0, 66.0]
