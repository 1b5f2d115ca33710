"""Request bodies: each request's grammar is written once, as a pydantic model.

The same model checks a body (``parse``: pydantic's ``model_validate_json`` on the raw bytes,
too fast to show in the server's profile, benchmarks/results/serve-profile-zen4.md) and documents it (its JSON schema is the
OpenAPI request body, so the API fuzzer holds the server to it). What pydantic cannot say well
is said here: a refusal is one sentence in the server's words that names the field
(``inputs[3] is a number, expected a string``), of the kind the model gives (422 for TEI and
/classify, 400 for KServe v2); a field may word its own refusal with :class:`Phrase`. Checks
that need more than a type (a list's length against --max-inputs, blank texts, a tensor's
shape) are validators in the protocol's model that raise :class:`ApiError` with their kind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar, get_args

from pydantic import BaseModel, ValidationError, ValidationInfo
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from senticlf.serve.schema import ApiError, parse_json

M = TypeVar("M", bound=BaseModel)
_SHOWN_CHARS = 40  # a value longer than this is not quoted whole in a refusal
_JSON_TYPES = {
    dict: "an object",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null",
}
# What a value of pydantic's error type should have been, to complete "'x' must be ...".
_EXPECTED = {
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "float_type": "a number",
    "int_type": "a whole number",
    "literal_error": "one of {expected}",
    "greater_than": "a number > {gt}",
    "greater_than_equal": "a number >= {ge}",
    "less_than": "a number < {lt}",
    "less_than_equal": "a number <= {le}",
    "too_short": "at least {min_length} item(s)",
    "too_long": "at most {max_length} item(s)",
}


@dataclass(frozen=True)
class Phrase:
    """How a field's refusal reads (``Annotated`` metadata: pydantic keeps it, ``parse`` reads it).

    ``expected`` completes "'field' must be ..., got VALUE" (and "missing 'field': ...");
    ``sentence`` replaces the whole message for any error inside the field, with ``{path}``,
    ``{value}`` (as :func:`shown` quotes it) and ``{kind}`` (a string, a list...) filled in.
    """

    expected: str = ""
    sentence: str = ""


class RequestModel(BaseModel):
    """A request body's grammar; the class variables word the refusals no field owns."""

    # Shown when the body is JSON but not an object.
    example: ClassVar[str] = "{}"
    # The kind (and so the status) of a body that does not fit the model.
    refused_as: ClassVar[str] = "validation"
    # With extra="forbid": the sentence for fields the model does not have.
    unknown_fields: ClassVar[str] = "unknown field(s) {names}; accepted: {accepted}"


def parse(model: type[M], body: bytes, **context: Any) -> M:
    """``body`` checked against ``model`` (``context`` goes to its validators: the limits).

    Raises ApiError: 400 for a body that is not JSON, else the model's kind with one sentence.
    """
    try:
        return model.model_validate_json(body, context=context)
    except ValidationError as exc:
        if exc.errors(include_url=False)[0]["type"] != "json_invalid":
            raise refusal(model, exc) from None
    # pydantic's parser refused the text. The standard library says why in the server's words,
    # and takes what pydantic's does not: lone surrogates ("\ud800", which the tokenizer
    # replaces) and nesting past 200 levels.
    data = parse_json(body)
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise refusal(model, exc) from None


def refusal(model: type[BaseModel], exc: ValidationError) -> ApiError:
    """One sentence for what pydantic found wrong with a body of ``model``.

    Unknown fields come first (a misspelt name also makes the real one missing); else the first
    field pydantic refused, at its deepest error (``inputs[1]``, not "inputs is not a string").
    """
    kind = getattr(model, "refused_as", "validation")
    errors = exc.errors(include_url=False)
    unknown = [e for e in errors if e["type"] == "extra_forbidden"]
    if unknown:
        return ApiError.of(kind, _unknown_fields(model, unknown))
    field = errors[0]["loc"][:1]
    same_field = [e for e in errors if e["loc"][:1] == field]
    deepest = max(same_field, key=lambda e: _locate(model, e["loc"]).depth)
    return ApiError.of(kind, _sentence(model, deepest))


def _sentence(model: type[BaseModel], error: ErrorDetails) -> str:
    value, spot = error["input"], _locate(model, error["loc"])
    if not error["loc"]:
        example = getattr(model, "example", "{}")
        return f"the body must be a JSON object like {example}, got {json_type_name(value)}"
    phrase = _phrase(spot.field)
    if error["type"] == "missing":
        return f"missing '{spot.path}'" + (f": {phrase.expected}" if phrase.expected else "")
    if phrase.sentence:
        return phrase.sentence.format(
            path=spot.path, value=shown(value), kind=json_type_name(value)
        )
    expected = phrase.expected if spot.at_field else ""
    if not expected and error["type"] in _EXPECTED:
        expected = _EXPECTED[error["type"]].format(**error.get("ctx", {}))
    if not expected:
        return f"'{spot.path}': {error['msg']}, got {shown(value)}"
    if error["type"].endswith("_type") and not spot.at_field:  # an item of a list
        return f"{spot.path} is {json_type_name(value)}, expected {expected}"
    return f"'{spot.path}' must be {expected}, got {shown(value)}"


def _unknown_fields(model: type[BaseModel], unknown: list[ErrorDetails]) -> str:
    where = unknown[0]["loc"][:-1]
    owner = _locate(model, where).inner or model
    names = sorted(str(e["loc"][-1]) for e in unknown if e["loc"][:-1] == where)
    template = getattr(owner, "unknown_fields", RequestModel.unknown_fields)
    return str(template.format(names=names, accepted=", ".join(owner.model_fields)))


@dataclass(frozen=True)
class _Spot:
    path: str  # as a person reads it: inputs[0].name
    depth: int  # fields and indexes in the path
    field: FieldInfo | None  # the innermost field the path names
    at_field: bool  # the path ends at that field (not inside its items)
    inner: type[BaseModel] | None  # the model the path ends in, if any


def _locate(model: type[BaseModel], loc: tuple[int | str, ...]) -> _Spot:
    """Where pydantic's ``loc`` points, read along the models' fields.

    pydantic puts the name of a union's branch in ``loc`` too (``inputs.list[str].1``); a
    string that is not a field of the model the path is in is such a name, left out.
    """
    path, depth, field, at_field = "", 0, None, False
    current: type[BaseModel] | None = model
    inner = current
    for part in loc:
        if isinstance(part, int):
            path, depth, at_field = f"{path}[{part}]", depth + 1, False
        elif current is not None and part in current.model_fields:
            field = current.model_fields[part]
            path, depth, at_field = f"{path}.{part}" if path else part, depth + 1, True
            current = inner = _model_in(field.annotation)
    return _Spot(path, depth, field, at_field, inner)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (itself, in a list, or optional), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _phrase(field: FieldInfo | None) -> Phrase:
    if field is not None:
        for item in field.metadata:
            if isinstance(item, Phrase):
                return item
    return Phrase()


# ---------------------------------------------------------------------------- shared checks


def max_inputs(info: ValidationInfo) -> int:
    """The --max-inputs ``parse`` was given (every protocol's list of texts is held to it)."""
    context = info.context or {}
    return int(context["max_inputs"])


def checked_count(count: int, limit: int, what: str, kind: str = "validation") -> None:
    """413 when a request carries more texts than ``--max-inputs``; ``kind`` when none."""
    if count == 0:
        raise ApiError.of(kind, f"{what} is an empty list; send at least one text")
    if count > limit:
        raise ApiError.of(
            "payload_too_large",
            f"{what} has {count} texts; this server takes at most {limit} per request "
            "(--max-inputs): split the list",
        )


def is_blank(text: str) -> bool:
    return not text.strip()


def whole_number(value: Any) -> Any:
    """A float with no fraction as an int (JSON Schema counts 1.0 as an integer); else as is."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def json_type_name(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def shown(value: Any) -> str:
    """A value as a refusal quotes it: true, false and null as JSON spells them, anything else
    by its repr (as Python spells it) when short, else cut (a string) or by its kind."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    text = repr(value)
    if len(text) <= _SHOWN_CHARS:
        return text
    return f"{text[:_SHOWN_CHARS]}..." if isinstance(value, str) else json_type_name(value)


def limit_texts(
    schema: dict[str, Any], max_inputs: int, max_body_bytes: int, blank_ok: bool
) -> None:
    """Put this server's limits on the JSON schema of a text or a list of texts (in place).

    The list takes 1 to --max-inputs texts; each text is documented at most a length that
    keeps a full list, JSON-escaped, under --max-body-bytes (the server checks the body, not
    the text), and, where blanks are refused, as matching ``\\S``. So a request the document
    calls valid is one the server accepts: the API fuzzer holds the server to that.
    """
    text_length = max(1, max_body_bytes // (12 * (max_inputs + 1)))

    def walk(node: dict[str, Any], top: bool) -> None:
        if node.get("type") == "string":
            node["maxLength"] = text_length
            if not blank_ok:
                node["pattern"] = r"\S"
        elif node.get("type") == "array":
            if top:
                node.update(minItems=1, maxItems=max_inputs)
            walk(node["items"], top=False)
        for branch in node.get("anyOf", []):
            walk(branch, top)

    walk(schema, top=True)
