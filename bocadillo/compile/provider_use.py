"""Two ways a signature uses a provider besides naming it: ``@useprovider`` (made
for its effect, with no parameter) and a lazy provider's ``Lazy[T]`` parameter."""

from __future__ import annotations

import collections.abc
import difflib
import typing
from collections.abc import Callable, Collection
from typing import Any

from bocadillo.compile.fits import fits, provided_type, provider_location
from bocadillo.errors import ConfigurationError
from bocadillo.providers import Provider, used_providers
from bocadillo.runtime.providers import Lazy
from bocadillo.schemas.types import split_annotated

__all__ = ["check_lazy_fits", "used_provider_entries"]

_AWAITED = (Lazy, collections.abc.Awaitable)


def used_provider_entries(
    func: Callable[..., Any],
    where: str,
    is_provider: Callable[[str], bool],
    provider_names: Callable[[], Collection[str]],
) -> list[tuple[str | None, str]]:
    """``(None, name)`` for each provider ``@useprovider`` names on ``func``: made, passed
    to no parameter. A name that is no provider is a ``ConfigurationError``."""
    entries: list[tuple[str | None, str]] = []
    for name in used_providers(func):
        if not is_provider(name):
            close = difflib.get_close_matches(name, list(provider_names()), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigurationError(f"{where}: @useprovider({name!r}) names no provider.{hint}")
        entries.append((None, name))
    return entries


def _name(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) else repr(tp).replace("typing.", "")


def check_lazy_fits(name: str, annotation: Any, provider: Provider, where: str) -> bool:
    """Check a parameter named after a lazy provider, or annotated ``Lazy[T]``; return
    whether this check decided (False: not about laziness, check the type as usual).

    A lazy provider's parameter is ``Lazy[T]`` or ``Awaitable[T]`` whose ``T`` fits
    the provider's type; ``Lazy[T]`` names a lazy provider.
    """
    base, _ = split_annotated(annotation)
    origin = typing.get_origin(base) or base
    awaited = origin in _AWAITED
    if not provider.lazy:
        if origin is Lazy:
            raise ConfigurationError(
                f"{where}: parameter {name!r} is annotated {_name(base)}, but "
                f"{provider_location(provider)} is not lazy; declare it "
                f"@provider(lazy=True), or annotate the parameter with its type"
            )
        return False
    provided = provided_type(provider)
    args = typing.get_args(base)
    if not awaited or not fits(args[0] if args else Any, provided):
        wanted = _name(provided) if isinstance(provided, type) else "T"
        raise ConfigurationError(
            f"{where}: parameter {name!r} is annotated {_name(base)}, but "
            f"{provider_location(provider)} is lazy: the handler receives a Lazy[{wanted}] "
            f"to await. Annotate it `{name}: Lazy[{wanted}]` and `await {name}` for the value."
        )
    return True
