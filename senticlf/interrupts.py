"""SIGTERM handled like Ctrl-C, for every command that writes files.

A scheduler, `timeout` or `kill` stops a job with SIGTERM, whose default action ends the
process at once: no `finally`, so a bundle or predictions file being built under a temporary
name stays behind half-written. Raising KeyboardInterrupt instead runs the same clean-up as
Ctrl-C (temporary files removed, a training run's finished epochs recorded).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block SIGTERM raises KeyboardInterrupt; the previous handler comes back after."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
