"""The INT8 recipes only benchmarks build (u8 weights, static QDQ) still make working models."""

import numpy as np
import onnx
import pytest

from benchmarks.common import int8_recipes
from senticlf import artifacts
from senticlf.runtime.session import ModelRunner
from senticlf.runtime.tokenize import ReviewEncoder
from tests.conftest import make_reviews


@pytest.fixture(scope="module")
def encoded(bundle):
    encoder = ReviewEncoder.load(
        artifacts.EncoderSettings(bundle / artifacts.TOKENIZER, 64, "head")
    )
    return encoder.pad(encoder.encode([text for text, _ in make_reviews(64, seed=11)]))


def fp32_agreement(bundle, model, encoded) -> float:
    fp32 = ModelRunner(bundle / artifacts.FP32_MODEL).logits(*encoded).argmax(1)
    return float(np.mean(ModelRunner(model).logits(*encoded).argmax(1) == fp32))


def test_u8_weights_of_the_tiny_model_agree_with_fp32(bundle, encoded, tmp_path):
    target = tmp_path / "u8.onnx"
    int8_recipes.build(bundle / artifacts.FP32_MODEL, target, "avx2", "u8 per-channel")
    ops = {node.op_type for node in onnx.load(target).graph.node}
    assert ops & {"MatMulInteger", "DynamicQuantizeMatMul", "QAttention"}, ops
    assert fp32_agreement(bundle, target, encoded) >= 0.9


def test_static_int8_of_the_tiny_model_agrees_with_fp32_and_needs_calibration(
    bundle, encoded, tmp_path
):
    fp32 = bundle / artifacts.FP32_MODEL
    target = tmp_path / "static.onnx"
    with pytest.raises(ValueError, match="needs calibration reviews"):
        int8_recipes.build(fp32, target, "avx2", "static s8 per-channel")
    ids, mask = encoded
    feeds = int8_recipes.calibration_feeds(
        fp32, [(ids[i : i + 8], mask[i : i + 8]) for i in (0, 8)]
    )
    int8_recipes.build(fp32, target, "avx2", "static s8 per-channel", feeds)
    ops = {node.op_type for node in onnx.load(target).graph.node}
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    assert fp32_agreement(bundle, target, encoded) >= 0.9


def test_the_product_ladders_carry_no_benchmark_only_recipe():
    from senticlf.export import quantize

    for ladder in quantize.LADDERS.values():
        assert not set(ladder) & set(int8_recipes.EXTRA_VARIANTS)
    assert set(quantize.VARIANTS) == {
        name for ladder in quantize.LADDERS.values() for name in ladder
    }
