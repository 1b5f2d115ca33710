"""ResultWriter: one record per input line in text, JSONL or CSV, every label's probability."""

import csv
import io
import json

from senticlf.runtime.inputs import InputText
from senticlf.runtime.outputs import FORMATS, ResultWriter, probability_column
from senticlf.runtime.predictor import Prediction

LABELS = ["negative", "neutral", "positive"]
ITEMS = [InputText(1, "a\tfine film " + "x" * 80), InputText(2, None)]
PREDICTION = Prediction("neutral", 0.5, {"negative": 0.2, "neutral": 0.5, "positive": 0.3})


def written(fmt: str) -> str:
    handle = io.StringIO()
    writer = ResultWriter(handle, fmt, LABELS)
    writer.write(ITEMS[0], PREDICTION)
    writer.write(ITEMS[1], None)
    return handle.getvalue()


def test_text_lines_are_tab_separated_with_a_short_preview():
    first, blank = written("text").splitlines()
    number, label, score, preview = first.split("\t")
    assert (number, label, score) == ("1", "neutral", "0.500")
    assert preview.startswith("a fine film") and len(preview) == 60  # tabs gone, cut short
    assert blank == "2\t-\t-\t(blank line)"


def test_jsonl_carries_every_score_and_notes_blank_lines():
    first, blank = (json.loads(line) for line in written("jsonl").splitlines())
    assert first == {"line": 1, **PREDICTION.as_dict()}
    assert blank == {"line": 2, "label": None, "note": "blank line"}


def test_csv_has_one_probability_column_per_label():
    rows = list(csv.reader(io.StringIO(written("csv"))))
    assert rows[0] == ["line", "label", "score", "p_negative", "p_neutral", "p_positive", "note"]
    assert rows[1] == ["1", "neutral", "0.5000", "0.2000", "0.5000", "0.3000", ""]
    assert rows[2] == ["2", "", "", "", "", "", "blank line"]


def test_every_format_writes_one_record_per_input_line():
    assert probability_column("neutral") == "p_neutral"  # the name Ray's outputs use too
    for fmt in FORMATS:
        header = 1 if fmt == "csv" else 0
        assert len(written(fmt).splitlines()) == len(ITEMS) + header, fmt
