"""Why this label: which sentences, and which words inside them, moved the model to its answer.

Hierarchical occlusion. Each sentence is dropped in turn and the review re-scored; then each
word (or small run of words) of the sentences that mattered most is dropped in turn. A span's
contribution is ``p(label | review) - p(label | review without the span)`` for the predicted
label: positive where the span pushed the model towards its answer, negative where it pulled
away, about 0 where the model ignored it. No gradients and no surrogate model: every number is
the model's own answer on an edited review, so the method works for any bundle and any label
set, torch-free. Dropping whole sentences first, then only the words of the decisive ones,
keeps the number of model calls small enough to explain a review interactively
(:func:`default_budget`).

Every variant is scored through one probability function over a list of texts (the
predictor's batch-invariant path, or the server's batcher), so a review's explanation is the
same alone or beside others, and a batch of reviews costs one call per stage (sentences, then
words), not one per variant. The stages are a generator (:func:`explain_steps`) that yields
the texts to score and receives their probabilities, so that a synchronous caller
(:func:`run_steps`) and the asynchronous server drive the same code.

Spans are found with regexes (no NLP library): IMDb's ``<br />`` and line breaks end a
sentence, as do ``.``, ``!``, ``?`` and ``…`` before a space (not after an abbreviation or an
initial); a word is a run of letters and digits, apostrophes inside it included. Offsets are
character offsets into the original text, so ``text[span.start:span.end] == span.text``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from senticlf.errors import SenticlfError

if TYPE_CHECKING:
    from senticlf.runtime.predictor import SentimentClassifier

# Probabilities (one row per text, one column per label) of a list of texts.
ProbabilityFunction = Callable[[Sequence[str]], np.ndarray]
# The default budget (re-scored variants) by a review's word count, interpolated between these
# points and flat beyond the last. On IMDb, with a BERT WordPiece tokenizer, a review has 1.34
# tokens per word (1,000 reviews): 250 tokens is about 190 words and 512 about 390. On 2 cores
# (INT8, the stand-in encoder) 25 variants explain a 250-token review in a median 0.41 s and
# 28 a 512-token one in 1.30 s (benchmarks/results/explain.md): about 16 and 47 ms a variant;
# past 512 tokens the model reads no more, so the budget stops.
BUDGET_POINTS = ((0, 16), (190, 25), (390, 28))
# At most this share of a budget goes to sentences; longer reviews drop runs of sentences.
SENTENCE_SHARE = 0.6
# Words of a sentence after the most decisive one are explained only in runs this short, and
# only when the sentence moved the label at least this share of what the most decisive did.
MAX_WORD_GROUP = 3
DECISIVE_SHARE = 0.25
_BREAK = re.compile(r"<br\s*/?>|\r?\n", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?:[.!?]+|…)[\"'”’)\]]*(?=\s)")
_ELLIPSIS = re.compile(r"\.\.+|…")
_WORD = re.compile(r"\w+(?:['’]\w+)*")
_LAST_TOKEN = re.compile(r"[\w.]+$")
# A full stop after these (or after a single letter) ends no sentence.
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "vs", "etc", "prof", "no", "vol", "e.g", "i.e"}
)


@dataclass(frozen=True)
class Span:
    """A part of the text, where it is, and how much it moved the predicted label's probability.

    ``sentence`` is the index of the sentence the span is (or lies in) in
    :attr:`Explanation.sentences`.
    """

    start: int
    end: int
    text: str
    contribution: float
    sentence: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "contribution": self.contribution,
            "sentence": self.sentence,
        }


@dataclass(frozen=True)
class Explanation:
    """Why a text got its label.

    ``label`` and ``score`` are the prediction (``predict``'s label; a text it would call
    uncertain is explained for the label it would otherwise give), ``probabilities`` every
    label's. ``sentences`` are all the text's sentences, in order; a long review's sentences
    may be dropped in runs, and a run is then one span. ``words`` are the words (or runs of
    a few words) that were dropped one at a time, inside the most decisive sentences, in text
    order. ``model_calls`` counts the texts scored: the review itself and every variant.
    """

    label: str
    score: float
    probabilities: dict[str, float] = field(default_factory=dict)
    sentences: tuple[Span, ...] = ()
    words: tuple[Span, ...] = ()
    model_calls: int = 0
    budget: int = 0

    def top_sentences(self, count: int = 3) -> list[Span]:
        """The sentences that pushed hardest towards the label, strongest first."""
        return _strongest(self.sentences, count)

    def top_words(self, count: int = 5) -> list[Span]:
        """The words that pushed hardest towards the label, strongest first."""
        return _strongest(self.words, count)

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "score": self.score,
            "probabilities": dict(self.probabilities),
            "sentences": [span.as_dict() for span in self.sentences],
            "words": [span.as_dict() for span in self.words],
            "model_calls": self.model_calls,
            "budget": self.budget,
        }


def _strongest(spans: Sequence[Span], count: int) -> list[Span]:
    ranked = sorted(range(len(spans)), key=lambda i: (-spans[i].contribution, i))
    return [spans[i] for i in ranked[:count] if spans[i].contribution > 0]


# ---------------------------------------------------------------------------- spans


@dataclass(frozen=True)
class Sentence:
    """A sentence's character range and the ranges of its words."""

    start: int
    end: int
    words: tuple[tuple[int, int], ...]


def sentences(text: str) -> list[Sentence]:
    """The sentences of ``text`` that hold at least one word, in order."""
    found = []
    for start, end in _chunks(text):
        position = start
        for match in _SENTENCE_END.finditer(text, start, end):
            if _ends_sentence(text, position, match.start()):
                found.append(_sentence(text, position, match.end()))
                position = match.end()
        found.append(_sentence(text, position, end))
    return [s for s in found if s.words]


def word_spans(text: str) -> list[tuple[int, int]]:
    """The (start, end) of every word of ``text``: the units explanations drop."""
    return [match.span() for match in _WORD.finditer(text)]


def _chunks(text: str) -> list[tuple[int, int]]:
    """The stretches between line breaks and ``<br />`` tags."""
    bounds, position = [], 0
    for match in _BREAK.finditer(text):
        bounds.append((position, match.start()))
        position = match.end()
    bounds.append((position, len(text)))
    return bounds


def _ends_sentence(text: str, start: int, stop: int) -> bool:
    """Whether the punctuation at ``stop`` closes a sentence: not the stop of 'Mr.', 'e.g.'
    or an initial ('J. R. R. Tolkien')."""
    if _ELLIPSIS.match(text, stop):  # 'the end... was awful' goes on; '... Then' does not
        after = text[stop : stop + 40].lstrip(".… \t\"'”’)]")
        return not after[:1].islower()
    if text[stop] != ".":
        return True
    before = _LAST_TOKEN.search(text, start, stop)
    if before is None:
        return True
    token = before.group()
    initial = len(token) == 1 and token.isupper() and token != "I"
    return not initial and token.lower() not in _ABBREVIATIONS


def _sentence(text: str, start: int, end: int) -> Sentence:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    words = tuple(match.span() for match in _WORD.finditer(text, start, end))
    return Sentence(start, end, words)


def without(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """``text`` with the character ranges ``spans`` (sorted, disjoint) cut out.

    A word is a maximal run of word characters, so what is left on either side of a cut is
    punctuation or space: two words are never glued into one.
    """
    pieces, position = [], 0
    for start, end in spans:
        pieces.append(text[position:start])
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


# ---------------------------------------------------------------------------- budget


def default_budget(n_words: int) -> int:
    """Variants re-scored for a review of ``n_words`` words (see BUDGET_POINTS)."""
    words, budgets = zip(*BUDGET_POINTS, strict=True)
    return round(float(np.interp(n_words, words, budgets)))


def check_budget(budget: int | None) -> int | None:
    if budget is not None and (
        isinstance(budget, bool) or not isinstance(budget, int) or budget < 1
    ):
        raise SenticlfError(f"the explanation budget must be a whole number >= 1, got {budget!r}")
    return budget


def _even_runs(count: int, runs: int) -> list[tuple[int, int]]:
    """``range(count)`` cut into ``runs`` consecutive (start, stop) pieces of near-equal size."""
    runs = max(1, min(runs, count))
    edges = [round(i * count / runs) for i in range(runs + 1)]
    return [(edges[i], edges[i + 1]) for i in range(runs)]


# ---------------------------------------------------------------------------- the method


class _Plan:
    """One text's explanation in progress: its spans, its budget and what was measured."""

    def __init__(self, text: str, budget: int | None, words: bool) -> None:
        self.text = text
        self.sentences = sentences(text)
        n_words = sum(len(s.words) for s in self.sentences)
        self.budget = budget if budget is not None else default_budget(n_words)
        share = self.budget if not words else max(1, math.floor(self.budget * SENTENCE_SHARE))
        # Runs of sentences (usually one each) that are dropped together.
        self.units = _even_runs(len(self.sentences), share) if self.sentences else []
        self.explain_words = words
        self.word_units: list[tuple[int, int, int]] = []  # (sentence unit, first word, stop)
        self.probabilities = np.zeros(0)
        self.target = 0
        self.unit_contributions: list[float] = []
        self.word_contributions: list[float] = []

    def unit_range(self, unit: int) -> tuple[int, int]:
        first, stop = self.units[unit]
        return self.sentences[first].start, self.sentences[stop - 1].end

    def sentence_variants(self) -> list[str]:
        return [without(self.text, [self.unit_range(u)]) for u in range(len(self.units))]

    def take_sentences(self, rows: np.ndarray, choose: Callable[[np.ndarray], int]) -> None:
        self.probabilities = rows[0]
        self.target = choose(rows[0])
        full = float(rows[0][self.target])
        self.unit_contributions = [full - float(row[self.target]) for row in rows[1:]]
        if self.explain_words:
            self.word_units = self._choose_words()

    def _choose_words(self) -> list[tuple[int, int, int]]:
        """Word runs of the most decisive sentences (by |contribution|), within the budget."""
        room = self.budget - len(self.units)
        strength = [abs(c) for c in self.unit_contributions]
        order = sorted(range(len(self.units)), key=lambda u: (-strength[u], u))
        chosen: list[tuple[int, int, int]] = []
        for rank, unit in enumerate(order):
            n_words = self._unit_word_count(unit)
            group = math.ceil(n_words / room) if room > 0 else 0
            if rank > 0 and (
                group > MAX_WORD_GROUP
                or strength[unit] == 0
                or strength[unit] < DECISIVE_SHARE * strength[order[0]]
            ):
                break
            if group == 0:
                break
            runs = _even_runs(n_words, math.ceil(n_words / group))
            chosen += [(unit, a, b) for a, b in runs]
            room -= len(runs)
        return sorted(chosen)

    def _unit_words(self, unit: int) -> list[tuple[int, int]]:
        first, stop = self.units[unit]
        return [w for s in self.sentences[first:stop] for w in s.words]

    def _unit_word_count(self, unit: int) -> int:
        first, stop = self.units[unit]
        return sum(len(s.words) for s in self.sentences[first:stop])

    def word_range(self, unit: int, first: int, stop: int) -> tuple[int, int]:
        words = self._unit_words(unit)
        return words[first][0], words[stop - 1][1]

    def word_variants(self) -> list[str]:
        return [without(self.text, [self.word_range(*w)]) for w in self.word_units]

    def take_words(self, rows: np.ndarray) -> None:
        full = float(self.probabilities[self.target])
        self.word_contributions = [full - float(row[self.target]) for row in rows]

    def result(self, labels: Sequence[str]) -> Explanation:
        def span(start: int, end: int, contribution: float, unit: int) -> Span:
            return Span(start, end, self.text[start:end], contribution, unit)

        sentence_spans = tuple(
            span(*self.unit_range(u), c, u) for u, c in enumerate(self.unit_contributions)
        )
        words = tuple(
            span(*self.word_range(*w), c, w[0])
            for w, c in zip(self.word_units, self.word_contributions, strict=True)
        )
        return Explanation(
            label=labels[self.target],
            score=float(self.probabilities[self.target]),
            probabilities={
                label: float(p) for label, p in zip(labels, self.probabilities, strict=True)
            },
            sentences=sentence_spans,
            words=words,
            model_calls=1 + len(self.units) + len(self.word_units),
            budget=self.budget,
        )


def explain_steps(
    texts: Sequence[str],
    labels: Sequence[str],
    choose: Callable[[np.ndarray], int] | None = None,
    budget: int | None = None,
    words: bool = True,
) -> Generator[list[str], np.ndarray, list[Explanation]]:
    """Explain ``texts``: yields the texts to score (twice at most), returns the explanations.

    The caller sends back one probability row per yielded text. ``choose`` picks the label to
    explain from the review's own probabilities (default: the most probable); ``budget`` caps
    the variants per text (default: :func:`default_budget` of its length); ``words=False``
    explains sentences only (the whole budget on sentences, one stage).
    """
    check_budget(budget)
    pick = choose or (lambda row: int(np.argmax(row)))
    plans = [_Plan(text, budget, words) for text in texts]
    if not plans:
        return []
    batch = [t for plan in plans for t in (plan.text, *plan.sentence_variants())]
    rows = _checked((yield batch), batch, len(labels))
    position = 0
    for plan in plans:
        size = 1 + len(plan.units)
        plan.take_sentences(rows[position : position + size], pick)
        position += size
    batch = [variant for plan in plans for variant in plan.word_variants()]
    rows = _checked((yield batch), batch, len(labels)) if batch else np.zeros((0, len(labels)))
    position = 0
    for plan in plans:
        size = len(plan.word_units)
        plan.take_words(rows[position : position + size])
        position += size
    return [plan.result(labels) for plan in plans]


def _checked(rows: np.ndarray, batch: list[str], n_labels: int) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float64)
    if rows.shape != (len(batch), n_labels):
        raise ValueError(f"expected {len(batch)} x {n_labels} probabilities, got {rows.shape}")
    return rows


def run_steps(
    steps: Generator[list[str], np.ndarray, list[Explanation]], score: ProbabilityFunction
) -> list[Explanation]:
    """Drive :func:`explain_steps` with a synchronous probability function."""
    try:
        batch = next(steps)
        while True:
            batch = steps.send(score(batch))
    except StopIteration as done:
        return done.value


def explain(
    texts: Sequence[str],
    score: ProbabilityFunction,
    labels: Sequence[str],
    choose: Callable[[np.ndarray], int] | None = None,
    budget: int | None = None,
    words: bool = True,
) -> list[Explanation]:
    """Explanations of ``texts`` by any probability function (a model, or a stand-in in tests)."""
    return run_steps(explain_steps(texts, labels, choose, budget, words), score)


def label_chooser(classifier: SentimentClassifier) -> Callable[[np.ndarray], int]:
    """The label ``predict`` gives a row (its threshold included), as an index.

    A text that ``min_confidence`` would call uncertain is explained for the label it would
    otherwise have got: the one whose probability is the prediction's score.
    """
    labels = classifier.labels

    def choose(row: np.ndarray) -> int:
        prediction = classifier.to_prediction(row)
        if prediction.label in labels:
            return labels.index(prediction.label)
        return next(
            i for i, name in enumerate(labels) if prediction.scores[name] == prediction.score
        )

    return choose


def explain_with(
    classifier: SentimentClassifier,
    texts: Sequence[str],
    budget: int | None = None,
    words: bool = True,
) -> list[Explanation]:
    """``classifier.explain``: every variant of every text through ``classifier.probabilities``."""
    for text in texts:
        if not isinstance(text, str):
            raise SenticlfError(f"explain expects strings, got {type(text).__name__}")
    choose = label_chooser(classifier)
    return explain(texts, classifier.probabilities, classifier.labels, choose, budget, words)
