"""The one rule for a min_confidence (abstention threshold), shared by the library and the server.

A text whose top probability is below ``min_confidence`` is labelled uncertain. So the value is
a probability in (0, 1]: 0 would never abstain, and past 1 every text would. The predictor, the
server's ``--min-confidence`` and the ``min_confidence`` field of a /classify request all check
against :data:`MIN_CONFIDENCE` (the request schema takes its bounds from it too). No imports
beyond the standard library, so that the CLI can read it without loading a model.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OpenClosed:
    """The numbers x with ``low < x <= high``, written ``(low, high]``."""

    low: float
    high: float

    def __contains__(self, value: float) -> bool:
        return self.low < value <= self.high

    def __str__(self) -> str:
        return f"({self.low:g}, {self.high:g}]"


MIN_CONFIDENCE = OpenClosed(0.0, 1.0)
