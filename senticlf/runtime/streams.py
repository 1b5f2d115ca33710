"""Several ONNX Runtime calls in flight over one session, results in input order.

``InferenceSession.run`` is thread-safe and releases the GIL, so N Python threads each making
one call keep N cores busy with one copy of the weights. Every call still holds the texts the
plan gave it and no others, so a text's answer is what it gets alone (or in the same batch)
whatever the number of streams: invariance holds by construction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from senticlf.runtime.batching import TokenIds, run_in_groups

RunBatch = Callable[[list[TokenIds]], np.ndarray]


class Streams:
    """A pool of ``count`` threads that make one call each at a time (none when count is 1).

    The threads start on first use and are daemons: a classifier that is dropped without
    :meth:`close` does not keep the interpreter alive.
    """

    def __init__(self, count: int) -> None:
        self.count = count
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.count, "senticlf-stream")
            return self._executor

    def run(
        self, ids: Sequence[TokenIds], groups: Iterable[list[int]], run_batch: RunBatch
    ) -> np.ndarray:
        """``run_batch`` over ``groups`` of indices into ``ids``, up to ``count`` at once;
        rows come back in input order."""
        groups = list(groups)
        if self.count == 1 or len(groups) == 1:
            return run_in_groups(ids, groups, run_batch)
        pool = self._pool()
        futures = [pool.submit(run_batch, [ids[i] for i in rows]) for rows in groups]
        results = iter([future.result() for future in futures])
        return run_in_groups(ids, groups, lambda _: next(results))

    def close(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None
