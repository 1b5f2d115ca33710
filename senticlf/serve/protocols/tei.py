"""``POST /predict``: Hugging Face text-embeddings-inference's ``/predict``, request and answer.

So that TEI's clients, huggingface_hub's ``InferenceClient.text_classification`` and the
wrappers built on them work unchanged. TEI's grammar (``router/src/http/types.rs``) and the
Inference API's ``parameters`` object are accepted; fields neither uses are ignored, as TEI
ignores them. The answer is TEI's: for one string, every label as ``{label, score}`` sorted by
score; for a list, one such list per text.

The one place this differs from TEI: there a flat ``["a", "b"]`` is one text *pair* and a batch
is ``[["a"], ["b"]]``; a sentiment model has no pairs, so here a flat list is a batch (TEI's
batch form is accepted too). A blank text is a 422 naming its index: TEI's answer has no place
for "no prediction" (``/classify`` has). ``truncate`` and ``truncation_direction`` are
accepted and change nothing: the bundle's own truncation rule (the one the model was trained
with) always applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from senticlf.serve.predictions import predictions
from senticlf.serve.schema import (
    ApiError,
    check_bool,
    checked_count,
    error_responses,
    is_blank,
    json_object,
    kind,
    request_body,
    texts_schema,
    whole_number,
)

if TYPE_CHECKING:
    from senticlf.serve.app import Service

FUNCTIONS = ("softmax", "sigmoid", "none")
_DIRECTIONS = ("left", "right")


@dataclass(frozen=True)
class TeiRequest:
    texts: list[str]
    single: bool  # ``inputs`` was one string: the answer is one flat list
    function: str  # softmax (calibrated probabilities), sigmoid or none (raw logits)
    top_k: int | None


def parse(data: Any, max_inputs: int) -> TeiRequest:
    """Check a /predict body (already JSON); raise ApiError with what is wrong."""
    data = json_object(data, '{"inputs": "a review"}')
    if "inputs" not in data:
        raise ApiError(422, "missing 'inputs': a string or a list of strings")
    check_bool(data, "truncate")
    direction = data.get("truncation_direction")
    if direction is not None and (
        not isinstance(direction, str) or direction.lower() not in _DIRECTIONS
    ):
        raise ApiError(422, f"'truncation_direction' must be Left or Right, got {direction!r}")
    raw_scores = check_bool(data, "raw_scores")
    function, top_k = _parameters(data.get("parameters"))
    if raw_scores and function not in (None, "none"):
        raise ApiError(
            422, f"raw_scores: true asks for logits, function_to_apply {function!r} for scores"
        )
    function = "none" if raw_scores else (function or "softmax")
    single = isinstance(data["inputs"], str)
    texts = _texts(data["inputs"], max_inputs)
    for index, text in enumerate(texts):
        if is_blank(text):
            where = "'inputs'" if single else f"inputs[{index}]"
            raise ApiError(
                422, f"{where} is blank: no prediction (POST /classify answers blanks with a note)"
            )
    return TeiRequest(texts, single, function, top_k)


def _parameters(parameters: Any) -> tuple[str | None, int | None]:
    """The Inference API's ``parameters``: top_k and function_to_apply are honoured."""
    if parameters is None:
        return None, None
    if not isinstance(parameters, dict):
        raise ApiError(422, f"'parameters' must be an object, got {kind(parameters)}")
    function, top_k = parameters.get("function_to_apply"), parameters.get("top_k")
    if function is not None and function not in FUNCTIONS:
        raise ApiError(
            422, f"parameters.function_to_apply must be one of {list(FUNCTIONS)}, got {function!r}"
        )
    if top_k is not None:
        k = whole_number(top_k)
        if k is None or k < 1:
            raise ApiError(422, f"parameters.top_k must be a whole number >= 1, got {top_k!r}")
        top_k = k
    # Anything else would change the answer in a way this server does not implement: say so
    # rather than answer as if it had been applied.
    other = sorted(
        k
        for k, v in parameters.items()
        if v is not None and k not in ("function_to_apply", "top_k")
    )
    if other:
        raise ApiError(
            422,
            f"parameters {other} are not supported; this server honours top_k and function_to_apply",
        )
    return function, top_k


def _texts(inputs: Any, max_inputs: int) -> list[str]:
    if isinstance(inputs, str):
        return [inputs]
    if not isinstance(inputs, list):
        raise ApiError(422, f"'inputs' must be a string or a list of strings, got {kind(inputs)}")
    checked_count(len(inputs), max_inputs, "'inputs'")
    texts = []
    for index, item in enumerate(inputs):
        if isinstance(item, list):  # TEI's batch form: [["a"], ["b"]]
            if len(item) != 1:
                raise ApiError(
                    422,
                    f"inputs[{index}] is a list of {len(item)}: text pairs are not supported "
                    '(a batch is ["a", "b"] or [["a"], ["b"]])',
                )
            item = item[0]
        if not isinstance(item, str):
            raise ApiError(422, f"inputs[{index}] is {kind(item)}, expected a string")
        texts.append(item)
    return texts


def scores(service: Service, request: TeiRequest, logits: np.ndarray) -> np.ndarray:
    """The numbers TEI would answer: calibrated probabilities, sigmoid(logits) or logits.

    Whatever numbers are asked for, each text's prediction (the label ``/classify`` would
    give it) is counted in /metrics, as for the other protocols.
    """
    calibrated = service.classifier.calibrated(logits)
    predictions(service, calibrated)
    if request.function == "softmax":
        return calibrated
    raw = logits.astype(np.float64)
    return 1 / (1 + np.exp(-raw)) if request.function == "sigmoid" else raw


def answer(labels: list[str], rows: np.ndarray, request: TeiRequest) -> list[Any]:
    ranked = [_ranked(labels, row, request.top_k) for row in rows]
    return ranked[0] if request.single else ranked


def _ranked(labels: list[str], row: np.ndarray, top_k: int | None) -> list[dict[str, Any]]:
    pairs = sorted(zip(labels, row.tolist(), strict=True), key=lambda pair: -pair[1])
    return [{"label": label, "score": score} for label, score in pairs[:top_k]]


# ---------------------------------------------------------------------------- OpenAPI


class TeiParameters(BaseModel):
    """The Inference API's text-classification parameters (others are refused: see _parameters)."""

    model_config = ConfigDict(extra="forbid")

    function_to_apply: Literal["softmax", "sigmoid", "none"] | None = Field(
        None,
        description="softmax (the default): the calibrated probabilities; sigmoid: of the raw "
        "logits; none: the raw logits.",
    )
    top_k: int | None = Field(None, ge=1, description="Only the k best labels.")


class TeiBody(BaseModel):
    """TEI's /predict request; other fields are ignored, as TEI ignores them."""

    inputs: str | list[str] | list[list[str]] = Field(
        description="One text, or a batch: a list of texts or TEI's [[text], [text]].",
        examples=[["A moving, beautifully shot film.", "Dull and too long."]],
    )
    truncate: bool | None = Field(
        None, description="Accepted; the bundle's own truncation rule always applies."
    )
    truncation_direction: Literal["Left", "Right", "left", "right"] | None = Field(
        None, description="Accepted; the bundle's own truncation rule always applies."
    )
    raw_scores: bool | None = Field(
        None, description="true: the raw logits (before temperature and softmax)."
    )
    parameters: TeiParameters | None = None


class LabelScore(BaseModel):
    label: str
    score: float


def _documented_body(service: Service) -> dict[str, Any]:
    body = request_body(TeiBody)
    config = service.config
    inputs = texts_schema(config.max_inputs, config.max_body_bytes, blank_ok=False)
    inputs["anyOf"].append(
        {
            **inputs["anyOf"][1],
            "items": {"type": "array", "items": inputs["anyOf"][0], "minItems": 1, "maxItems": 1},
        }
    )
    inputs["description"] = "One text, or a batch: a list of texts or TEI's [[text], [text]]."
    body["content"]["application/json"]["schema"]["properties"]["inputs"] = inputs
    return body


def add_routes(app: FastAPI, service: Service) -> None:
    @app.post(
        "/predict",
        response_model=list[LabelScore] | list[list[LabelScore]],
        responses=error_responses(400, 413, 422, 503),
        openapi_extra={"requestBody": _documented_body(service)},
        tags=["TEI"],
    )
    async def predict(request: Request) -> JSONResponse:
        """TEI's /predict: every label with its score, best first (a list of such lists for a batch)."""
        parsed = parse(await service.read_json(request), service.config.max_inputs)
        logits = await service.logits(parsed.texts)
        rows = scores(service, parsed, logits)
        return JSONResponse(answer(service.classifier.labels, rows, parsed))
