"""Schema backends: one protocol for validating and dumping a declared type.

Every part of the framework (the handler plan, and later the docs and the
message channels) goes through ``adapter_for(tp)`` and never asks which
library a type comes from. pydantic v2 is the default backend; another
library plugs in with ``register_backend``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Protocol

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import PydanticSerializationError

__all__ = [
    "MalformedInput",
    "PydanticAdapter",
    "SchemaAdapter",
    "SchemaValidationError",
    "adapter_for",
    "register_backend",
]


class SchemaValidationError(Exception):
    """Input did not match a type. ``errors`` is ``[{"loc", "msg", "type"}]``,
    ``loc`` relative to the validated value (``()`` for the value itself)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors


class MalformedInput(Exception):
    """Bytes that could not be parsed as JSON (or are not UTF-8) at all."""


class SchemaAdapter(Protocol):
    """What the framework needs from a type, whatever library declares it."""

    def validate_json(self, data: bytes) -> Any:
        """Parse and validate JSON bytes (strictly: JSON types must match)."""

    def validate_python(self, data: Any) -> Any:
        """Validate (and coerce, leniently) a Python value such as a dict of strings."""

    def dump_json(self, value: Any) -> bytes:
        """Serialize a value of the type to JSON bytes, dropping undeclared fields."""

    def json_schema(self) -> dict[str, Any]:
        """The type's JSON Schema (2020-12)."""


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

    __slots__ = ("_adapter", "_exact", "_to_json", "_validate_json", "_validate_python")

    def __init__(self, tp: Any) -> None:
        self._adapter: TypeAdapter[Any] = TypeAdapter(tp)
        validator = self._adapter.validator
        self._validate_json = validator.validate_json
        self._validate_python = validator.validate_python
        self._to_json = self._adapter.serializer.to_json
        # An instance of a model or dataclass type (subclasses included) is
        # dumped by the declared type's fields alone, so it needs no check.
        self._exact: type | None = (
            tp
            if isinstance(tp, type) and (issubclass(tp, BaseModel) or dataclasses.is_dataclass(tp))
            else None
        )

    def validate_json(self, data: bytes) -> Any:
        try:
            return self._validate_json(data, strict=True)
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
        if self._exact is not None and isinstance(value, self._exact):
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

    def json_schema(self) -> dict[str, Any]:
        return self._adapter.json_schema(mode="serialization", by_alias=True)


Backend = Callable[[Any], SchemaAdapter | None]
_backends: list[Backend] = []


def register_backend(backend: Backend) -> None:
    """Add a backend: a callable returning an adapter for types it owns, else None.

    Backends are asked newest first; pydantic answers for everything else.
    """
    _backends.insert(0, backend)


def adapter_for(tp: Any) -> SchemaAdapter:
    """The adapter for a declared type."""
    for backend in _backends:
        adapter = backend(tp)
        if adapter is not None:
            return adapter
    return PydanticAdapter(tp)


def _orjson_default(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json", by_alias=True)
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def dump_untyped(value: Any) -> bytes:
    """Serialize a value returned by a handler with no declared return type."""
    return orjson.dumps(value, default=_orjson_default)
