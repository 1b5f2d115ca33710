"""The one writer of benchmark results: ``<folder>/<name>.json`` and ``<name>.md`` (and figures).

Every result carries the same header, because a number without it cannot be compared: the
command line that produced it, the machine (CPU, instruction sets, cores, library versions),
the load averages before and after the measured part (other work on a shared machine shows
there), and the date. A command measures inside :func:`load_window`, turns what it measured
into records (benchmarks.common.records) and calls :func:`write`::

    with results.load_window() as load:
        timings = measure()
    results.write(
        "my-benchmark", {"timings": timings}, [records.Table(timings, records.TIMING_COLUMNS)],
        title="What it measures", load=load,
    )

Files are written atomically (senticlf.atomic): a run cut short leaves the previous file, or
the last complete partial result a command chose to write, never half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import machine as machines
from benchmarks.common.records import Table
from senticlf import atomic

# Relative to the repository root, where every `python -m benchmarks.<command>` runs.
FOLDER = Path("benchmarks/results")
HEADER_KEYS = ("command", "date", "machine", "load", "figures")

Figure = Callable[[Path], None]  # draws a PNG at the path it is given, atomically


@dataclass(frozen=True)
class LoadAverage:
    """The 1, 5 and 15 minute load averages, the figures `uptime` prints (/proc/loadavg)."""

    one: float
    five: float
    fifteen: float

    @classmethod
    def now(cls) -> LoadAverage:
        return cls(*os.getloadavg())

    def to_list(self) -> list[float]:
        return [self.one, self.five, self.fifteen]

    def __str__(self) -> str:
        return f"{self.one:.2f}, {self.five:.2f}, {self.fifteen:.2f}"


@dataclass(frozen=True)
class Load:
    """The load averages read before and after the measured part."""

    before: LoadAverage
    after: LoadAverage

    @classmethod
    def from_dict(cls, stored: Mapping[str, Sequence[float]]) -> Load:
        return cls(LoadAverage(*stored["before"]), LoadAverage(*stored["after"]))

    def to_dict(self) -> dict[str, list[float]]:
        return {"before": self.before.to_list(), "after": self.after.to_list()}

    def line(self) -> str:
        return f"Load average (1, 5, 15 min) before: {self.before}; after: {self.after}."


class LoadWindow:
    """Open while the measured part runs: ``before`` is read on entry, ``after`` on exit.

    A result written while the window is still open (a command that keeps each phase as
    soon as it is done) gets the load at the time of writing as its ``after``.
    """

    def __init__(self) -> None:
        self.before = LoadAverage.now()
        self.after: LoadAverage | None = None

    def close(self) -> None:
        self.after = LoadAverage.now()

    @property
    def load(self) -> Load:
        return Load(self.before, self.after or LoadAverage.now())


@contextlib.contextmanager
def load_window() -> Iterator[LoadWindow]:
    window = LoadWindow()
    try:
        yield window
    finally:
        window.close()


def command_line() -> str:
    """How this process was started, as a line to paste: ``python -m benchmarks.x --flag ...``."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    module = spec.name.removesuffix(".__main__") if spec is not None else None
    program = ["python", "-m", module] if module else ["python", sys.argv[0]]
    return " ".join([*program, shlex.join(sys.argv[1:])]).strip()


@dataclass(frozen=True)
class Header:
    """What every result starts with, in its JSON and its Markdown."""

    command: str
    date: str
    machine: Mapping[str, Any]
    load: Load
    figures: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        found = {
            "command": self.command,
            "date": self.date,
            "machine": dict(self.machine),
            "load": self.load.to_dict(),
        }
        return found | ({"figures": list(self.figures)} if self.figures else {})

    def markdown(self) -> str:
        lines = [
            machines.machine_line(dict(self.machine)),
            f"Command: `{self.command}`",
            f"{self.load.line()} Written {self.date}.",
        ]
        if self.figures:
            lines.append("Figures: " + ", ".join(f"`{name}`" for name in self.figures) + ".")
        return "\n\n".join(lines)


Block = str | Table[Any]


def render(title: str, header: Header, body: Sequence[Block]) -> str:
    """The Markdown of one result: title, header block, then the body."""
    return f"# {title}\n\n{header.markdown()}\n\n{body_markdown(body)}"


def body_markdown(body: Sequence[Block]) -> str:
    """Paragraphs and tables, a blank line between each."""
    blocks = [block.markdown() if isinstance(block, Table) else block for block in body]
    return "\n\n".join(b.rstrip("\n") for b in blocks if b) + "\n"


def write(
    name: str,
    data: Mapping[str, Any],
    body: Sequence[Block],
    *,
    title: str,
    load: LoadWindow | Load,
    folder: Path = FOLDER,
    figures: Mapping[str, Figure] | None = None,
    machine: Mapping[str, Any] | None = None,
    command: str | None = None,
) -> str:
    """Write ``name``.json (the header, then ``data``) and ``name``.md (the header, then
    ``body``) under ``folder``, then draw each figure (file name -> drawer); returns the
    Markdown, for the command to print.

    ``machine`` defaults to :func:`benchmarks.common.machine.describe` (pass your own to add
    libraries or a GPU); ``command`` to this process's command line.
    """
    clash = set(data) & set(HEADER_KEYS)
    if clash:
        raise ValueError(f"result keys {sorted(clash)} would hide the header's")
    header = Header(
        command=command or command_line(),
        date=datetime.now().astimezone().isoformat(timespec="seconds"),
        machine=machine if machine is not None else machines.describe(),
        load=load.load if isinstance(load, LoadWindow) else load,
        figures=tuple(figures or ()),
    )
    # Both texts are made before either file is touched: a record that cannot be written
    # leaves the previous result whole, JSON and Markdown alike.
    document = json.dumps({**header.to_dict(), **data}, indent=2, default=_plain) + "\n"
    text = render(title, header, body)
    atomic.write_text(folder / f"{name}.json", document)
    atomic.write_text(folder / f"{name}.md", text)
    for file, draw in (figures or {}).items():
        draw(folder / file)
    return text


def save_png(figure: Any, path: Path) -> None:
    """A matplotlib figure as a PNG, atomically (no half-drawn picture), then freed."""
    import matplotlib.pyplot as plt

    with atomic.atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=100)
    plt.close(figure)


def _plain(value: Any) -> Any:
    """JSON for what ``json`` does not know: records, paths, numpy numbers and arrays."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if is_dataclass(value) and not isinstance(value, type):  # field by field: nested records
        return {f.name: getattr(value, f.name) for f in fields(value)}  # keep their own shape
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to a results file")
