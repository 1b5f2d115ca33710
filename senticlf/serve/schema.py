"""The /predict request and response: parsing with messages a client can act on.

The request shape is Hugging Face text-embeddings-inference's (``{"inputs": str | [str],
"truncate", "truncation_direction", "raw_scores"}``), so its clients work unchanged. Parsing is
done by hand rather than by FastAPI's body models so that every mistake gets one sentence that
names the field (``inputs[3] is a number, expected a string``) and so that the body size is
checked before the body is parsed. The pydantic models below describe the API in OpenAPI only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

# Accepted for TEI compatibility; the bundle's own truncation rule (head or head+tail, the one
# the model was trained with) always applies, so these change nothing.
_TEI_FIELDS = ("truncate", "truncation_direction", "raw_scores")
BLANK_NOTE = "blank text: no prediction (as `senticlf predict` reports blank lines)"
_JSON_TYPES = {
    dict: "an object",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null",
}


class ClientError(Exception):
    """A request the client must fix: answered with ``status`` and a JSON body, never a 500."""

    def __init__(self, status: int, message: str, error_type: str = "validation") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type

    def body(self) -> dict[str, str]:
        return {"error": self.message, "error_type": self.error_type}


@dataclass(frozen=True)
class PredictRequest:
    texts: list[str]


def parse_predict(body: bytes, max_inputs: int) -> PredictRequest:
    """Check a /predict body; raise ClientError with what is wrong."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ClientError(
            400, f"the body is not UTF-8 text (byte {exc.start})", "invalid_json"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ClientError(
            400, f"the body is not valid JSON: {exc.msg} at character {exc.pos}", "invalid_json"
        ) from None
    if not isinstance(data, dict):
        raise ClientError(
            422,
            f'the body must be a JSON object like {{"inputs": ["a review"]}}, got {_kind(data)}',
        )
    unknown = sorted(set(data) - {"inputs", *_TEI_FIELDS})
    if unknown:
        raise ClientError(
            422, f"unknown field(s) {unknown}; accepted: inputs, {', '.join(_TEI_FIELDS)}"
        )
    _check_tei_fields(data)
    if "inputs" not in data:
        raise ClientError(422, "missing 'inputs': a string or a list of strings")
    return PredictRequest(_texts(data["inputs"], max_inputs))


def _texts(inputs: Any, max_inputs: int) -> list[str]:
    if isinstance(inputs, str):
        return [inputs]
    if not isinstance(inputs, list):
        raise ClientError(
            422, f"'inputs' must be a string or a list of strings, got {_kind(inputs)}"
        )
    if not inputs:
        raise ClientError(422, "'inputs' is an empty list; send at least one text")
    if len(inputs) > max_inputs:
        raise ClientError(
            413,
            f"'inputs' has {len(inputs)} texts; this server takes at most {max_inputs} per "
            "request (--max-inputs): split the list",
            "payload_too_large",
        )
    for index, item in enumerate(inputs):
        if isinstance(item, list):
            raise ClientError(422, f"inputs[{index}] is a list: text pairs are not supported")
        if not isinstance(item, str):
            raise ClientError(422, f"inputs[{index}] is {_kind(item)}, expected a string")
    return inputs


def _check_tei_fields(data: dict[str, Any]) -> None:
    for name in ("truncate", "raw_scores"):
        if data.get(name) is not None and not isinstance(data[name], bool):
            raise ClientError(422, f"'{name}' must be true or false, got {_kind(data[name])}")
    direction = data.get("truncation_direction")
    if direction is not None and direction not in ("Left", "Right", "left", "right"):
        raise ClientError(422, f"'truncation_direction' must be Left or Right, got {direction!r}")
    if data.get("raw_scores"):
        raise ClientError(
            422, "raw_scores is not supported: this server returns calibrated probabilities"
        )


def _kind(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


# ---------------------------------------------------------------------------- OpenAPI


class PredictBody(BaseModel):
    """POST /predict: one text or a list of texts (text-embeddings-inference's shape)."""

    inputs: str | list[str] = Field(
        examples=[["A moving, beautifully shot film.", "Dull and too long."]]
    )
    truncate: bool | None = Field(
        None, description="Accepted for TEI clients; the bundle's truncation rule always applies."
    )
    truncation_direction: str | None = Field(
        None, description="Accepted for TEI clients; the bundle's truncation rule always applies."
    )
    raw_scores: bool = Field(False, description="Must be false: probabilities are calibrated.")


class PredictionBody(BaseModel):
    """One input's result; label and score are null for a blank text (see note)."""

    label: str | None = Field(description="The predicted label.")
    score: float | None = Field(description="The predicted label's probability.")
    positive: float | None = Field(
        None, description="P(positive), for negative/positive bundles only."
    )
    scores: dict[str, float] = Field(description="Every label's probability.")
    note: str | None = Field(None, description="Why there is no prediction (blank text).")


class ErrorBody(BaseModel):
    error: str
    error_type: str
