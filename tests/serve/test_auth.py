"""``--api-key``: the right key opens every route; a wrong, missing or malformed one is a 401."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from tests.serve.conftest import API_KEY, AUTH, ServerProcess
from tests.serve.test_app import metric

GUARDED = [
    ("POST", "/predict", {"inputs": "a great film"}),
    ("POST", "/classify", {"inputs": "a great film"}),
    ("GET", "/info", None),
    ("GET", "/metrics", None),
    ("GET", "/docs", None),
    ("GET", "/openapi.json", None),
    ("GET", "/v2", None),
    ("GET", "/v2/models/tiny", None),
    ("GET", "/v2/models/tiny/ready", None),
    (
        "POST",
        "/v2/models/tiny/infer",
        {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["fine"]}]},
    ),
]
BAD_HEADERS = {
    "missing": ({}, "needs an API key"),
    "wrong": ({"Authorization": "Bearer not-the-key"}, "wrong API key"),
    "wrong scheme": ({"Authorization": f"Basic {API_KEY}"}, "malformed"),
    "no token": ({"Authorization": "Bearer"}, "malformed"),
    "extra words": ({"Authorization": f"Bearer {API_KEY} x"}, "malformed"),
}


def call(server: ServerProcess, method: str, path: str, body, headers) -> httpx.Response:
    return httpx.request(method, f"{server.url}{path}", json=body, headers=headers, timeout=30)


@pytest.mark.parametrize(("method", "path", "body"), GUARDED)
def test_the_right_key_opens_every_route(keyed_server, method, path, body) -> None:
    assert call(keyed_server, method, path, body, AUTH).status_code == 200
    # the scheme is case-insensitive (RFC 7235)
    lower = {"authorization": f"bearer {API_KEY}"}
    assert call(keyed_server, method, path, body, lower).status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), GUARDED)
def test_no_right_key_is_a_401(keyed_server, method, path, body) -> None:
    # every header case on the first route, a missing and a wrong key on every route
    cases = sorted(BAD_HEADERS) if path == "/predict" else ["missing", "wrong"]
    for case in cases:
        headers, fragment = BAD_HEADERS[case]
        response = call(keyed_server, method, path, body, headers)
        assert response.status_code == 401, (case, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json() == {"error": response.json()["error"], "error_type": "unauthorized"}
        assert fragment in response.json()["error"], case


def test_probes_need_no_key_and_refusals_are_counted(keyed_server) -> None:
    for path in ("/health", "/v2/health/live", "/v2/health/ready"):
        assert httpx.get(f"{keyed_server.url}{path}").status_code == 200
    before = metric_with(keyed_server, "senticlf_unauthorized_total")
    assert httpx.get(f"{keyed_server.url}/info").status_code == 401
    assert metric_with(keyed_server, "senticlf_unauthorized_total") == before + 1
    assert metric_with(keyed_server, 'senticlf_requests_total{path="/info",status="401"}') >= 1
    # the key is never shown: not in /info, not in the OpenAPI document
    for path in ("/info", "/openapi.json"):
        assert API_KEY not in httpx.get(f"{keyed_server.url}{path}", headers=AUTH).text
    schema = httpx.get(f"{keyed_server.url}/openapi.json", headers=AUTH).json()
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "security" not in schema["paths"]["/health"]["get"]


def metric_with(server: ServerProcess, line_start: str) -> float:
    return metric(server, line_start, headers=AUTH)


def test_a_large_body_without_the_key_still_reads_the_401(keyed_server) -> None:
    body = {"inputs": "x" * 15000}
    response = call(keyed_server, "POST", "/classify", body, {})
    assert response.status_code == 401


def test_inference_client_with_token(keyed_server) -> None:
    hub = pytest.importorskip("huggingface_hub", reason="needs huggingface_hub (dev extra)")
    url = f"{keyed_server.url}/predict"
    top = hub.InferenceClient(model=url, token=API_KEY).text_classification("a great film")
    assert top.label in ("negative", "positive")
    with pytest.raises(Exception, match="401"):
        hub.InferenceClient(model=url, token="wrong").text_classification("a great film")


def test_tritonclient_with_headers(keyed_server) -> None:
    http = pytest.importorskip("tritonclient.http", reason="needs tritonclient[http] (dev extra)")
    from tritonclient.utils import InferenceServerException

    client = http.InferenceServerClient(keyed_server.url.removeprefix("http://"))
    assert client.is_server_live() and client.is_server_ready()  # probes: no key
    text = http.InferInput("text", [1], "BYTES")
    text.set_data_from_numpy(np.array(["a great film"], dtype=object), binary_data=False)
    outputs = [http.InferRequestedOutput("label", binary_data=False)]
    result = client.infer("tiny", [text], outputs=outputs, headers=AUTH)
    assert result.as_numpy("label").shape == (1,)
    with pytest.raises(InferenceServerException, match="401"):
        client.infer("tiny", [text], outputs=outputs)
