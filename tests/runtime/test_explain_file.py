"""`senticlf explain`: text, JSONL and one offline HTML page; the errors `predict` gives."""

from __future__ import annotations

import json
import re

import pytest

import senticlf
from senticlf.runtime import explain_html
from tests.helpers import assert_one_line_error, invoke

REVIEWS = [
    "A wonderful, brilliant film. The music was great!<br /><br />I loved it.",
    "",
    "An awful, boring waste. Dull plot and poor actors.",
]


@pytest.fixture
def reviews_txt(tmp_path):
    path = tmp_path / "reviews.txt"
    path.write_text("\n".join(REVIEWS) + "\n", encoding="utf-8")
    return path


def test_jsonl_gives_offsets_and_values_that_match_the_library(bundle, reviews_txt, tmp_path):
    out = tmp_path / "why.jsonl"
    result = invoke("explain", reviews_txt, "--model", bundle, "--format", "jsonl", "--output", out)
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["line"] for r in records] == [1, 2, 3]
    assert records[1] == {"line": 2, "label": None, "note": "blank line"}
    library = senticlf.load(bundle).explain([REVIEWS[0], REVIEWS[2]])
    for record, expected, text in zip(
        (records[0], records[2]), library, (REVIEWS[0], REVIEWS[2]), strict=True
    ):
        assert record["label"] == expected.label
        assert record["model_calls"] == expected.model_calls
        for span in record["sentences"] + record["words"]:
            assert text[span["start"] : span["end"]] == span["text"]
    assert "1 blank line(s) reported" in result.stderr


def test_text_shows_labels_and_decisive_sentences(bundle, reviews_txt):
    result = invoke("explain", reviews_txt, "--model", bundle, "--budget", "6")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("1  positive ") and "6 model calls" in lines[0]
    assert "2  - (blank line)" in lines
    assert any(re.match(r"  [+-]\d\.\d{3}  ", line) for line in lines)


def test_html_is_one_offline_page_with_shaded_words(bundle, reviews_txt, tmp_path):
    out = tmp_path / "why.html"
    result = invoke("explain", reviews_txt, "--model", bundle, "--format", "html", "--output", out)
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert page.count('<section class="review">') == 2  # the blank line has none
    assert '<mark class="w ' in page and "Content-Security-Policy" in page
    assert "<br>" in page and "&lt;br" not in page  # IMDb's <br /> shown as a line break
    assert_offline(page)


def assert_offline(page: str) -> None:
    """No URL, no script, no external resource of any kind in the page."""
    assert not re.search(r"(https?:|//[a-z]|url\(|@import|<script|<link|<img|src=)", page, re.I)


def test_html_escapes_the_reviews(bundle, tmp_path):
    section = explain_html.review_section(
        "Line 1",
        "<script>alert(1)</script> great",
        senticlf.load(bundle).explain("<script>alert(1)</script> great"),
    )
    assert "<script>" not in section and "&lt;/" in section


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(b"", "is empty"), (b"caf\xe9\n", "is not UTF-8"), (b"\x00\x01\x02", "is a binary file")],
)
def test_unreadable_input_is_one_error_line(bundle, tmp_path, content, fragment):
    path = tmp_path / "in.txt"
    path.write_bytes(content)
    assert_one_line_error(invoke("explain", path, "--model", bundle), fragment)


def test_bad_options_are_refused_before_the_model_loads(bundle, reviews_txt, tmp_path):
    assert_one_line_error(
        invoke("explain", reviews_txt, "--model", bundle, "--format", "csv"), "--format"
    )
    assert_one_line_error(
        invoke("explain", reviews_txt, "--model", bundle, "--budget", "0"), "--budget"
    )
    existing = tmp_path / "out.html"
    existing.write_text("keep")
    assert_one_line_error(
        invoke("explain", reviews_txt, "--model", bundle, "--output", existing), "--overwrite"
    )
    assert existing.read_text() == "keep"


def test_stdin_and_tables_are_read_as_predict_reads_them(bundle, tmp_path):
    result = invoke("explain", "-", "--model", bundle, "--format", "jsonl", input="Great film.\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sentences"][0]["text"] == "Great film."
    table = tmp_path / "t.csv"
    table.write_text('review,x\n"Boring. Awful.",1\n', encoding="utf-8")
    result = invoke(
        "explain", table, "--model", bundle, "--text-column", "review", "--format", "jsonl"
    )
    assert result.exit_code == 0, result.output
    assert [s["text"] for s in json.loads(result.stdout)["sentences"]] == ["Boring.", "Awful."]
