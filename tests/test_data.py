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
        ("a.csv", "text,label\ngood,1\nbad,pos?\n", "row 3 has label 'pos?'"),
        ("a.csv", "text,label\ngood,1\nbad,\n", "row 3 has no label"),
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


# ---------------------------------------------------------------------------- label sets

THREE = "text,label\nfine,neutral\ngreat,positive\nawful,negative\nok,neutral\n"


def test_three_names_are_sorted_and_kept_as_names(tmp_path):
    path = write(tmp_path, "three.csv", THREE)
    splits = data.load_splits(str(path))
    assert splits.labels == ("negative", "neutral", "positive")
    assert [r.label for r in splits.train] == [1, 2, 0, 1]
    assert data.read_table_labels(path) == splits.labels


def test_integer_labels_follow_numeric_order(tmp_path):
    path = write(tmp_path, "stars.jsonl", "".join(
        f'{{"text": "review {i}", "label": {stars}}}\n' for i, stars in enumerate([5, 1, 10, 2])
    ))  # fmt: skip
    splits = data.load_splits(str(path))
    assert splits.labels == ("1", "2", "5", "10")
    assert [r.label for r in splits.train] == [2, 0, 3, 1]


def test_binary_aliases_keep_todays_names_and_indices(review_files):
    splits = data.load_splits(str(review_files["jsonl"]))  # neg/pos words
    assert splits.labels == ("negative", "positive")
    assert splits.train == data.read_table(review_files["csv"])  # 0/1 numbers


def test_given_labels_fix_the_order_and_refuse_unknown_ones(tmp_path):
    path = write(tmp_path, "three.csv", THREE)
    fixed = data.load_splits(str(path), labels=["positive", "neutral", "negative"])
    assert fixed.labels == ("positive", "neutral", "negative")
    assert [r.label for r in fixed.train] == [1, 0, 2, 1]
    with pytest.raises(SenticlfError) as info:
        data.read_table(path, labels=["negative", "positive"])
    assert "row 2 has label 'neutral'" in str(info.value) and str(path) in str(info.value)
    with pytest.raises(SenticlfError, match="at least two labels"):
        data.read_table(path, labels=["neutral"])
    with pytest.raises(SenticlfError, match="distinct"):
        data.read_table(path, labels=["a", "A", "b"])


def test_train_and_eval_files_share_one_label_order(tmp_path):
    train = write(tmp_path, "train.csv", THREE)
    evaluation = write(tmp_path, "eval.csv", "text,label\nyes,positive\nno,negative\n")
    splits = data.load_splits(str(train), str(evaluation))
    assert splits.labels == ("negative", "neutral", "positive")
    assert [r.label for r in splits.test] == [2, 0]


def test_numbers_mixed_with_names_are_refused(tmp_path):
    path = write(tmp_path, "mixed.csv", "text,label\ngood,1\nbad,0\nok,neutral\n")
    with pytest.raises(SenticlfError, match="row 4 has label 'neutral', but other labels"):
        data.read_table(path)


def test_one_label_is_not_a_classification_task(tmp_path):
    path = write(tmp_path, "one.csv", "text,label\na,neutral\nb,neutral\n")
    with pytest.raises(SenticlfError, match="only neutral reviews.*at least two labels"):
        data.load_splits(str(path))


def test_run_csv_round_trips_any_label_set(tmp_path):
    labels = ("bad", "meh", "good")  # deliberately not sorted
    rows = [data.Review("a", 2), data.Review("b", 0), data.Review("c", 1)]
    data.write_csv(tmp_path / "val.csv", rows, labels)
    assert (tmp_path / "val.csv").read_text().splitlines()[1] == "a,good"
    assert data.read_table(tmp_path / "val.csv", labels=labels) == rows


def test_imdb_sources_are_binary_only(review_files):
    with pytest.raises(SenticlfError, match="labelled negative/positive"):
        data.load_splits(str(review_files["aclimdb"]), labels=["a", "b", "c"])


def test_read_labelled_gives_a_whole_table_or_the_test_split(tmp_path, review_files):
    labels = ("negative", "positive")
    assert data.read_labelled(str(review_files["csv"]), labels) == data.read_table(
        review_files["csv"]
    )
    assert data.read_labelled(str(review_files["tar"]), labels) == (
        data.load_splits(str(review_files["tar"])).test
    )
