"""The server a user writes by hand today: the anchor `senticlf serve` is measured against.

One FastAPI route calling ``predict`` per request, from FastAPI's thread pool (a plain ``def``
route): no queue limit, no batching, ONNX Runtime calls from many threads at once.

    SENTICLF_BUNDLE=export/x SENTICLF_THREADS=2 python -m uvicorn benchmarks.common.naive_server:app
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI

import senticlf

classifier = senticlf.load(
    os.environ["SENTICLF_BUNDLE"], threads=int(os.environ.get("SENTICLF_THREADS", "0")) or None
)
app = FastAPI()


@app.post("/predict")
def predict(body: dict[str, Any]) -> list[dict[str, Any]]:
    inputs = body["inputs"]
    texts = [inputs] if isinstance(inputs, str) else inputs
    return [classifier.predict(text).as_dict() for text in texts]


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
