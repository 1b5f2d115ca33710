"""predict_file: every input line paired with its prediction, in order; output only complete."""

import json

import pytest
from rich.console import Console

from senticlf.errors import SenticlfError
from senticlf.runtime import batching
from senticlf.runtime.inputs import InputText
from senticlf.runtime.options import PredictorOptions
from senticlf.runtime.predict_file import FilePredictionRequest, classify_items, predict_file
from senticlf.runtime.predictor import Prediction, SentimentClassifier


class CountingClassifier:
    """Labels a text by its length and records how many texts each call received."""

    labels = ["negative", "positive"]

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict(self, texts):
        self.calls.append(len(texts))
        return [Prediction("positive" if len(t) % 2 else "negative", 1.0) for t in texts]


def test_blank_lines_get_none_and_order_is_kept_across_chunks():
    n = batching.CHUNK + 10
    items = [InputText(i, None if i % 7 == 0 else "x" * i) for i in range(1, n + 1)]
    classifier = CountingClassifier()
    pairs = list(classify_items(classifier, items))  # type: ignore[arg-type]
    assert [item for item, _ in pairs] == items
    for item, prediction in pairs:
        if item.text is None:
            assert prediction is None
        else:
            assert prediction and prediction.label == ("positive" if item.line % 2 else "negative")
    blanks_in_first = sum(1 for i in items[: batching.CHUNK] if i.text is None)
    assert classifier.calls[0] == batching.CHUNK - blanks_in_first  # one call per chunk
    assert len(classifier.calls) == 2


def test_a_job_is_checked_before_any_model_is_loaded(tmp_path):
    with pytest.raises(SenticlfError, match="--format must be one of text, jsonl, csv"):
        FilePredictionRequest("in.txt", fmt="xml")
    existing = tmp_path / "out.jsonl"
    existing.write_text("keep me")
    with pytest.raises(SenticlfError, match="already exists; pass --overwrite"):
        FilePredictionRequest("in.txt", output=existing)
    assert FilePredictionRequest("in.txt", output=existing, overwrite=True).overwrite


def test_predict_file_writes_a_gzipped_table_to_a_complete_file(bundle, tmp_path):
    import gzip

    source = tmp_path / "reviews.jsonl.gz"
    source.write_bytes(gzip.compress(b'{"text": "a wonderful film"}\n\n{"text": "awful"}\n'))
    out = tmp_path / "preds.jsonl"
    classifier = SentimentClassifier(bundle, PredictorOptions(threads=1))
    request = FilePredictionRequest(str(source), "jsonl", out)
    predict_file(request, classifier, Console(quiet=True))
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["line"] for r in records] == [1, 2, 3] and records[1]["label"] is None
    expected = classifier.predict(["a wonderful film", "awful"])
    assert [records[0]["label"], records[2]["label"]] == [p.label for p in expected]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["preds.jsonl", "reviews.jsonl.gz"]
