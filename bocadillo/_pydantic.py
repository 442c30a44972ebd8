"""The pydantic v2 schema backend, the default for every type no other backend claims."""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import PydanticSerializationError

from ._schemas import MalformedInput, SchemaMode, SchemaValidationError

__all__ = ["PydanticAdapter"]


def _convert_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(err["loc"]), "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


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
        try:
            return self._validate_json(data, strict=self._strict)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False)
            if errors and errors[0]["type"] == "json_invalid":
                raise MalformedInput(errors[0]["msg"]) from None
            raise SchemaValidationError(_convert_errors(exc)) from None

    def validate_python(self, data: Any) -> Any:
        try:
            return self._validate_python(data)
        except ValidationError as exc:
            raise SchemaValidationError(_convert_errors(exc)) from None

    def dump_json(self, value: Any) -> bytes:
        if self._exact is not None:
            if not isinstance(value, self._exact):
                # Any other value (a dict, an object with attributes) is validated
                # into the type first: pydantic would dump an object's attributes
                # in the object's order, not the type's, and without a warning.
                try:
                    value = self._validate_python(value, from_attributes=True)
                except ValidationError as exc:
                    raise SchemaValidationError(_convert_errors(exc)) from None
            return self._to_json(value, by_alias=True)
        try:
            # warnings="error": a value that is not of the declared type (a dict
            # for a model, say) is validated first, so no undeclared field leaks.
            return self._to_json(value, by_alias=True, warnings="error")
        except PydanticSerializationError:
            try:
                value = self._validate_python(value, from_attributes=True)
            except ValidationError as exc:
                raise SchemaValidationError(_convert_errors(exc)) from None
            return self._to_json(value, by_alias=True)

    def json_schema(self, mode: SchemaMode = "validation") -> dict[str, Any]:
        return self._adapter.json_schema(mode=mode, by_alias=True)
