"""The one reader of the tables a user hands us: CSV, TSV, JSON Lines, JSON, Parquet, plain text.

``train``/``evaluate`` (through data.py, which adds labels), ``predict`` (runtime/inputs.py,
which adds line mode and stdin), ``distill --unlabelled`` and the Ray engine (which maps the
same format names onto Ray's readers) all read through here, so a file that one command
accepts the others accept too, and every mistake is reported in the same words.

Formats come from the suffix; each may be gzipped (``reviews.csv.gz``) except Parquet, which
compresses itself. ``.json`` holds JSON Lines or one JSON array of records: the first character
that is not white space tells which. Any other suffix is plain text, one review per line.
Parquet needs pyarrow, which the base install leaves out (``pip install 'senticlf[parquet]'``).
Records stream (Parquet batch by batch) except a JSON array, which is parsed whole.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import io
import json
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple, cast

from senticlf.artifacts import TEXT_COLUMNS
from senticlf.errors import SenticlfError

# Suffix -> format name; the Ray engine maps these same names onto its readers.
FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
}
TEXT = "text"  # any other suffix: one review per line
GZIP = ".gz"
_DELIMITERS = {"csv": ",", "tsv": "\t"}
# What a user may pass, for error messages and --help.
ACCEPTED = ".csv, .tsv, .jsonl, .ndjson, .json or .parquet (all but .parquet gzipped too: .csv.gz)"
PARQUET_EXTRA = "pip install 'senticlf[parquet]'"

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # IMDb-style reviews can exceed 128 KiB


@dataclass(frozen=True)
class TableFile:
    """A user's file and how to read it."""

    path: Path
    format: str  # a value of FORMATS, or TEXT
    compressed: bool = False  # gzip

    @property
    def is_table(self) -> bool:
        """Records with named columns (every format but plain text)."""
        return self.format != TEXT


class Record(NamedTuple):
    number: int  # the line (text formats) or row (Parquet) a user finds it at
    where: str  # "row 3", "line 3" or "record 3", for error messages
    fields: dict[str, Any] | None  # None for a blank line of a JSON Lines file


def detect(path: Path) -> TableFile:
    """The format of ``path``, from its suffix (``.gz`` looked through)."""
    name = path.name.lower()
    compressed = name.endswith(GZIP)
    suffix = Path(name.removesuffix(GZIP)).suffix
    fmt = FORMATS.get(suffix, TEXT)
    if compressed and fmt == "parquet":
        raise SenticlfError(f"{path}: Parquet compresses itself; pass the .parquet file unzipped")
    return TableFile(path, fmt, compressed)


def pick_column(
    source: object,
    available: list[str],
    asked: str | None = None,
    usual: tuple[str, ...] = TEXT_COLUMNS,
    role: str = "text",
) -> str:
    """The column that holds ``role``: ``asked`` (--text-column) if given, else the first usual one.

    The one picker for every reader (local tables, Ray datasets), so the message is the same.
    """
    if asked:
        if asked not in available:
            raise SenticlfError(
                f"{source} has no column {asked!r}; columns are {available}; "
                f"name the {role} column with --{role}-column"
            )
        return asked
    for name in usual:
        if name in available:
            return name
    raise SenticlfError(
        f"{source} has no {role} column (looked for {', '.join(usual)}); columns are {available}; "
        f"name it with --{role}-column"
    )


# ---------------------------------------------------------------------------- checking


def not_utf8(path: Path, offset: int) -> SenticlfError:
    """The one wording (and iconv hint) for a file that is not UTF-8."""
    if path.name.lower().endswith(GZIP):
        inner = Path(path.name[: -len(GZIP)])
        fix = f"zcat {path.name} | iconv -f latin1 -t utf-8 > {inner.stem}.utf8{inner.suffix}"
    else:
        fix = f"iconv -f latin1 -t utf-8 {path.name} > {path.stem}.utf8{path.suffix}"
    return SenticlfError(f"{path} is not UTF-8 (byte {offset}); convert it, e.g. {fix}")


def check(path: Path) -> int:
    """Lines (rows for Parquet) in ``path``, after making sure it is a readable, non-empty file.

    One cheap pass before any work, so a bad file ends in one clear line, not half an output.
    """
    if not path.exists():
        raise SenticlfError(f"file {path} does not exist")
    if path.is_dir():
        raise SenticlfError(f"{path} is a folder; expected a file: {ACCEPTED}, or text")
    table = detect(path)
    if table.format == "parquet":
        rows = _parquet_file(path).metadata.num_rows
        if rows == 0:
            raise SenticlfError(f"{path} has no rows")
        return int(rows)
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    lines, offset, has_text, last = 0, 0, False, b"\n"
    with _open_bytes(table) as handle:
        for block in _blocks(handle, path):
            if b"\x00" in block:
                raise SenticlfError(f"{path} is a binary file, not text")
            try:
                has_text = bool(decoder.decode(block).strip()) or has_text
            except UnicodeDecodeError as exc:
                raise not_utf8(path, offset + exc.start) from None
            lines += block.count(b"\n")
            offset += len(block)
            last = block
    if not has_text:
        raise SenticlfError(f"{path} is empty")
    return lines + (0 if last.endswith(b"\n") else 1)


def _blocks(handle: IO[bytes], path: Path) -> Iterator[bytes]:
    try:
        yield from iter(lambda: handle.read(1 << 20), b"")
    except (OSError, EOFError, zlib.error) as exc:
        raise SenticlfError(f"cannot decompress {path}: {exc}") from None


def _open_bytes(table: TableFile) -> IO[bytes]:
    if table.compressed:
        return cast(IO[bytes], gzip.open(table.path, "rb"))
    return open(table.path, "rb")


def open_text(table: TableFile) -> IO[str]:
    """The file as UTF-8 text (a BOM dropped, gzip undone), lines split only on \\n and \\r.

    ``newline=""`` rather than str.splitlines(): reviews hold U+2028 and other characters that
    splitlines() treats as line ends, which would cut a review (or a quoted field) in two.
    """
    raw = _open_bytes(table)
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


# ---------------------------------------------------------------------------- records


def columns_and_records(
    table: TableFile, keep_blank_lines: bool = False
) -> tuple[list[str], Iterator[Record]]:
    """The columns of ``table`` (header, schema, or the first record's keys) and its records.

    ``keep_blank_lines`` yields a blank line of a JSON Lines file as a record without fields,
    so that ``predict`` can report it under its line number.
    """
    if not table.is_table:
        raise SenticlfError(f"{table.path}: unknown format {table.path.suffix or '(no suffix)'}")
    if table.format == "parquet":
        parquet = _parquet_file(table.path)
        return list(parquet.schema_arrow.names), _parquet_records(table.path, parquet)
    if table.format in _DELIMITERS:
        return _delimited(table)
    records = _json_records(table, keep_blank_lines)
    leading: list[Record] = []  # blank lines before the first record stay, in order
    for record in records:
        leading.append(record)
        if record.fields is not None:
            return list(record.fields), _chain(leading, records)
    return [], iter(leading)


def _chain(first: list[Record], rest: Iterator[Record]) -> Iterator[Record]:
    yield from first
    yield from rest


def _delimited(table: TableFile) -> tuple[list[str], Iterator[Record]]:
    handle = open_text(table)
    reader = csv.DictReader(handle, delimiter=_DELIMITERS[table.format])
    kind = table.format.upper()
    with _decoded(table):
        try:
            fields = list(reader.fieldnames or [])
        except csv.Error as exc:
            raise SenticlfError(f"{table.path}: malformed {kind} at line 1: {exc}") from None

    def records() -> Iterator[Record]:
        with handle, _decoded(table):
            try:
                # Row 1 is the header, so data row i sits on row i + 1 of a spreadsheet.
                for number, row in enumerate(reader, start=2):
                    yield Record(number, f"row {number}", row)
            except csv.Error as exc:
                raise SenticlfError(
                    f"{table.path}: malformed {kind} at line {reader.line_num}: {exc}"
                ) from None

    return fields, records()


def _json_records(table: TableFile, keep_blank_lines: bool) -> Iterator[Record]:
    with open_text(table) as handle, _decoded(table):
        start = handle.read(1)
        while start.isspace():
            start = handle.read(1)
        if start == "[":  # a JSON array of records (.json)
            if table.format == "jsonl":
                raise SenticlfError(
                    f"{table.path}: line 1 is a JSON array; JSON Lines holds one object per "
                    "line (name the file .json to read an array)"
                )
            yield from _json_array(table.path, start + handle.read())
            return
        handle.seek(0)
        for number, line in enumerate(_lines(handle), start=1):
            if not line.strip():
                if keep_blank_lines:
                    yield Record(number, f"line {number}", None)
                continue
            yield Record(number, f"line {number}", _json_object(table.path, number, line))


def _lines(handle: IO[str]) -> Iterator[str]:
    """Lines split on \\n only (the file is opened with newline="")."""
    for line in handle:
        yield line.rstrip("\r\n")


def _json_object(path: Path, number: int, line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise SenticlfError(f"{path}: line {number} is not valid JSON ({exc.msg})") from None
    if not isinstance(record, dict):
        raise SenticlfError(f"{path}: line {number} is not a JSON object")
    return record


def _json_array(path: Path, text: str) -> Iterator[Record]:
    try:
        records = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SenticlfError(
            f"{path}: not valid JSON at line {exc.lineno} ({exc.msg}); a .json file holds "
            "JSON Lines or one array of objects"
        ) from None
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise SenticlfError(f"{path}: record {number} of the array is not a JSON object")
        yield Record(number, f"record {number}", record)


@contextlib.contextmanager
def _decoded(table: TableFile) -> Iterator[None]:
    """Turn decoding and decompression errors met while streaming into one clear line."""
    try:
        yield
    except UnicodeDecodeError:
        raise SenticlfError(f"{table.path} is not UTF-8 text") from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise SenticlfError(f"cannot decompress {table.path}: {exc}") from None


def _parquet_file(path: Path) -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise SenticlfError(f"Parquet files need pyarrow: {PARQUET_EXTRA}") from None
    try:
        return pq.ParquetFile(path)
    except Exception as exc:  # pyarrow's error types vary by version
        raise SenticlfError(f"cannot read Parquet file {path}: {exc}") from None


def _parquet_records(path: Path, parquet: Any) -> Iterator[Record]:
    number = 0
    try:
        for batch in parquet.iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                number += 1
                yield Record(number, f"row {number}", row)
    except SenticlfError:
        raise
    except Exception as exc:  # pyarrow's error types vary by version
        raise SenticlfError(f"cannot read Parquet file {path}: {exc}") from None


# ---------------------------------------------------------------------------- texts


class Text(NamedTuple):
    number: int
    where: str
    text: str | None  # None for a blank line or an empty, missing or null text


def texts(table: TableFile, text_column: str | None = None) -> Iterator[Text]:
    """The text column of ``table``, record by record, blanks kept in place (``predict``)."""
    columns, records = columns_and_records(table, keep_blank_lines=True)
    key = pick_column(table.path, columns, text_column)
    for record in records:
        if record.fields is None:
            yield Text(record.number, record.where, None)
            continue
        if key not in record.fields and table.format in ("jsonl", "json"):
            raise SenticlfError(
                f"{table.path}: {record.where} has no {key!r} field; name the text field with "
                "--text-column"
            )
        value = record.fields.get(key)
        if value is not None and not isinstance(value, str):
            raise SenticlfError(f"{table.path}: {record.where}: {key!r} is not text")
        yield Text(record.number, record.where, value if value and value.strip() else None)
