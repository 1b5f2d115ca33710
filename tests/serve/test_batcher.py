"""The batching loop alone, with a fake model whose output says which text it saw."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import numpy as np
import pytest

from senticlf.serve.batcher import DynamicBatcher, QueueFull


class FakeModel:
    """Logits row = (first token id, length): results can be traced back to their text."""

    def __init__(self, fail_on: int | None = None, gate: threading.Event | None = None) -> None:
        self.batches: list[list[int]] = []
        self.fail_on = fail_on
        self.gate = gate

    def __call__(self, ids: list[Sequence[int]]) -> np.ndarray:
        if self.gate is not None:
            self.gate.wait(timeout=10)
        self.batches.append([seq[0] for seq in ids])
        if self.fail_on is not None and any(seq[0] == self.fail_on for seq in ids):
            raise RuntimeError("model failed")
        return np.array([[seq[0], len(seq)] for seq in ids], dtype=np.float32)


def make(model: FakeModel, **settings) -> DynamicBatcher:
    options = dict(streams=1, call_size=4, token_budget=1000, max_wait_s=0.0, max_queue=100)
    options.update(settings)
    return DynamicBatcher(model, **options)


def texts(*first_ids: int, length: int = 3) -> list[list[int]]:
    return [[i] * length for i in first_ids]


def test_each_request_gets_its_own_rows_in_order_across_shared_and_split_batches() -> None:
    model = FakeModel()

    async def scenario() -> list[np.ndarray]:
        batcher = make(model, call_size=3)
        batcher.start()
        requests = [texts(1, 2, 3, 4, 5), texts(10), texts(20, 21)]
        results = await asyncio.gather(*(batcher.classify(r) for r in requests))
        await batcher.stop()
        return results

    first, second, third = asyncio.run(scenario())
    assert first[:, 0].tolist() == [1, 2, 3, 4, 5]
    assert second[:, 0].tolist() == [10]
    assert third[:, 0].tolist() == [20, 21]
    assert all(len(batch) <= 3 for batch in model.batches)
    assert any({4, 5, 10} <= set(batch) or {5, 10, 20} <= set(batch) for batch in model.batches)


def test_the_token_budget_caps_a_batch_but_never_starves_a_long_text() -> None:
    model = FakeModel()

    async def scenario() -> None:
        batcher = make(model, call_size=10, token_budget=7)
        batcher.start()
        await asyncio.gather(
            batcher.classify(texts(1, 2, 3)), batcher.classify(texts(9, length=50))
        )
        await batcher.stop()

    asyncio.run(scenario())
    assert model.batches == [[1, 2], [3], [9]]


def test_a_full_queue_is_refused_but_an_empty_one_takes_a_large_request() -> None:
    gate = threading.Event()
    model = FakeModel(gate=gate)

    async def scenario() -> None:
        batcher = make(model, call_size=1, max_queue=2)
        batcher.start()
        running = asyncio.ensure_future(batcher.classify(texts(1)))
        await asyncio.sleep(0.05)  # the loop took it and blocks on the gate
        queued = asyncio.ensure_future(batcher.classify(texts(2, 3)))
        await asyncio.sleep(0)
        with pytest.raises(QueueFull):
            await batcher.classify(texts(4))
        gate.set()
        await asyncio.gather(running, queued)
        large = await batcher.classify(texts(*range(5, 15)))  # 10 texts > max_queue, queue empty
        assert large[:, 0].tolist() == list(range(5, 15))
        await batcher.stop()

    asyncio.run(scenario())


def test_a_cancelled_request_is_dropped_and_the_loop_goes_on() -> None:
    gate = threading.Event()
    model = FakeModel(gate=gate)

    async def scenario() -> np.ndarray:
        batcher = make(model, call_size=1)
        batcher.start()
        first = asyncio.ensure_future(batcher.classify(texts(1)))
        await asyncio.sleep(0.05)
        abandoned = asyncio.ensure_future(batcher.classify(texts(2, 3, 4)))
        await asyncio.sleep(0)
        abandoned.cancel()
        gate.set()
        await first
        result = await batcher.classify(texts(5))
        await batcher.stop()
        assert batcher.waiting == 0
        return result

    assert asyncio.run(scenario())[:, 0].tolist() == [5]
    assert [2] not in model.batches and [3] not in model.batches


def test_a_failing_batch_fails_its_requests_only() -> None:
    model = FakeModel(fail_on=2)

    async def scenario() -> np.ndarray:
        batcher = make(model, call_size=1)
        batcher.start()
        with pytest.raises(RuntimeError, match="model failed"):
            await batcher.classify(texts(2))
        result = await batcher.classify(texts(3))
        await batcher.stop()
        return result

    assert asyncio.run(scenario())[:, 0].tolist() == [3]


def test_stop_finishes_what_is_queued() -> None:
    model = FakeModel()

    async def scenario() -> list[np.ndarray]:
        batcher = make(model, call_size=2)
        batcher.start()
        pending = [asyncio.ensure_future(batcher.classify(texts(i))) for i in range(7)]
        await asyncio.sleep(0)
        await batcher.stop()
        return [p.result() for p in pending]

    assert [r[0, 0] for r in asyncio.run(scenario())] == list(range(7))


def test_under_concurrency_the_loop_waits_to_fill_a_batch() -> None:
    model = FakeModel()

    async def scenario() -> None:
        batcher = make(model, call_size=4, max_wait_s=0.5)
        batcher.start()
        await asyncio.gather(batcher.classify(texts(1)), batcher.classify(texts(2)))

        async def late(i: int, delay: float) -> None:
            await asyncio.sleep(delay)
            await batcher.classify(texts(i))

        await asyncio.gather(late(3, 0.0), late(4, 0.05), late(5, 0.1), late(6, 0.15))
        await batcher.stop()

    asyncio.run(scenario())
    assert model.batches[0] == [1, 2]  # both arrived together
    assert model.batches[1] == [3, 4, 5, 6]  # the previous batch served two: wait and fill


def test_a_lone_client_never_waits() -> None:
    model = FakeModel()

    async def scenario() -> float:
        batcher = make(model, max_wait_s=5.0)
        batcher.start()
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i in range(3):
            await batcher.classify(texts(i))
        elapsed = loop.time() - start
        await batcher.stop()
        return elapsed

    assert asyncio.run(scenario()) < 5.0  # behaviour, not speed: a wait would take 5 s each


def test_two_streams_run_two_calls_at_once_and_each_request_gets_its_rows() -> None:
    both_inside = threading.Barrier(2, timeout=10)  # passes only if two calls are in flight
    entered = iter(range(1000))  # next() is atomic under the GIL: numbers the calls

    class TwoAtOnce(FakeModel):
        def __call__(self, ids: list[Sequence[int]]) -> np.ndarray:
            if next(entered) < 2:  # the first two calls must be inside together
                both_inside.wait()
            return super().__call__(ids)

    model = TwoAtOnce()

    async def scenario() -> list[np.ndarray]:
        batcher = make(model, streams=2, call_size=1)
        batcher.start()
        requests = [texts(1, 2), texts(3), texts(4, 5, 6)]
        results = await asyncio.gather(*(batcher.classify(r) for r in requests))
        await batcher.stop()
        return results

    first, second, third = asyncio.run(scenario())
    assert [r[:, 0].tolist() for r in (first, second, third)] == [[1, 2], [3], [4, 5, 6]]
    assert sorted(b[0] for b in model.batches) == [1, 2, 3, 4, 5, 6]


def test_a_request_is_handed_out_shortest_text_first_as_the_library_sorts_it() -> None:
    model = FakeModel()

    async def scenario() -> np.ndarray:
        batcher = make(model, call_size=2)
        batcher.start()
        lengths = [5, 1, 3, 1]
        result = await batcher.classify([[i] * n for i, n in enumerate(lengths, start=1)])
        await batcher.stop()
        return result

    result = asyncio.run(scenario())
    assert result[:, 0].tolist() == [1, 2, 3, 4]  # rows still in input order
    assert model.batches == [[2, 4], [3, 1]]  # calls of length-sorted texts
