"""The GPU session's prepared script, checked on the CPU: weights stripped and refilled, and
the benchmark end to end on the CPU provider with a tiny payload (no figures are kept)."""

from __future__ import annotations

import csv
import gzip
import json
import shutil

import numpy as np
import onnx

from benchmarks.device import gpu_inference, gpu_plan
from senticlf import artifacts
from senticlf.runtime.session import CPU, ModelRunner
from tests.conftest import make_reviews


def _shape_dir(fp16_bundle, folder):
    specs = {
        name: gpu_plan.strip_weights(fp16_bundle / name, folder, f"weights.{precision}.bin")
        for name, precision in ((artifacts.FP32_MODEL, "fp32"), (artifacts.FP16_MODEL, "fp16"))
    }
    (folder / "weights.json").write_text(json.dumps(specs))
    return specs


def test_stripped_graphs_refill_and_run(fp16_bundle, tmp_path):
    specs = _shape_dir(fp16_bundle, tmp_path)
    for name, spec in specs.items():
        assert spec["tensors"], name
        stripped = (tmp_path / name).stat().st_size
        assert stripped < 0.5 * (fp16_bundle / name).stat().st_size
    gpu_inference.fill_weights(tmp_path)
    for name, spec in specs.items():
        assert (tmp_path / spec["weights"]).stat().st_size == spec["bytes"]
        runner = ModelRunner(tmp_path / name, [CPU])
        ids = np.full((2, 9), 7, dtype=np.int64)
        logits = runner.logits(ids, np.ones_like(ids))
        assert logits.shape == (2, 2) and np.all(np.isfinite(logits))
    # integer tensors (shapes, indices) stayed in the graph
    model = onnx.load(tmp_path / artifacts.FP32_MODEL, load_external_data=False)
    external = {t.name for t in model.graph.initializer if t.data_location}
    assert all(t.data_type in (1, 10) for t in model.graph.initializer if t.name in external)


def test_the_benchmark_runs_end_to_end_on_the_cpu(fp16_bundle, tmp_path):
    payload = tmp_path / "payload"
    shutil.copytree(fp16_bundle, payload / "standin")
    _shape_dir(fp16_bundle, payload / "distilbert-shape")
    (payload / "data").mkdir()
    with gzip.open(payload / "data" / "extra_eval.csv.gz", "wt", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(make_reviews(24, seed=5))
    out = tmp_path / "out"
    from typer.testing import CliRunner

    argv = ["--payload", payload, "--out", out, "--reviews", 24, "--alone-limit", 4, "--allow-cpu"]
    result = CliRunner().invoke(gpu_inference.app, [str(a) for a in argv])
    assert result.exit_code == 0, (result.output, result.exception)
    report = json.loads((out / "gpu-inference.json").read_text())
    assert report["measured_on_gpu"] is False  # marked: these are not GPU figures
    engines = {(r["shape"], r["engine"], r["batch"]) for r in report["speed"]}
    assert ("standin", "ORT fp16", "budget") in engines and len(engines) == 16
    assert report["quality"]["invariance"]["passes"]
    assert "| distilbert-shape | ORT fp16 |" in (out / "gpu-inference.md").read_text()


def test_the_device_calls_carry_one_part_each_and_end_with_the_runs():
    parts = [f".device/gpu-parts/part-{i:02d}" for i in range(3)]
    calls = gpu_plan.device_calls(parts)
    assert [c["carry"][0] for c in calls[:3]] == parts
    assert "inference" in calls[2]["command"] and "inference" not in calls[1]["command"]
    assert calls[-1]["command"].endswith("train")
    assert all(c["timeout_s"] <= 600 for c in calls)
