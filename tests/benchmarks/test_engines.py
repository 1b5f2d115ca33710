"""benchmarks.engines: the peer engines compute the same model as PyTorch and ONNX Runtime, and
the batch-invariance rule picks the headline batch size. Skipped without the bench extra."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks import engines

IDS = np.array([[2, 10, 11, 12, 3, 0, 0], [2, 13, 14, 15, 16, 17, 3]], dtype=np.int64)
MASK = (np.arange(IDS.shape[1])[None] < np.array([[5], [7]])).astype(np.int64)


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


def test_openvino_fp32_equals_onnx_runtime_fp32(tiny_model: Path, tmp_path: Path) -> None:
    pytest.importorskip("openvino", reason="the bench extra is not installed")
    from benchmarks.common import engines_build, engines_worker
    from senticlf.runtime.session import ModelRunner

    plain = engines_build.plain_onnx(tiny_model, tmp_path / "plain")
    spec = {"model": str(plain), "precision": "f32"}
    logits = engines_worker.openvino_logits(spec, threads=1)(IDS, MASK)
    np.testing.assert_allclose(logits, ModelRunner(plain, threads=1).logits(IDS, MASK), atol=1e-4)


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


def test_headline_is_the_fastest_invariant_batch_size() -> None:
    speeds = {"1": 50.0, "8": 90.0, "32": 80.0}
    checks = {"8": {"invariant": False}, "32": {"invariant": True}}
    found = engines.headline(speeds, checks)
    assert found["batch"] == 32 and found["reviews_per_s"] == 80.0
    assert found["fastest_non_invariant"] == {"batch": 8, "reviews_per_s": 90.0}
    all_bad = {"8": {"invariant": False}, "32": {"invariant": False}}
    assert engines.headline(speeds, all_bad)["batch"] == 1


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
