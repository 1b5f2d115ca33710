"""What happens around Trainer's loop: the checkpoint ledger, the time estimate, interruptions.

Kept apart from trainer.py, which reads top to bottom as the run itself; these are the hooks
that make a run resumable (a checkpoint counts once recorded, SIGTERM keeps finished epochs)
and tell the user how long it will take.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from transformers import Trainer, TrainerCallback

from senticlf.training import report, run_folder

# Above this estimate on a CPU, say so and suggest a quicker configuration.
_SLOW_RUN_SECONDS = 20 * 60


class CheckpointLedger(TrainerCallback):
    """Records each checkpoint only once Trainer has finished writing it.

    A checkpoint folder cut short by Ctrl-C looks like any other; resuming from the last
    checkpoint named in the ledger never picks up a half-written one.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def on_save(self, args, state, control, **kwargs):
        run_folder.record_checkpoint(self.run_dir, state.global_step, state.epoch)


class DurationEstimate(TrainerCallback):
    """After a few steps, say how long the run will take, and warn when a CPU run is slow."""

    _MEASURE_FROM, _MEASURE_TO = 1, 4

    def __init__(self, console: Console, use_cpu: bool) -> None:
        self.console = console
        self.use_cpu = use_cpu
        self.start: float | None = None

    def on_step_end(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        if state.global_step == self._MEASURE_FROM:
            self.start = time.perf_counter()
        elif state.global_step == self._MEASURE_TO and self.start is not None:
            per_step = (time.perf_counter() - self.start) / (self._MEASURE_TO - self._MEASURE_FROM)
            remaining = per_step * (state.max_steps - state.global_step)
            self.console.print(f"estimated training time: {remaining / 60:.1f} min more")
            if self.use_cpu and remaining > _SLOW_RUN_SECONDS:
                self.console.print(
                    "[yellow]this is a CPU run of several hours at this size; for a quick run try "
                    "--max-length 256 --epochs 2 --train-size 500, or use a CUDA GPU[/]"
                )


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (a scheduler stopping the job) like Ctrl-C, so both keep finished epochs."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def record_interruption(run_dir: Path, trainer: Trainer, wall_time: float) -> None:
    history = report.epoch_history(trainer.state.log_history)
    run_folder.write_status(
        run_dir,
        "interrupted",
        completed_epochs=len(history),
        epochs=history,
        wall_time_s=round(wall_time, 1),
    )
