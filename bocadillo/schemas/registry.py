"""Schema backends: one protocol for validating and dumping a declared type.

Every part of the framework (the handler plan, the docs, the message
channels) goes through ``adapter_for(tp)`` and never asks which library a
type comes from. pydantic v2 is the default backend (``_pydantic.py``);
typesystem is the second (``_typesystem.py``); another library plugs in with
``register_backend``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Protocol

import orjson
import pydantic_core

__all__ = [
    "MalformedInput",
    "SchemaAdapter",
    "SchemaMode",
    "SchemaValidationError",
    "adapter_for",
    "register_backend",
]


SchemaMode = Literal["validation", "serialization"]


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

    def json_schema(self, mode: SchemaMode = "validation") -> dict[str, Any]:
        """The type's JSON Schema (2020-12, nested schemas under ``$defs``).

        ``mode`` is ``"validation"`` for what the type accepts (a request body)
        and ``"serialization"`` for what it produces (a response).
        """


Backend = Callable[[Any], SchemaAdapter | None]
_backends: list[tuple[Backend, Callable[[Any], bool]]] = []


def _never(tp: Any) -> bool:
    return False


def register_backend(backend: Backend, *, is_model: Callable[[Any], bool] = _never) -> None:
    """Add a schema backend.

    ``backend(tp)`` returns a ``SchemaAdapter`` for a type the backend owns and
    ``None`` for any other. ``is_model(tp)`` says whether a parameter of that
    type is a JSON body without a ``Body()`` marker (as a pydantic model is).
    Backends are asked newest first; pydantic answers for everything else.
    """
    _backends.insert(0, (backend, is_model))


def adapter_for(tp: Any) -> SchemaAdapter:
    """The adapter for a declared type (asked at start-up, never per request)."""
    for backend, _ in _backends:
        adapter = backend(tp)
        if adapter is not None:
            return adapter
    from bocadillo.schemas.pydantic_backend import PydanticAdapter  # the default backend

    return PydanticAdapter(tp)


def is_backend_model(tp: Any) -> bool:
    """Whether a registered (non-pydantic) backend reads ``tp`` as a body model."""
    return any(is_model(tp) for _, is_model in _backends)


def is_foreign(tp: Any) -> bool:
    """Whether a registered (non-pydantic) backend owns ``tp``."""
    return any(backend(tp) is not None for backend, _ in _backends)


def _orjson_default(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json", by_alias=True)
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def dump_untyped(value: Any) -> bytes:
    """Serialize a value returned by a handler with no declared return type."""
    try:
        return orjson.dumps(value, default=_orjson_default)
    except orjson.JSONEncodeError as exc:
        # orjson writes integers of 64 bits at most; a larger one (an `int`
        # parameter of 20 digits, echoed) is written by pydantic instead.
        if str(exc) != "Integer exceeds 64-bit range":
            raise
        return pydantic_core.to_json(value, by_alias=True, inf_nan_mode="null")
