import numpy as np
import pytest

from senticlf.evaluation import calibration


def test_ece_matches_the_hand_computation():
    probabilities = np.array([[0.9, 0.1], [0.25, 0.75], [0.3, 0.7], [0.55, 0.45], [0.88, 0.12]])
    labels = np.array([0, 0, 1, 1, 1])  # right, wrong, right, wrong, wrong
    # Bins of width 1/15: 0.9 and 0.88 share (0.867, 0.933]: accuracy 1/2, confidence 0.89.
    # The others sit alone: |1 - 0.7|, |0 - 0.75|, |0 - 0.55|.
    expected = 2 / 5 * abs(0.5 - 0.89) + (0.3 + 0.75 + 0.55) / 5
    assert calibration.expected_calibration_error(probabilities, labels) == pytest.approx(expected)
    bins = calibration.reliability_bins(probabilities, labels)
    assert len(bins) == 15 and sum(b.reviews for b in bins) == 5
    assert bins[13].reviews == 2 and bins[13].accuracy == 0.5


def test_perfect_confident_predictions_have_no_calibration_error():
    probabilities = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert calibration.expected_calibration_error(probabilities, np.array([0, 1])) == 0.0


def test_nll_is_the_mean_log_loss():
    probabilities = np.array([[0.8, 0.2], [0.5, 0.5]])
    expected = -(np.log(0.8) + np.log(0.5)) / 2
    assert calibration.negative_log_likelihood(probabilities, np.array([0, 1])) == pytest.approx(
        expected
    )


def over_confident(n: int = 4000, scale: float = 3.0, classes: int = 3, seed: int = 0):
    """Labels drawn from softmax(z); the model reports scale * z: over-confident by ``scale``."""
    rng = np.random.default_rng(seed)
    true_logits = rng.normal(0, 1.5, size=(n, classes))
    probabilities = calibration.scaled_probabilities(true_logits)
    labels = np.array([rng.choice(classes, p=p) for p in probabilities])
    return scale * true_logits, labels


def test_temperature_undoes_over_confidence_and_keeps_every_label():
    logits, labels = over_confident()
    temperature = calibration.fit_temperature(logits, labels)
    assert 2.6 < temperature < 3.4  # the true answer is 3
    before = calibration.calibration_scores(logits, labels, 1.0)
    after = calibration.calibration_scores(logits, labels, temperature)
    assert after.nll < before.nll and after.ece < before.ece / 2
    assert np.array_equal(
        calibration.scaled_probabilities(logits, temperature).argmax(axis=1), logits.argmax(axis=1)
    )
    assert calibration.fit_temperature(logits, labels) == temperature  # deterministic


def test_the_fitted_temperature_is_the_nll_minimum():
    logits, labels = over_confident(n=500, scale=0.5, classes=2, seed=1)  # under-confident: T < 1
    temperature = calibration.fit_temperature(logits, labels)
    assert temperature < 1

    def nll(t: float) -> float:
        return calibration.calibration_scores(logits, labels, t).nll

    assert nll(temperature) <= min(nll(temperature * 0.98), nll(temperature * 1.02))


def test_calibrate_reports_both_sides():
    logits, labels = over_confident(n=1000)
    result = calibration.calibrate(logits, labels)
    assert result.reviews == 1000 and result.nll_after < result.nll_before
    assert set(result.to_dict()) == {
        "temperature", "reviews", "ece_before", "ece_after", "nll_before", "nll_after",
    }  # fmt: skip


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError):
        calibration.fit_temperature(np.zeros((3, 2)), np.array([0, 1]))
