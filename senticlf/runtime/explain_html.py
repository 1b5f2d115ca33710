"""Explanations as one self-contained HTML page a person can read: every review's words shaded.

The page loads nothing: the CSS is inline, there is no script, no font, no image and no URL,
and a Content-Security-Policy forbids any load, so it opens offline and leaks nothing when
mailed around. Green marks what pushed the model towards the label shown, red what pulled away
from it, stronger for larger contributions (:func:`shade`); every sentence is underlined by its
own contribution and the words of the decisive ones are shaded. The server's page (``GET /``)
uses the same CSS and the same shading rule.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence

from senticlf.runtime.explain import Explanation, Span

# A contribution of this size or more gets the strongest shade (light enough to read the word
# through); smaller ones fade by the square root, so that small word contributions stay visible.
SHADE_FULL = 0.3
SHADE_MAX = 0.6
# Sentences listed under each review.
TOP_SENTENCES = 3
# Below this, no span moved the label visibly: the review says the same thing several times.
QUIET = 0.01
QUIET_NOTE = (
    "No sentence or word moves the label by {quiet} on its own: the review says it several "
    "times over, so dropping one span at a time changes little."
)
_BR = re.compile(r"<br\s*/?>|\r?\n", re.IGNORECASE)
CSS = """
:root{color-scheme:light;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
body{margin:0 auto;max-width:60rem;padding:1.5rem;line-height:1.6;color:#1f2328;background:#fff}
h1{font-size:1.5rem;margin:0 0 .25rem}
h2{font-size:1.1rem;margin:0}
.legend,.meta{color:#57606a;font-size:.9rem}
.review{border:1px solid #d0d7de;border-radius:8px;padding:1rem 1.25rem;margin:1rem 0}
.label{font-weight:700;padding:.1rem .5rem;border-radius:999px;background:#eaeef2}
.text{margin:.75rem 0;white-space:normal;overflow-wrap:anywhere}
.sup{--rgb:26,127,55}
.opp{--rgb:207,34,46}
.sent{border-bottom:3px solid rgba(var(--rgb,0,0,0),var(--a,0))}
mark.w{background:rgba(var(--rgb,0,0,0),var(--a,0));color:inherit;border-radius:3px;padding:0 1px}
.top{margin:.25rem 0 0;padding-left:1.25rem}
.c{font-variant-numeric:tabular-nums;font-weight:600;margin-right:.5rem}
.c.sup{color:rgb(26,127,55)}.c.opp{color:rgb(207,34,46)}
"""
# Allows the inline CSS and nothing else: no script, no request of any kind.
_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def shade(contribution: float) -> tuple[str, float]:
    """CSS class (``sup``: towards the label, ``opp``: against it) and opacity of a span."""
    strength = SHADE_MAX * min(1.0, math.sqrt(abs(contribution) / SHADE_FULL))
    return ("sup" if contribution > 0 else "opp"), round(strength, 3)


def signed(value: float) -> str:
    return f"{value:+.3f}"


def plain(text: str) -> str:
    """Escaped text, with ``<br />`` and line breaks kept as line breaks."""
    return "<br>".join(html.escape(part) for part in _BR.split(text))


def _attributes(contribution: float, what: str) -> str:
    css_class, opacity = shade(contribution)
    return f'class="{{}} {css_class}" style="--a:{opacity}" title="{what} {signed(contribution)}"'


def highlighted(text: str, explanation: Explanation) -> str:
    """``text`` as HTML: each sentence underlined, each explained word run shaded."""
    words_of: dict[int, list[Span]] = {}
    for word in explanation.words:
        words_of.setdefault(word.sentence, []).append(word)
    parts, position = [], 0
    for index, sentence in enumerate(explanation.sentences):
        parts.append(plain(text[position : sentence.start]))
        inner, cursor = [], sentence.start
        for word in words_of.get(index, []):
            inner.append(plain(text[cursor : word.start]))
            mark = _attributes(word.contribution, "word").format("w")
            inner.append(f"<mark {mark}>{plain(word.text)}</mark>")
            cursor = word.end
        inner.append(plain(text[cursor : sentence.end]))
        underline = _attributes(sentence.contribution, "sentence").format("sent")
        parts.append(f"<span {underline}>{''.join(inner)}</span>")
        position = sentence.end
    parts.append(plain(text[position:]))
    return "".join(parts)


def review_section(title: str, text: str, explanation: Explanation) -> str:
    """One review: its label and probabilities, the shaded text, its top sentences."""
    e = explanation
    probabilities = " · ".join(f"{html.escape(k)} {v:.3f}" for k, v in e.probabilities.items())
    top = "".join(
        f'<li><span class="c {shade(s.contribution)[0]}">{signed(s.contribution)}</span>'
        f"{plain(s.text)}</li>"
        for s in e.top_sentences(TOP_SENTENCES)
    )
    listing = (
        f'<ol class="top">{top}</ol>'
        if top
        else '<p class="meta">No sentence supports the label on its own.</p>'
    )
    strongest = max((abs(s.contribution) for s in (*e.sentences, *e.words)), default=0.0)
    quiet = f'<p class="meta">{quiet_note()}</p>' if strongest < QUIET else ""
    return (
        '<section class="review">'
        f'<h2>{html.escape(title)} <span class="label">{html.escape(e.label)}</span> '
        f'<span class="score">{e.score:.3f}</span></h2>'
        f'<p class="meta">{probabilities} · {e.model_calls} model calls</p>'
        f'<p class="text">{highlighted(text, e)}</p>{quiet}'
        f"<h3>Most decisive sentences</h3>{listing}"
        "</section>\n"
    )


def quiet_note() -> str:
    return QUIET_NOTE.format(quiet=QUIET)


def page_head(title: str, subtitle: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>\n"
        f"<header><h1>{html.escape(title)}</h1>"
        f'<p class="meta">{html.escape(subtitle)}</p>'
        f'<p class="legend">{legend()}</p></header>\n'
    )


def legend() -> str:
    towards = _attributes(SHADE_FULL, "example").format("w")
    against = _attributes(-SHADE_FULL, "example").format("w")
    return (
        f"<mark {towards}>towards the label</mark> <mark {against}>against it</mark>: the "
        "probability of the label shown falls (or rises) by about that much without the span; "
        "sentences are underlined, the words of the most decisive ones shaded."
    )


PAGE_END = "</body></html>\n"


def page(title: str, subtitle: str, reviews: Sequence[tuple[str, str, Explanation]]) -> str:
    """A whole page: ``reviews`` are (heading, text, explanation)."""
    body = "".join(review_section(*review) for review in reviews)
    return page_head(title, subtitle) + body + PAGE_END
