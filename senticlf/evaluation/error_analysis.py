"""Group misclassified reviews by the usual reasons a sentiment model fails on IMDb.

The groups follow the reference error analysis: long reviews cut by truncation, mixed
sentiment, negation and irony. The cues are plain word patterns, deliberately simple and
overlapping: they tell where to look, not why the model failed. A review can be in several
groups; ``none of these`` counts the rest.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

_POSITIVE = r"good|great|excellent|wonderful|best|brilliant|amazing|love|loved|enjoy|enjoyed|fun|beautiful|perfect|masterpiece"
_NEGATIVE = r"bad|worst|awful|terrible|boring|waste|poor|horrible|stupid|dull|hate|hated|mess|disappointing|lame"
_CONTRAST = re.compile(
    r"\b(but|however|although|though|yet|despite|nevertheless|on the other hand)\b"
)
_POS_WORD = re.compile(rf"\b({_POSITIVE})\b")
_NEG_WORD = re.compile(rf"\b({_NEGATIVE})\b")
_NEGATION = re.compile(
    rf"\b(not|no|never|hardly|isn't|wasn't|aren't|don't|doesn't|didn't|can't|couldn't)\s+"
    rf"(\w+\s+)?(really\s+|very\s+|that\s+|so\s+)?({_POSITIVE}|{_NEGATIVE})\b"
)
_IRONY = re.compile(
    rf"([\"'](?:{_POSITIVE})[\"']|so bad (it's|its|that it's) (good|funny)|yeah,? right|"
    r"oh,? (sure|great|joy)|\bsarcas|\bironic|!\?|\?!|\blol\b)"
)

GROUPS = ("truncated", "mixed sentiment", "negation", "irony", "none of these")


def error_groups(text: str, n_tokens: int, max_length: int) -> list[str]:
    """The groups one misclassified review falls into."""
    lowered = text.lower()
    groups = []
    if n_tokens > max_length:
        groups.append("truncated")
    if _CONTRAST.search(lowered) and _POS_WORD.search(lowered) and _NEG_WORD.search(lowered):
        groups.append("mixed sentiment")
    if _NEGATION.search(lowered):
        groups.append("negation")
    if _IRONY.search(lowered):
        groups.append("irony")
    return groups or ["none of these"]


def count_groups(texts: Sequence[str], n_tokens: Sequence[int], max_length: int) -> dict[str, int]:
    groups = (error_groups(t, n, max_length) for t, n in zip(texts, n_tokens, strict=True))
    return tally(groups)


def tally(groups: Iterable[list[str]]) -> dict[str, int]:
    """Reviews per group, every group listed (0 included), from each review's groups."""
    counts: Counter[str] = Counter({group: 0 for group in GROUPS})
    for review_groups in groups:
        counts.update(review_groups)
    return dict(counts)
