"""Labelled reviews from wherever they live, as plain ``Review(text, label)`` rows.

Sources: the Hugging Face hub (``stanfordnlp/imdb``), the Stanford ``aclImdb`` release as a
folder or as the ``.tar.gz`` read in place, and the table files senticlf.tables reads (CSV, TSV,
JSON Lines, JSON, Parquet, gzipped or not); this module adds the labels on top. Every check a
user's file can fail names the file and the row, so the fix is obvious without a traceback.

Labels: a table may carry two or more labels, as names or integers. ``Review.label`` is an
index into the label names, which come in one stable, documented order (see
:func:`infer_labels`) unless the caller fixes it with ``labels=[...]``.
"""

from __future__ import annotations

import csv
import random
import re
import tarfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from senticlf import artifacts, atomic, tables
from senticlf.errors import SenticlfError

# The default training data (TrainConfig.data): IMDb on the Hugging Face hub.
HUB_DATASET = "stanfordnlp/imdb"
LABEL_COLUMNS = ("label", "sentiment", "labels", "target")
# Spellings of binary sentiment in the wild; all of them mean artifacts.LABELS.
_BINARY_ALIASES = {"0": 0, "1": 1, "neg": 0, "pos": 1, "negative": 0, "positive": 1}
_BINARY_EXPECTED = "0/1, neg/pos or negative/positive"
_INTEGER = re.compile(r"^[+-]?\d+$")
_ACLIMDB_FILE = re.compile(r"(?:^|/)(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")
_ACLIMDB_UNSUP = re.compile(r"(?:^|/)train/unsup/\d+_\d+\.txt$")


class Review(NamedTuple):
    text: str
    label: int  # index into the label names (binary sentiment: 0 negative, 1 positive)


class Splits(NamedTuple):
    train: list[Review]
    test: list[Review]
    labels: tuple[str, ...] = artifacts.LABELS  # what each Review.label index means


Labels = tuple[str, ...] | list[str]


# ---------------------------------------------------------------------------- sources


def load_splits(
    source: str,
    eval_source: str | None = None,
    labels: Labels | None = None,
    **columns: str | None,
) -> Splits:
    """Read the train split and the evaluation split of ``source``, and their label names.

    A table file has no test split of its own: pass ``eval_source``, or the evaluation
    subset is carved out of the same file (still disjoint from the training subset). The
    label names come from both files together, so the two splits always share one order.
    """
    path = Path(source)
    if looks_like_hub_dataset(source) and not path.exists():  # e.g. stanfordnlp/imdb
        return _binary_only(_load_hub(source), labels, source)
    if not path.exists():
        raise SenticlfError(f"data source {source} does not exist (a file, folder or hub id)")
    if path.is_dir() or path.name.endswith((".tar.gz", ".tgz", ".tar")):
        if eval_source:
            raise SenticlfError("--eval-data is only for table files; aclImdb has its test split")
        return _binary_only(_load_aclimdb(path), labels, source)
    train_rows = _read_rows(path, **columns)
    test_rows = _read_rows(Path(eval_source), **columns) if eval_source else []
    names = check_labels(labels) if labels else infer_labels(train_rows + test_rows)
    train = _to_reviews(train_rows, names)
    check_both_classes(train, f"data file {path}", names)
    test = _to_reviews(test_rows, names)
    if eval_source:
        check_both_classes(test, f"evaluation file {eval_source}", names)
    return Splits(train, test, names)


def read_labelled(
    source: str, labels: Labels, text_column: str | None = None, label_column: str | None = None
) -> list[Review]:
    """The labelled reviews of ``source`` to score a model on, labels mapped onto ``labels``.

    A table file is read whole; aclImdb (folder or archive) and the hub give their test split.
    """
    path = Path(source)
    if path.is_file() and not path.name.endswith((".tar.gz", ".tgz", ".tar")):
        return read_table(path, text_column, label_column, labels=labels)
    splits = load_splits(source, labels=labels, text_column=text_column, label_column=label_column)
    return splits.test


def _binary_only(splits: Splits, labels: Labels | None, source: str) -> Splits:
    """IMDb sources are negative/positive; a different --labels cannot apply to them."""
    if labels and not artifacts.is_binary_sentiment(list(labels)):
        raise SenticlfError(
            f"{source} is labelled negative/positive; labels {', '.join(labels)} do not apply"
        )
    return splits


def looks_like_hub_dataset(source: str) -> bool:
    """A data source shaped like a Hub data set id (org/name): read from the Hub when no such
    path exists (the model card names it, too)."""
    return source.count("/") == 1 and not source.startswith((".", "/")) and "." not in source


def _load_hub(dataset_id: str) -> Splits:
    try:
        import datasets
    except ImportError:
        raise SenticlfError(
            "the hub source needs the training extra: pip install 'senticlf[train]'"
        ) from None
    try:
        loaded = datasets.load_dataset(dataset_id)
    except Exception as exc:  # offline, unknown id, auth: all need the same advice
        raise SenticlfError(
            f"cannot load dataset {dataset_id} from the Hugging Face hub ({type(exc).__name__}); "
            "offline, pass --data path/to/aclImdb_v1.tar.gz or a CSV file"
        ) from None

    def rows(split: str) -> list[Review]:
        return [Review(r["text"], r["label"]) for r in loaded[split] if r["label"] in (0, 1)]

    return Splits(rows("train"), rows("test"))


def _load_aclimdb(path: Path) -> Splits:
    """Stanford layout: ``{train,test}/{pos,neg}/<id>_<rating>.txt``; ``unsup`` is skipped."""
    found: dict[str, list[tuple[str, Review]]] = {"train": [], "test": []}
    for name, read in _aclimdb_files(path):
        match = _ACLIMDB_FILE.search(name)
        if match is None:
            continue
        split, polarity = match.group(1), match.group(2)
        try:
            text = read().decode("utf-8")
        except UnicodeDecodeError:
            raise SenticlfError(f"{path}: {name} is not UTF-8 text") from None
        found[split].append((name, Review(text, int(polarity == "pos"))))
    if not found["train"] or not found["test"]:
        raise SenticlfError(
            f"{path} does not look like aclImdb: expected train/pos, train/neg, test/pos, "
            "test/neg folders of <id>_<rating>.txt files"
        )
    # Archive order differs between copies; sorting by name makes seeded subsets reproducible.
    ordered = {k: [review for _, review in sorted(v)] for k, v in found.items()}
    return Splits(ordered["train"], ordered["test"])


def looks_like_aclimdb(path: Path) -> bool:
    """An aclImdb release: its folder or its archive (anything else is a table or a text file)."""
    return path.is_dir() or path.name.endswith((".tar.gz", ".tgz", ".tar"))


def read_aclimdb_unlabelled(path: Path) -> list[str]:
    """The 50,000 unlabelled reviews of aclImdb's ``train/unsup/`` (folder or archive), by name.

    They are the release's own transfer set for ``distill --unlabelled``: IMDb text like the
    labelled reviews, which only the teacher labels. Sorted by file name, like the labelled
    splits, so that the same copy always gives the same texts in the same order.
    """
    found: list[tuple[str, str]] = []
    for name, read in _aclimdb_files(path):
        if _ACLIMDB_UNSUP.search(name) is None:
            continue
        try:
            found.append((name, read().decode("utf-8")))
        except UnicodeDecodeError:
            raise SenticlfError(f"{path}: {name} is not UTF-8 text") from None
    if not found:
        raise SenticlfError(
            f"{path} has no train/unsup/<id>_0.txt reviews (the labelled-only copy of aclImdb "
            "lacks them); pass a file of texts instead"
        )
    return [text for _, text in sorted(found)]


def _aclimdb_files(path: Path) -> Iterator[tuple[str, Callable[[], bytes]]]:
    if path.is_dir():
        for file in sorted(path.rglob("*.txt")):
            yield file.relative_to(path).as_posix(), file.read_bytes
        return
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                if member.isfile() and member.name.endswith(".txt"):
                    handle = archive.extractfile(member)
                    if handle is not None:
                        yield member.name, handle.read
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise SenticlfError(f"cannot read archive {path}: {exc}") from None


# ---------------------------------------------------------------------------- tables


def read_table(
    path: Path,
    text_column: str | None = None,
    label_column: str | None = None,
    labels: Labels | None = None,
) -> list[Review]:
    """Read a table file of labelled reviews (see senticlf.tables), checking every row.

    ``labels`` fixes the label names (and so the meaning of ``Review.label``); without it they
    are inferred from the file by :func:`infer_labels`.
    """
    rows = _read_rows(path, text_column, label_column)
    return _to_reviews(rows, check_labels(labels) if labels else infer_labels(rows))


def read_table_labels(
    path: Path, text_column: str | None = None, label_column: str | None = None
) -> tuple[str, ...]:
    """The label names :func:`read_table` infers for ``path`` (the order its indices follow)."""
    return infer_labels(_read_rows(path, text_column, label_column))


class _Row(NamedTuple):
    where: str  # "<file>: row 3", for error messages
    text: str
    label: object  # as found in the file


def _read_rows(
    path: Path, text_column: str | None = None, label_column: str | None = None
) -> list[_Row]:
    table = _labelled_table(path)
    columns, records = tables.columns_and_records(table)
    if not columns:
        raise SenticlfError(f"{path} has no rows")
    text_key = tables.pick_column(path, columns, text_column)
    label_key = tables.pick_column(path, columns, label_column, LABEL_COLUMNS, "label")
    rows = []
    for record in records:
        fields = record.fields or {}
        text = fields.get(text_key)
        if not isinstance(text, str) or not text.strip():
            raise SenticlfError(f"{path}: {record.where} has an empty {text_key!r}")
        rows.append(_Row(f"{path}: {record.where}", text, fields.get(label_key)))
    if not rows:
        raise SenticlfError(f"{path} has no rows")
    return rows


def _labelled_table(path: Path) -> tables.TableFile:
    """A table file with columns (plain text has no labels), checked before it is read."""
    if path.is_dir():
        raise SenticlfError(f"{path} is a folder; expected a table file: {tables.ACCEPTED}")
    if not path.is_file():
        raise SenticlfError(f"data file {path} does not exist")
    table = tables.detect(path)
    if not table.is_table:
        raise SenticlfError(
            f"{path}: unknown format {path.suffix or '(no suffix)'}; use {tables.ACCEPTED}, "
            "or an aclImdb folder / .tar.gz"
        )
    tables.check(path)
    return table


def _label_key(value: object) -> str:
    """One spelling per label: trimmed, and 1.0 (Parquet, JSON) read as 1."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def infer_labels(rows: Iterable[_Row]) -> tuple[str, ...]:
    """The label names of a file, in a stable order that does not depend on row order.

    - only 0/1, neg/pos, negative/positive: ``("negative", "positive")``, as always;
    - only integers (e.g. 1-5 stars): numeric order, named by the integers (``"1"`` ... ``"5"``);
    - names: sorted alphabetically (``negative, neutral, positive``).

    A file mixing integers with other names is refused: that is a typo far more often than a
    label set. Pass ``labels=[...]`` (``--labels``) to choose another order.
    """
    rows = list(rows)
    keys = {_label_key(row.label) for row in rows}
    if "" in keys:
        empty = next(row for row in rows if not _label_key(row.label))
        raise SenticlfError(f"{empty.where} has no label")
    if {key.lower() for key in keys} <= set(_BINARY_ALIASES):
        return artifacts.LABELS
    integers = {key for key in keys if _INTEGER.match(key)}
    if integers == keys:
        return tuple(str(n) for n in sorted({int(key) for key in keys}))
    if integers:
        odd = next(row for row in rows if not _INTEGER.match(_label_key(row.label)))
        raise SenticlfError(
            f"{odd.where} has label {odd.label!r}, but other labels are numbers "
            f"({', '.join(sorted(integers, key=int))}); fix the label or name the label set "
            "with --labels"
        )
    return tuple(sorted(keys))


def check_labels(labels: Labels) -> tuple[str, ...]:
    """A label set given by the user: two or more distinct, non-empty names."""
    names = tuple(str(name).strip() for name in labels)
    if len(names) < 2:
        raise SenticlfError(f"a label set needs at least two labels, got {list(names)}")
    if any(not name for name in names):
        raise SenticlfError(f"label names cannot be empty, got {list(names)}")
    lowered = [name.lower() for name in names]
    if len(set(lowered)) != len(names):
        raise SenticlfError(f"label names must be distinct, got {list(names)}")
    return names


def _to_reviews(rows: list[_Row], labels: tuple[str, ...]) -> list[Review]:
    index = {name.lower(): i for i, name in enumerate(labels)}
    if artifacts.is_binary_sentiment(labels):
        index.update(_BINARY_ALIASES)
    expected = (
        _BINARY_EXPECTED if artifacts.is_binary_sentiment(labels) else f"one of {', '.join(labels)}"
    )
    reviews = []
    for row in rows:
        position = index.get(_label_key(row.label).lower())
        if position is None:
            raise SenticlfError(f"{row.where} has label {row.label!r}; expected {expected}")
        reviews.append(Review(row.text, position))
    return reviews


# ---------------------------------------------------------------------------- subsets


def seeded_subset(reviews: list[Review], size: int | None, seed: int) -> list[Review]:
    """A seeded shuffle, cut to ``size`` (None keeps all): the same seed gives the same rows."""
    order = list(range(len(reviews)))
    random.Random(seed).shuffle(order)
    if size is not None:
        order = order[:size]
    return [reviews[i] for i in order]


def make_subsets(
    splits: Splits, train_size: int | None, val_size: int | None, seed: int
) -> tuple[list[Review], list[Review]]:
    """Training and validation subsets, disjoint even when both come from one file."""
    if splits.test:
        train = seeded_subset(splits.train, train_size, seed)
        val = seeded_subset(splits.test, val_size, seed)
    else:
        shuffled = seeded_subset(splits.train, None, seed)
        n_val = val_size if val_size is not None else max(1, len(shuffled) // 5)
        if n_val >= len(shuffled):
            raise SenticlfError(
                f"the data has {len(shuffled)} reviews, too few to hold out {n_val} for validation"
            )
        val, rest = shuffled[:n_val], shuffled[n_val:]
        train = rest[:train_size] if train_size is not None else rest
    check_both_classes(train, "training subset", splits.labels)
    check_both_classes(val, "validation subset", splits.labels)
    return train, val


def check_both_classes(reviews: list[Review], name: str, labels: Labels = artifacts.LABELS) -> None:
    """A classifier learns nothing from one label: at least two must occur."""
    found = {review.label for review in reviews}
    if not reviews:
        raise SenticlfError(f"the {name} is empty")
    if len(found) < 2:
        (index,) = found
        only = labels[index] if 0 <= index < len(labels) else str(index)
        need = "both classes" if len(labels) == 2 else "at least two labels"
        raise SenticlfError(f"the {name} has only {only} reviews; a classifier needs {need}")


def write_csv(path: Path, reviews: Iterable[Review], labels: Labels | None = None) -> None:
    """A run's subset as text,label. With ``labels`` the label column holds the names, so
    the file reads back the same with ``read_table(path, labels=labels)`` whatever the label
    set; without, it holds the indices (0/1 for binary sentiment, as run folders always had).
    """
    with atomic.atomic_open(path) as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for review in reviews:
            writer.writerow([review.text, labels[review.label] if labels else review.label])
