"""The pydantic v2 schema backend, the default for every type no other backend claims."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import PydanticSerializationError, core_schema

from bocadillo.schemas.json_text import LONG_DIGITS, NUMBER_SHAPES, non_finite_error
from bocadillo.schemas.protocol import MalformedInput, SchemaMode, SchemaValidationError

__all__ = ["OutputJsonSchema", "PydanticAdapter", "validation_errors"]


class OutputJsonSchema(GenerateJsonSchema):
    """JSON Schema that says what ``dump_json`` writes, in ``"serialization"`` mode.

    Every field of a model or dataclass is written, its default included (no
    ``exclude_none``, ``exclude_unset`` or ``exclude_defaults``), so each one is
    required, as pydantic's ``json_schema_serialization_defaults_required`` has it;
    a field with an ``exclude_if`` may be left out. A TypedDict writes the keys its
    value has: its ``NotRequired`` keys stay optional.
    """

    def field_is_required(
        self,
        field: core_schema.ModelField | core_schema.DataclassField | core_schema.TypedDictField,
        total: bool,
    ) -> bool:
        if self.mode == "serialization" and field["type"] != "typed-dict-field":
            return field.get("serialization_exclude_if") is None
        return super().field_is_required(field, total)


def validation_errors(exc: ValidationError, prefix: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """A pydantic ``ValidationError`` as the errors a 422 lists: each one's ``loc``
    (behind ``prefix``), ``msg`` and ``type``, without pydantic's input, URL and context."""
    return [
        {"loc": [*prefix, *err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


def _is_whole_float(err: Any) -> bool:
    value = err.get("input")
    return (
        err["type"] == "int_type"
        and isinstance(value, float)
        and value.is_integer()
        and abs(value) < 2**63
    )


def _replace_at(node: Any, loc: list[Any]) -> Any:
    """``node`` with the whole float at ``loc`` made an int; a step of ``loc`` that is
    not in the data (a union member's name) ends the walk there."""
    if isinstance(node, float):
        return int(node)
    if not loc:
        return node
    step, rest = loc[0], loc[1:]
    if isinstance(node, dict) and step in node:
        return {**node, step: _replace_at(node[step], rest)}
    if isinstance(node, list) and isinstance(step, int) and -len(node) <= step < len(node):
        copied = list(node)
        copied[step] = _replace_at(node[step], rest)
        return copied
    return node


class PydanticAdapter:
    """The pydantic v2 backend, over one ``TypeAdapter`` built at start-up.

    The request path calls pydantic-core's validator and serializer directly,
    skipping the ``TypeAdapter`` wrappers.
    """

    __slots__ = (
        "_adapter",
        "_exact",
        "_strict",
        "_to_json",
        "_validate_json",
        "_validate_python",
    )

    def __init__(self, tp: Any) -> None:
        self._adapter: TypeAdapter[Any] = TypeAdapter(tp)
        validator = self._adapter.validator
        self._validate_json = validator.validate_json
        self._validate_python = validator.validate_python
        self._to_json = self._adapter.serializer.to_json
        # JSON bodies are validated strictly ("1" is not an int, false not a
        # number), unless a model opts out with model_config = {"strict": False}.
        self._strict = not (
            isinstance(tp, type)
            and issubclass(tp, BaseModel)
            and tp.model_config.get("strict") is False
        )
        # An instance of a model or dataclass type (subclasses included) is
        # dumped by the declared type's fields alone, so it needs no check.
        self._exact: type | None = (
            tp
            if isinstance(tp, type) and (issubclass(tp, BaseModel) or dataclasses.is_dataclass(tp))
            else None
        )

    def validate_json(self, data: bytes) -> Any:
        # pydantic reads NaN, Infinity and 1e999 as floats; JSON has no such numbers.
        # A translate and two scans (~0.15 µs) rule them out for nearly every body:
        # no "N" (NaN, Infinity), no exponent of 3+ digits, no run of 200 digits.
        shape = data.translate(NUMBER_SHAPES)
        if (
            78 in shape  # b"N"
            or shape.find(b"e000") >= 0
            or (len(shape) >= 200 and shape.find(LONG_DIGITS) >= 0)
        ):
            reason = non_finite_error(data, shape)
            if reason is not None:
                raise MalformedInput(reason)
        try:
            return self._validate_json(data, strict=self._strict)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            if errors and errors[0]["type"] == "json_invalid":
                raise MalformedInput(errors[0]["msg"]) from None
            if self._strict and any(_is_whole_float(err) for err in errors):
                return self._with_whole_floats_as_ints(data, errors, exc)
            raise SchemaValidationError(validation_errors(exc)) from None

    def _with_whole_floats_as_ints(
        self, data: bytes, errors: list[Any], exc: ValidationError
    ) -> Any:
        """JSON Schema counts 2.0 as an integer, so the document's ``"type": "integer"``
        accepts it; strict pydantic does not. Where an int was expected and a whole
        number came as a float, read it as the int, and validate again."""
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise SchemaValidationError(validation_errors(exc)) from None
        for err in errors:
            if _is_whole_float(err):
                value = _replace_at(value, list(err["loc"]))
        try:
            return self._validate_json(orjson.dumps(value), strict=True)
        except (ValidationError, orjson.JSONEncodeError):
            raise SchemaValidationError(validation_errors(exc)) from None

    def validate_python(self, data: Any) -> Any:
        try:
            return self._validate_python(data)
        except ValidationError as exc:
            raise SchemaValidationError(validation_errors(exc)) from None

    def dump_json(self, value: Any) -> bytes:
        if self._exact is not None:
            if not isinstance(value, self._exact):
                # Any other value (a dict, an object with attributes) is validated
                # into the type first: pydantic would dump an object's attributes
                # in the object's order, not the type's, and without a warning.
                try:
                    value = self._validate_python(value, from_attributes=True)
                except ValidationError as exc:
                    raise SchemaValidationError(validation_errors(exc)) from None
            return self._to_json(value, by_alias=True)
        try:
            # warnings="error": a value that is not of the declared type (a dict
            # for a model, say) is validated first, so no undeclared field leaks.
            return self._to_json(value, by_alias=True, warnings="error")
        except PydanticSerializationError:
            try:
                value = self._validate_python(value, from_attributes=True)
            except ValidationError as exc:
                raise SchemaValidationError(validation_errors(exc)) from None
            return self._to_json(value, by_alias=True)

    def json_schema(self, mode: SchemaMode = "validation") -> dict[str, Any]:
        return self._adapter.json_schema(
            mode=mode, by_alias=True, schema_generator=OutputJsonSchema
        )
