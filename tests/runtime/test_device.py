"""Provider and model choice by device, with the provider list faked; the CUDA wiring on CPU."""

from __future__ import annotations

import warnings

import numpy as np
import onnxruntime
import pytest

import senticlf
from senticlf import artifacts
from senticlf.errors import SenticlfError
from senticlf.runtime import device, plan, predictor
from senticlf.runtime.batching import TOKEN_BUDGET
from senticlf.runtime.session import CPU, CUDA, ModelRunner

ALL = {artifacts.FP32_MODEL, artifacts.INT8_MODEL, artifacts.FP16_MODEL}
HAS_CUDA = CUDA in onnxruntime.get_available_providers()


@pytest.fixture
def with_cuda(monkeypatch):
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: [CUDA, CPU])


@pytest.fixture
def cpu_only(monkeypatch):
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: [CPU])


def test_default_device_is_cuda_when_onnxruntime_offers_it(with_cuda):
    assert device.providers_for(None) == [CUDA, CPU]
    assert device.providers_for("cuda") == [CUDA, CPU]
    assert device.providers_for("cpu") == [CPU]


def test_cuda_asked_for_without_it_warns_and_runs_on_the_cpu(cpu_only):
    assert device.providers_for(None) == [CPU]
    with pytest.warns(UserWarning, match="no CUDAExecutionProvider"):
        assert device.providers_for("cuda") == [CPU]


def test_bad_device_and_device_with_providers_are_errors():
    with pytest.raises(SenticlfError, match="--device must be one of cpu, cuda"):
        device.providers_for("gpu")
    with pytest.raises(SenticlfError, match="not both"):
        device.providers_for("cpu", [CPU])


def manifest_of(files) -> artifacts.Manifest:
    """A manifest with these files and no batching record (not measured on this CPU)."""
    return artifacts.Manifest(
        max_length=64, truncation="head", base_model="m", files=dict.fromkeys(files, "0" * 64)
    )


@pytest.mark.parametrize(
    ("files", "provider", "quantized", "chosen"),
    [
        (ALL, CUDA, None, artifacts.FP16_MODEL),
        (ALL, CUDA, False, artifacts.FP32_MODEL),
        ({artifacts.FP32_MODEL, artifacts.INT8_MODEL}, CUDA, None, artifacts.FP32_MODEL),
        (ALL, CPU, None, artifacts.INT8_MODEL),
        (ALL, CPU, False, artifacts.FP32_MODEL),
        ({artifacts.FP32_MODEL, artifacts.FP16_MODEL}, CPU, None, artifacts.FP32_MODEL),
    ],
)
def test_the_model_follows_the_provider(files, provider, quantized, chosen, tmp_path):
    assert device.choose_model(manifest_of(files), provider, quantized, tmp_path) == chosen


def test_int8_is_refused_on_cuda_and_missing_int8_on_the_cpu(tmp_path):
    with pytest.raises(SenticlfError, match="made for CPUs"):
        device.choose_model(manifest_of(ALL), CUDA, True, tmp_path)
    with pytest.raises(SenticlfError, match="no INT8 model"):
        device.choose_model(manifest_of({artifacts.FP32_MODEL}), CPU, True, tmp_path)


def test_cuda_that_does_not_start_falls_back_to_the_cpu_model(fp16_bundle, with_cuda):
    # The faked list offers CUDA, but this onnxruntime cannot start it: the session is CPU.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = senticlf.load(fp16_bundle)
    if HAS_CUDA:
        pytest.skip("a real GPU is here: CUDA starts")
    assert any("could not start CUDA" in str(w.message) for w in caught)
    cpu_choice = senticlf.load(fp16_bundle, device="cpu").model_file  # what the CPU runs
    assert clf.device == "cpu" and clf.model_file == cpu_choice != artifacts.FP16_MODEL
    assert clf.token_budget is None


class _ReportsCuda(ModelRunner):
    """A CPU session that says it is CUDA: the predictor's CUDA wiring, tested without a GPU."""

    def __init__(self, model_path, providers=None, threads=None, io_binding=None, spinning=True):
        super().__init__(model_path, [CPU], threads, io_binding=True)
        self.provider = CUDA


def test_on_cuda_the_fp16_model_runs_by_token_budget_with_fp16_tolerance(
    fp16_bundle, with_cuda, monkeypatch
):
    monkeypatch.setattr(predictor, "ModelRunner", _ReportsCuda)
    clf = senticlf.load(fp16_bundle)
    assert clf.device == "cuda" and clf.model_file == artifacts.FP16_MODEL
    assert clf.token_budget == TOKEN_BUDGET and clf.runner.io_binding
    profile = clf.batch_profile  # measured here (never the CPU's record) on CUDA's sizes
    assert set(profile.max_probability_change) <= set(plan.CUDA_BATCH_SIZES)
    assert max(profile.max_probability_change) == max(plan.CUDA_BATCH_SIZES)
    tolerance = plan.INVARIANCE_TOLERANCE["fp16"]
    assert clf.batch_size == profile.invariant_up_to  # the token budget sizes the calls
    invariant = [s for s, c in profile.max_probability_change.items() if c <= tolerance]
    assert profile.invariant_up_to == max([1, *invariant])
    texts = [("a wonderful film " * n).strip() for n in range(1, 40)]
    together = clf.probabilities(texts)
    alone = np.vstack([clf.probabilities([t]) for t in texts])
    assert np.max(np.abs(together - alone)) <= tolerance
    with pytest.raises(SenticlfError, match="made for CPUs"):
        senticlf.load(fp16_bundle, quantized=True)
    assert senticlf.load(fp16_bundle, quantized=False).model_file == artifacts.FP32_MODEL


def test_io_binding_gives_the_plain_run_s_logits_on_the_cpu(fp16_bundle):
    path = fp16_bundle / artifacts.FP32_MODEL
    plain, bound = ModelRunner(path, [CPU]), ModelRunner(path, [CPU], io_binding=True)
    assert not plain.io_binding and bound.io_binding
    ids = np.random.default_rng(1).integers(5, 100, (5, 17), dtype=np.int64)
    mask = np.ones_like(ids)
    mask[1, 9:] = 0
    expected = plain.logits(ids, mask)
    got = bound.logits(ids, mask)
    assert got.dtype == expected.dtype and np.array_equal(got, expected)
    assert np.array_equal(bound.logits(ids[:2], mask[:2]), expected[:2])  # shape changes too


@pytest.mark.skipif(not HAS_CUDA, reason="needs onnxruntime-gpu and a CUDA GPU")
def test_fp16_on_cuda_is_batch_invariant_within_fp16_tolerance(fp16_bundle):
    clf = senticlf.load(fp16_bundle, device="cuda")
    assert clf.device == "cuda" and clf.model_file == artifacts.FP16_MODEL
    texts = [("an awful boring film " * n).strip() for n in range(1, 60)]
    together = clf.probabilities(texts)
    alone = np.vstack([clf.probabilities([t]) for t in texts])
    assert np.max(np.abs(together - alone)) <= plan.INVARIANCE_TOLERANCE["fp16"]
    assert np.array_equal(together.argmax(axis=1), alone.argmax(axis=1))
