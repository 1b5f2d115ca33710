"""A label set beyond negative/positive, end to end: train -> export -> predict -> evaluate.

The toy task has a neutral class decided by its own words, so a tiny model can learn it and
every stage must carry the three names in the data's order.
"""

from __future__ import annotations

import csv
import json
import random

import pytest

import senticlf
from senticlf import artifacts
from tests.conftest import FILLER, NEGATIVE_WORDS, POSITIVE_WORDS
from tests.helpers import invoke

NEUTRAL_WORDS = ["average", "okay", "fine", "mediocre"]
WORDS = {"negative": NEGATIVE_WORDS, "neutral": NEUTRAL_WORDS, "positive": POSITIVE_WORDS}


def three_label_reviews(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = ("negative", "neutral", "positive")[i % 3]
        body = [rng.choice(FILLER) for _ in range(rng.randint(5, 30))]
        for _ in range(3):
            body.insert(rng.randrange(len(body)), rng.choice(WORDS[label]))
        rows.append((" ".join(body) + ".", label))
    rng.shuffle(rows)
    return rows


@pytest.fixture(scope="module")
def three_label_files(tmp_path_factory, tiny_base_model):
    from tests.conftest import build_tokenizer_json  # noqa: F401  (the tiny vocabulary)

    folder = tmp_path_factory.mktemp("three")
    for name, rows in (
        ("train.csv", three_label_reviews(240, 1)),
        ("test.csv", three_label_reviews(60, 2)),
    ):
        with open(folder / name, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows(rows)
    return folder


def test_three_labels_train_export_predict_and_evaluate(three_label_files, tiny_base_model):
    folder = three_label_files
    run, bundle = folder / "run", folder / "bundle"
    trained = invoke(
        "train", "--data", folder / "train.csv", "--eval-data", folder / "test.csv", "--full",
        "--base-model", tiny_base_model, "--output", run, "--epochs", "8", "--lr", "5e-3",
        "--max-length", "64", "--device", "cpu", "--labels", "negative,neutral,positive",
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    metrics = json.loads((run / artifacts.RUN_METRICS).read_text())
    assert metrics["labels"] == ["negative", "neutral", "positive"]
    assert metrics["best"]["val_accuracy"] >= 0.8  # learnable, and above chance (1/3)
    model_config = json.loads((run / "model" / "config.json").read_text())
    assert model_config["id2label"] == {"0": "negative", "1": "neutral", "2": "positive"}

    exported = invoke("export", run, "--output", bundle, "--quantize", "--plan-runs", "0")
    assert exported.exit_code == 0, exported.output
    manifest = artifacts.read_manifest(bundle)
    assert manifest.labels == ["negative", "neutral", "positive"]
    assert "negative, neutral, positive" in (bundle / artifacts.CARD).read_text()

    clf = senticlf.load(bundle, quantized=False)
    prediction = clf.predict("the film was okay and average, fine")
    assert prediction.label == "neutral" and prediction.positive is None
    assert set(prediction.scores) == {"negative", "neutral", "positive"}

    reviews = folder / "reviews.txt"
    reviews.write_text("a brilliant, wonderful film\nan average, okay film\n")
    out = folder / "preds.csv"
    predicted = invoke("predict", reviews, "--model", bundle, "--format", "csv", "--output", out)
    assert predicted.exit_code == 0, predicted.output
    header = out.read_text().splitlines()[0]
    assert header == "line,label,score,p_negative,p_neutral,p_positive,note"

    evaluated = invoke("evaluate", bundle, "--data", folder / "test.csv", "--out", folder / "eval")
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads((folder / "eval" / "report.json").read_text())
    assert json.dumps(report).count("neutral") >= 1
