"""benchmarks.explain's ERASER arithmetic and word rankings on a stand-in model: no bundle."""

import numpy as np
import pytest

from benchmarks import explain as bench
from senticlf.runtime import explain

TEXT = "Great film. The plot was dull, the music awful.<br /><br />Fine."


def great_model(texts):
    """P(positive) is 0.9 with the word 'great' and 0.3 without, whatever else is there."""
    return np.array([[0.1, 0.9] if "great" in t.lower() else [0.7, 0.3] for t in texts])


def test_the_top_words_and_what_is_kept_of_them():
    scores = np.array([0.0, 3.0, 1.0, 3.0])
    assert bench.top_words(scores, 0.5) == [1, 3]  # ties: the earlier first, then text order
    assert bench.top_words(scores, 0.01) == [1]  # at least one
    words = explain.word_spans(TEXT)
    assert bench.kept_only(TEXT, words, [0, 5]) == "Great dull"


def test_comprehensiveness_and_sufficiency_follow_their_definitions():
    n = len(explain.word_spans(TEXT))
    right = np.zeros(n)
    right[0] = 1.0  # "Great" first
    measured = bench.eraser(TEXT, 1, 0.9, right, great_model)
    assert measured["comprehensiveness"] == pytest.approx({5: 0.6, 10: 0.6, 20: 0.6})
    assert measured["sufficiency"] == pytest.approx({5: 0.0, 10: 0.0, 20: 0.0})
    wrong = -right  # "Great" last
    measured = bench.eraser(TEXT, 1, 0.9, wrong, great_model)
    assert measured["aopc_comprehensiveness"] == pytest.approx(0.0)
    assert measured["aopc_sufficiency"] == pytest.approx(0.6)


def test_occlusion_ranks_the_word_the_model_reads_first():
    (result,) = explain.explain([TEXT], great_model, ["negative", "positive"])
    scores = bench.occlusion_scores(TEXT, result)
    assert int(np.argmax(scores)) == 0 and scores[0] == pytest.approx(0.6)
    assert len(scores) == len(explain.word_spans(TEXT))


def test_shap_gets_the_same_word_units_and_its_calls_are_counted():
    pytest.importorskip("shap", reason="the SHAP baseline needs the bench extra")
    model = bench.CountingModel(great_model)
    explainer = bench.shap_explainer(model, ["negative", "positive"])
    scores, calls, _ = bench.shap_scores(explainer, model, TEXT, 1, 40)
    assert len(scores) == len(explain.word_spans(TEXT)) and 0 < calls <= 42
    assert int(np.argmax(scores)) == 0
