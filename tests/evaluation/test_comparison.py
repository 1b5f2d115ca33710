import numpy as np
import pytest

from senticlf.evaluation.comparison import compare_predictions, mcnemar_p


def correct(only_a: int, only_b: int, both: int = 5):
    a = np.array([True] * only_a + [False] * only_b + [True] * both)
    b = np.array([False] * only_a + [True] * only_b + [True] * both)
    return a, b


@pytest.mark.parametrize(
    ("only_a", "only_b", "expected"),
    [
        (3, 0, 2 * 1 / 8),  # n=3: P(0 of 3) = 1/8, two-sided
        (5, 1, 2 * (1 + 6) / 64),  # n=6: (C(6,0) + C(6,1)) / 2^6
        (2, 2, 1.0),  # an even split is no evidence at all
        (0, 0, 1.0),  # no discordant pair
        (10, 0, 2 / 1024),
    ],
)
def test_exact_mcnemar_values(only_a, only_b, expected):
    assert mcnemar_p(*correct(only_a, only_b)) == pytest.approx(expected)


def test_comparison_counts_agreement_and_discordant_reviews():
    labels = np.array([0, 1, 2, 1, 0])
    result = compare_predictions(labels, np.array([0, 1, 2, 0, 1]), np.array([0, 1, 1, 1, 1]))
    assert result["agreement"] == pytest.approx(3 / 5)  # reviews 0, 1 and 4
    assert result["only_a_correct"] == 1 and result["only_b_correct"] == 1
    assert result["mcnemar_p"] == 1.0
