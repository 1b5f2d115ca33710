"""How long a training run will take, from its first steps' time per token.

Length-grouped batching puts the longest batch first and the batches right after it are long
too, so timing the first steps and multiplying by the number of steps overstated a CPU run
about twofold (a 22-minute run announced 45 minutes). The cost of a step follows the tokens it
processes: the estimate is the first steps' seconds per token times the tokens left in the
run, counted from the training set's lengths. Attention grows faster than linearly with
length, so time per token measured on long batches still errs slightly on the long side.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from transformers import TrainerCallback

from senticlf.training.config import TrainConfig

# Above this estimate on a CPU, say so and suggest a quicker configuration.
SLOW_RUN_SECONDS = 20 * 60
# The steps timed: the first one (start-up, allocation) is left out.
MEASURED_STEPS = 3


def epoch_tokens(lengths: Sequence[int], batch_size: int) -> int:
    """Tokens one epoch feeds the model, padding included, with batches of similar length.

    Length grouping sorts reviews by length before cutting batches (within large groups), so
    padding is close to that of perfectly sorted batches: each batch pads to its longest.
    """
    ordered = sorted(lengths, reverse=True)
    return sum(
        ordered[start] * len(ordered[start : start + batch_size])
        for start in range(0, len(ordered), batch_size)
    )


def remaining_seconds(
    measured_seconds: float, measured_tokens: int, done_tokens: int, total_tokens: int
) -> float:
    """Seconds left: time per token on the measured steps times the tokens still to go."""
    if measured_tokens <= 0:
        return 0.0
    return measured_seconds / measured_tokens * max(total_tokens - done_tokens, 0)


def duration_words(seconds: float) -> str:
    """'12 min' or '2.5 hours': the estimate as a person reads it."""
    minutes = seconds / 60
    return f"{minutes:.0f} min" if minutes < 90 else f"{minutes / 60:.1f} hours"


def quicker_settings(max_length: int, epochs: int, train_size: int | None) -> str:
    """Smaller values of the three settings the cost grows with, each only if it is smaller.

    ``train_size`` None is the whole training split. Values below a useful floor (32 tokens,
    1 epoch, 50 reviews) are not suggested.
    """
    reviews = 10**9 if train_size is None else train_size
    options = (  # flag, current value, suggestion, floor
        ("--max-length", max_length, min(256, max_length // 2), 32),
        ("--epochs", epochs, min(2, epochs - 1), 1),
        ("--train-size", reviews, min(500, reviews // 2), 50),
    )
    return " ".join(
        f"{flag} {smaller}" for flag, now, smaller, floor in options if floor <= smaller < now
    )


def slow_run_warning(seconds: float, quicker: str = "") -> str:
    """The CPU warning, worded from the estimate itself."""
    hint = f"try {quicker}, or use a CUDA GPU" if quicker else "use a CUDA GPU"
    return f"this CPU run takes about {duration_words(seconds)} more at this size; for a quick run {hint}"


class DurationEstimate(TrainerCallback):
    """After a few steps, print the estimate; on a CPU, warn when it is long.

    A forward pre-hook on the model counts the tokens of every training forward pass (padding
    included: that is what costs), so the time per token is measured on exactly the batches
    that ran. Each process counts its own share; ``total_tokens`` is the whole run's.
    """

    def __init__(
        self, console: Console, use_cpu: bool, total_tokens: int, quicker: str = ""
    ) -> None:
        self.console = console
        self.use_cpu = use_cpu
        self.total_tokens = total_tokens
        self.quicker = quicker  # the settings the warning suggests (quicker_settings)
        self.tokens = 0
        self._hook: Any = None
        self._start: tuple[int, float, int] | None = None  # step, time, tokens at the start

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if model is not None and state.is_world_process_zero:
            self._hook = model.register_forward_pre_hook(self._count, with_kwargs=True)

    def _count(self, module: Any, positional: tuple[Any, ...], named: dict[str, Any]) -> None:
        ids = named.get("input_ids", positional[0] if positional else None)
        if module.training and ids is not None:
            self.tokens += int(ids.numel())

    def on_step_end(self, args, state, control, **kwargs):
        if self._hook is None:
            return
        if self._start is None:
            self._start = (state.global_step, time.perf_counter(), self.tokens)
            return
        step, started, tokens_then = self._start
        if state.global_step - step < MEASURED_STEPS:
            return
        self._hook.remove()
        self._hook = None
        share = self.total_tokens / max(args.world_size, 1)  # this process's tokens
        done = share * (step - 1) / max(state.max_steps, 1)  # steps before a resume
        remaining = remaining_seconds(
            time.perf_counter() - started,
            self.tokens - tokens_then,
            round(done + self.tokens),
            round(share),
        )
        self.console.print(f"estimated training time: about {duration_words(remaining)} more")
        if self.use_cpu and remaining > SLOW_RUN_SECONDS:
            self.console.print(f"[yellow]{slow_run_warning(remaining, self.quicker)}[/]")


def for_run(
    config: TrainConfig, train_set: Sequence[dict[str, Any]], console: Console, use_cpu: bool
) -> DurationEstimate:
    """The callback for one run: its token count from the encoded training set."""
    lengths = [len(row["input_ids"]) for row in train_set]
    tokens = epoch_tokens(lengths, config.batch_size) * config.epochs
    quicker = quicker_settings(config.max_length, config.epochs, config.train_size)
    return DurationEstimate(console, use_cpu, tokens, quicker)
