"""Reviews to classify, streamed from a text file (one per line), stdin, CSV or JSONL.

The file is checked in one cheap pass before any prediction (exists, is a file, is UTF-8
text, not empty), so a bad input ends in one clear line instead of half an output file.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from senticlf.data import TEXT_COLUMNS
from senticlf.errors import SenticlfError

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass(frozen=True)
class InputText:
    """One review and where it came from; ``text`` is None for a blank line."""

    line: int
    text: str | None


def count_and_check(path: Path) -> int:
    """Lines in ``path``, after making sure it is a readable, non-empty UTF-8 text file."""
    if not path.exists():
        raise SenticlfError(f"input file {path} does not exist")
    if path.is_dir():
        raise SenticlfError(f"{path} is a folder; expected a text, CSV or JSONL file")
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines, size, offset = 0, 0, 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            if b"\x00" in block:
                raise SenticlfError(f"{path} is a binary file, not text")
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                raise SenticlfError(
                    f"{path} is not UTF-8 (byte {offset + exc.start}); convert it, e.g. "
                    f"iconv -f latin1 -t utf-8 {path.name} > {path.stem}.utf8{path.suffix}"
                ) from None
            lines += block.count(b"\n")
            size += len(block)
            offset += len(block)
            last = block
    if size == 0 or not _has_text(path):
        raise SenticlfError(f"{path} is empty")
    return lines + (0 if last.endswith(b"\n") else 1)


def _has_text(path: Path) -> bool:
    with open(path, encoding="utf-8-sig") as handle:
        return any(line.strip() for line in handle)


def read_inputs(source: str, text_column: str | None = None) -> Iterator[InputText]:
    """Stream the reviews of ``source`` ('-' for stdin) in order, blank lines included."""
    if source == "-":
        stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", errors="strict")
        yield from _lines(stream, "<stdin>")
        return
    path = Path(source)
    suffix = path.suffix.lower()
    with open(path, encoding="utf-8-sig", newline="" if suffix == ".csv" else None) as handle:
        if suffix == ".csv":
            yield from _csv_rows(handle, path, text_column)
        elif suffix in (".jsonl", ".ndjson"):
            yield from _jsonl_rows(handle, path, text_column or "text")
        else:
            yield from _lines(handle, str(path))


def _lines(handle: io.TextIOBase, name: str) -> Iterator[InputText]:
    try:
        for number, line in enumerate(handle, start=1):
            text = line.rstrip("\r\n")
            yield InputText(number, text if text.strip() else None)
    except UnicodeDecodeError:
        raise SenticlfError(f"{name} is not UTF-8 text") from None


def _csv_rows(handle: io.TextIOBase, path: Path, text_column: str | None) -> Iterator[InputText]:
    reader = csv.DictReader(handle)
    fields = reader.fieldnames or []
    column = text_column or next((c for c in TEXT_COLUMNS if c in fields), None)
    if column is None or column not in fields:
        raise SenticlfError(
            f"{path} has no {'column ' + repr(text_column) if text_column else 'text column'}; "
            f"columns are {fields}; name it with --text-column"
        )
    try:
        for number, row in enumerate(reader, start=2):
            text = row.get(column) or ""
            yield InputText(number, text if text.strip() else None)
    except csv.Error as exc:
        raise SenticlfError(f"{path}: malformed CSV at line {reader.line_num}: {exc}") from None


def _jsonl_rows(handle: io.TextIOBase, path: Path, column: str) -> Iterator[InputText]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            yield InputText(number, None)
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SenticlfError(f"{path}: line {number} is not valid JSON ({exc.msg})") from None
        if not isinstance(record, dict) or column not in record:
            raise SenticlfError(f"{path}: line {number} has no {column!r} field; use --text-column")
        text = record[column]
        if not isinstance(text, str):
            raise SenticlfError(f"{path}: line {number}: {column!r} is not a string")
        yield InputText(number, text if text.strip() else None)
