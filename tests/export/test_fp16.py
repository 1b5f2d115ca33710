"""The fp16 model: a float16 graph with float32 inputs and outputs, checked against fp32."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import pytest
from rich.console import Console

from senticlf import artifacts
from senticlf.export.bundle import export_run
from senticlf.export.options import ExportOptions
from senticlf.runtime.session import CPU, ModelRunner

FLOAT, FLOAT16, INT64 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.INT64


def _elem_types(values) -> dict[str, int]:
    return {v.name: v.type.tensor_type.elem_type for v in values}


def test_fp16_graph_is_valid_with_float32_io_and_float16_weights(fp16_bundle):
    path = fp16_bundle / artifacts.FP16_MODEL
    onnx.checker.check_model(str(path))
    model = onnx.load(path)
    assert set(_elem_types(model.graph.input).values()) == {INT64}
    assert _elem_types(model.graph.output) == {"logits": FLOAT}
    weights = Counter(
        t.data_type for t in model.graph.initializer if t.dims and np.prod(t.dims) > 1
    )
    assert weights[FLOAT16] > 0 and weights[FLOAT] == 0, weights
    fp32 = onnx.load(fp16_bundle / artifacts.FP32_MODEL)
    assert path.stat().st_size < 0.6 * (fp16_bundle / artifacts.FP32_MODEL).stat().st_size
    assert len(model.graph.input) == len(fp32.graph.input)


def test_fp16_is_checked_against_fp32_and_recorded(fp16_bundle):
    manifest = artifacts.read_manifest(fp16_bundle)
    assert artifacts.FP16_MODEL in manifest.files
    report = manifest.export_check
    assert report is not None and report.fp16 is not None
    assert report.fp16.provider == CPU  # no GPU here: the CPU provider ran it
    assert report.fp16.agreement >= ExportOptions().min_agreement
    assert 0 < report.fp16.max_probability_difference < 2e-2
    assert abs(report.fp16.accuracy - report.fp32_accuracy) * 100 <= 1.0
    # measured on this CPU with fp16's tolerance, like every model the CPU ran
    assert manifest.batching is not None and artifacts.FP16_MODEL in manifest.batching.models
    assert "fp16 (CUDA)" in (fp16_bundle / artifacts.CARD).read_text()


def test_fp16_logits_follow_fp32_on_the_cpu_provider(fp16_bundle):
    half = ModelRunner(fp16_bundle / artifacts.FP16_MODEL, [CPU])
    full = ModelRunner(fp16_bundle / artifacts.FP32_MODEL, [CPU])
    ids = np.random.default_rng(0).integers(5, 100, (3, 20), dtype=np.int64)
    mask = np.ones_like(ids)
    mask[0, 12:] = 0
    a, b = half.logits(ids, mask), full.logits(ids, mask)
    assert a.dtype == np.float32 and a.shape == b.shape
    assert np.max(np.abs(a - b)) < 2e-2 and not np.array_equal(a, b)


def test_fp16_that_loses_accuracy_fails_but_keeps_fp32(trained_run, tmp_path, monkeypatch):
    from senticlf.errors import SenticlfError
    from senticlf.export import fp16

    real = fp16.checked

    def degraded(*args, **kwargs):
        result, profile = real(*args, **kwargs)
        return artifacts.Fp16Result(0.0, 0.5, 1.0, result.provider), profile

    monkeypatch.setattr(fp16, "checked", degraded)
    output = tmp_path / "b"
    with pytest.raises(SenticlfError, match="fp16 lost too much"):
        export_run(trained_run, output, ExportOptions(fp16=True, plan_runs=0), Console(quiet=True))
    manifest = artifacts.read_manifest(output)
    assert artifacts.FP16_MODEL not in manifest.files
    assert not (output / artifacts.FP16_MODEL).exists()
