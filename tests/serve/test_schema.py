"""What the routes accept: a bad body is a 4xx with a JSON reason (senticlf.serve.schema)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.serve.conftest import ServerProcess


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"\xff\xfe", 400, "not UTF-8"),
        (b"[1, 2]", 422, "JSON object"),
        (b"{}", 422, "missing 'inputs'"),
        (b'{"inputs": 3}', 422, "a string or a list of strings"),
        (b'{"inputs": null}', 422, "got null"),
        (b'{"inputs": []}', 422, "empty list"),
        (b'{"inputs": ["ok", 5]}', 422, "inputs[1] is a number"),
        (b'{"inputs": [["a", "b"]]}', 422, "inputs[0] is a list"),
        (b'{"inputs": "ok", "colour": 1}', 422, "unknown field"),
        (b"[" * 100_000 + b"]" * 100_000, 413, "--max-body-bytes"),
        (b"[" * 9_000 + b"]" * 9_000, 400, "nested too deeply"),
        (json.dumps({"inputs": ["a"] * 17}).encode(), 413, "at most 16"),
        (json.dumps({"inputs": "a" * 30000}).encode(), 413, "--max-body-bytes"),
    ],
)
def test_bad_input_is_a_4xx_with_a_json_reason(
    server: ServerProcess, body: bytes, status: int, fragment: str
) -> None:
    response = httpx.post(
        f"{server.url}/classify",
        content=body,
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code == status, response.text
    assert fragment in response.json()["error"]
