"""SIGTERM cleans up like Ctrl-C: no half-written folder is left behind by a stopped command."""

import os
import signal

import pytest
import typer

from senticlf import atomic, cli, interrupts


def stopped_while_writing(target):
    with atomic.atomic_dir(target) as staging:
        (staging / "model.onnx").write_bytes(b"half")
        os.kill(os.getpid(), signal.SIGTERM)
        (staging / "senticlf.json").write_text("{}")  # never reached


def test_sigterm_raises_keyboard_interrupt_inside_and_the_old_handler_returns(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), interrupts.sigterm_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_command_stopped_by_sigterm_exits_130_and_leaves_no_staging_folder(tmp_path):
    with pytest.raises(typer.Exit) as stopped:
        cli._run(lambda: stopped_while_writing(tmp_path / "bundle"))
    assert stopped.value.exit_code == 130
    assert list(tmp_path.iterdir()) == []
