"""Reviews to classify, streamed in order from stdin, a text file (one per line) or a table.

Tables (CSV, TSV, JSON Lines, JSON, Parquet, gzipped or not) are read by senticlf.tables, as
``train`` and ``evaluate`` read them; this module adds what only ``predict`` needs: stdin, line
mode for every other file, and blank lines kept under their number so outputs line up.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from senticlf import tables
from senticlf.errors import SenticlfError


@dataclass(frozen=True)
class InputText:
    """One review and where it came from; ``text`` is None for a blank line."""

    line: int
    text: str | None


def read_inputs(source: str, text_column: str | None = None) -> Iterator[InputText]:
    """Stream the reviews of ``source`` ('-' for stdin) in order, blank lines included."""
    if source == "-":
        stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", errors="strict")
        yield from _lines(stream, "<stdin>")
        return
    table = tables.detect(Path(source))
    if table.is_table:
        for item in tables.texts(table, text_column):
            yield InputText(item.number, item.text)
        return
    with tables.open_text(table) as handle:
        yield from _lines(handle, source)


def _lines(handle: IO[str], name: str) -> Iterator[InputText]:
    try:
        for number, line in enumerate(handle, start=1):
            text = line.rstrip("\r\n")
            yield InputText(number, text if text.strip() else None)
    except UnicodeDecodeError:
        raise SenticlfError(f"{name} is not UTF-8 text") from None
