"""The type each value is validated as: the marker's constraints, other backends' types.

Every parameter of a route is validated in one pydantic pass; this module
turns a declared annotation into the type that pass checks.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field, PlainValidator
from pydantic_core import PydanticCustomError

from bocadillo.errors import ConfigurationError
from bocadillo.params import Param
from bocadillo.schemas.protocol import SchemaAdapter, SchemaValidationError
from bocadillo.schemas.registry import adapter_for, is_foreign
from bocadillo.schemas.types import is_none_type

__all__ = ["is_optional_of", "optional_member", "validated_type"]


def _foreign_validator(adapter: SchemaAdapter) -> Callable[[Any], Any]:
    """A pydantic validator calling another backend, for the one-pass parameter check."""

    def validate(value: Any) -> Any:
        try:
            return adapter.validate_python(value)
        except SchemaValidationError as exc:
            first = exc.errors[0]
            raise PydanticCustomError(first["type"], "{msg}", {"msg": first["msg"]}) from None

    return validate


def validated_type(base: Any, metadata: list[Any], marker: Param | None, where: str) -> Any:
    """The type to validate: ``base`` with its non-marker metadata and the marker's constraints."""
    if is_foreign(base):
        # A type of another backend (a typesystem field, say) joins the route's
        # single pydantic pass through a plain validator.
        if marker is not None and marker.constraints:
            raise ConfigurationError(
                f"{where}: constraints {sorted(marker.constraints)} apply to pydantic types; "
                f"declare them on the {type(base).__name__} itself"
            )
        return Annotated[Any, PlainValidator(_foreign_validator(adapter_for(base)))]
    extra = [m for m in metadata if not isinstance(m, Param)]
    if marker is not None and marker.constraints:
        extra.append(Field(**marker.constraints))
    if not extra:
        return base
    return Annotated[(base, *extra)]


def _union_args(tp: Any) -> tuple[Any, ...]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return typing.get_args(tp)
    return ()


def is_optional_of(tp: Any, expected: type) -> bool:
    """``tp`` is ``expected`` or ``expected | None``."""
    if tp is expected:
        return True
    members = _union_args(tp)
    return bool(members) and all(m is expected or is_none_type(m) for m in members)


def optional_member(tp: Any) -> Any:
    """``X | None`` -> ``X``; anything else as it is."""
    members = [m for m in _union_args(tp) if not is_none_type(m)]
    return members[0] if len(members) == 1 else tp
