"""POST /explain equals the library's explanation; GET / is one offline page; limits and the key hold."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import numpy as np
import pytest

import senticlf
from senticlf.serve.grammar import parse
from senticlf.serve.protocols.explain import MAX_BUDGET, ExplainBody
from senticlf.serve.schema import ApiError
from tests.conftest import make_reviews
from tests.serve.conftest import AUTH, ServerProcess

TEXTS = [
    "A wonderful, brilliant film. The music was great!<br /><br />I loved it.",
    *(text for text, _ in make_reviews(3, seed=5)),
]


def post(server: ServerProcess, payload: object, **kwargs) -> httpx.Response:
    return httpx.post(f"{server.url}/explain", json=payload, timeout=60, **kwargs)


def test_answers_equal_the_library_alone_and_in_a_batch(server: ServerProcess, bundle: Path):
    library = senticlf.load(bundle, threads=1).explain(TEXTS)  # the test servers' plan
    batched = post(server, {"inputs": TEXTS}).json()
    alone = [post(server, {"inputs": text}).json()[0] for text in TEXTS]
    for expected, got, single in zip(library, batched, alone, strict=True):
        for answer in (got, single):
            assert answer["label"] == expected.label
            assert answer["model_calls"] == expected.model_calls
            spans = [(s.start, s.end, s.text) for s in (*expected.sentences, *expected.words)]
            assert [
                (s["start"], s["end"], s["text"]) for s in answer["sentences"] + answer["words"]
            ] == spans
            np.testing.assert_allclose(
                [s["contribution"] for s in answer["sentences"] + answer["words"]],
                [s.contribution for s in (*expected.sentences, *expected.words)],
                atol=1e-4,
            )


def test_blank_texts_get_a_note_and_the_budget_is_kept(server: ServerProcess):
    answer = post(server, {"inputs": ["  ", TEXTS[0]], "budget": 3}).json()
    assert answer[0]["label"] is None and "blank" in answer[0]["note"]
    assert answer[1]["model_calls"] <= 4 and answer[1]["budget"] == 3


@pytest.mark.parametrize(
    ("payload", "status", "fragment"),
    [
        ({"inputs": "a", "budget": 0}, 422, "'budget'"),
        ({"inputs": "a", "budget": MAX_BUDGET + 1}, 422, "'budget'"),
        ({"inputs": "a", "budget": "5"}, 422, "'budget'"),
        ({"inputs": "a", "why": 1}, 422, "unknown field"),
        ({"inputs": ["a"] * 17}, 413, "--max-inputs"),
        ({"inputs": [1]}, 422, "inputs[0]"),
        ([], 422, "JSON object"),
    ],
)
def test_bad_requests_are_refused_with_the_field_named(
    server: ServerProcess, payload: object, status: int, fragment: str
):
    response = post(server, payload)
    assert response.status_code == status, response.text
    assert fragment in response.json()["error"]


def test_a_whole_number_budget_may_be_written_as_1_0() -> None:
    assert parse(ExplainBody, b'{"inputs": "a", "budget": 4.0}', max_inputs=4).budget == 4
    with pytest.raises(ApiError, match="'budget'"):
        parse(ExplainBody, b'{"inputs": "a", "budget": true}', max_inputs=4)


def test_the_page_is_served_without_the_key_and_explain_needs_it(keyed_server: ServerProcess):
    page = httpx.get(f"{keyed_server.url}/", timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "connect-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    assert 'fetch("explain"' in html and 'id="key"' in html
    assert not re.search(r"(https?:|//[a-z]|url\(|@import|<link|<img|src=)", html, re.I)
    assert post(keyed_server, {"inputs": "fine"}).status_code == 401
    assert post(keyed_server, {"inputs": "fine"}, headers=AUTH).status_code == 200
    paths = httpx.get(f"{keyed_server.url}/openapi.json", headers=AUTH).json()["paths"]
    assert "/explain" in paths and "/" not in paths
