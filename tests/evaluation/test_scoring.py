"""score_model and the report on a 3-label stand-in classifier: no model file needed."""

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from rich.console import Console

from senticlf.evaluation import report, scoring
from senticlf.runtime.calibrator import Calibrator

LABELS = ["negative", "neutral", "positive"]
# One review per row; the fake model's logits are over-confident (x4) but mostly right.
TEXTS = ["bad", "awful film", "fine", "ok", "great", "superb " * 40, "meh but good", "not bad"]
TRUTH = np.array([0, 0, 1, 1, 2, 2, 1, 2])
LOGITS = 4 * np.array([
    [2, 0, -1], [1, 0.5, 0], [0, 1, 0], [0.2, 0, 0.1],
    [-1, 0, 2], [0, 0, 1], [0, 0.5, 0.4], [0.6, 0.3, 0.1],
])  # fmt: skip  # predicted: 0 0 1 0 2 2 1 0 -> 6 of 8 right


class FakeEncoder:
    def encode(self, texts):
        return [[TEXTS.index(t)] for t in texts]  # the "ids" carry the row

    def untruncated_lengths(self, texts):
        return [len(t.split()) + 2 for t in texts]


class FakeClassifier:
    labels = LABELS
    calibrator = Calibrator(kind="temperature", temperature=2.0)
    model_file = "model.int8.onnx"
    bundle_dir = Path("export/three")
    batch_size = 8
    manifest = SimpleNamespace(max_length=16, truncation="head")
    encoder = FakeEncoder()

    def calibrated(self, logits):
        return self.calibrator.apply(logits)

    def logits_of_ids(self, ids):
        return LOGITS[[row[0] for row in ids]]


@pytest.fixture(scope="module")
def scored():
    return scoring.score_model(FakeClassifier(), TEXTS, TRUTH, Console(quiet=True), 0.8)


def test_three_labels_are_scored_by_name(scored):
    metrics = scored["metrics"]
    assert scored["name"] == "three (INT8)"
    assert metrics["accuracy"] == pytest.approx(6 / 8)
    assert metrics["confusion_matrix"] == [[2, 0, 0], [1, 2, 0], [1, 0, 2]]
    assert list(metrics["per_label"]) == LABELS
    assert metrics["per_label"]["neutral"]["precision"] == 1.0
    assert scored["misclassified"] == 2 and sum(scored["error_groups"].values()) >= 2
    assert scored["by_length"][-1]["reviews"] == 1  # the 40-word review exceeds 16 tokens


def test_calibrated_and_raw_scores_come_from_one_pass(scored):
    calibrated = scored["calibration"]["calibrated"]
    raw = scored["calibration"]["uncalibrated"]
    assert calibrated["calibrator"] == "temperature 2.000"
    assert raw["calibrator"] == "uncalibrated (T=1)"
    assert calibrated["ece"] < raw["ece"]  # the fake is over-confident; T=2 helps
    assert calibrated["nll"] < raw["nll"]


def test_report_files_appear_together(scored, tmp_path):
    result = {
        "data": "three.csv", "reviews": len(TEXTS), "labels": LABELS,
        "models": [{k: v for k, v in scored.items() if k != "predictions"}],
        "machine": {"cpu": "test", "instruction_sets": []}, "threads": 1,
        "senticlf_version": "0",
    }  # fmt: skip
    out = tmp_path / "eval"
    report.write_report(result, out, overwrite=False, progress=Console(quiet=True))
    assert json.loads((out / "report.json").read_text())["labels"] == LABELS
    text = (out / "report.md").read_text()
    assert "| true \\ predicted | negative | neutral | positive |" in text
    assert "| neutral | 1 | 2 | 0 |" in text and "reliability.png" in text
    assert (out / "coverage.png").stat().st_size > 0 and "coverage.png" in text
    assert "| min confidence | answered | coverage | accuracy of answered |" in text

    assert (out / "reliability.png").read_bytes().startswith(b"\x89PNG")
    assert [p.name for p in tmp_path.iterdir()] == ["eval"]  # no staging folder left behind


def test_the_coverage_summary_follows_the_served_probabilities(scored):
    """T=2 over the fake's logits; 6 of 8 right. The target 0.8 needs the wrong ones dropped."""
    probabilities = FakeClassifier.calibrator.apply(LOGITS)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == TRUTH
    target = scored["coverage"]["target"]["reached"]
    answered = confidence >= target["threshold"]
    assert correct[answered].mean() == target["accuracy"] >= 0.8
    assert target["coverage"] == answered.mean() < 1  # answering all gives 6/8 < 0.8
    lower = confidence[confidence < target["threshold"]]
    for t in lower:  # no lower threshold reaches 0.8
        assert correct[confidence >= t].mean() < 0.8
    first = scored["coverage"]["table"][0]
    assert first["threshold"] == 0.5 and first["answered"] == (confidence >= 0.5).sum()
