import numpy as np
import pytest

from senticlf.evaluation import calibration
from senticlf.runtime.calibrator import KINDS, Calibrator, scaled_probabilities


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
    probabilities = scaled_probabilities(true_logits)
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
        scaled_probabilities(logits, temperature).argmax(axis=1), logits.argmax(axis=1)
    )
    assert calibration.fit_temperature(logits, labels) == temperature  # deterministic


def test_the_fitted_temperature_is_the_nll_minimum():
    logits, labels = over_confident(n=500, scale=0.5, classes=2, seed=1)  # under-confident: T < 1
    temperature = calibration.fit_temperature(logits, labels)
    assert temperature < 1

    def nll(t: float) -> float:
        return calibration.calibration_scores(logits, labels, t).nll

    assert nll(temperature) <= min(nll(temperature * 0.98), nll(temperature * 1.02))


def test_fit_and_measure_reports_both_sides():
    logits, labels = over_confident(n=1000)
    result = calibration.fit_and_measure(logits, labels)
    check = result.check
    assert check.reviews == 1000 and check.nll_after < check.nll_before
    assert result.calibrator.kind == check.kind == "temperature"  # 3 labels: temperature only
    assert check.temperature == result.calibrator.temperature
    assert check.description == result.calibrator.describe()
    assert check.accuracy_before == check.accuracy_after
    assert set(check.candidates) == {"temperature"}
    assert check.cv_ece == check.candidates["temperature"]["ece"]


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError):
        calibration.fit_temperature(np.zeros((3, 2)), np.array([0, 1]))


def binary_logits(n: int, seed: int, truth, scale: float = 3.0):
    """Logit differences d ~ N(0, 2); labels drawn from truth(d); the model reports scale * d."""
    rng = np.random.default_rng(seed)
    d = rng.normal(0, 2, n)
    labels = (rng.random(n) < truth(d)).astype(np.int64)
    return np.stack([np.zeros(n), scale * d], axis=1), labels


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_platt_recovers_a_known_scale_and_bias():
    # truth sigmoid(0.5 * d + 0.8) with logits 3 * d: a = 0.5 / 3, b = 0.8
    logits, labels = binary_logits(20_000, 2, lambda d: sigmoid(0.5 * d + 0.8))
    scale, bias = calibration.fit_platt(logits, labels)
    assert scale == pytest.approx(0.5 / 3, rel=0.08) and bias == pytest.approx(0.8, abs=0.08)
    chosen = calibration.fit_calibrator(logits[:3000], labels[:3000])
    assert chosen.kind == "platt"  # a bias is beyond any temperature
    assert chosen.candidates["platt"]["log_loss"] < chosen.candidates["temperature"]["log_loss"]


def test_pool_adjacent_violators_on_a_hand_example():
    knots_x, knots_y = calibration.fit_isotonic(
        np.array([1, 2, 3, 4, 4]), np.array([1, 0, 1, 1, 0])
    )
    # (1, 2) violate and pool to 0.5; x = 4 is tied (mean 0.5) and pools with 3: 2/3.
    assert knots_x == [1.0, 2.0, 3.0, 4.0]
    assert knots_y == pytest.approx([0.5, 0.5, 2 / 3, 2 / 3])


def test_isotonic_is_monotone_and_fixes_a_shape_temperature_cannot():
    truth = lambda d: sigmoid(np.sign(d) * np.abs(d) ** 0.3)  # noqa: E731
    logits, labels = binary_logits(3000, 3, truth)
    chosen = calibration.fit_calibrator(logits, labels)
    assert chosen.kind == "isotonic"
    assert np.all(np.diff(chosen.knots_x) > 0) and np.all(np.diff(chosen.knots_y) >= 0)
    grid = np.stack([np.zeros(500), np.linspace(-20, 20, 500)], axis=1)
    positive = chosen.apply(grid)[:, 1]
    assert np.all(np.diff(positive) >= 0) and chosen.floor <= positive.min()
    assert positive.max() <= 1 - chosen.floor
    fresh, fresh_labels = binary_logits(5000, 4, truth)
    temperature = Calibrator(temperature=calibration.fit_temperature(logits, labels))
    ece = {
        name: calibration.expected_calibration_error(c.apply(fresh), fresh_labels)
        for name, c in (("isotonic", chosen), ("temperature", temperature))
    }
    assert ece["isotonic"] < ece["temperature"] / 1.5
    # Fitted on each side of 0.5: the model's labels never change.
    assert np.array_equal(chosen.apply(fresh).argmax(axis=1), fresh.argmax(axis=1))


def test_cross_validation_keeps_temperature_on_temperature_shaped_data():
    for seed in range(5):
        logits, labels = binary_logits(1000, 10 + seed, sigmoid)  # over-confident by 3 exactly
        chosen = calibration.fit_calibrator(logits, labels)
        assert chosen.kind == "temperature" and 2.5 < chosen.temperature < 3.6
        assert set(chosen.candidates) == {"temperature", "platt", "isotonic"}
        assert chosen.cv_log_loss == chosen.candidates["temperature"]["log_loss"]


def test_more_than_two_labels_get_temperature_only():
    logits, labels = over_confident(n=600)
    chosen = calibration.fit_calibrator(logits, labels)
    assert chosen.kind == "temperature" and set(chosen.candidates) == {"temperature"}
    with pytest.raises(ValueError, match="need 2 labels"):
        calibration.fit_calibrator(logits, labels, kinds=("isotonic",))


def test_too_few_reviews_fit_temperature_without_cross_validation():
    logits, labels = binary_logits(8, 5, sigmoid)
    chosen = calibration.fit_calibrator(logits, labels)
    assert chosen.kind == "temperature" and chosen.cv_log_loss is None and chosen.reviews == 8


def test_a_calibrator_survives_the_manifest_round_trip():
    import json

    logits, labels = binary_logits(1000, 6, lambda d: sigmoid(np.sign(d) * np.abs(d) ** 0.3))
    for kind in KINDS:
        fitted = calibration.fit_calibrator(logits, labels, kinds=(kind,))
        back = Calibrator.from_dict(json.loads(json.dumps(fitted.to_dict())))
        assert back == fitted
        assert np.array_equal(back.apply(logits), fitted.apply(logits))


def test_fit_and_measure_gives_accuracy_before_and_after_when_labels_can_move():
    logits, labels = binary_logits(2000, 7, lambda d: sigmoid(0.5 * d + 0.8))
    result = calibration.fit_and_measure(logits, labels, "reviews.csv")
    check = result.check
    assert result.calibrator.kind == "platt" and check.source == "reviews.csv"
    predicted = result.calibrator.apply(logits).argmax(axis=1)
    assert check.accuracy_after == np.mean(predicted == labels)
    assert check.accuracy_before == np.mean(logits.argmax(axis=1) == labels)
    assert check.accuracy_after > check.accuracy_before  # the bias moved the crossing
