"""The dynamic batcher: many requests in, the predictor's calls out, on its streams.

The event loop only parses requests and writes answers; the model runs on ``streams``
inference threads (the predictor's call plan: runtime/plan.py) that each take the next call's
texts straight from one queue, run it, and hand the rows back to the loop. A thread never waits
for the event loop between two calls: under load the loop is busy with HTTP, and a stream
that waited for it to be handed work would sit idle.

A call holds at most the plan's batch size (and, on CUDA, its token budget) of texts, so a
text's answer is what the library gives it. A request's texts may span several calls and one
call serves many requests; requests are served first come, first served, and the queue is
bounded, so overload is refused (503) instead of being turned into unbounded latency.

Waiting to fill a call of several texts pays only when requests arrive together; a lone client
would pay the wait on every call for nothing. So a stream waits (up to ``max_wait_s``) only
when its previous call served more than one request: the sign that several clients are active.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from senticlf.runtime.batching import TokenIds
from senticlf.serve.metrics import ServerMetrics

log = logging.getLogger("senticlf.serve")
T = TypeVar("T")


class QueueFull(Exception):
    """The queue holds as many texts as allowed: the caller should answer 503."""

    def __init__(self, waiting: int) -> None:
        super().__init__(f"{waiting} texts are waiting")
        self.waiting = waiting


class ShuttingDown(Exception):
    """The server is stopping and takes no new work."""


@dataclass(eq=False)
class _Request:
    """One request's encoded texts, how many were handed to calls, and its result.

    ``taken`` is changed under the batcher's lock by the inference threads; ``finished`` and
    ``logits`` only on the event loop, where the answer is delivered.
    """

    ids: Sequence[TokenIds]
    future: asyncio.Future[np.ndarray]
    # Texts are handed out shortest first, as the library's length-sorted calls take them, so
    # a request alone makes exactly the calls ``predict`` makes for the same texts.
    order: list[int] = field(default_factory=list)
    taken: int = 0
    finished: int = 0
    abandoned: bool = False  # the client went away: texts not yet taken are dropped
    logits: np.ndarray | None = field(default=None, repr=False)

    def accept(self, index: int, row: np.ndarray) -> None:
        if self.future.done():  # the client went away, or an earlier call failed
            return
        if self.logits is None:
            self.logits = np.empty((len(self.ids), *row.shape), dtype=row.dtype)
        self.logits[index] = row
        self.finished += 1
        if self.finished == len(self.ids):
            self.future.set_result(self.logits)

    def fail(self, exc: Exception) -> None:
        self.abandoned = True
        if not self.future.done():
            self.future.set_exception(exc)


@dataclass(frozen=True)
class _Piece:
    """One text of one request, as placed in a call."""

    request: _Request
    index: int

    @property
    def ids(self) -> TokenIds:
        return self.request.ids[self.index]


# Niceness of the inference threads (Linux: per thread). The event loop's work per request is
# a millisecond or two against tens of milliseconds of model time; when both want the cores,
# the loop should win, or a refused request (503) and every answer wait behind model calls.
_INFERENCE_NICENESS = 5


def _yield_to_the_event_loop() -> None:
    """Lower this thread's scheduling priority below the event loop's (where the OS allows)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _INFERENCE_NICENESS)
    except (AttributeError, OSError):  # not Linux, or not permitted: run as before
        log.debug("could not lower the inference threads' priority")


class DynamicBatcher:
    """Queue encoded texts; ``streams`` inference threads run them in calls of the plan's size.

    ``run_call`` maps one call's token ids to one logits row per text, in input order.
    """

    def __init__(
        self,
        run_call: Callable[[list[TokenIds]], np.ndarray],
        *,
        streams: int,
        call_size: int,
        max_wait_s: float,
        max_queue: int,
        token_budget: int | None = None,
        metrics: ServerMetrics | None = None,
    ) -> None:
        self._run_call = run_call
        self.streams = streams
        self.call_size = call_size
        self.token_budget = token_budget
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self._metrics = metrics
        self._pending: deque[_Request] = deque()
        self._waiting = 0  # texts queued and not yet taken into a call
        self._work = threading.Condition()
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def waiting(self) -> int:
        """Texts in the queue, not yet in a call."""
        return self._waiting

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._threads = [
            threading.Thread(target=self._stream, name=f"senticlf-inference-{n}", daemon=True)
            for n in range(self.streams)
        ]
        for thread in self._threads:
            thread.start()

    async def stop(self) -> None:
        """Finish every queued text, then stop the inference threads."""
        with self._work:
            self._stopping = True
            self._work.notify_all()
        for thread in self._threads:
            await asyncio.to_thread(thread.join)

    async def on_inference_thread(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function`` off the event loop (e.g. the warm-up, before requests arrive)."""
        return await asyncio.to_thread(function, *args)

    def check_room(self, texts: int) -> None:
        """Raise QueueFull if ``texts`` more would not fit (a cheap check before encoding)."""
        if self._stopping:
            raise ShuttingDown
        # An empty queue takes any request, so one larger than the queue is slow, not refused.
        if self._waiting and self._waiting + texts > self.max_queue:
            if self._metrics is not None:
                self._metrics.rejected.inc()
            raise QueueFull(self._waiting)

    async def classify(self, ids: Sequence[TokenIds]) -> np.ndarray:
        """Logits for ``ids`` (one row per text, in order) once the streams have run them all.

        If the caller is cancelled (its client disconnected), the texts not yet run are dropped.
        """
        if not ids:
            raise ValueError("nothing to classify")
        self.check_room(len(ids))
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        request = _Request(ids, asyncio.get_running_loop().create_future(), order)
        with self._work:
            self._pending.append(request)
            self._set_waiting(self._waiting + len(ids))
            self._work.notify(len(ids))  # one stream per text may take it: wake enough of them
        try:
            return await request.future
        except asyncio.CancelledError:
            request.abandoned = True
            raise

    # ------------------------------------------------------------------ the streams

    def _stream(self) -> None:
        """One inference thread: take a call's texts, run them, hand the rows to the loop."""
        _yield_to_the_event_loop()
        served_several = False
        while (batch := self._next_call(served_several)) is not None:
            served_several = len({id(piece.request) for piece in batch}) > 1
            self._run(batch)

    def _next_call(self, wait_to_fill: bool) -> list[_Piece] | None:
        """The next call's texts (None once stopping with nothing left to run)."""
        with self._work:
            while not self._pending:
                if self._stopping:
                    return None
                self._work.wait()
            batch = self._take(self.call_size, self.token_budget)
            if wait_to_fill and self.call_size > 1 and self.max_wait_s > 0:
                self._fill(batch)
            return batch

    def _take(self, room: int, token_room: int | None) -> list[_Piece]:
        """Up to ``room`` texts (and ``token_room`` tokens) from the head of the queue;
        the caller holds the lock. A text longer than the token room still runs, alone."""
        batch: list[_Piece] = []
        while self._pending and room > 0:
            request = self._pending[0]
            if request.abandoned or request.future.done():
                self._pending.popleft()
                self._set_waiting(self._waiting - (len(request.ids) - request.taken))
                continue
            piece = _Piece(request, request.order[request.taken])
            if batch and token_room is not None and len(piece.ids) > token_room:
                break
            batch.append(piece)
            request.taken += 1
            room -= 1
            if token_room is not None:
                token_room -= len(piece.ids)
            if request.taken == len(request.ids):
                self._pending.popleft()
        self._set_waiting(self._waiting - len(batch))
        return batch

    def _fill(self, batch: list[_Piece]) -> None:
        """More texts arriving within ``max_wait_s``, while the call has room (lock held)."""
        deadline = time.monotonic() + self.max_wait_s
        tokens = sum(len(piece.ids) for piece in batch)
        while len(batch) < self.call_size and not self._stopping:
            if self.token_budget is not None and tokens >= self.token_budget:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if not self._pending:
                self._work.wait(remaining)
                continue
            room = None if self.token_budget is None else self.token_budget - tokens
            taken = self._take(self.call_size - len(batch), room)
            if not taken:
                return
            batch += taken
            tokens += sum(len(piece.ids) for piece in taken)

    def _run(self, batch: list[_Piece]) -> None:
        start = time.perf_counter()
        try:
            logits = self._run_call([piece.ids for piece in batch])
        except Exception as exc:  # noqa: BLE001 - the streams must outlive a failed call
            log.exception("inference failed for a call of %d texts", len(batch))
            self._deliver(self._fail, batch, exc)
            return
        if self._metrics is not None:
            self._metrics.batch_size.observe(len(batch))
            self._metrics.batch_seconds.observe(time.perf_counter() - start)
            self._metrics.texts.inc(len(batch))
        self._deliver(self._accept, batch, logits)

    def _deliver(self, handler: Callable[..., None], *args: Any) -> None:
        if self._loop is None:
            raise RuntimeError("the batcher was not started")
        try:
            self._loop.call_soon_threadsafe(handler, *args)
        except RuntimeError:  # the loop closed under us (interpreter shutdown)
            log.warning("event loop closed before a call's answers could be delivered")

    @staticmethod
    def _accept(batch: list[_Piece], logits: np.ndarray) -> None:
        for piece, row in zip(batch, logits, strict=True):
            piece.request.accept(piece.index, row)

    @staticmethod
    def _fail(batch: list[_Piece], exc: Exception) -> None:
        for request in dict.fromkeys(piece.request for piece in batch):
            request.fail(exc)

    def _set_waiting(self, texts: int) -> None:
        self._waiting = texts
        if self._metrics is not None:
            self._metrics.queue_depth.set(texts)
