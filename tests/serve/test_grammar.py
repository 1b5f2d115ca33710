"""Each request's one grammar (senticlf.serve.grammar and the protocols' models), without a server:
what a body parses to, how a refusal reads, and the status its kind gives."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("fastapi", reason="needs the serve extra: pip install 'senticlf[serve]'")

from senticlf.runtime.confidence import MIN_CONFIDENCE  # noqa: E402
from senticlf.serve.grammar import limit_texts, parse, shown  # noqa: E402
from senticlf.serve.protocols.kserve import InferBody  # noqa: E402
from senticlf.serve.protocols.native import ClassifyBody  # noqa: E402
from senticlf.serve.protocols.tei import TeiBody  # noqa: E402
from senticlf.serve.schema import ApiError, request_body  # noqa: E402


def refused(model, body: bytes | dict) -> ApiError:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(ApiError) as caught:
        parse(model, raw, max_inputs=4)
    return caught.value


def tensor(**fields) -> dict:
    return {"name": "text", "datatype": "BYTES", "shape": [1], "data": ["a"], **fields}


def test_tei_body_parses_to_texts_function_and_top_k() -> None:
    one = parse(TeiBody, b'{"inputs": "a film", "colour": 1}', max_inputs=4)
    assert (one.texts, one.single, one.function, one.top_k) == (["a film"], True, "softmax", None)
    body = {"inputs": ["a", ["b"]], "parameters": {"top_k": 2.0, "candidate_labels": None}}
    batch = parse(TeiBody, json.dumps(body).encode(), max_inputs=4)
    assert (batch.texts, batch.single, batch.top_k) == (["a", "b"], False, 2)
    raw = parse(TeiBody, b'{"inputs": "a", "raw_scores": true}', max_inputs=4)
    assert raw.function == "none"


@pytest.mark.parametrize(
    ("model", "body", "status", "message"),
    [
        # a misspelt field is named first, not reported as the real one missing
        (ClassifyBody, {"input": "a"}, 422, "unknown field(s) ['input']; accepted: inputs, min_confidence"),
        (ClassifyBody, {"inputs": 3}, 422, "'inputs' must be a string or a list of strings, got 3"),
        (ClassifyBody, {"inputs": ["a", 5]}, 422, "inputs[1] is a number, expected a string"),
        (ClassifyBody, {"inputs": ["a"] * 5}, 413, "'inputs' has 5 texts; this server takes at most 4"),
        (ClassifyBody, {"inputs": "a", "min_confidence": True}, 422, f"'min_confidence' must be a number in {MIN_CONFIDENCE}, got true"),
        (TeiBody, {"inputs": [["a", 5]]}, 422, "inputs[0][1] is a number, expected a string"),
        (TeiBody, {"inputs": [["a", "b"]]}, 422, "inputs[0] is a list of 2: text pairs are not supported"),
        (TeiBody, {"inputs": "a", "parameters": {"top_k": "2"}}, 422, "'parameters.top_k' must be a whole number >= 1, got '2'"),
        (TeiBody, {"inputs": "a", "parameters": {"x": 1}}, 422, "parameters ['x'] are not supported"),
        (InferBody, [1], 400, 'the body must be a JSON object like {"inputs": [{"name": "text", ...}]}'),
        (InferBody, {}, 400, "missing 'inputs': a list of one tensor named 'text'"),
        (InferBody, {"inputs": [tensor(shape=[0], data=[])]}, 400, "input 'text' is an empty list"),
        (InferBody, {"inputs": [tensor(shape=[5], data=["a"] * 5)]}, 413, "input 'text' has 5 texts"),
        (InferBody, {"inputs": [tensor(shape=[-1])]}, 400, "needs a shape: a list of sizes such as [2], got -1"),
        (InferBody, {"inputs": [tensor()], "outputs": [{"name": "logits"}]}, 400, "unknown output 'logits'"),
    ],
)  # fmt: skip
def test_a_refusal_is_one_sentence_of_its_kind(model, body, status, message) -> None:
    error = refused(model, body)
    assert error.status == status
    assert message in error.message, error.message


def test_what_pydantic_cannot_parse_the_standard_library_explains_or_takes() -> None:
    assert "not valid JSON" in refused(ClassifyBody, b"{not json").message
    assert "not UTF-8" in refused(ClassifyBody, b'{"inputs": "\xff"}').message
    assert "nested too deeply" in refused(ClassifyBody, b"[" * 9000 + b"]" * 9000).message
    # pydantic's parser refuses these; they are JSON, so they are parsed as before
    surrogate = parse(ClassifyBody, b'{"inputs": "\\ud800 film"}', max_inputs=4)
    assert surrogate.texts == ["\ud800 film"]
    nested = b'{"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": '
    nested += b"[" * 250 + b'"a"' + b"]" * 250 + b"}]}"
    assert parse(InferBody, nested, max_inputs=4).inputs[0].data == ["a"]


def test_kserve_data_is_flattened_row_major_and_whole_float_sizes_count() -> None:
    body = {"id": "r", "inputs": [tensor(shape=[2.0, 1], data=[["a"], ["b"]])]}
    parsed = parse(InferBody, json.dumps(body).encode(), max_inputs=4)
    assert (parsed.inputs[0].data, parsed.outputs_asked, parsed.id) == (
        ["a", "b"],
        ["label", "probabilities"],
        "r",
    )


def test_the_documented_request_comes_from_the_same_model() -> None:
    schema = request_body(ClassifyBody)["content"]["application/json"]["schema"]
    confidence = schema["properties"]["min_confidence"]["anyOf"][0]
    assert (confidence["exclusiveMinimum"], confidence["maximum"]) == (
        MIN_CONFIDENCE.low,
        MIN_CONFIDENCE.high,
    )
    assert schema["additionalProperties"] is False
    tei = request_body(TeiBody)["content"]["application/json"]["schema"]["properties"]["inputs"]
    limit_texts(tei, max_inputs=3, max_body_bytes=1000, blank_ok=False)
    text, texts = tei["anyOf"]
    assert text == {"type": "string", "maxLength": 20, "pattern": r"\S"}
    assert (texts["minItems"], texts["maxItems"]) == (1, 3)
    one_text = texts["items"]["anyOf"][1]  # TEI's [["a"], ["b"]]
    assert (one_text["minItems"], one_text["maxItems"]) == (1, 1)
    assert one_text["items"]["pattern"] == r"\S"


def test_an_error_kind_gives_its_status_and_the_one_body() -> None:
    assert ApiError.of("bad_request", "x").status == 400
    assert ApiError.of("payload_too_large", "x").body() == {
        "error": "x",
        "error_type": "payload_too_large",
    }
    assert ApiError.passed_through(405, "no").error_type == "method_not_allowed"
    assert ApiError.passed_through(418, "tea").body()["error_type"] == "http"
    with pytest.raises(ValueError, match="is a 422"):
        ApiError(400, "x", "validation")


def test_shown_quotes_scalars_as_json_and_long_values_by_their_kind() -> None:
    assert [shown(v) for v in (None, True, 1.5, "relu", [0.5])] == [
        "null",
        "true",
        "1.5",
        "'relu'",
        "[0.5]",
    ]
    assert shown(list(range(100))) == "a list"
    assert shown("x" * 100).endswith("...")
