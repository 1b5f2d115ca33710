"""The three protocols over HTTP, with the real clients: TEI's /predict (raw requests and
huggingface_hub's InferenceClient), the native /classify and KServe v2 (raw and tritonclient).

One request at a time, so each server batch holds exactly one request's texts and the numbers
can be compared with the library's exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest

import senticlf
from tests.conftest import make_reviews
from tests.serve.conftest import ServerProcess

REVIEWS = [text for text, _ in make_reviews(12, seed=11)]


def post(server: ServerProcess, route: str, payload: object) -> httpx.Response:
    return httpx.post(f"{server.url}{route}", json=payload, timeout=30)


def ranked(clf: senticlf.SentimentClassifier, row: np.ndarray) -> list[dict]:
    pairs = sorted(zip(clf.labels, row.tolist(), strict=True), key=lambda p: -p[1])
    return [{"label": label, "score": score} for label, score in pairs]


@pytest.fixture(scope="module")
def clf(bundle: Path) -> senticlf.SentimentClassifier:
    """The library with the plan the test servers run (they pass --threads 1)."""
    return senticlf.load(bundle, threads=1)


# ---------------------------------------------------------------------------- TEI /predict


def test_tei_single_string_is_one_flat_list_of_every_label(server, clf) -> None:
    answer = post(server, "/predict", {"inputs": REVIEWS[0]}).json()
    assert answer == ranked(clf, clf.probabilities([REVIEWS[0]])[0])
    assert [item["score"] for item in answer] == sorted((i["score"] for i in answer), reverse=True)


def test_tei_batch_forms_are_lists_of_lists(server, clf) -> None:
    texts = REVIEWS[1:3]
    expected = [ranked(clf, clf.probabilities([text])[0]) for text in texts]
    # A flat list is a batch here (in TEI it would be one pair); TEI's [[a], [b]] is too.
    for inputs in (texts, [[text] for text in texts]):
        answer = post(server, "/predict", {"inputs": inputs}).json()
        assert len(answer) == 2
        for got, want in zip(answer, expected, strict=True):
            assert [g["label"] for g in got] == [w["label"] for w in want]
            assert [g["score"] for g in got] == pytest.approx([w["score"] for w in want], abs=0.02)


def test_tei_raw_scores_are_the_logits_before_temperature(server, clf) -> None:
    logits = clf.logits_of_ids(clf.encoder.encode([REVIEWS[3]]))[0].astype(np.float64)
    answer = post(server, "/predict", {"inputs": REVIEWS[3], "raw_scores": True}).json()
    assert answer == ranked(clf, logits)
    sigmoid = post(
        server, "/predict", {"inputs": REVIEWS[3], "parameters": {"function_to_apply": "sigmoid"}}
    ).json()
    assert sigmoid == ranked(clf, 1 / (1 + np.exp(-logits)))
    none = {"inputs": REVIEWS[3], "parameters": {"function_to_apply": "none"}}
    assert post(server, "/predict", none).json() == answer
    # softmax is the calibrated probabilities: the bundle's calibrator applied, as the library does
    assert (
        ranked(clf, clf.calibrated(logits[None])[0])
        == post(
            server,
            "/predict",
            {"inputs": REVIEWS[3], "parameters": {"function_to_apply": "softmax"}},
        ).json()
    )


def test_tei_truncate_and_unknown_fields_are_accepted_and_change_nothing(server, clf) -> None:
    long_text = " ".join([REVIEWS[4]] * 40)  # far past the bundle's max length
    plain = post(server, "/predict", {"inputs": long_text}).json()
    for extra in (
        {"truncate": True, "truncation_direction": "Right"},
        {"truncate": False},
        {"normalize": True, "options": {"wait_for_model": True}, "colour": 1},
    ):
        assert post(server, "/predict", {"inputs": long_text, **extra}).json() == plain
    assert plain == ranked(clf, clf.probabilities([long_text])[0])


def test_tei_top_k(server) -> None:
    answer = post(server, "/predict", {"inputs": [REVIEWS[5]], "parameters": {"top_k": 1}}).json()
    assert len(answer) == 1 and len(answer[0]) == 1
    # JSON Schema's integer includes 1.0 (a fuzzer seed: it was once refused)
    one = post(server, "/predict", {"inputs": "x", "parameters": {"top_k": 1.0}})
    assert one.status_code == 200 and len(one.json()) == 1


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"inputs": ["good", " "]}, "inputs[1] is blank"),
        ({"inputs": ""}, "'inputs' is blank"),
        ({"inputs": [["a", "b"]]}, "pairs are not supported"),
        ({"inputs": "ok", "raw_scores": "yes"}, "'raw_scores' must be true or false"),
        ({"inputs": "ok", "parameters": {"top_k": 0}}, "top_k"),
        ({"inputs": "ok", "parameters": {"function_to_apply": "relu"}}, "function_to_apply"),
        ({"inputs": "ok", "parameters": {"candidate_labels": ["x"]}}, "not supported"),
        (
            {"inputs": "ok", "raw_scores": True, "parameters": {"function_to_apply": "softmax"}},
            "raw_scores",
        ),
        ({"truncate": True}, "missing 'inputs'"),
    ],
)
def test_tei_mistakes_are_422_naming_the_field(server, payload, fragment) -> None:
    response = post(server, "/predict", payload)
    assert response.status_code == 422, response.text
    assert fragment in response.json()["error"]


def test_inference_client_text_classification(server, clf) -> None:
    hub = pytest.importorskip("huggingface_hub", reason="needs huggingface_hub (dev extra)")
    client = hub.InferenceClient(model=f"{server.url}/predict")
    # huggingface_hub returns [0] of TEI's answer: for one string, the top label only.
    top = client.text_classification(REVIEWS[6])
    best = ranked(clf, clf.probabilities([REVIEWS[6]])[0])[0]
    assert (top.label, top.score) == (best["label"], best["score"])
    sigmoid = client.text_classification(REVIEWS[6], function_to_apply="sigmoid", top_k=1)
    assert sigmoid.label == best["label"] and 0 < sigmoid.score < 1


# ---------------------------------------------------------------------------- native /classify


def test_classify_equals_the_library(server, clf) -> None:
    assert post(server, "/classify", {"inputs": REVIEWS[7]}).json() == [
        clf.predict(REVIEWS[7]).as_dict()
    ]


def test_classify_min_confidence_answers_uncertain_as_the_library_does(server, clf) -> None:
    texts = REVIEWS[:6]
    scores = [p.score for p in clf.predict(texts)]
    cut = (min(scores) + max(scores)) / 2
    answered = post(server, "/classify", {"inputs": texts, "min_confidence": cut}).json()
    for result, score in zip(answered, scores, strict=True):
        assert result["score"] == pytest.approx(score, abs=1e-4)
        assert (result["label"] == "uncertain") is (score < cut)
    for bad in (0, 1.5, "high", True):
        response = post(server, "/classify", {"inputs": texts, "min_confidence": bad})
        assert response.status_code == 422 and "min_confidence" in response.json()["error"]


# ---------------------------------------------------------------------------- KServe v2


def model_name(server: ServerProcess) -> str:
    return httpx.get(f"{server.url}/info").json()["model_name"]


def test_v2_name_defaults_to_the_bundle_folder(server, bundle: Path) -> None:
    assert model_name(server) == bundle.resolve().name


def test_v2_health_metadata_and_infer(server, clf) -> None:
    name, url = model_name(server), server.url
    assert httpx.get(f"{url}/v2/health/live").json() == {"live": True}
    assert httpx.get(f"{url}/v2/health/ready").json() == {"ready": True}
    assert httpx.get(f"{url}/v2/models/{name}/ready").status_code == 200
    metadata = httpx.get(f"{url}/v2/models/{name}").json()
    assert metadata["parameters"]["labels"] == clf.labels
    assert metadata["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    request = {
        "id": "r1",
        "inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": [REVIEWS[8]]}],
    }
    answer = post(server, f"/v2/models/{name}/infer", request).json()
    assert answer["id"] == "r1" and answer["model_name"] == name
    outputs = {o["name"]: o for o in answer["outputs"]}
    want = clf.predict(REVIEWS[8])
    assert outputs["label"] == {
        "name": "label",
        "datatype": "BYTES",
        "shape": [1],
        "data": [want.label],
    }
    probabilities = outputs["probabilities"]
    assert probabilities["datatype"] == "FP32" and probabilities["shape"] == [1, len(clf.labels)]
    expected = np.float32([want.scores[label] for label in clf.labels]).tolist()
    assert probabilities["data"] == expected


@pytest.mark.parametrize(
    ("route", "payload", "status", "fragment"),
    [
        ("/v2/models/nope/infer", {"inputs": []}, 404, "unknown model 'nope'"),
        ("infer", {"inputs": []}, 400, "list of one tensor"),
        ("infer", {"inputs": [{"name": "x", "datatype": "BYTES", "shape": [1], "data": ["a"]}]}, 400, "unknown input"),
        ("infer", {"inputs": [{"name": "text", "datatype": "FP32", "shape": [1], "data": ["a"]}]}, 400, "BYTES"),
        ("infer", {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [2], "data": ["a"]}]}, 400, "shape [2] but 1"),
        ("infer", {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": [" "]}]}, 400, "text[0] is blank"),
        ("infer", {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": [3]}]}, 400, "expected a string"),
        ("infer", {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["a"]}], "outputs": [{"name": "logits"}]}, 400, "unknown output"),
        ("infer", {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [17], "data": ["a"] * 17}]}, 413, "at most 16"),
    ],
)  # fmt: skip
def test_v2_mistakes_are_json_errors(server, route, payload, status, fragment) -> None:
    if route == "infer":
        route = f"/v2/models/{model_name(server)}/infer"
    response = post(server, route, payload)
    assert response.status_code == status, response.text
    assert fragment in response.json()["error"]
    assert httpx.get(f"{server.url}/v2/models/nope").status_code == 404


def test_tritonclient_infer(server, clf) -> None:
    http = pytest.importorskip("tritonclient.http", reason="needs tritonclient[http] (dev extra)")
    from tritonclient.utils import InferenceServerException

    client = http.InferenceServerClient(server.url.removeprefix("http://"))
    name = model_name(server)
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready(name)
    assert client.get_model_metadata(name)["outputs"][1]["name"] == "probabilities"
    texts = REVIEWS[9:11]
    text = http.InferInput("text", [len(texts)], "BYTES")
    text.set_data_from_numpy(np.array(texts, dtype=object), binary_data=False)
    wanted = [http.InferRequestedOutput(n, binary_data=False) for n in ("label", "probabilities")]
    result = client.infer(name, [text], outputs=wanted)
    labels = [x.decode() if isinstance(x, bytes) else x for x in result.as_numpy("label")]
    probabilities = result.as_numpy("probabilities")
    assert probabilities.shape == (2, len(clf.labels))
    for text_, label, row in zip(texts, labels, probabilities, strict=True):
        want = clf.predict(text_)
        assert label == want.label
        assert row.tolist() == pytest.approx([want.scores[k] for k in clf.labels], abs=0.02)
    # tritonclient's default, the binary-data extension, is refused with a clear 400.
    binary = http.InferInput("text", [1], "BYTES")
    binary.set_data_from_numpy(np.array(texts[:1], dtype=object))
    with pytest.raises(InferenceServerException, match="binary_data=False"):
        client.infer(name, [binary])


def test_every_error_has_one_shape(server) -> None:
    for response in (
        httpx.get(f"{server.url}/nowhere"),
        httpx.delete(f"{server.url}/predict"),
        httpx.post(f"{server.url}/classify", content=b"{", timeout=30),
        httpx.get(f"{server.url}/v2/models/nope/ready"),
    ):
        assert response.status_code in (400, 404, 405), response.text
        assert set(response.json()) == {"error", "error_type"}, response.text
        assert response.headers["content-type"] == "application/json"


def test_lone_surrogates_never_500(server, clf) -> None:
    text = "\ud800 a dull film"
    body = json.dumps({"inputs": [REVIEWS[0], text]}).encode()  # ensure_ascii: valid JSON
    response = httpx.post(
        f"{server.url}/classify", content=body, headers={"content-type": "application/json"}
    )
    # the library replaces a lone surrogate with U+FFFD, and the server answers as it does
    expected = [p.as_dict() for p in clf.predict([REVIEWS[0], text])]
    assert response.status_code == 200, response.text
    assert [r["label"] for r in response.json()] == [e["label"] for e in expected]
    assert post(server, "/classify", {"inputs": REVIEWS[0]}).json() == [
        clf.predict(REVIEWS[0]).as_dict()
    ]


def test_the_documented_tei_request_is_what_the_server_accepts(server) -> None:
    # Regressions found by the fuzzer (test_fuzz.py): the OpenAPI document called a blank text,
    # an over-long list and extra `parameters` keys valid while the server refused them.
    schema = httpx.get(f"{server.url}/openapi.json").json()
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    text, texts = body["schema"]["properties"]["inputs"]["anyOf"][:2]
    assert text["pattern"] == r"\S" and texts["maxItems"] == 16  # the fixture's --max-inputs
    parameters = body["schema"]["properties"]["parameters"]["anyOf"][0]
    assert parameters["additionalProperties"] is False
    for seed in (
        {"inputs": ""},
        {"inputs": ["a"] * 17},
        {"inputs": "B", "parameters": {"\r\x9b\xc3l\r": 4.8740814477191233e36}},
    ):
        assert post(server, "/predict", seed).status_code in (413, 422), seed


def test_v2_request_id_with_a_lone_surrogate_is_echoed_replaced(server) -> None:
    body = {
        "id": "\ud800x",
        "inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["fine"]}],
    }
    response = httpx.post(
        f"{server.url}/v2/models/{model_name(server)}/infer",
        content=json.dumps(body).encode(),  # ensure_ascii: "\\ud800" is valid JSON
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["id"] == "\ufffdx"
