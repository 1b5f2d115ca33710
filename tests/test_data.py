from pathlib import Path

import pytest

from senticlf import data
from senticlf.errors import SenticlfError


def test_aclimdb_folder_and_archive_read_the_same_reviews(review_files):
    folder = data.load_splits(str(review_files["aclimdb"]))
    archive = data.load_splits(str(review_files["tar"]))
    assert folder == archive
    assert len(folder.train) == 160 and len(folder.test) == 48  # unsup review filtered out
    assert {r.label for r in folder.train} == {0, 1}


def test_aclimdb_labels_follow_the_pos_neg_folders(review_files):
    splits = data.load_splits(str(review_files["aclimdb"]))
    csv_rows = data.read_table(review_files["csv"])
    assert sorted(splits.train) == sorted(csv_rows)


def test_csv_and_jsonl_with_word_labels_agree(review_files):
    assert data.read_table(review_files["csv"]) == data.read_table(review_files["jsonl"])


def test_subsets_are_seeded_and_disjoint(review_files):
    splits = data.load_splits(str(review_files["csv"]))
    first = data.make_subsets(splits, 50, 20, seed=7)
    again = data.make_subsets(splits, 50, 20, seed=7)
    other = data.make_subsets(splits, 50, 20, seed=8)
    assert first == again
    assert first != other
    train, val = first
    assert len(train) == 50 and len(val) == 20
    assert not set(train) & set(val)


def test_subsets_of_separate_splits_come_from_each(review_files):
    splits = data.load_splits(str(review_files["csv"]), str(review_files["eval_csv"]))
    train, val = data.make_subsets(splits, 30, 10, seed=1)
    assert set(train) <= set(splits.train) and set(val) <= set(splits.test)


def test_full_keeps_everything(review_files):
    splits = data.load_splits(str(review_files["aclimdb"]))
    train, val = data.make_subsets(splits, None, None, seed=1)
    assert sorted(train) == sorted(splits.train) and sorted(val) == sorted(splits.test)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("a.txt", "text,label\n", "unknown format .txt"),
        ("a.csv", "review_text,label\nfine,1\n", "no text column"),
        ("a.csv", "text,stars\nfine,1\n", "no label column"),
        ("a.csv", "text,label\ngood,1\n   ,0\n", "row 3 has an empty 'text'"),
        ("a.csv", "text,label\ngood,1\nbad,3\n", "row 3 has label '3'"),
        (
            "a.jsonl",
            '{"text": "good", "label": 1}\n{"text": "bad", "label": "meh"}\n',
            "line 2 has label 'meh'",
        ),
        ("a.jsonl", '{"text": "good", "label": 1}\nnot json\n', "line 2 is not valid JSON"),
        ("a.csv", "", "is empty"),
        ("a.csv", b"text,label\ncaf\xe9,1\n", "is not UTF-8"),
    ],
)
def test_bad_tables_name_the_file_and_row(tmp_path, name, content, fragment):
    path = write(tmp_path, name, content)
    with pytest.raises(SenticlfError, match=None) as info:
        data.read_table(path)
    assert fragment in str(info.value) and str(path) in str(info.value)


def test_one_class_split_is_refused(tmp_path):
    path = write(tmp_path, "a.csv", "text,label\n" + "".join(f"good {i},1\n" for i in range(20)))
    with pytest.raises(SenticlfError, match="only positive reviews"):
        data.make_subsets(data.load_splits(str(path)), None, 5, seed=0)


def test_missing_source_and_folder_without_aclimdb_layout(tmp_path):
    with pytest.raises(SenticlfError, match="does not exist"):
        data.load_splits(str(tmp_path / "nope.csv"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(SenticlfError, match="does not look like aclImdb"):
        data.load_splits(str(tmp_path / "empty"))


def test_corrupt_archive_is_a_clear_error(tmp_path):
    path = write(tmp_path, "aclImdb_v1.tar.gz", b"\x1f\x8b\x08 not really gzip")
    with pytest.raises(SenticlfError, match="cannot read archive"):
        data.load_splits(str(path))


def test_subset_csv_round_trips(tmp_path, review_files):
    rows = data.read_table(review_files["csv"])
    data.write_csv(tmp_path / "out.csv", rows)
    assert data.read_table(tmp_path / "out.csv") == rows


def test_gzipped_tables_are_read_in_place(tmp_path, review_files):
    import gzip

    packed = tmp_path / "train.csv.gz"
    packed.write_bytes(gzip.compress(review_files["csv"].read_bytes()))
    assert data.read_table(packed) == data.read_table(review_files["csv"])


def test_unicode_line_separators_inside_a_review_do_not_split_rows(tmp_path):
    """IMDb has reviews with U+2028 / U+0085 / form feeds; str.splitlines() breaks on them."""
    rows = [data.Review("odd\u2028break\x85and\x0cfeed\rcr", 1), data.Review("plain", 0)]
    data.write_csv(tmp_path / "odd.csv", rows)
    assert data.read_table(tmp_path / "odd.csv") == rows
    jsonl = tmp_path / "odd.jsonl"
    jsonl.write_text(
        '{"text": "a\u2028b", "label": 1}\n{"text": "c", "label": 0}\n', encoding="utf-8"
    )
    assert [r.text for r in data.read_table(jsonl)] == ["a\u2028b", "c"]
