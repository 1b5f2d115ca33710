"""/metrics counts what the server predicted, the same way over TEI, /classify and KServe v2.

The app runs in-process (Starlette's TestClient runs its lifespan, so the batcher is up); the
expected counts come from the library's own predictions of the same texts.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import senticlf
from senticlf.serve.app import create_app
from senticlf.serve.config import ServeConfig
from tests.conftest import make_reviews

prometheus_parser = pytest.importorskip("prometheus_client.parser")
testclient = pytest.importorskip("starlette.testclient")

TEXTS = [text for text, _ in make_reviews(12, seed=11)] + ["great awful", "dull fun"]
MODEL = "tiny"


def samples(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, read with prometheus_client's own text parser."""
    text = client.get("/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in prometheus_parser.text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_the_three_protocols_count_labels_and_confidence_alike(bundle: Path) -> None:
    library = senticlf.load(bundle, threads=1)
    # A min_confidence between the texts' scores, so that some abstain as 'uncertain'.
    scores = sorted(p.score for p in library.predict(TEXTS))
    cut = (scores[len(scores) // 3] + scores[len(scores) // 3 + 1]) / 2
    classify, predict, infer = TEXTS[:6], TEXTS[6:10], TEXTS[10:]
    expected = (
        senticlf.load(bundle, threads=1, min_confidence=cut).predict(classify)
        + library.predict(predict)
        + library.predict(infer)
    )
    app = create_app(library, ServeConfig(model_name=MODEL))
    with testclient.TestClient(app) as client:
        assert client.post("/classify", json={"inputs": classify, "min_confidence": cut}).is_success
        raw = {"inputs": predict, "raw_scores": True}  # raw logits answered: labels still counted
        assert client.post("/predict", json=raw).is_success
        tensor = {"name": "text", "datatype": "BYTES", "shape": [len(infer)], "data": infer}
        answer = client.post(f"/v2/models/{MODEL}/infer", json={"inputs": [tensor]})
        assert answer.is_success, answer.text
        found = samples(client)
    labels = Counter(p.label for p in expected)
    assert labels["uncertain"] > 0 and len(labels) >= 2
    counted = {
        dict(key)["label"]: value
        for (name, key), value in found.items()
        if name == "senticlf_predictions_total" and dict(key)["model"] == MODEL
    }
    assert counted == labels
    model = (("model", MODEL),)
    assert found[("senticlf_prediction_confidence_count", model)] == len(TEXTS)
    assert found[("senticlf_prediction_confidence_sum", model)] == pytest.approx(
        sum(p.score for p in expected), rel=1e-5
    )
    at_cut = sum(p.score <= 0.5 for p in expected)
    assert found[("senticlf_prediction_confidence_bucket", (("le", "0.5"), *model))] == at_cut


def test_blank_texts_and_refused_requests_count_nothing(bundle: Path) -> None:
    app = create_app(senticlf.load(bundle, threads=1), ServeConfig(model_name=MODEL))
    with testclient.TestClient(app) as client:
        assert client.post("/classify", json={"inputs": ["  ", "a great film"]}).is_success
        assert client.post("/predict", json={"inputs": ["a great film", ""]}).status_code == 422
        found = samples(client)
    model = (("model", MODEL),)
    assert found[("senticlf_prediction_confidence_count", model)] == 1
