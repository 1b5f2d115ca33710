"""Explanations written out: readable text (rich, colour in a terminal), JSON Lines, or one HTML page.

Text shows each review's label and its most decisive sentences, the words inside them that
pushed towards the label in green and against it in red; JSONL carries every span with its
character offsets and contribution, for programs; HTML is one self-contained page
(explain_html.py) with every review's text shaded.
"""

from __future__ import annotations

import json
from typing import IO

from rich.console import Console
from rich.text import Text

from senticlf.runtime import explain_html
from senticlf.runtime.explain import Explanation, Span
from senticlf.runtime.inputs import InputText

FORMATS = ("text", "jsonl", "html")
BLANK_NOTE = "blank line"
_SENTENCE_CHARS = 240
_TOP_WORDS = 5


class ExplanationWriter:
    """Writes one record per input line (blank lines reported, as ``predict`` does)."""

    def __init__(self, handle: IO[str], fmt: str, title: str = "Why this label") -> None:
        self.handle = handle
        self.format = fmt
        self.console = Console(file=handle, highlight=False, soft_wrap=True, emoji=False)
        if fmt == "html":
            handle.write(explain_html.page_head(title, "senticlf explain"))

    def write(self, item: InputText, explanation: Explanation | None) -> None:
        if self.format == "jsonl":
            record: dict[str, object] = {"line": item.line}
            record.update(
                explanation.as_dict() if explanation else {"label": None, "note": BLANK_NOTE}
            )
            self.handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        elif self.format == "html":
            if explanation is not None:
                section = explain_html.review_section(
                    f"Line {item.line}", item.text or "", explanation
                )
                self.handle.write(section)
        elif explanation is None:
            self.console.print(f"{item.line}  - (blank line)", markup=False)
        else:
            self._text(item, explanation)

    def close(self) -> None:
        if self.format == "html":
            self.handle.write(explain_html.PAGE_END)

    def _text(self, item: InputText, e: Explanation) -> None:
        probabilities = ", ".join(f"{k} {v:.3f}" for k, v in e.probabilities.items())
        header = Text(f"{item.line}  ")
        header.append(e.label, style="bold")
        header.append(f" {e.score:.3f} ({probabilities}; {e.model_calls} model calls)")
        self.console.print(header)
        shown = e.top_sentences(explain_html.TOP_SENTENCES)
        against = [s for s in e.sentences if s.contribution < 0]
        if against:
            shown.append(min(against, key=lambda s: s.contribution))
        for sentence in shown:
            self.console.print(_sentence_line(sentence, e.words))
        words = e.top_words(_TOP_WORDS)
        if words:
            listed = ", ".join(f"{w.contribution:+.3f} {w.text}" for w in words)
            self.console.print(f"  words: {listed}", markup=False)


def _sentence_line(sentence: Span, words: tuple[Span, ...]) -> Text:
    """``  +0.412  the sentence`` with its explained words in green (towards) or red (against)."""
    line = Text(f"  {sentence.contribution:+.3f}  ")
    body = Text(
        sentence.text[:_SENTENCE_CHARS] + ("…" if len(sentence.text) > _SENTENCE_CHARS else "")
    )
    for word in words:
        if word.start >= sentence.start and word.end <= sentence.end and word.contribution:
            style = "bold green" if word.contribution > 0 else "bold red"
            body.stylize(style, word.start - sentence.start, word.end - sentence.start)
    return line + body
