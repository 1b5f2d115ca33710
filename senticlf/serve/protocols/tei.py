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

from typing import TYPE_CHECKING, Annotated, Any, Literal, Self, cast

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    model_validator,
)

from senticlf.serve.grammar import (
    Phrase,
    RequestModel,
    checked_count,
    is_blank,
    limit_texts,
    max_inputs,
    parse,
    whole_number,
)
from senticlf.serve.predictions import predictions
from senticlf.serve.schema import ApiError, error_responses, request_body

if TYPE_CHECKING:
    from senticlf.serve.service import Service

# softmax: the calibrated probabilities; sigmoid: of the raw logits; none: the raw logits.
Function = Literal["softmax", "sigmoid", "none"]
# TEI's batch form of one text: [["a"], ["b"]] (in TEI a longer inner list is a text pair).
_OneText = Annotated[list[str], Field(json_schema_extra={"minItems": 1, "maxItems": 1})]
_BLANK = "is blank: no prediction (POST /classify answers blanks with a note)"


def _texts(inputs: str | list[str | list[str]], info: ValidationInfo) -> str | list[str]:
    """One text as is, a batch as a flat list; no pairs and no blank text in either."""
    if isinstance(inputs, str):
        if is_blank(inputs):
            raise ApiError.of("validation", f"'inputs' {_BLANK}")
        return inputs
    checked_count(len(inputs), max_inputs(info), "'inputs'")
    texts = []
    for index, item in enumerate(inputs):
        if isinstance(item, list):
            if len(item) != 1:
                raise ApiError.of(
                    "validation",
                    f"inputs[{index}] is a list of {len(item)}: text pairs are not supported "
                    '(a batch is ["a", "b"] or [["a"], ["b"]])',
                )
            item = item[0]
        if is_blank(item):
            raise ApiError.of("validation", f"inputs[{index}] {_BLANK}")
        texts.append(item)
    return texts


class TeiParameters(RequestModel):
    """The Inference API's text-classification parameters; any other is refused.

    Another parameter would change the answer in a way this server does not implement: it says
    so rather than answer as if it had been applied. A null one is no parameter (clients send
    the options they leave unset as null).
    """

    model_config = ConfigDict(extra="forbid")
    unknown_fields = "parameters {names} are not supported; this server honours {accepted}"

    function_to_apply: Function | None = Field(
        None,
        description="softmax (the default): the calibrated probabilities; sigmoid: of the raw "
        "logits; none: the raw logits.",
    )
    top_k: Annotated[
        int | None,
        Strict(),
        Field(ge=1),
        BeforeValidator(whole_number),
        Phrase("a whole number >= 1"),
    ] = Field(None, description="Only the k best labels.")

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_unset(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


class TeiBody(RequestModel):
    """TEI's /predict request; other fields are ignored, as TEI ignores them."""

    example = '{"inputs": "a review"}'

    inputs: Annotated[
        str | list[str | _OneText], Phrase("a string or a list of strings"), AfterValidator(_texts)
    ] = Field(
        description="One text, or a batch: a list of texts or TEI's [[text], [text]].",
        examples=[["A moving, beautifully shot film.", "Dull and too long."]],
    )
    truncate: Annotated[bool | None, Strict()] = Field(
        None, description="Accepted; the bundle's own truncation rule always applies."
    )
    truncation_direction: Literal["Left", "Right", "left", "right"] | None = Field(
        None, description="Accepted; the bundle's own truncation rule always applies."
    )
    raw_scores: Annotated[bool | None, Strict()] = Field(
        None, description="true: the raw logits (before temperature and softmax)."
    )
    parameters: TeiParameters | None = None

    @model_validator(mode="after")
    def _one_kind_of_score(self) -> Self:
        asked = self.parameters.function_to_apply if self.parameters else None
        if self.raw_scores and asked not in (None, "none"):
            raise ApiError.of(
                "validation",
                f"raw_scores: true asks for logits, function_to_apply {asked!r} for scores",
            )
        return self

    @property
    def texts(self) -> list[str]:
        if isinstance(self.inputs, str):
            return [self.inputs]
        return cast("list[str]", self.inputs)  # a batch, flattened by _texts

    @property
    def single(self) -> bool:
        """``inputs`` was one string: the answer is one flat list."""
        return isinstance(self.inputs, str)

    @property
    def function(self) -> Function:
        if self.raw_scores:
            return "none"
        return (self.parameters.function_to_apply if self.parameters else None) or "softmax"

    @property
    def top_k(self) -> int | None:
        return self.parameters.top_k if self.parameters else None


def scores(service: Service, request: TeiBody, logits: np.ndarray) -> np.ndarray:
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


def answer(labels: list[str], rows: np.ndarray, request: TeiBody) -> list[Any]:
    ranked = [_ranked(labels, row, request.top_k) for row in rows]
    return ranked[0] if request.single else ranked


def _ranked(labels: list[str], row: np.ndarray, top_k: int | None) -> list[dict[str, Any]]:
    pairs = sorted(zip(labels, row.tolist(), strict=True), key=lambda pair: -pair[1])
    return [{"label": label, "score": score} for label, score in pairs[:top_k]]


# ---------------------------------------------------------------------------- OpenAPI (answers)


class LabelScore(BaseModel):
    label: str
    score: float


def _documented_body(service: Service) -> dict[str, Any]:
    body = request_body(TeiBody)
    config = service.config
    inputs = body["content"]["application/json"]["schema"]["properties"]["inputs"]
    limit_texts(inputs, config.max_inputs, config.max_body_bytes, blank_ok=False)
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
        body = await service.read_body(request)
        parsed = parse(TeiBody, body, max_inputs=service.config.max_inputs)
        logits = await service.logits(parsed.texts)
        rows = scores(service, parsed, logits)
        return JSONResponse(answer(service.classifier.labels, rows, parsed))
