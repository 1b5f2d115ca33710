"""``POST /classify``: senticlf's own answer, the numbers of ``senticlf.load(...).predict``.

One result per input, in order, also for a single string: the fields of
``Prediction.as_dict()`` (label, calibrated score, every label's probability, ``positive`` for
negative/positive bundles), and for a blank text ``label: null`` with a note, as ``senticlf
predict`` reports blank lines. Unknown fields are refused (422), so that a field this version
does not know is never silently ignored; a new option (for example ``min_confidence``) is one
more field in ``NativeRequest`` and ``ClassifyBody``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from senticlf.serve.predictions import predictions
from senticlf.serve.schema import (
    BLANK_NOTE,
    ApiError,
    checked_count,
    error_responses,
    is_blank,
    json_object,
    kind,
    request_body,
    texts_schema,
)

if TYPE_CHECKING:
    from senticlf.serve.app import Service

_FIELDS = ("inputs", "min_confidence")
_BLANK_RESULT: dict[str, Any] = {"label": None, "score": None, "scores": {}, "note": BLANK_NOTE}


@dataclass(frozen=True)
class NativeRequest:
    texts: list[str]
    min_confidence: float | None = None


def parse(data: Any, max_inputs: int) -> NativeRequest:
    """Check a /classify body (already JSON); raise ApiError with what is wrong."""
    data = json_object(data, '{"inputs": ["a review"]}')
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise ApiError(422, f"unknown field(s) {unknown}; accepted: {', '.join(_FIELDS)}")
    if "inputs" not in data:
        raise ApiError(422, "missing 'inputs': a string or a list of strings")
    inputs = data["inputs"]
    min_confidence = _min_confidence(data.get("min_confidence"))
    if isinstance(inputs, str):
        return NativeRequest([inputs], min_confidence)
    if not isinstance(inputs, list):
        raise ApiError(422, f"'inputs' must be a string or a list of strings, got {kind(inputs)}")
    checked_count(len(inputs), max_inputs, "'inputs'")
    for index, item in enumerate(inputs):
        if not isinstance(item, str):
            raise ApiError(422, f"inputs[{index}] is {kind(item)}, expected a string")
    return NativeRequest(inputs, min_confidence)


def _min_confidence(value: Any) -> float | None:
    """A request's abstention threshold: a number in (0, 1], or absent/null for the default."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ApiError(422, f"'min_confidence' must be a number in (0, 1], got {value!r}")
    return float(value)


async def classify(
    service: Service, texts: list[str], min_confidence: float | None = None
) -> list[dict[str, Any]]:
    """One result per text, in order; blank texts get a note instead of a prediction."""
    wanted = [i for i, text in enumerate(texts) if not is_blank(text)]
    results = [_BLANK_RESULT] * len(texts)
    if not wanted:
        return results
    logits = await service.logits([texts[i] for i in wanted])
    found = predictions(service, service.classifier.calibrated(logits), min_confidence)
    for i, prediction in zip(wanted, found, strict=True):
        results[i] = prediction.as_dict()
    return results


# ---------------------------------------------------------------------------- OpenAPI


class ClassifyBody(BaseModel):
    """POST /classify: one text or a list of texts."""

    model_config = ConfigDict(extra="forbid")

    inputs: str | list[str] = Field(
        examples=[["A moving, beautifully shot film.", "Dull and too long."]]
    )
    min_confidence: float | None = Field(
        None,
        gt=0,
        le=1,
        description="Below this top probability the label is 'uncertain' (scores still given); "
        "default: the server's --min-confidence, else always answer.",
    )


class PredictionBody(BaseModel):
    """One input's result; label and score are null for a blank text (see note)."""

    label: str | None = Field(description="The predicted label.")
    score: float | None = Field(description="The predicted label's calibrated probability.")
    positive: float | None = Field(
        None, description="P(positive), for negative/positive bundles only."
    )
    scores: dict[str, float] = Field(description="Every label's calibrated probability.")
    note: str | None = Field(None, description="Why there is no prediction (blank text).")


def _documented_body(service: Service) -> dict[str, Any]:
    body = request_body(ClassifyBody)
    config = service.config
    inputs = texts_schema(config.max_inputs, config.max_body_bytes, blank_ok=True)
    body["content"]["application/json"]["schema"]["properties"]["inputs"] = inputs
    return body


def add_routes(app: FastAPI, service: Service) -> None:
    @app.post(
        "/classify",
        response_model=list[PredictionBody],
        responses=error_responses(400, 413, 422, 503),
        openapi_extra={"requestBody": _documented_body(service)},
        tags=["senticlf"],
    )
    async def classify_route(request: Request) -> JSONResponse:
        """Classify one text or a list of texts: one result per input, in order."""
        parsed = parse(await service.read_json(request), service.config.max_inputs)
        return JSONResponse(await classify(service, parsed.texts, parsed.min_confidence))
