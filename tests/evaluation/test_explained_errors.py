"""`evaluate --explain`: every misclassified review with the sentences that decided it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.helpers import invoke

# Labels flipped on purpose for the first two reviews, so the tiny model gets them "wrong".
ROWS = [
    ("The film was fun. The plot was awful.", "positive"),
    ("A wonderful film. Brilliant music.", "negative"),
    ("Dull and boring. A waste.", "negative"),
    ("Great fun, superb actors.", "positive"),
]


def test_each_error_lists_its_decisive_sentences(bundle: Path, tmp_path: Path) -> None:
    data = tmp_path / "labelled.csv"
    with open(data, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("text", "label"), *ROWS])
    out = tmp_path / "report"
    result = invoke("evaluate", bundle, "--data", data, "--out", out, "--explain")
    assert result.exit_code == 0, result.output
    model = json.loads((out / "report.json").read_text())["models"][0]
    records = model["explained_errors"]
    assert len(records) == model["misclassified"] >= 2
    for record in records:
        text = ROWS[record["review"] - 1][0]
        assert record["label"] == ROWS[record["review"] - 1][1] != record["predicted"]
        assert record["sentences"], record
        for sentence in record["sentences"]:
            assert text[sentence["start"] : sentence["end"]] == sentence["text"]
            assert sentence["contribution"] > 0
    assert "The plot was awful." in [s["text"] for s in records[0]["sentences"]]
    markdown = (out / "report.md").read_text()
    assert "Misclassified reviews and the sentences that decided them" in markdown
    assert "- review 1 (positive, predicted negative" in markdown


def test_it_is_off_by_default(bundle: Path, tmp_path: Path) -> None:
    data = tmp_path / "labelled.csv"
    with open(data, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("text", "label"), *ROWS])
    out = tmp_path / "report"
    assert invoke("evaluate", bundle, "--data", data, "--out", out).exit_code == 0
    assert "explained_errors" not in json.loads((out / "report.json").read_text())["models"][0]
