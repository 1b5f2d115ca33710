"""What happens around Trainer's loop: the checkpoint ledger and interruptions.

Kept apart from trainer.py, which reads top to bottom as the run itself; these are the hooks
that make a run resumable (a checkpoint counts once recorded, SIGTERM keeps finished epochs).
The time estimate has a module of its own (estimate.py), SIGTERM-as-Ctrl-C too (interrupts.py).
"""

from __future__ import annotations

from pathlib import Path

from transformers import Trainer, TrainerCallback

from senticlf.training import report, run_folder


class CheckpointLedger(TrainerCallback):
    """Records each checkpoint only once Trainer has finished writing it.

    A checkpoint folder cut short by Ctrl-C looks like any other; resuming from the last
    checkpoint named in the ledger never picks up a half-written one.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def on_save(self, args, state, control, **kwargs):
        run_folder.record_checkpoint(self.run_dir, state.global_step, state.epoch)


def record_interruption(run_dir: Path, trainer: Trainer, wall_time: float) -> None:
    history = report.epoch_history(trainer.state.log_history)
    run_folder.write_status(
        run_dir,
        "interrupted",
        completed_epochs=len(history),
        epochs=history,
        wall_time_s=round(wall_time, 1),
    )
