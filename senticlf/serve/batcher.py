"""The dynamic batcher: many requests in, one ONNX Runtime call at a time out.

Why a single loop: on a CPU, two inferences at once only take turns on the same cores (and on a
GPU they queue anyway), so every request goes through one queue and one inference thread that
uses every core. The loop takes what is waiting (up to ``max_batch`` texts or a token budget),
hands it to ``run_batch`` on that thread (the app sorts it by length and runs it in the ONNX
calls planner.py finds cheapest), and gives every request its own rows back. A request's texts may span several batches and one
batch serves many requests; requests are served first come, first served, so none waits
behind the others forever, and the queue is bounded, so overload is refused (503) instead of
being turned into unbounded latency.

Waiting to fill a batch pays only when requests arrive together; a lone client would pay the
wait on every call for nothing. So the loop waits (up to ``max_wait_s``) only when its previous
batch served more than one request: the sign that several clients are active.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
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
    """One request's encoded texts, how many were handed to batches, and its result."""

    ids: Sequence[TokenIds]
    future: asyncio.Future[np.ndarray]
    taken: int = 0
    finished: int = 0
    logits: np.ndarray | None = field(default=None, repr=False)

    def accept(self, index: int, row: np.ndarray) -> None:
        if self.future.done():  # the client went away, or an earlier batch failed
            return
        if self.logits is None:
            self.logits = np.empty((len(self.ids), *row.shape), dtype=row.dtype)
        self.logits[index] = row
        self.finished += 1
        if self.finished == len(self.ids):
            self.future.set_result(self.logits)


@dataclass(frozen=True)
class _Piece:
    """One text of one request, as placed in a batch."""

    request: _Request
    index: int

    @property
    def ids(self) -> TokenIds:
        return self.request.ids[self.index]


class DynamicBatcher:
    """Queue encoded texts; one loop runs them in batches on one inference thread.

    ``run_batch`` maps token ids to one logits row per text, in input order.
    """

    def __init__(
        self,
        run_batch: Callable[[list[TokenIds]], np.ndarray],
        *,
        max_batch: int,
        max_batch_tokens: int,
        max_wait_s: float,
        max_queue: int,
        metrics: ServerMetrics | None = None,
    ) -> None:
        self._run_batch = run_batch
        self.max_batch = max_batch
        self.max_batch_tokens = max_batch_tokens
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self._metrics = metrics
        self._pending: deque[_Request] = deque()
        self._waiting = 0  # texts queued and not yet taken into a batch
        self._wakeup = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="senticlf-inference")
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._requests_in_last_batch = 0

    @property
    def waiting(self) -> int:
        """Texts in the queue, not yet in a batch."""
        return self._waiting

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="senticlf-batcher")

    async def stop(self) -> None:
        """Finish every queued text, then stop the loop and the inference thread."""
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        self._executor.shutdown(wait=True)

    async def on_inference_thread(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function`` on the inference thread, between batches (e.g. the warm-up)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

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
        """Logits for ``ids`` (one row per text, in order) once the loop has run them all.

        If the caller is cancelled (its client disconnected), the texts not yet run are dropped.
        """
        if not ids:
            raise ValueError("nothing to classify")
        self.check_room(len(ids))
        request = _Request(ids, asyncio.get_running_loop().create_future())
        self._pending.append(request)
        self._set_waiting(self._waiting + len(ids))
        self._wakeup.set()
        return await request.future

    # ------------------------------------------------------------------ the loop

    async def _loop(self) -> None:
        while True:
            if not self._pending:
                if self._stopping:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch = self._take(self.max_batch, self.max_batch_tokens)
            if self._requests_in_last_batch > 1 and self.max_wait_s > 0:
                batch += await self._fill(batch)
            if batch:
                await self._run(batch)

    def _take(self, room: int, token_room: int) -> list[_Piece]:
        """Up to ``room`` texts and ``token_room`` tokens from the head of the queue (at least one)."""
        batch: list[_Piece] = []
        while self._pending and room > 0:
            request = self._pending[0]
            if request.future.done():  # cancelled by a client that went away
                self._pending.popleft()
                self._set_waiting(self._waiting - (len(request.ids) - request.taken))
                continue
            piece = _Piece(request, request.taken)
            if batch and len(piece.ids) > token_room:
                break
            batch.append(piece)
            request.taken += 1
            room -= 1
            token_room -= len(piece.ids)
            if request.taken == len(request.ids):
                self._pending.popleft()
        self._set_waiting(self._waiting - len(batch))
        return batch

    async def _fill(self, batch: list[_Piece]) -> list[_Piece]:
        """More texts arriving within ``max_wait_s``, while the batch has room."""
        more: list[_Piece] = []
        deadline = time.monotonic() + self.max_wait_s
        tokens = sum(len(piece.ids) for piece in batch)
        while len(batch) + len(more) < self.max_batch and tokens < self.max_batch_tokens:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._stopping:
                break
            if not self._pending:
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), remaining)
                except asyncio.TimeoutError:
                    break
                continue
            taken = self._take(
                self.max_batch - len(batch) - len(more), self.max_batch_tokens - tokens
            )
            if not taken:
                break
            more += taken
            tokens += sum(len(piece.ids) for piece in taken)
        return more

    async def _run(self, batch: list[_Piece]) -> None:
        requests = list(dict.fromkeys(piece.request for piece in batch))
        self._requests_in_last_batch = len(requests)
        start = time.perf_counter()
        try:
            logits = await self.on_inference_thread(self._run_batch, [piece.ids for piece in batch])
        except Exception as exc:  # noqa: BLE001 - the loop must outlive a failed batch
            log.exception("inference failed for a batch of %d texts", len(batch))
            for request in requests:
                if not request.future.done():
                    request.future.set_exception(exc)
            return
        for piece, row in zip(batch, logits, strict=True):
            piece.request.accept(piece.index, row)
        if self._metrics is not None:
            self._metrics.batch_size.observe(len(batch))
            self._metrics.batch_seconds.observe(time.perf_counter() - start)
            self._metrics.texts.inc(len(batch))

    def _set_waiting(self, texts: int) -> None:
        self._waiting = texts
        if self._metrics is not None:
            self._metrics.queue_depth.set(texts)
