"""``POST /classify``: senticlf's own answer, the numbers of ``senticlf.load(...).predict``.

One result per input, in order, also for a single string: the fields of
``Prediction.as_dict()`` (label, calibrated score, every label's probability, ``positive`` for
negative/positive bundles), and for a blank text ``label: null`` with a note, as ``senticlf
predict`` reports blank lines. Unknown fields are refused (422), so that a field this version
does not know is never silently ignored; a new option is one more field in ``ClassifyBody``,
the request's one grammar (it checks the body and documents it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, ValidationInfo

from senticlf.runtime.confidence import MIN_CONFIDENCE
from senticlf.serve.grammar import (
    Phrase,
    RequestModel,
    checked_count,
    is_blank,
    limit_texts,
    max_inputs,
    parse,
)
from senticlf.serve.predictions import predictions
from senticlf.serve.schema import error_responses, request_body

if TYPE_CHECKING:
    from senticlf.serve.service import Service

BLANK_NOTE = "blank text: no prediction (as `senticlf predict` reports blank lines)"
_BLANK_RESULT: dict[str, Any] = {"label": None, "score": None, "scores": {}, "note": BLANK_NOTE}


def counted(inputs: str | list[str], info: ValidationInfo) -> str | list[str]:
    """A list of inputs within --max-inputs (a check /explain shares)."""
    if isinstance(inputs, list):
        checked_count(len(inputs), max_inputs(info), "'inputs'")
    return inputs


# One text or a list of them, within --max-inputs: /classify's inputs, and /explain's.
Inputs = Annotated[
    str | list[str], Phrase("a string or a list of strings"), AfterValidator(counted)
]


class TextsBody(RequestModel):
    """What /classify and /explain share: ``inputs``, read as a list of texts; no other field
    unless a subclass declares it."""

    model_config = ConfigDict(extra="forbid")
    example = '{"inputs": ["a review"]}'
    inputs: Inputs

    @property
    def texts(self) -> list[str]:
        return [self.inputs] if isinstance(self.inputs, str) else self.inputs


class ClassifyBody(TextsBody):
    """POST /classify: one text or a list of texts."""

    inputs: Inputs = Field(examples=[["A moving, beautifully shot film.", "Dull and too long."]])
    min_confidence: Annotated[
        float | None,
        Strict(),  # a number, not "0.5" or true
        Field(gt=MIN_CONFIDENCE.low, le=MIN_CONFIDENCE.high),
        Phrase(f"a number in {MIN_CONFIDENCE}"),
    ] = Field(
        None,
        description="Below this top probability the label is 'uncertain' (scores still given); "
        "default: the server's --min-confidence, else always answer.",
    )


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


# ---------------------------------------------------------------------------- OpenAPI (answers)


class PredictionBody(BaseModel):
    """One input's result; label and score are null for a blank text (see note)."""

    label: str | None = Field(description="The predicted label.")
    score: float | None = Field(description="The predicted label's calibrated probability.")
    positive: float | None = Field(
        None, description="P(positive), for negative/positive bundles only."
    )
    scores: dict[str, float] = Field(description="Every label's calibrated probability.")
    note: str | None = Field(None, description="Why there is no prediction (blank text).")


def documented_body(model: type[RequestModel], service: Service) -> dict[str, Any]:
    """The OpenAPI request body of ``model`` (inputs: /classify's texts) with the server's
    limits on its texts (--max-inputs, --max-body-bytes)."""
    body = request_body(model)
    config = service.config
    inputs = body["content"]["application/json"]["schema"]["properties"]["inputs"]
    limit_texts(inputs, config.max_inputs, config.max_body_bytes, blank_ok=True)
    return body


def add_routes(app: FastAPI, service: Service) -> None:
    @app.post(
        "/classify",
        response_model=list[PredictionBody],
        responses=error_responses(400, 413, 422, 503),
        openapi_extra={"requestBody": documented_body(ClassifyBody, service)},
        tags=["senticlf"],
    )
    async def classify_route(request: Request) -> JSONResponse:
        """Classify one text or a list of texts: one result per input, in order."""
        body = await service.read_body(request)
        parsed = parse(ClassifyBody, body, max_inputs=service.config.max_inputs)
        return JSONResponse(await classify(service, parsed.texts, parsed.min_confidence))
