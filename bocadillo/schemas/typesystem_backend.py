"""The typesystem backend: a ``typesystem.Schema`` (or field) works wherever a
pydantic model does.

typesystem converts leniently (``"5"`` is an integer to it). A JSON body has
types of its own, so before typesystem sees a body this backend checks that
each value has the JSON type its field asks for, as the pydantic backend's
strict mode does. Values from the query string, path, headers and cookies are
text and are converted leniently.
"""

from __future__ import annotations

import copy
import datetime
import decimal
import uuid
from typing import Any

import orjson
import typesystem
from typesystem import fields as ts_fields

from bocadillo.schemas.json_text import json_error_message
from bocadillo.schemas.protocol import MalformedInput, SchemaMode, SchemaValidationError
from bocadillo.schemas.registry import register_backend

__all__ = ["TypesystemAdapter", "register_typesystem", "typesystem_json_schema"]

# The JSON type (after orjson.loads) each kind of field accepts in a body.
_STRINGS = (
    ts_fields.String,
    ts_fields.Date,
    ts_fields.Time,
    ts_fields.DateTime,
    ts_fields.UUID,
    ts_fields.Email,
    ts_fields.IPAddress,
    ts_fields.URL,
    ts_fields.Password,
    ts_fields.Text,
)


def _json_type_errors(field: Any, value: Any, loc: list[Any]) -> list[dict[str, Any]]:
    """Where ``value`` (parsed JSON) has another JSON type than ``field`` asks for."""
    if value is None:
        return []  # typesystem reports null itself, with allow_null in mind
    if isinstance(field, typesystem.Reference):
        field = field.target
    expected: str | None = None
    if isinstance(field, ts_fields.Boolean):
        if not isinstance(value, bool):
            expected = "a boolean"
    elif isinstance(field, ts_fields.Number):
        if isinstance(value, bool) or not isinstance(value, int | float):
            expected = "a number"
        elif field.numeric_type is int and isinstance(value, float) and abs(value) >= 2**63:
            # orjson reads an integer past 64 bits as a float: typesystem would
            # round it to the nearest float silently.
            return [
                {
                    "loc": loc,
                    "msg": "Must be an integer within 64 bits.",
                    "type": "integer_size",
                }
            ]
    elif isinstance(field, _STRINGS):
        if not isinstance(value, str):
            expected = "a string"
        elif "\0" in value:
            # typesystem would silently drop it; the published schema forbids it.
            return [
                {"loc": loc, "msg": "Must not contain NUL characters.", "type": "null_character"}
            ]
    elif isinstance(field, typesystem.Schema):
        if not isinstance(value, dict):
            expected = "an object"
        else:
            return [
                error
                for key, child in field.fields.items()
                if key in value and not child.read_only  # typesystem ignores those on input
                for error in _json_type_errors(child, value[key], [*loc, key])
            ]
    elif isinstance(field, ts_fields.Object):
        if not isinstance(value, dict):
            expected = "an object"
        else:
            return [
                error
                for key, child in (field.properties or {}).items()
                if key in value
                for error in _json_type_errors(child, value[key], [*loc, key])
            ]
    elif isinstance(field, ts_fields.Array):
        if not isinstance(value, list):
            expected = "an array"
        elif isinstance(field.items, ts_fields.Field):
            return [
                error
                for index, item in enumerate(value)
                for error in _json_type_errors(field.items, item, [*loc, index])
            ]
        elif field.items:
            return [
                error
                for index, (item, child) in enumerate(zip(value, field.items, strict=False))
                for error in _json_type_errors(child, item, [*loc, index])
            ]
    if expected is None:
        return []
    return [{"loc": loc, "msg": f"Must be {expected}.", "type": "type"}]


# pydantic's JSON parser refuses documents nested deeper than this; so does this backend.
MAX_DEPTH = 200


def _too_deep(value: Any) -> bool:
    """Whether arrays and objects nest deeper than ``MAX_DEPTH`` in ``value``."""
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _check_integer_text(field: Any, text: str) -> None:
    """Refuse ``"1.5"`` for an integer: typesystem would truncate it to 1."""
    try:
        number = decimal.Decimal(text)
    except decimal.InvalidOperation:
        return  # not a number at all: typesystem says so
    if number.is_finite() and number != number.to_integral_value():
        message = field.get_error_text("integer")
        raise SchemaValidationError([{"loc": [], "msg": message, "type": "integer"}])


def _convert(error: typesystem.ValidationError) -> list[dict[str, Any]]:
    messages: list[Any] = error.messages()
    return [
        {"loc": list(message.index or []), "msg": str(message.text), "type": str(message.code)}
        for message in messages
    ]


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)  # a JSON number, as typesystem's schema and serialize() have it
    if isinstance(value, uuid.UUID | datetime.date | datetime.time):
        return str(value)
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def _fields(field: Any) -> list[Any]:
    """Every field reachable from ``field`` (itself, children, referenced schemas)."""
    found: list[Any] = []
    seen: set[int] = set()
    stack = [field]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, ts_fields.Field):
            found.append(node)
            stack.extend(vars(node).values())
        elif isinstance(node, list | tuple):
            stack.extend(node)
        elif isinstance(node, dict | typesystem.Definitions):
            stack.extend(node.values())
    return found


def _with_read_only_validated(field: Any) -> Any:
    """``field``, or a copy of it that validates its read-only fields too.

    typesystem skips a read-only field when validating: right for a request,
    but a response must keep it (a server-assigned ``id``, say).
    """
    if not any(node.read_only for node in _fields(field)):
        return field
    copied = copy.deepcopy(field)
    for node in _fields(copied):
        node.read_only = False
    return copied


def _untrimmed(field: Any) -> Any:
    """``field``, or a copy of it whose strings are taken as sent, untrimmed.

    A JSON body is validated strictly: typesystem's default trimming would
    accept ``"a" + 600 spaces`` under ``max_length=500`` and refuse ``" "``
    under ``min_length=1``, the opposite of what the published schema says.
    """
    if not any(getattr(node, "trim_whitespace", False) for node in _fields(field)):
        return field
    copied = copy.deepcopy(field)
    for node in _fields(copied):
        if getattr(node, "trim_whitespace", False):
            node.trim_whitespace = False
    return copied


_NO_NUL = "^[^\\u0000]*$"


def _forbid_nul(node: Any) -> Any:
    """Plain string schemas say what the body check enforces: no NUL characters."""
    if isinstance(node, list):
        return [_forbid_nul(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: _forbid_nul(value) for key, value in node.items()}
    if result.get("type") == "string" and "format" not in result and "pattern" not in result:
        result["pattern"] = _NO_NUL
    return result


_REF_PREFIXES = ("#/components/schemas/", "#/definitions/")


def _to_2020_12(node: Any) -> Any:
    """typesystem's draft-07 JSON Schema -> the 2020-12 dialect OpenAPI 3.1 uses.

    Nested schemas (``components/schemas`` or ``definitions``) move to
    ``$defs`` and references follow; tuple ``items`` become ``prefixItems``.
    """
    if isinstance(node, list):
        return [_to_2020_12(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str) and value.startswith(_REF_PREFIXES):
            converted[key] = "#/$defs/" + value.rpartition("/")[2]
        elif key == "components" and isinstance(value, dict):
            converted["$defs"] = _to_2020_12(value.get("schemas", {}))
        elif key == "definitions":
            converted["$defs"] = _to_2020_12(value)
        elif key == "format" and value == "datetime":  # JSON Schema spells it date-time
            converted[key] = "date-time"
        elif key == "items" and isinstance(value, list):
            converted["prefixItems"] = _to_2020_12(value)
        elif key == "default" and callable(value):
            pass  # a default factory (`default=list`) has no JSON value: dropped
        elif key == "additionalItems":
            if isinstance(node.get("items"), list):
                converted["items"] = _to_2020_12(value)
            # beside a single `items` schema it has no effect: dropped
        else:
            converted[key] = _to_2020_12(value)
    return converted


def _defaults_required(node: Any) -> Any:
    """Every property with a default listed as required: typesystem fills defaults in
    when it validates, so what the backend dumps always has them."""
    if isinstance(node, list):
        return [_defaults_required(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: _defaults_required(value) for key, value in node.items()}
    properties = node.get("properties")
    if isinstance(properties, dict):
        required = node.get("required", [])
        listed = [
            name
            for name, sub in properties.items()
            if name in required or (isinstance(sub, dict) and "default" in sub)
        ]
        if listed:
            result["required"] = listed
    return result


def typesystem_json_schema(field: Any, mode: SchemaMode = "validation") -> dict[str, Any]:
    """A typesystem field's JSON Schema in the 2020-12 dialect (``$defs``).

    In ``"serialization"`` mode, a property with a default is required: the
    backend's output always has it."""
    raw = typesystem.to_json_schema(field)
    if mode == "serialization":
        raw = _defaults_required(raw)
    schema = _forbid_nul(_to_2020_12(raw))
    assert isinstance(schema, dict)
    title = getattr(field, "title", "")
    if title and "title" not in schema:
        schema["title"] = title
    # typesystem leaves a referenced schema untitled: title it as it is titled when
    # it is the top-level type (or by its name), so both are one named schema.
    nested_defs = schema.get("$defs", {})
    if nested_defs:
        targets = {
            node.to: node.target
            for node in _fields(field)
            if isinstance(node, typesystem.Reference)
        }
        for name, nested in nested_defs.items():
            if isinstance(nested, dict) and "title" not in nested:
                nested["title"] = getattr(targets.get(name), "title", "") or name
    return schema


class TypesystemAdapter:
    """The schema-backend protocol over one typesystem field or schema."""

    __slots__ = ("_body", "_field", "_output")

    def __init__(self, field: Any) -> None:
        self._field = field
        self._body = _untrimmed(field)
        self._output = _untrimmed(_with_read_only_validated(field))

    def validate_json(self, data: bytes) -> Any:
        # orjson refuses NaN, Infinity and numbers past a float's range, as the
        # pydantic backend does; it allows 1024 levels of nesting, pydantic 200.
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise MalformedInput(json_error_message(exc)) from None
        if len(data) > 2 * MAX_DEPTH and _too_deep(value):
            raise MalformedInput(f"Invalid JSON: nested deeper than {MAX_DEPTH} levels")
        try:
            return self._validate_value(value)
        except RecursionError:
            raise MalformedInput("Invalid JSON: nested too deeply") from None

    def _validate_value(self, value: Any) -> Any:
        errors = _json_type_errors(self._field, value, [])
        if not errors:
            validated, error = self._body.validate_or_error(value)
            if error:
                raise SchemaValidationError(_convert(error))
            return validated
        # Report every problem at once, as pydantic does: typesystem's own errors
        # too, except where a value already has the wrong JSON type.
        _, error = self._body.validate_or_error(value)
        if error:
            typed = [err["loc"] for err in errors]
            errors += [
                err
                for err in _convert(error)
                if not any(err["loc"][: len(loc)] == loc for loc in typed)
            ]
        raise SchemaValidationError(errors)

    def validate_python(self, data: Any) -> Any:
        if isinstance(data, str) and isinstance(self._field, ts_fields.Integer):
            _check_integer_text(self._field, data)
        try:
            value, error = self._field.validate_or_error(data)
        except OverflowError:
            # typesystem's finite check on an integer past a float's range ("1" * 400).
            raise SchemaValidationError(
                [{"loc": [], "msg": "Must be finite.", "type": "finite"}]
            ) from None
        if error:
            raise SchemaValidationError(_convert(error))
        return value

    def dump_json(self, value: Any) -> bytes:
        # serialize() reads only the declared fields, in the schema's order (dates
        # become strings); validating that catches a value that does not fit,
        # which is the app's bug, as with pydantic.
        validated, error = self._output.validate_or_error(self._field.serialize(value))
        if error:
            raise SchemaValidationError(_convert(error))
        return orjson.dumps(validated, default=_json_default)

    def json_schema(self, mode: SchemaMode = "validation") -> dict[str, Any]:
        return typesystem_json_schema(self._field, mode)


def _typesystem_backend(tp: Any) -> TypesystemAdapter | None:
    if isinstance(tp, ts_fields.Field):
        return TypesystemAdapter(tp)
    return None


def _is_model(tp: Any) -> bool:
    """Schemas, objects and arrays are read from a JSON body; scalar fields are not."""
    return isinstance(
        tp, typesystem.Schema | typesystem.Reference | ts_fields.Object | ts_fields.Array
    )


def register_typesystem() -> None:
    """Make typesystem fields and schemas usable wherever pydantic types are."""
    register_backend(_typesystem_backend, is_model=_is_model)
