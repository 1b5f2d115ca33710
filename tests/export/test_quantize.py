import logging

import numpy as np
import onnx
import pytest

from senticlf import artifacts, cpu
from senticlf.errors import SenticlfError
from senticlf.export import quantize
from senticlf.export.options import ExportOptions
from senticlf.runtime.session import ModelRunner
from senticlf.runtime.tokenize import ReviewEncoder
from tests.conftest import make_reviews
from tests.helpers import assert_one_line_error, invoke

AVX2_ONLY = {"avx2", "fma"}


@pytest.fixture
def avx2_only_cpu(monkeypatch):
    monkeypatch.setattr(cpu.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(cpu, "cpu_flags", lambda: AVX2_ONLY)


def test_every_family_has_a_ladder_of_known_variants():
    assert set(quantize.LADDERS) == set(cpu.PRESETS)
    for ladder in quantize.LADDERS.values():
        assert ladder and all(name in quantize.VARIANTS for name in ladder)


@pytest.mark.parametrize("preset", cpu.PRESETS)
def test_every_optimum_variant_builds_a_config_for_every_preset(preset):
    for variant in quantize.VARIANTS.values():
        if variant.method != "optimum":
            continue
        config = quantize.quantization_config(preset, variant)
        assert config.is_static is False
        assert (config.per_channel, config.reduce_range) == (
            variant.per_channel,
            variant.reduce_range,
        )
        if variant.matmul_only:
            assert list(config.operators_to_quantize) == ["MatMul"]


def test_unknown_preset_and_variant_are_clear_errors():
    with pytest.raises(SenticlfError, match="--preset must be one of .*got 'avx9000'"):
        ExportOptions(preset="avx9000")
    with pytest.raises(SenticlfError, match="unknown INT8 variant 'int4'"):
        quantize.variant_named("int4")


def test_a_preset_this_cpu_cannot_run_is_refused_before_any_export_work(avx2_only_cpu):
    assert ExportOptions(quantize=True).int8_preset == "avx2"
    assert ExportOptions(quantize=True, preset="avx2").int8_preset == "avx2"
    for preset, needed in (("avx512_vnni", "avx512_vnni"), ("avx512", "avx512f"), ("arm64", "")):
        with pytest.raises(SenticlfError, match=f"--preset {preset} needs a CPU with {needed}"):
            ExportOptions(quantize=True, preset=preset)


def test_cli_reports_an_unrunnable_preset_in_one_line(avx2_only_cpu, tmp_path):
    # The run folder does not even exist: the preset is checked first.
    result = invoke(
        "export", tmp_path / "run", "--quantize", "--preset", "avx512_vnni", "--plan-runs", "0"
    )
    assert_one_line_error(result, "--preset avx512_vnni needs a CPU with avx512_vnni", "avx2")


@pytest.fixture(scope="module")
def encoded(bundle):
    encoder = ReviewEncoder.load(
        artifacts.EncoderSettings(bundle / artifacts.TOKENIZER, 64, "head")
    )
    texts = [text for text, _ in make_reviews(64, seed=11)]
    return encoder.pad(encoder.encode(texts))


def fp32_agreement(bundle, model, encoded) -> float:
    fp32 = ModelRunner(bundle / artifacts.FP32_MODEL).logits(*encoded).argmax(1)
    return float(np.mean(ModelRunner(model).logits(*encoded).argmax(1) == fp32))


@pytest.mark.parametrize("name", ["s8 per-tensor", "s8 per-channel reduced-range"])
def test_dynamic_variants_of_the_tiny_model_agree_with_fp32(bundle, encoded, tmp_path, name):
    target = tmp_path / "int8.onnx"
    quantize.quantize(bundle / artifacts.FP32_MODEL, target, "avx2", name)
    ops = {node.op_type for node in onnx.load(target).graph.node}
    assert ops & {"MatMulInteger", "DynamicQuantizeMatMul", "QAttention"}, ops
    assert fp32_agreement(bundle, target, encoded) >= 0.9


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def optimum_warnings():
    """What Optimum's quantization logger lets through (its "optimum" parent does not propagate
    to the root logger, so caplog would see nothing)."""
    logger = logging.getLogger("optimum.onnxruntime.quantization")
    recorder = Recorder()
    logger.addHandler(recorder)
    yield logger, recorder.messages
    logger.removeHandler(recorder)


def test_quantizing_drops_one_warning_and_nothing_else(
    bundle, tmp_path, optimum_warnings, monkeypatch
):
    from optimum.onnxruntime import quantization

    def no_config(*args, **kwargs):
        raise OSError("no config.json")  # transformers may guess one from a folder's name

    monkeypatch.setattr(quantization.AutoConfig, "from_pretrained", no_config)
    logger, said = optimum_warnings
    target = tmp_path / "int8.onnx"
    quantize.quantize(bundle / artifacts.FP32_MODEL, target, cpu.int8_preset(), "per-tensor")
    assert target.is_file()
    assert not [m for m in said if "Could not load the config" in m]
    # only that message, and only around the INT8 attempt
    with quantize._without_config_warning():
        logger.warning("Could not load the config for inside.onnx automatically")
        logger.warning("another warning")
    logger.warning("Could not load the config for outside.onnx automatically")
    assert "another warning" in said and any("outside.onnx" in m for m in said)
    assert not any("inside.onnx" in m for m in said)
