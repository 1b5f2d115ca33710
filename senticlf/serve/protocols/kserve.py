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
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self, get_args

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    Strict,
    ValidationInfo,
    model_validator,
)

from senticlf import __version__
from senticlf.serve.grammar import (
    Phrase,
    RequestModel,
    checked_count,
    is_blank,
    json_type_name,
    max_inputs,
    parse,
    whole_number,
)
from senticlf.serve.predictions import predictions
from senticlf.serve.schema import ApiError, error_responses, request_body

if TYPE_CHECKING:
    from senticlf.serve.service import Service

# The names of the model's tensors: the one input (the texts) and the outputs a client may ask for.
InputName = Literal["text"]
Output = Literal["label", "probabilities"]
INPUT: str = get_args(InputName)[0]
OUTPUTS: tuple[Output, ...] = get_args(Output)
BINARY_HEADER = "inference-header-content-length"
_BINARY_HINT = (
    "binary tensor data (Triton's binary-data extension) is not supported: send JSON tensors "
    "(tritonclient: binary_data=False on every InferInput and InferRequestedOutput)"
)


def _bad_request(message: str) -> ApiError:
    return ApiError.of("bad_request", message)


def _no_binary(key: str) -> Callable[[dict[str, Any] | None], dict[str, Any] | None]:
    """A check of a ``parameters`` object: ``key`` (a binary-data flag) must not be set."""

    def check(parameters: dict[str, Any] | None) -> dict[str, Any] | None:
        if parameters and parameters.get(key):
            raise _bad_request(_BINARY_HINT)
        return parameters

    return check


def _flat(data: list[Any]) -> list[str]:
    """Row-major elements of (possibly nested) tensor data, each a string."""
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
            raise _bad_request(
                f"input {INPUT!r} element {len(flat)} is {json_type_name(item)}, expected a string"
            )
    return flat


_END = object()
_Size = Annotated[int, Strict(), Field(ge=0), BeforeValidator(whole_number)]


class InferInput(RequestModel):
    """The one input tensor: the texts, BYTES, data row-major in ``shape``."""

    name: Annotated[
        InputName,
        Phrase(sentence=f"unknown input {{value}}; this model has one input, {INPUT!r}"),
    ] = Field(examples=[INPUT])
    datatype: Annotated[
        Literal["BYTES"],
        Phrase(sentence=f"input {INPUT!r} must have datatype BYTES, got {{value}}"),
    ] = Field(examples=["BYTES"])
    shape: Annotated[
        list[_Size],
        Field(min_length=1),
        Phrase(
            sentence=f"input {INPUT!r} needs a shape: a list of sizes such as [2], got {{value}}"
        ),
    ] = Field(examples=[[2]])
    parameters: Annotated[dict[str, Any] | None, AfterValidator(_no_binary("binary_data_size"))] = (
        None
    )
    data: Annotated[
        list[Any],
        Phrase("a list of strings (the texts)"),
        AfterValidator(_flat),
    ] = Field(examples=[["A moving, beautifully shot film.", "Dull and too long."]])

    @model_validator(mode="after")
    def _texts_fit_the_shape(self, info: ValidationInfo) -> Self:
        if math.prod(self.shape) != len(self.data):
            raise _bad_request(
                f"input {INPUT!r} has shape {self.shape} but {len(self.data)} elements"
            )
        checked_count(len(self.data), max_inputs(info), f"input {INPUT!r}", kind="bad_request")
        for index, text in enumerate(self.data):
            if is_blank(text):
                raise _bad_request(f"{INPUT}[{index}] is blank: no prediction")
        return self


class RequestedOutput(RequestModel):
    name: Annotated[
        Output, Phrase(sentence=f"unknown output {{value}}; this model has {list(OUTPUTS)}")
    ] = Field(examples=["label"])
    parameters: Annotated[dict[str, Any] | None, AfterValidator(_no_binary("binary_data"))] = None


_ONE_TENSOR = f"a list of one tensor named {INPUT!r} (BYTES, the texts)"


def _one(inputs: list[InferInput]) -> list[InferInput]:
    if len(inputs) != 1:
        raise _bad_request(f"'inputs' must be {_ONE_TENSOR}")
    return inputs


class InferBody(RequestModel):
    """A v2 inference request: one BYTES tensor named ``text``."""

    example = '{"inputs": [{"name": "text", ...}]}'
    refused_as = "bad_request"

    id: Any = Field(None, description="Echoed in the answer when it is a string.")
    parameters: Annotated[
        dict[str, Any] | None, AfterValidator(_no_binary("binary_data_output"))
    ] = None
    inputs: Annotated[list[InferInput], Phrase(_ONE_TENSOR), AfterValidator(_one)]
    outputs: Annotated[
        list[RequestedOutput] | None,
        Phrase(sentence='\'outputs\' must be a list of objects like {{"name": "label"}}'),
    ] = None

    @property
    def outputs_asked(self) -> list[str]:
        if self.outputs is None:
            return list(OUTPUTS)
        return [output.name for output in self.outputs]


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


# ---------------------------------------------------------------------------- OpenAPI (answers)


class Tensor(BaseModel):
    name: str
    datatype: str
    shape: list[int]
    parameters: dict[str, Any] | None = None
    data: list[Any]


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
            raise ApiError.of(
                "not_found", f"unknown model {name!r}; this server serves {service.model_name!r}"
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
            raise _bad_request(_BINARY_HINT)
        parsed = parse(InferBody, body, max_inputs=service.config.max_inputs)
        texts = parsed.inputs[0].data
        logits = await service.logits(texts)
        return JSONResponse(infer_answer(service, texts, logits, parsed.outputs_asked, parsed.id))
