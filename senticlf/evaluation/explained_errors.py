"""``evaluate --explain``: for each misclassified review, the sentences that decided its wrong label.

The error groups (error_analysis.py) say where to look by word patterns; this asks the model
itself. Each misclassified review is explained by sentence occlusion only (no word stage:
a sentence is what a person reads to see the mistake), through the same predictor, for the
label it wrongly gave. It costs one model call per sentence (a budget by length, 25 variants
for a 250-token review), so it is off by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress

from senticlf.runtime.batching import chunks
from senticlf.runtime.explain import Explanation, explain_with
from senticlf.runtime.predictor import SentimentClassifier

# Sentences kept per review, and the characters shown of each.
TOP = 3
_CHARS = 200
_CHUNK = 8


def explain_errors(
    classifier: SentimentClassifier,
    texts: Sequence[str],
    labels: np.ndarray,
    predictions: np.ndarray,
    console: Console,
) -> list[dict[str, Any]]:
    """One record per misclassified review, in input order, with its most decisive sentences."""
    wrong = np.flatnonzero(predictions != labels).tolist()
    names = classifier.labels
    records = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("explaining the errors", total=len(wrong))
        for chunk in chunks(wrong, _CHUNK):
            found = explain_with(classifier, [texts[i] for i in chunk], words=False)
            for i, explanation in zip(chunk, found, strict=True):
                records.append(_record(i, names[labels[i]], explanation))
            progress.advance(task, len(chunk))
    return records


def _record(index: int, truth: str, e: Explanation) -> dict[str, Any]:
    return {
        "review": index + 1,
        "label": truth,
        "predicted": e.label,
        "score": round(e.score, 4),
        "model_calls": e.model_calls,
        "sentences": [
            {
                "text": s.text[:_CHARS],
                "start": s.start,
                "end": s.end,
                "contribution": s.contribution,
            }
            for s in e.top_sentences(TOP)
        ],
    }


def markdown(records: list[dict[str, Any]]) -> list[str]:
    """The report's section: one bullet per misclassified review."""
    lines = [
        "",
        "Misclassified reviews and the sentences that decided them (each sentence's drop in the "
        "probability of the wrong label when it is removed; `senticlf explain` shows the words):",
        "",
    ]
    for r in records:
        said = "; ".join(
            f"{s['contribution']:+.3f} “{_one_line(s['text'])}”" for s in r["sentences"]
        )
        lines.append(
            f"- review {r['review']} ({r['label']}, predicted {r['predicted']} {r['score']:.3f}): "
            f"{said or 'no single sentence decided it'}"
        )
    return lines


def _one_line(text: str) -> str:
    return " ".join(text.replace("<br />", " ").split())
