"""Explanations: faithful to the model (ignored spans ~0, signs that hold), reproducible, in budget."""

from __future__ import annotations

import numpy as np
import pytest

import senticlf
from senticlf.errors import SenticlfError
from senticlf.runtime import explain
from tests.conftest import make_reviews

LABELS = ["negative", "positive"]
REVIEW = (
    "Great acting and a wonderful score. The plot was dull, though!<br /><br />"
    "Mr. Smith directs with care... and it shows. I loved it."
)


class FirstWordModel:
    """A stand-in that reads only the first word: 'great' is positive, anything else 50/50.
    Counts its calls and the texts it scored."""

    def __init__(self) -> None:
        self.calls = 0
        self.texts = 0

    def __call__(self, texts):
        self.calls += 1
        self.texts += len(texts)
        first = [(explain.word_spans(t) or [(0, 0)])[0] for t in texts]
        return np.array(
            [
                [0.1, 0.9] if t[a:b].lower() == "great" else [0.5, 0.5]
                for t, (a, b) in zip(texts, first, strict=True)
            ]
        )


def test_sentences_and_words_slice_back_out_of_the_original_text() -> None:
    found = explain.sentences(REVIEW)
    assert [REVIEW[s.start : s.end] for s in found] == [
        "Great acting and a wonderful score.",
        "The plot was dull, though!",
        "Mr. Smith directs with care... and it shows.",
        "I loved it.",
    ]
    for sentence in found:
        assert all(sentence.start <= a < b <= sentence.end for a, b in sentence.words)
    short = "Don't stop, it's 10/10"
    words = [short[a:b] for a, b in explain.word_spans(short)]
    assert words == ["Don't", "stop", "it's", "10", "10"]
    assert explain.sentences("") == [] and explain.sentences("  !!! ") == []


def test_spans_the_model_ignores_get_nothing_and_the_read_one_gets_the_change() -> None:
    model = FirstWordModel()
    (result,) = explain.explain([REVIEW], model, LABELS)
    assert result.label == "positive" and result.score == pytest.approx(0.9)
    assert [s.contribution for s in result.sentences] == pytest.approx([0.4, 0, 0, 0])
    first = result.words[0]
    assert (first.text, first.sentence) == ("Great", 0)
    assert first.contribution == pytest.approx(0.4)
    assert all(w.contribution == 0 for w in result.words[1:])
    for span in (*result.sentences, *result.words):
        assert REVIEW[span.start : span.end] == span.text
    # Only the decisive sentence's words are dropped: the others moved nothing.
    assert {w.sentence for w in result.words} == {0}
    assert model.calls == 2 and model.texts == result.model_calls
    assert result.top_sentences() == [result.sentences[0]]


def test_any_label_set_and_the_label_it_is_asked_to_explain() -> None:
    def three(texts):
        return np.array([[0.2, 0.5, 0.3] if "meh" in t else [0.6, 0.2, 0.2] for t in texts])

    labels = ["negative", "neutral", "positive"]
    (result,) = explain.explain(["It was meh. Fine otherwise."], three, labels)
    assert result.label == "neutral" and set(result.probabilities) == set(labels)
    assert result.sentences[0].contribution == pytest.approx(0.5 - 0.2)
    (chosen,) = explain.explain(["It was meh."], three, labels, choose=lambda row: 2)
    assert chosen.label == "positive" and chosen.sentences[0].contribution == pytest.approx(0.1)


@pytest.mark.parametrize("budget", [1, 5, 25, 70])
def test_a_long_review_stays_within_its_budget(budget: int) -> None:
    text = " ".join(f"Sentence number {i} has great words in it." for i in range(120))
    model = FirstWordModel()
    (result,) = explain.explain([text], model, LABELS, budget=budget)
    assert result.model_calls - 1 <= budget and result.budget == budget
    assert model.texts == result.model_calls
    # Runs of sentences cover the whole review, in order, without overlap.
    assert result.sentences[0].start == 0 and result.sentences[-1].end == len(text)
    ends = [s.end for s in result.sentences[:-1]]
    assert all(e < s.start for e, s in zip(ends, result.sentences[1:], strict=True))


def test_the_default_budget_grows_with_length_and_stops_at_the_models_reach() -> None:
    assert explain.default_budget(190) == 25 and explain.default_budget(390) == 28
    assert explain.default_budget(5000) == 28
    assert explain.default_budget(0) < explain.default_budget(100) < 25
    with pytest.raises(SenticlfError, match="budget"):
        explain.explain(["a"], FirstWordModel(), LABELS, budget=0)


def test_blank_and_wordless_texts_cost_one_call_and_have_no_spans() -> None:
    model = FirstWordModel()
    results = explain.explain(["", "?!"], model, LABELS)
    assert [r.model_calls for r in results] == [1, 1]
    assert all(r.sentences == () and r.words == () for r in results)
    assert explain.explain([], model, LABELS) == []


# ---------------------------------------------------------------------------- the real predictor


@pytest.fixture(scope="module")
def classifier(bundle):
    return senticlf.load(bundle)


TEXTS = [text for text, _ in make_reviews(6, seed=11)] + [REVIEW]


def test_the_same_alone_twice_and_in_a_batch(classifier) -> None:
    alone = [classifier.explain(text) for text in TEXTS]
    assert alone == [classifier.explain(text) for text in TEXTS]
    batched = classifier.explain(TEXTS)
    for one, many in zip(alone, batched, strict=True):
        assert (one.label, one.model_calls) == (many.label, many.model_calls)
        assert [(s.start, s.end) for s in one.words] == [(s.start, s.end) for s in many.words]
        np.testing.assert_allclose(
            [s.contribution for s in (*one.sentences, *one.words)],
            [s.contribution for s in (*many.sentences, *many.words)],
            atol=1e-5,
        )
    assert isinstance(alone[0], senticlf.Explanation)


def test_it_explains_the_label_predict_gives(classifier) -> None:
    predictions = classifier.predict(TEXTS)
    for prediction, result in zip(predictions, classifier.explain(TEXTS), strict=True):
        assert result.label == prediction.label
        assert result.score == pytest.approx(prediction.score, abs=1e-5)


def test_removing_a_span_moves_the_probability_the_way_its_sign_says(classifier) -> None:
    (result,) = classifier.explain([REVIEW])
    strongest = max((*result.sentences, *result.words), key=lambda s: abs(s.contribution))
    assert abs(strongest.contribution) > 1e-3
    edited = REVIEW[: strongest.start] + REVIEW[strongest.end :]
    after = classifier.predict(edited).scores[result.label]
    assert np.sign(result.score - after) == np.sign(strongest.contribution)
    assert result.score - after == pytest.approx(strongest.contribution, abs=1e-5)


def test_a_predictor_that_reads_only_the_first_word_gets_zero_elsewhere(bundle) -> None:
    clf = senticlf.load(bundle)
    real = clf.probabilities

    def first_word_only(texts):
        return real([t[a:b] for t in texts for a, b in [(explain.word_spans(t) or [(0, 0)])[0]]])

    clf.probabilities = first_word_only  # type: ignore[method-assign]
    result = clf.explain("Awful acting all round. Great film. Wonderful music and brilliant fun.")
    assert all(abs(s.contribution) < 1e-6 for s in result.sentences[1:])
    assert all(abs(w.contribution) < 1e-6 for w in result.words if w.text != "Awful")


def test_non_strings_are_refused(classifier) -> None:
    with pytest.raises(SenticlfError, match="strings"):
        classifier.explain(["fine", 3])  # type: ignore[list-item]


def test_explaining_imports_neither_torch_nor_transformers(bundle) -> None:
    from tests.helpers import run_without_training_libraries

    result = run_without_training_libraries(
        f"""
        import senticlf
        from senticlf.runtime import explain_file, explain_html, explain_output
        from senticlf.evaluation import explained_errors
        why = senticlf.load({str(bundle)!r}).explain("A great film. Dull plot.")
        print(type(why).__name__, why.model_calls)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Explanation ")
