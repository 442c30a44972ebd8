"""Does a provider's value fit the parameter that shares its name?

A parameter whose name matches a provider is injected; when it is also
annotated, the provider's return type must fit the annotation, so that
registering a provider never silently changes how a handler reads its
arguments (``user: User`` read from the body would be handed a ``str``).
"""

from __future__ import annotations

import collections.abc
import inspect
import types
import typing
from typing import Any

from bocadillo.providers import Provider, ProviderKind
from bocadillo.schemas.types import split_annotated

__all__ = ["fits", "provided_type", "provider_location"]

_UNKNOWN = object()  # the provider declares no type: it fits anything

_ITERATORS = (
    collections.abc.Iterator,
    collections.abc.Iterable,
    collections.abc.Generator,
    collections.abc.AsyncIterator,
    collections.abc.AsyncIterable,
    collections.abc.AsyncGenerator,
)
_AWAITABLES = (collections.abc.Awaitable, collections.abc.Coroutine)


def provided_type(provider: Provider) -> Any:
    """The type of the value ``provider`` gives, or ``_UNKNOWN`` when it does not say."""
    if provider.kind is ProviderKind.VALUE:
        return type(provider.func)
    func = provider.func
    if isinstance(func, type):
        return func
    try:
        returns = typing.get_type_hints(func).get("return", _UNKNOWN)
    except Exception:  # an unresolvable annotation: nothing to compare
        return _UNKNOWN
    if returns is _UNKNOWN:
        return _UNKNOWN
    origin = typing.get_origin(returns)
    args = typing.get_args(returns)
    if provider.kind in (ProviderKind.GENERATOR, ProviderKind.ASYNC_GENERATOR):
        return args[0] if origin in _ITERATORS and args else _UNKNOWN
    if origin in _AWAITABLES and args:
        return args[-1]
    return returns


def provider_location(provider: Provider) -> str:
    """Where ``provider`` is defined, for error messages."""
    if provider.kind is ProviderKind.VALUE:
        return f"provider {provider.name!r} (a value of type {type(provider.func).__name__})"
    func = inspect.unwrap(provider.func)
    try:
        file = inspect.getsourcefile(func)
        _, line = inspect.getsourcelines(func)
    except (OSError, TypeError):
        return f"provider {provider.name!r}"
    return f"provider {provider.name!r} ({file}:{line})"


def _members(tp: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return typing.get_args(tp)
    return ()


def fits(annotation: Any, provided: Any) -> bool:
    """Whether a value of type ``provided`` fits a parameter annotated ``annotation``."""
    wanted, _ = split_annotated(annotation)
    provided, _ = split_annotated(provided)
    if provided is _UNKNOWN or wanted is Any or provided is Any:
        return True
    if isinstance(wanted, typing.TypeVar) or isinstance(provided, typing.TypeVar):
        return True
    while hasattr(provided, "__supertype__"):  # a NewType gives its supertype
        if wanted == provided:
            return True
        provided = provided.__supertype__
    if wanted == provided:
        return True
    if typing.get_origin(provided) is typing.Literal:
        return all(fits(wanted, type(value)) for value in typing.get_args(provided))
    members = _members(wanted)
    if members:
        return any(fits(member, provided) for member in members)
    wanted_origin = typing.get_origin(wanted) or wanted
    provided_origin = typing.get_origin(provided) or provided
    if typing.get_origin(wanted) is not None or typing.get_origin(provided) is not None:
        # a generic's origin match fits: Channel[Any] (or Channel) for Channel[Post]
        return bool(wanted_origin == provided_origin)
    if isinstance(wanted, type) and isinstance(provided, type):
        try:
            return issubclass(provided, wanted)
        except TypeError:  # a protocol that is not runtime-checkable: cannot tell
            return True
    return False
