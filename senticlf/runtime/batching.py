"""Length-sorted batches with the caller's order restored: the one loop every model runner uses.

Reviews of similar length share a padded width, which roughly doubles throughput on IMDb
(measured in benchmarks/results/speed-*.md); callers still want results in input order. The
predictor, the export check, the training report, the server and the Ray workers all run
their model through :func:`run_length_sorted`, so the sorting and the order restoring live here.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

import numpy as np

TokenIds = Sequence[int]
T = TypeVar("T")
# Texts taken from a stream at once (predict, predict_file, evaluate): enough to sort by length,
# which roughly doubles throughput on IMDb; few enough to bound memory and show progress.
CHUNK = 1024


def chunks(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """``items`` ``size`` at a time, lazily (itertools.batched needs Python 3.12)."""
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


# Padded tokens per ONNX Runtime call where a GPU runs the model: a GPU wants hundreds of
# short texts per call but only dozens of 512-token ones, so a call is sized by tokens.
TOKEN_BUDGET = 16_384


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Indices into ``lengths`` grouped by ascending length, ``batch_size`` at a time."""
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def token_budget_batches(
    lengths: Sequence[int], max_tokens: int, max_texts: int
) -> Iterator[list[int]]:
    """Indices into ``lengths`` by ascending length, each batch at most ``max_tokens`` padded
    tokens (texts x longest) and ``max_texts`` texts; a text longer than the budget runs alone.
    """
    if max_tokens < 1 or max_texts < 1:
        raise ValueError(f"token budget and batch size must be >= 1, got {max_tokens}, {max_texts}")
    batch: list[int] = []
    for index in sorted(range(len(lengths)), key=lengths.__getitem__):
        # sorted ascending, so this text is the batch's longest: it sets the padded width
        if batch and ((len(batch) + 1) * lengths[index] > max_tokens or len(batch) == max_texts):
            yield batch
            batch = []
        batch.append(index)
    if batch:
        yield batch


def run_token_budget(
    ids: Sequence[TokenIds],
    max_tokens: int,
    max_texts: int,
    run_batch: Callable[[list[TokenIds]], np.ndarray],
) -> np.ndarray:
    """:func:`run_length_sorted` with calls sized by padded tokens; rows in input order."""
    groups = token_budget_batches([len(seq) for seq in ids], max_tokens, max_texts)
    return run_in_groups(ids, groups, run_batch)


def run_length_sorted(
    ids: Sequence[TokenIds],
    batch_size: int,
    run_batch: Callable[[list[TokenIds]], np.ndarray],
) -> np.ndarray:
    """``run_batch`` over length-sorted batches of ``ids``; rows come back in input order."""
    return run_in_groups(
        ids, length_sorted_batches([len(seq) for seq in ids], batch_size), run_batch
    )


def run_in_groups(
    ids: Sequence[TokenIds],
    groups: Iterable[list[int]],
    run_batch: Callable[[list[TokenIds]], np.ndarray],
) -> np.ndarray:
    """``run_batch`` over the given groups of indices into ``ids``; rows back in input order.

    The one place that scatters batch results back to their texts, whatever chose the
    groups (sorted by length, by a token budget, or the streams' calls).
    """
    result: np.ndarray | None = None
    for rows in groups:
        out = run_batch([ids[i] for i in rows])
        if result is None:
            result = np.empty((len(ids), *out.shape[1:]), dtype=out.dtype)
        result[rows] = out
    if result is None:
        raise ValueError("nothing to run: no token sequences given")
    return result
