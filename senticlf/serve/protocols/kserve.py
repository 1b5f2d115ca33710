"""The Open Inference Protocol (KServe v2; also Triton's and Seldon MLServer's HTTP API).

So that the bundle can run as a KServe custom runtime and be called by tritonclient and other
v2 clients: the server and model health and metadata routes, and ``POST
/v2/models/{name}/infer`` taking one BYTES tensor of texts (``text``) and answering ``label``
(BYTES, one per text) and ``probabilities`` (FP32, texts x labels, the calibrated
probabilities, columns in the order of the model metadata's labels). ``{name}`` is
``--model-name`` (default: the bundle folder's name). Tensors are JSON; Triton's binary-data
extension is refused with a 400 that says to ask for JSON (``binary_data=False`` in
tritonclient). Errors are 400 (404 for an unknown model) with ``{"error": ...}``, as the
protocol has them, plus the server's ``error_type``.
"""

from __future__ import annotations

import math
from enum import Enum
from typing import TYPE_CHECKING, Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from senticlf import __version__
from senticlf.serve.predictions import predictions
from senticlf.serve.schema import (
    ApiError,
    checked_count,
    error_responses,
    is_blank,
    json_object,
    kind,
    parse_json,
    request_body,
    whole_number,
)

if TYPE_CHECKING:
    from senticlf.serve.app import Service

INPUT = "text"
OUTPUTS = ("label", "probabilities")
BINARY_HEADER = "inference-header-content-length"
_BINARY_HINT = (
    "binary tensor data (Triton's binary-data extension) is not supported: send JSON tensors "
    "(tritonclient: binary_data=False on every InferInput and InferRequestedOutput)"
)


def _bad(message: str) -> ApiError:
    return ApiError(400, message)


def parse_infer(data: Any, max_inputs: int) -> tuple[list[str], list[str], Any]:
    """The texts, the outputs asked for, and the request id of a v2 infer body."""
    data = json_object(data, '{"inputs": [{"name": "text", ...}]}', status=400)
    _refuse_binary(data.get("parameters"), "binary_data_output")
    inputs = data.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
        raise _bad(f"'inputs' must be a list of one tensor named {INPUT!r} (BYTES, the texts)")
    texts = _texts(inputs[0], max_inputs)
    return texts, _outputs(data.get("outputs")), data.get("id")


def _texts(tensor: dict[str, Any], max_inputs: int) -> list[str]:
    if tensor.get("name") != INPUT:
        raise _bad(f"unknown input {tensor.get('name')!r}; this model has one input, {INPUT!r}")
    _refuse_binary(tensor.get("parameters"), "binary_data_size")
    if tensor.get("datatype") != "BYTES":
        raise _bad(f"input {INPUT!r} must have datatype BYTES, got {tensor.get('datatype')!r}")
    raw_shape = tensor.get("shape")
    shape = [whole_number(d) for d in raw_shape] if isinstance(raw_shape, list) else []
    if not shape or any(d is None or d < 0 for d in shape):
        raise _bad(f"input {INPUT!r} needs a shape: a list of sizes such as [2], got {raw_shape!r}")
    if "data" not in tensor:
        raise _bad(f"input {INPUT!r} has no 'data'")
    texts = _flatten(tensor["data"])
    if math.prod(d or 0 for d in shape) != len(texts):
        raise _bad(f"input {INPUT!r} has shape {raw_shape} but {len(texts)} elements")
    checked_count(len(texts), max_inputs, f"input {INPUT!r}")
    for index, text in enumerate(texts):
        if is_blank(text):
            raise _bad(f"{INPUT}[{index}] is blank: no prediction")
    return texts


def _flatten(data: Any) -> list[str]:
    """Row-major elements of (possibly nested) tensor data, each a string."""
    if not isinstance(data, list):
        raise _bad(f"input {INPUT!r} data must be a list of strings, got {kind(data)}")
    flat: list[str] = []
    stack = [iter(data)]
    while stack:  # iterative: nesting depth is the body parser's business, not recursion's here
        item = next(stack[-1], _END)
        if item is _END:
            stack.pop()
        elif isinstance(item, list):
            stack.append(iter(item))
        elif isinstance(item, str):
            flat.append(item)
        else:
            raise _bad(f"input {INPUT!r} element {len(flat)} is {kind(item)}, expected a string")
    return flat


_END = object()


def _outputs(requested: Any) -> list[str]:
    if requested is None:
        return list(OUTPUTS)
    if not isinstance(requested, list) or not all(isinstance(o, dict) for o in requested):
        raise _bad('\'outputs\' must be a list of objects like {"name": "label"}')
    names = []
    for output in requested:
        _refuse_binary(output.get("parameters"), "binary_data")
        if output.get("name") not in OUTPUTS:
            raise _bad(f"unknown output {output.get('name')!r}; this model has {list(OUTPUTS)}")
        names.append(output["name"])
    return names


def _refuse_binary(parameters: Any, key: str) -> None:
    if parameters is None:
        return
    if not isinstance(parameters, dict):
        raise _bad(f"'parameters' must be an object, got {kind(parameters)}")
    if parameters.get(key):
        raise _bad(_BINARY_HINT)


def infer_answer(
    service: Service, texts: list[str], logits: np.ndarray, outputs: list[str], request_id: Any
) -> dict[str, Any]:
    clf = service.classifier
    probabilities = clf.calibrated(logits)
    tensors = {
        "label": {
            "name": "label",
            "datatype": "BYTES",
            "shape": [len(texts)],
            "data": [p.label for p in predictions(service, probabilities)],
        },
        "probabilities": {
            "name": "probabilities",
            "datatype": "FP32",
            "shape": list(probabilities.shape),
            "data": probabilities.astype(np.float32).ravel().tolist(),
        },
    }
    answer: dict[str, Any] = {
        "model_name": service.model_name,
        "model_version": "1",
        "outputs": [tensors[name] for name in outputs],
    }
    if isinstance(request_id, str):  # echoed, so made encodable: a lone surrogate would be a 500
        answer["id"] = request_id.encode("utf-16-le", "surrogatepass").decode(
            "utf-16-le", "replace"
        )
    return answer


def model_metadata(service: Service) -> dict[str, Any]:
    labels = service.classifier.labels
    return {
        "name": service.model_name,
        "versions": ["1"],
        "platform": "senticlf",
        "inputs": [{"name": INPUT, "datatype": "BYTES", "shape": [-1]}],
        "outputs": [
            {"name": "label", "datatype": "BYTES", "shape": [-1]},
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, len(labels)]},
        ],
        "parameters": {"labels": labels},
    }


# ---------------------------------------------------------------------------- OpenAPI


class Tensor(BaseModel):
    name: str
    datatype: str
    shape: list[int]
    parameters: dict[str, Any] | None = None
    data: list[Any]


class InferInput(BaseModel):
    name: str = Field(examples=[INPUT])
    datatype: str = Field(examples=["BYTES"])
    shape: list[int] = Field(examples=[[2]])
    parameters: dict[str, Any] | None = None
    data: list[Any] = Field(examples=[["A moving, beautifully shot film.", "Dull and too long."]])


class RequestedOutput(BaseModel):
    name: str = Field(examples=["label"])
    parameters: dict[str, Any] | None = None


class InferBody(BaseModel):
    """A v2 inference request: one BYTES tensor named ``text``."""

    id: str | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[InferInput]
    outputs: list[RequestedOutput] | None = None


class InferAnswer(BaseModel):
    model_name: str
    model_version: str | None = None
    id: str | None = None
    outputs: list[Tensor]


class TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]
    parameters: dict[str, Any]


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class Live(BaseModel):
    live: bool


class Ready(BaseModel):
    ready: bool


def add_routes(app: FastAPI, service: Service) -> None:
    tags: list[str | Enum] = ["KServe v2"]

    def known(name: str) -> None:
        if name != service.model_name:
            raise ApiError(
                404,
                f"unknown model {name!r}; this server serves {service.model_name!r}",
                "not_found",
            )

    def ready_or_503(body: dict[str, Any]) -> JSONResponse:
        return JSONResponse(body, status_code=200 if service.ready else 503)

    @app.get("/v2", response_model=ServerMetadata, responses=error_responses(), tags=tags)
    async def server_metadata() -> JSONResponse:
        """Server metadata."""
        return JSONResponse({"name": "senticlf", "version": __version__, "extensions": []})

    @app.get("/v2/health/live", response_model=Live, responses=error_responses(), tags=tags)
    async def live() -> JSONResponse:
        """200 while the process answers (no API key needed)."""
        return JSONResponse({"live": True})

    @app.get("/v2/health/ready", response_model=Ready, responses=error_responses(503), tags=tags)
    async def ready() -> JSONResponse:
        """200 once the model is warmed up, 503 before (no API key needed)."""
        return ready_or_503({"ready": service.ready})

    @app.get(
        "/v2/models/{name}",
        response_model=ModelMetadata,
        responses=error_responses(404),
        tags=tags,
    )
    async def metadata(name: str) -> JSONResponse:
        """The model's inputs and outputs (``parameters.labels``: the probability columns)."""
        known(name)
        return JSONResponse(model_metadata(service))

    @app.get(
        "/v2/models/{name}/ready",
        response_model=Ready,
        responses=error_responses(404, 503),
        tags=tags,
    )
    async def model_ready(name: str) -> JSONResponse:
        """200 once the model is warmed up, 503 before."""
        known(name)
        return ready_or_503({"ready": service.ready})

    @app.post(
        "/v2/models/{name}/infer",
        response_model=InferAnswer,
        responses=error_responses(400, 404, 413, 422, 503),
        openapi_extra={"requestBody": request_body(InferBody)},
        tags=tags,
    )
    async def infer(name: str, request: Request) -> JSONResponse:
        """Classify a BYTES tensor of texts: labels and the probability matrix."""
        body = await service.read_body(request)  # read first: an early answer resets clients
        known(name)
        if BINARY_HEADER in request.headers:
            raise _bad(_BINARY_HINT)
        texts, outputs, request_id = parse_infer(parse_json(body), service.config.max_inputs)
        logits = await service.logits(texts)
        return JSONResponse(infer_answer(service, texts, logits, outputs, request_id))
