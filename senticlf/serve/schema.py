"""What every protocol shares: the one error shape, JSON parsing, and the checks on texts.

Bodies are parsed by hand rather than by FastAPI's body models so that every mistake gets one
sentence that names the field (``inputs[3] is a number, expected a string``), so that the body
size is checked before the body is parsed, and so that every error, whichever protocol and
whichever layer refused it, is the same JSON object: ``{"error": "...", "error_type": "..."}``
(the KServe v2 protocol's error shape is ``{"error": "..."}``, a subset). The pydantic models
here describe the API in OpenAPI only.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

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


class ApiError(Exception):
    """A request answered with ``status`` and the one JSON error body (4xx: the client's to fix)."""

    def __init__(
        self,
        status: int,
        message: str,
        error_type: str = "validation",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.headers = headers

    def body(self) -> dict[str, str]:
        return {"error": self.message, "error_type": self.error_type}


def parse_json(body: bytes) -> Any:
    """The JSON value of ``body``, or a 400 that says what is wrong with it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            400, f"the body is not UTF-8 text (byte {exc.start})", "invalid_json"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(
            400, f"the body is not valid JSON: {exc.msg} at character {exc.pos}", "invalid_json"
        ) from None
    except RecursionError:  # e.g. [[[[...]]]] 100,000 deep: the C parser stops, Python raises
        raise ApiError(400, "the body's JSON is nested too deeply", "invalid_json") from None


def json_object(data: Any, example: str, status: int = 422) -> dict[str, Any]:
    """``data`` if it is a JSON object, else a refusal that shows the expected shape."""
    if not isinstance(data, dict):
        raise ApiError(
            status, f"the body must be a JSON object like {example}, got {json_type_name(data)}"
        )
    return data


def checked_count(count: int, max_inputs: int, what: str) -> None:
    """413 when a request carries more texts than ``--max-inputs``; 422 when it carries none."""
    if count == 0:
        raise ApiError(422, f"{what} is an empty list; send at least one text")
    if count > max_inputs:
        raise ApiError(
            413,
            f"{what} has {count} texts; this server takes at most {max_inputs} per request "
            "(--max-inputs): split the list",
            "payload_too_large",
        )


def check_bool(data: dict[str, Any], name: str, where: str = "") -> bool:
    """A field that must be true, false or absent/null (then false)."""
    value = data.get(name)
    if value is not None and not isinstance(value, bool):
        raise ApiError(422, f"'{where}{name}' must be true or false, got {json_type_name(value)}")
    return bool(value)


def is_blank(text: str) -> bool:
    return not text.strip()


def json_type_name(value: Any) -> str:
    """What a client sent, in words (an object, a list, a string, ...), for error messages."""
    return _JSON_TYPES.get(type(value), type(value).__name__)


# ---------------------------------------------------------------------------- OpenAPI


class ErrorBody(BaseModel):
    """Every error the server answers, from any route and any layer."""

    error: str = Field(description="One sentence: what is wrong and what to do.")
    error_type: str = Field(
        description="validation, invalid_json, payload_too_large, unauthorized, not_found, "
        "overloaded, unavailable or backend."
    )


_ERROR_DESCRIPTIONS = {
    400: "The body is not JSON (or not UTF-8, or nested too deeply), or, on /v2, the request "
    "does not have the protocol's shape.",
    401: "With --api-key: the Authorization header is missing, malformed or has the wrong key.",
    404: "No such model (the name is --model-name).",
    405: "The method is not allowed on this path.",
    413: "The body or the list of inputs is over this server's limit.",
    422: "The JSON does not have the request's shape (the message says where).",
    500: "A bug or a broken model (the message says which call failed).",
    503: "The queue is full (see Retry-After), or the server is stopping or warming up.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for ``codes`` (401, 405 and 500 are added: any route may answer them)."""
    return {
        code: {"model": ErrorBody, "description": _ERROR_DESCRIPTIONS[code]}
        for code in sorted({*codes, 401, 405, 500})
    }


def request_body(model: type[BaseModel]) -> dict[str, Any]:
    """An OpenAPI ``requestBody`` for ``model``, its nested models inlined.

    pydantic refers to nested models as ``#/$defs/Name``, a path that means nothing inside an
    OpenAPI document; inlining keeps the schema self-contained for /docs and for the fuzzer.
    """
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    return {"required": True, "content": {"application/json": {"schema": inline(schema)}}}


def texts_schema(max_inputs: int, max_body_bytes: int, blank_ok: bool) -> dict[str, Any]:
    """JSON schema of one text or a list of texts within this server's limits.

    The limits are the server's (--max-inputs, and a per-text length that keeps a full list,
    JSON-escaped, under --max-body-bytes), so that a request the document calls valid is one
    the server accepts: the API fuzzer holds the server to that.
    """
    text: dict[str, Any] = {
        "type": "string",
        "maxLength": max(1, max_body_bytes // (12 * (max_inputs + 1))),
    }
    if not blank_ok:
        text["pattern"] = r"\S"
    return {
        "anyOf": [text, {"type": "array", "items": text, "minItems": 1, "maxItems": max_inputs}]
    }


def whole_number(value: Any) -> int | None:
    """``value`` as an int if it is a JSON integer (JSON Schema counts 1.0 as one), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None
