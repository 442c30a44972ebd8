"""The schema backends' registry: which backend adapts a declared type.

Every part of the framework (the handler plan, the docs, the message
channels) goes through ``adapter_for(tp)`` and never asks which library a
type comes from. pydantic v2 is the default backend (``pydantic_backend.py``);
typesystem is the second (``typesystem_backend.py``); another library plugs in with
``register_backend``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pydantic_core

from bocadillo.schemas.protocol import SchemaAdapter
from bocadillo.schemas.pydantic_backend import PydanticAdapter

__all__ = [
    "adapter_for",
    "dump_untyped",
    "is_backend_model",
    "is_foreign",
    "register_backend",
]


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
    return PydanticAdapter(tp)  # the default backend


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
