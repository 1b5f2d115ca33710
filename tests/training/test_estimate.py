"""The training-time estimate on synthetic lengths: longest batches first, as length grouping does."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
from rich.console import Console  # noqa: E402

from senticlf.training import estimate  # noqa: E402

BATCH = 16
EPOCHS = 5
SECONDS_PER_TOKEN = 1e-3  # the synthetic machine: a step costs its tokens


def imdb_like_lengths(n: int = 1000, seed: int = 0) -> list[int]:
    """Long-tailed review lengths capped at 512 tokens, like IMDb's after truncation."""
    rng = random.Random(seed)
    return [min(512, int(rng.lognormvariate(5.3, 0.6))) for _ in range(n)]


def grouped_batches(lengths: list[int]) -> list[list[int]]:
    """Length-grouped order: sorted batches, the longest first, the rest shuffled."""
    ordered = sorted(lengths, reverse=True)
    batches = [ordered[i : i + BATCH] for i in range(0, len(ordered), BATCH)]
    rest = batches[1:]
    random.Random(1).shuffle(rest)
    rest.sort(key=max, reverse=True)  # the worst case: the long batches all come first
    return [batches[0], *rest]


def padded(batch: list[int]) -> int:
    return max(batch) * len(batch)


def test_epoch_tokens_pads_each_sorted_batch_to_its_longest() -> None:
    assert estimate.epoch_tokens([3, 10, 1, 7, 2], batch_size=2) == 10 * 2 + 3 * 2 + 1
    assert estimate.epoch_tokens([], batch_size=4) == 0


def test_token_estimate_is_close_where_the_step_estimate_doubles() -> None:
    lengths = imdb_like_lengths()
    steps = grouped_batches(lengths) * EPOCHS
    truth = SECONDS_PER_TOKEN * sum(padded(b) for b in steps[4:])
    measured = steps[1:4]  # what the callback times: steps 2 to 4
    measured_s = SECONDS_PER_TOKEN * sum(padded(b) for b in measured)

    per_step = measured_s / 3 * (len(steps) - 4)  # the old estimate
    total = estimate.epoch_tokens(lengths, BATCH) * EPOCHS
    done = sum(padded(b) for b in steps[:4])
    by_tokens = estimate.remaining_seconds(
        measured_s, sum(padded(b) for b in measured), done, total
    )

    assert per_step > 1.5 * truth
    assert by_tokens == pytest.approx(truth, rel=0.05)


def test_warning_is_worded_from_the_estimate() -> None:
    assert estimate.duration_words(22 * 60) == "22 min"
    assert estimate.duration_words(3 * 3600) == "3.0 hours"
    assert "about 22 min" in estimate.slow_run_warning(22 * 60)
    assert "several hours" not in estimate.slow_run_warning(22 * 60)


def test_quicker_settings_only_suggest_smaller_values() -> None:
    default = estimate.quicker_settings(max_length=512, epochs=5, train_size=1000)
    assert default == "--max-length 256 --epochs 2 --train-size 500"
    assert estimate.quicker_settings(128, 2, 500) == "--max-length 64 --epochs 1 --train-size 250"
    assert estimate.quicker_settings(512, 1, None) == "--max-length 256 --train-size 500"
    assert estimate.quicker_settings(max_length=32, epochs=1, train_size=60) == ""
    assert "quick run use a CUDA GPU" in estimate.slow_run_warning(3600, "")


class TokenModel(torch.nn.Module):
    """Called as the Trainer calls a model: ``model(input_ids=..., ...)``."""

    def forward(self, input_ids):
        return input_ids.sum()


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_callback_counts_forward_tokens_and_prints_the_token_estimate(monkeypatch) -> None:
    """The hook sees each training forward; the clock advances with the tokens processed."""
    clock = FakeClock()
    monkeypatch.setattr(estimate.time, "perf_counter", clock)
    model = TokenModel().train()
    lengths = imdb_like_lengths(200)
    steps = grouped_batches(lengths) * 2
    total = estimate.epoch_tokens(lengths, BATCH) * 2
    console = Console(record=True, width=200)
    callback = estimate.DurationEstimate(console, use_cpu=True, total_tokens=total)
    args = SimpleNamespace(world_size=1)
    state = SimpleNamespace(is_world_process_zero=True, global_step=0, max_steps=len(steps))
    callback.on_train_begin(args, state, None, model=model)
    for batch in steps[:6]:
        ids = torch.zeros(len(batch), max(batch))
        model(input_ids=ids)
        model.eval()(input_ids=ids)  # an evaluation pass is not training time
        model.train()
        clock.now += 10 * SECONDS_PER_TOKEN * ids.numel()
        state.global_step += 1
        callback.on_step_end(args, state, None)

    truth = 10 * SECONDS_PER_TOKEN * sum(padded(b) for b in steps[4:])
    printed = console.export_text()
    assert "estimated training time: about" in printed
    minutes = float(printed.split("about ")[1].split(" min")[0])
    assert minutes == pytest.approx(truth / 60, rel=0.1, abs=1)
    assert not model._forward_pre_hooks  # removed once measured
