"""Which texts of a batch share an ONNX Runtime call: batch only where batching pays here.

Padding a short review to a long one's width costs compute; running several reviews in one
call saves some. Which wins depends on the machine: on an AVX-512 VNNI CPU a batch of 8 ran
twice as fast per review as batch 1, on an AVX2 CPU only a few percent faster, so there the
padding of a mixed batch of 32 IMDb reviews (17% more tokens, even sorted by length) loses
more than batching gains. So the server measures, once at warm-up, what one token costs at
each batch size on this machine, and splits every length-sorted batch into the ONNX calls
that cost least by that measure (a small dynamic programme; at most ``max_width`` per call).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from senticlf.runtime.batching import TokenIds, run_in_groups

# Width of the probe batches: a typical review's length, cheap enough to time at start-up.
_PROBE_TOKENS = 128
_PROBE_REPEATS = 3


@dataclass(frozen=True)
class CallPlanner:
    """Relative cost per token of an ONNX call of n texts (n = 1 .. max_width; n=1 costs 1)."""

    token_cost: tuple[float, ...]

    @property
    def max_width(self) -> int:
        return len(self.token_cost)

    @classmethod
    def fixed(cls, width: int) -> CallPlanner:
        """Assume batching always pays: calls of ``width`` texts, as the predictor makes."""
        return cls(tuple([1.0] + [0.5] * (width - 1)))

    @classmethod
    def measure(cls, run: Callable[[list[TokenIds]], np.ndarray], max_width: int) -> CallPlanner:
        """Time ``run`` on probe batches of 1 .. ``max_width`` texts (best of a few repeats)."""
        probe = [1] * _PROBE_TOKENS
        seconds = []
        for width in range(1, max_width + 1):
            best = float("inf")
            for _ in range(_PROBE_REPEATS):
                start = time.perf_counter()
                run([probe] * width)
                best = min(best, time.perf_counter() - start)
            seconds.append(best / width)
        return cls(tuple(s / seconds[0] for s in seconds))

    def plan(self, lengths: Sequence[int]) -> list[list[int]]:
        """Indices into ``lengths``, grouped into the cheapest calls (each group length-sorted)."""
        order = sorted(range(len(lengths)), key=lengths.__getitem__)
        # best[j]: least cost of the j shortest texts; a call of texts i..j-1 pays its width
        # (the longest, j-1) for each of its texts at the per-token cost of its size.
        best = [0.0] + [float("inf")] * len(order)
        start_of = [0] * (len(order) + 1)
        for j in range(1, len(order) + 1):
            width = lengths[order[j - 1]]
            for i in range(max(0, j - self.max_width), j):
                n = j - i
                cost = best[i] + n * width * self.token_cost[n - 1]
                if cost < best[j]:
                    best[j], start_of[j] = cost, i
        groups: list[list[int]] = []
        j = len(order)
        while j > 0:
            groups.append(order[start_of[j] : j])
            j = start_of[j]
        return groups[::-1]


def run_planned(
    planner: CallPlanner,
    ids: Sequence[TokenIds],
    run: Callable[[list[TokenIds]], np.ndarray],
) -> np.ndarray:
    """``run`` over the planned calls; rows come back in input order."""
    return run_in_groups(ids, planner.plan([len(seq) for seq in ids]), run)
