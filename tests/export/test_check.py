"""The export check: PyTorch and ONNX scored on the same token ids in the same batches."""

import numpy as np
import pytest

from senticlf import artifacts
from senticlf.export import check
from senticlf.runtime.tokenize import ReviewEncoder
from tests.conftest import make_reviews


def test_agreement_and_largest_logit_difference_by_hand():
    a = check.Scores(np.array([[0.0, 1.0], [2.0, 0.0], [0.0, 3.0]]), accuracy=1.0)
    b = check.Scores(np.array([[0.0, 2.0], [0.0, 1.0], [0.5, 3.5]]), accuracy=1.0)
    assert check.agreement(a, b) == pytest.approx(2 / 3)  # the second review flips
    assert check.max_logit_difference(a, b) == pytest.approx(2.0)


def test_the_exported_model_scores_like_pytorch(bundle, trained_run):
    manifest = artifacts.read_manifest(bundle)
    encoder = ReviewEncoder.load(manifest.encoder_settings(bundle))
    reviews = make_reviews(40, seed=5)
    ids = encoder.encode([text for text, _ in reviews])
    labels = np.array([label for _, label in reviews])
    torch_side = check.torch_scores(trained_run / artifacts.RUN_MODEL_DIR, encoder, ids, labels)
    onnx_side = check.onnx_scores(bundle / artifacts.FP32_MODEL, encoder, ids, labels)
    assert torch_side.logits.shape == onnx_side.logits.shape == (40, 2)
    assert check.max_logit_difference(torch_side, onnx_side) < 1e-3
    assert check.agreement(torch_side, onnx_side) == 1.0
    by_hand = float(np.mean(onnx_side.logits.argmax(axis=1) == labels))
    assert onnx_side.accuracy == by_hand == pytest.approx(torch_side.accuracy)
