import numpy as np
import pytest

from senticlf.runtime.calibrator import Calibrator, softmax


def test_softmax_rows_sum_to_one_and_survive_huge_logits():
    probabilities = softmax(np.array([[1000.0, 0.0], [0.0, 0.0], [-5.0, 5.0]], dtype=np.float32))
    assert probabilities.dtype == np.float64
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert probabilities[0].tolist() == [1.0, 0.0] and probabilities[1].tolist() == [0.5, 0.5]


def test_uncalibrated_is_the_plain_softmax_and_temperature_divides_the_logits():
    logits = np.array([[0.3, 2.0, -1.0], [4.0, 0.0, 1.0]])
    assert np.array_equal(Calibrator().apply(logits), softmax(logits))
    assert np.array_equal(Calibrator(temperature=2.0).apply(logits), softmax(logits / 2.0))


def test_a_broken_record_is_refused_with_what_is_wrong():
    with pytest.raises(ValueError, match="kind must be one of"):
        Calibrator.from_dict({"kind": "magic"})
    with pytest.raises(ValueError, match="knots"):
        Calibrator.from_dict({"kind": "isotonic", "knots_x": [0.5]})
    with pytest.raises(ValueError, match="needs 2 labels"):
        Calibrator(kind="platt").apply(np.zeros((2, 3)))


def test_a_manifest_without_a_calibrator_is_uncalibrated():
    assert Calibrator.for_manifest(None) == Calibrator()
    platt = Calibrator(kind="platt", scale=0.5, bias=0.1)
    assert Calibrator.for_manifest(platt.to_dict()) == platt
