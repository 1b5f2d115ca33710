"""senticlf.tables: one reader for every format, one column picker, one set of error words."""

import gzip
import json
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from senticlf import tables
from senticlf.errors import SenticlfError

ROWS = [{"id": 1, "review": "good, really\nsecond line"}, {"id": 2, "review": "awful\u2028film"}]


def write_all_formats(folder):
    """The same two reviews in every format tables reads, plain and gzipped."""
    csv_text = 'id,review\n1,"good, really\nsecond line"\n2,awful\u2028film\n'
    jsonl = "".join(json.dumps(row) + "\n" for row in ROWS)
    texts = {
        "r.csv": csv_text,
        "r.tsv": csv_text.replace(",review", "\treview")
        .replace('1,"', '1\t"')
        .replace("2,", "2\t"),
        "r.jsonl": jsonl,
        "r.ndjson": jsonl,
        "lines.json": jsonl,
        "array.json": json.dumps(ROWS, indent=2),
    }
    paths = []
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
        zipped = folder / f"{name}.gz"
        zipped.write_bytes(gzip.compress(text.encode()))
        paths += [folder / name, zipped]
    pq.write_table(pa.Table.from_pylist(ROWS), folder / "r.parquet")
    return [*paths, folder / "r.parquet"]


def test_every_format_gives_the_same_records(tmp_path):
    for path in write_all_formats(tmp_path):
        columns, records = tables.columns_and_records(tables.detect(path))
        assert columns == ["id", "review"], path
        assert [str(r.fields["review"]) for r in records] == [r["review"] for r in ROWS], path
        assert [t.text for t in tables.texts(tables.detect(path))] == [r["review"] for r in ROWS], (
            path
        )


@pytest.mark.parametrize(
    ("name", "fmt", "compressed"),
    [
        ("a.csv", "csv", False),
        ("a.TSV", "tsv", False),
        ("a.jsonl.gz", "jsonl", True),
        ("a.ndjson", "jsonl", False),
        ("a.json", "json", False),
        ("a.parquet", "parquet", False),
        ("a.txt", "text", False),
        ("a.txt.gz", "text", True),
        ("README", "text", False),
    ],
)
def test_the_suffix_names_the_format(tmp_path, name, fmt, compressed):
    table = tables.detect(tmp_path / name)
    assert (table.format, table.compressed) == (fmt, compressed)


def test_gzipped_parquet_is_refused(tmp_path):
    with pytest.raises(SenticlfError, match="Parquet compresses itself"):
        tables.detect(tmp_path / "a.parquet.gz")


def test_one_column_picker_and_its_words(tmp_path):
    assert tables.pick_column("f", ["id", "content"]) == "content"
    assert tables.pick_column("f", ["text", "review"]) == "text"  # first usual name wins
    with pytest.raises(SenticlfError) as info:
        tables.pick_column("f.csv", ["id", "stars"])
    assert str(info.value) == (
        "f.csv has no text column (looked for text, review, sentence, content); "
        "columns are ['id', 'stars']; name it with --text-column"
    )
    with pytest.raises(SenticlfError, match="has no column 'body'; columns are"):
        tables.pick_column("f.csv", ["text"], "body")


def test_blank_lines_of_json_lines_keep_their_numbers(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('\n{"text": "good"}\n\n{"text": "  "}\n{"text": null}\n')
    assert [tuple(t[:1]) + (t.text,) for t in tables.texts(tables.detect(path))] == [
        (1, None),
        (2, "good"),
        (3, None),
        (4, None),
        (5, None),
    ]


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("r.jsonl", '{"text": "a"}\n{"body": "b"}\n', "line 2 has no 'text' field"),
        ("r.jsonl", '{"text": 3}\n', "line 1: 'text' is not text"),
        ("r.jsonl", '[{"text": "a"}]\n', "line 1 is a JSON array"),
        ("r.json", '[{"text": "a"}, 5]', "record 2 of the array is not a JSON object"),
        ("r.json", '[{"text": "a"},', "not valid JSON at line 1"),
    ],
)
def test_bad_records_name_the_file_and_place(tmp_path, name, content, fragment):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(SenticlfError) as info:
        list(tables.texts(tables.detect(path)))
    assert fragment in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("r.txt", b"", "is empty"),
        ("r.txt", b"\n  \n", "is empty"),
        ("r.txt", "\ufeff\n".encode(), "is empty"),
        ("r.txt", b"caf\xe9 au lait\n", "is not UTF-8 (byte 3); convert it, e.g. iconv"),
        ("r.bin", b"\x89PNG\x00\x00\x01", "is a binary file"),
        ("r.csv.gz", gzip.compress(b"text\ncaf\xe9\n"), "(byte 8); convert it, e.g. zcat r.csv.gz"),
        ("r.csv.gz", b"\x1f\x8b\x08 not gzip", "cannot decompress"),
        ("r.parquet", b"not parquet", "cannot read Parquet file"),
    ],
)
def test_unreadable_files_are_refused_up_front(tmp_path, name, content, fragment):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SenticlfError) as info:
        tables.check(path)
    assert fragment in str(info.value)


def test_check_counts_lines_and_parquet_rows(tmp_path):
    (tmp_path / "r.txt").write_text("a\nb\nc")
    (tmp_path / "r.txt.gz").write_bytes(gzip.compress(b"a\nb\n"))
    pq.write_table(pa.Table.from_pylist(ROWS), tmp_path / "r.parquet")
    assert tables.check(tmp_path / "r.txt") == 3
    assert tables.check(tmp_path / "r.txt.gz") == 2
    assert tables.check(tmp_path / "r.parquet") == 2


def test_missing_path_and_folder(tmp_path):
    with pytest.raises(SenticlfError, match="does not exist"):
        tables.check(tmp_path / "nope.txt")
    with pytest.raises(SenticlfError, match="is a folder"):
        tables.check(tmp_path)


def test_parquet_without_pyarrow_names_the_extra(tmp_path, monkeypatch):
    pq.write_table(pa.Table.from_pylist(ROWS), tmp_path / "r.parquet")
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)  # import now fails
    with pytest.raises(SenticlfError) as info:
        tables.check(tmp_path / "r.parquet")
    assert str(info.value) == "Parquet files need pyarrow: pip install 'senticlf[parquet]'"


def test_tables_needs_no_training_library():
    from tests.helpers import run_without_training_libraries

    result = run_without_training_libraries("import senticlf.tables\n")
    assert result.returncode == 0, result.stderr
