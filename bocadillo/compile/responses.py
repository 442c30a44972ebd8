"""Compiling a handler's return annotation into its ``ResponseSpec``."""

from __future__ import annotations

import functools
import operator
import types
import typing
from typing import Any

from pydantic.errors import PydanticSchemaGenerationError, PydanticUserError
from starlette.responses import RedirectResponse, Response

from bocadillo.errors import ConfigurationError
from bocadillo.runtime.specs import ResponseSpec
from bocadillo.schemas.registry import adapter_for
from bocadillo.schemas.types import is_none_type

__all__ = ["response_spec"]


def _is_response_type(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, Response)


def response_spec(hints: dict[str, Any], status_code: int | None, where: str) -> ResponseSpec:
    """How the handler's result is sent: typed (by its schema), untyped (orjson) or empty.

    A ``Response`` subclass in the annotation (alone or in a union) is sent as
    it is; the rest of a union is the typed part.
    """
    if "return" not in hints:
        return ResponseSpec("untyped", status_code or 200, None, None)
    annotation = hints["return"]
    if is_none_type(annotation):
        return ResponseSpec("empty", status_code or 204, None, None)
    if isinstance(annotation, type) and issubclass(annotation, RedirectResponse):
        return ResponseSpec("untyped", status_code or 307, annotation, None)
    if annotation is Any or _is_response_type(annotation):
        return ResponseSpec("untyped", status_code or 200, annotation, None)
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        members = [a for a in typing.get_args(annotation) if not _is_response_type(a)]
        if not members:
            return ResponseSpec("untyped", status_code or 200, annotation, None)
        annotation = functools.reduce(operator.or_, members)
    try:
        adapter = adapter_for(annotation)
    except (PydanticSchemaGenerationError, PydanticUserError) as exc:
        raise ConfigurationError(
            f"{where}: cannot serialize the return type {annotation!r}: {exc}"
        ) from exc
    return ResponseSpec("typed", status_code or 200, annotation, adapter)
