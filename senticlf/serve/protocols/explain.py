"""``POST /explain``: why each text got its label; ``GET /``: a page that asks it for a person.

The request is ``/classify``'s (``{"inputs": str | [str]}``) with an optional ``budget``, the
most re-scored variants per text (default: by length, see senticlf.runtime.explain). The
answer, one per input, in order, is ``Explanation.as_dict()``: label, score, every label's
probability, every sentence and the decisive words with character offsets into the text sent
and their contributions, and the model calls spent; a blank text gets ``label: null`` and a
note, as in ``/classify``. Every variant goes through ``Service.logits``, the one batcher, so
an explanation equals the library's (``senticlf.load(...).explain``) and its variants count
against --max-queue like any texts: a server busy with other work answers 503, not a slow
queue. Unknown fields are refused (422).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, BeforeValidator, Field, Strict

from senticlf.runtime import explain
from senticlf.serve import page
from senticlf.serve.grammar import (
    Phrase,
    is_blank,
    parse,
    whole_number,
)
from senticlf.serve.protocols.native import BLANK_NOTE, Inputs, TextsBody, documented_body
from senticlf.serve.schema import error_responses

if TYPE_CHECKING:
    from senticlf.serve.service import Service

# The most variants one text may ask for: a few times the default for a 512-token review.
MAX_BUDGET = 200
_BLANK_RESULT: dict[str, Any] = {
    "label": None,
    "score": None,
    "probabilities": {},
    "sentences": [],
    "words": [],
    "model_calls": 0,
    "budget": 0,
    "note": BLANK_NOTE,
}


class ExplainBody(TextsBody):
    """POST /explain: one text or a list of texts, as /classify takes them."""

    inputs: Inputs = Field(
        examples=[["A moving, beautifully shot film. The ending drags, though."]]
    )
    budget: Annotated[
        int | None,
        Strict(),
        Field(ge=1, le=MAX_BUDGET),
        BeforeValidator(whole_number),  # 4.0 is 4, as for TEI's top_k
        Phrase(f"a whole number from 1 to {MAX_BUDGET}"),
    ] = Field(
        None,
        description="The most re-scored variants per text (default: by length, 25 for a "
        "250-token review, 28 from 512 tokens). Each costs one model call.",
    )


async def explain_texts(
    service: Service, texts: list[str], budget: int | None = None
) -> list[dict[str, Any]]:
    """One explanation per text, in order; blank texts get a note instead."""
    wanted = [i for i, text in enumerate(texts) if not is_blank(text)]
    results = [_BLANK_RESULT] * len(texts)
    if not wanted:
        return results
    clf = service.classifier
    steps = explain.explain_steps(
        [texts[i] for i in wanted], clf.labels, explain.label_chooser(clf), budget
    )
    for i, explanation in zip(wanted, await _run(steps, service), strict=True):
        results[i] = explanation.as_dict()
    return results


async def _run(
    steps: Generator[list[str], np.ndarray, list[explain.Explanation]], service: Service
) -> list[explain.Explanation]:
    """explain.run_steps, with every stage's variants through the server's batcher."""
    try:
        batch = next(steps)
        while True:
            logits = await service.logits(batch)
            batch = steps.send(service.classifier.calibrated(logits))
    except StopIteration as done:
        return done.value


# ---------------------------------------------------------------------------- OpenAPI (answers)


class SpanBody(BaseModel):
    """A sentence (or a run of sentences), or a word (or a run of a few words)."""

    start: int = Field(description="Character offset of the span's start in the text sent.")
    end: int = Field(description="Character offset just past the span's end.")
    text: str = Field(description="The span: text[start:end].")
    contribution: float = Field(
        description="P(label | text) minus P(label | text without the span): positive where "
        "the span pushed towards the label."
    )
    sentence: int = Field(description="Index of the sentence it is or lies in.")


class ExplanationBody(BaseModel):
    """One input's explanation; label and score are null for a blank text (see note)."""

    label: str | None = Field(description="The predicted label, the one explained.")
    score: float | None = Field(description="Its calibrated probability.")
    probabilities: dict[str, float] = Field(description="Every label's calibrated probability.")
    sentences: list[SpanBody] = Field(description="Every sentence, in order.")
    words: list[SpanBody] = Field(description="The words dropped one by one, in order.")
    model_calls: int = Field(description="Texts scored: the text itself and every variant.")
    budget: int = Field(description="The variant budget this text was given.")
    note: str | None = Field(None, description="Why there is no explanation (blank text).")


def add_routes(app: FastAPI, service: Service) -> None:
    @app.post(
        "/explain",
        response_model=list[ExplanationBody],
        responses=error_responses(400, 413, 422, 503),
        openapi_extra={"requestBody": documented_body(ExplainBody, service)},
        tags=["senticlf"],
    )
    async def explain_route(request: Request) -> JSONResponse:
        """Why each text got its label: sentences and decisive words, with offsets."""
        body = await service.read_body(request)
        parsed = parse(ExplainBody, body, max_inputs=service.config.max_inputs)
        return JSONResponse(await explain_texts(service, parsed.texts, parsed.budget))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def explain_page() -> HTMLResponse:
        """A page where a person pastes a review and sees why it got its label (no API key
        needed to load it: it holds no data, and its requests to /explain carry the key)."""
        return HTMLResponse(page.PAGE, headers={"Content-Security-Policy": page.CSP})
