"""Questions about declared types, asked once while compiling a handler."""

from __future__ import annotations

import collections.abc
import dataclasses
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from typing_extensions import is_typeddict

from bocadillo.schemas.registry import is_backend_model

__all__ = ["is_body_type", "is_none_type", "is_sequence_type", "split_annotated"]

_SEQUENCE_ORIGINS = {
    list,
    tuple,
    set,
    frozenset,
    collections.abc.Sequence,
    collections.abc.Set,
    collections.abc.MutableSequence,
}


def split_annotated(tp: Any) -> tuple[Any, list[Any]]:
    """``Annotated[T, a, b]`` -> ``(T, [a, b])``; anything else -> ``(tp, [])``."""
    if get_origin(tp) is Annotated:
        base, *metadata = get_args(tp)
        return base, metadata
    return tp, []


def _is_union(tp: Any) -> bool:
    origin = get_origin(tp)
    return origin is Union or origin is types.UnionType


def is_none_type(tp: Any) -> bool:
    return tp is None or tp is type(None)


def _non_none_members(tp: Any) -> list[Any]:
    return [arg for arg in get_args(tp) if not is_none_type(arg)]


def is_model_class(tp: Any) -> bool:
    """A structured type read from a JSON object: model, dataclass or TypedDict."""
    if not isinstance(tp, type):
        return False
    return issubclass(tp, BaseModel) or dataclasses.is_dataclass(tp) or is_typeddict(tp)


def is_body_type(tp: Any) -> bool:
    """Whether a parameter of this type is the JSON body without a marker."""
    tp, _ = split_annotated(tp)
    if is_model_class(tp) or is_backend_model(tp):
        return True
    if _is_union(tp):
        members = _non_none_members(tp)
        return bool(members) and all(is_body_type(m) for m in members)
    origin = get_origin(tp)
    if origin in _SEQUENCE_ORIGINS:
        args = [a for a in get_args(tp) if a is not Ellipsis]
        return bool(args) and all(is_body_type(a) for a in args)
    return False


def is_sequence_type(tp: Any) -> bool:
    """Whether a query/header parameter takes every occurrence (``list[int]``)."""
    tp, _ = split_annotated(tp)
    if _is_union(tp):
        return any(is_sequence_type(m) for m in _non_none_members(tp))
    return get_origin(tp) in _SEQUENCE_ORIGINS or tp in (list, tuple, set, frozenset)


def is_scalar_type(tp: Any) -> bool:
    """Whether a value of this type can be read from one string."""
    tp, _ = split_annotated(tp)
    if _is_union(tp):
        return all(is_scalar_type(m) for m in _non_none_members(tp))
    if get_origin(tp) is Literal:
        return True
    return not is_body_type(tp) and not is_sequence_type(tp) and get_origin(tp) is not dict
