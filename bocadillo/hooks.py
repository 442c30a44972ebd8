"""Before and after hooks: the declaration side.

A hook is a function that runs around a route's handler. Its parameters are
read like a handler's (path, query, header and cookie parameters, providers,
credentials, ``Request``); ``bocadillo.compile.hooks`` compiles them into the
route's plan at start-up. ::

    async def require_key(x_api_key: str = Header()) -> None:
        if x_api_key != "s3cret":
            raise HTTPError(403, detail="Wrong key.")

    async def no_store(response: Response) -> None:
        response.headers["cache-control"] = "no-store"

    @app.get("/secret")
    @before(require_key, raises={403: "Wrong key."})
    @after(no_store)
    async def secret() -> Secret: ...

``Router(before=[...], after=[...])`` and ``include_router(..., before=...,
after=...)`` apply hooks to every route below.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, TypeVar

from bocadillo.errors import ConfigurationError

__all__ = ["Hook", "HookWhen", "after", "as_hooks", "before", "hooks_of"]

HookWhen = Literal["before", "after"]
T = TypeVar("T", bound=Callable[..., Any])

# Where a handler, a view class or a view method keeps the hooks declared on it.
HOOKS_ATTRIBUTE = "__bocadillo_hooks__"


class Hook:
    """A hook function, when it runs (``"before"`` or ``"after"`` the handler) and the
    error statuses it may answer with (``raises``, documented on each route it runs on).

    Made by ``before()`` or ``after()``; used as a decorator on a handler, a view
    class or a view method, or listed in ``Router(before=[...], after=[...])``.
    """

    __slots__ = ("func", "raises", "when")

    def __init__(
        self, func: Callable[..., Any], when: HookWhen, raises: Mapping[int, str] | None = None
    ) -> None:
        if isinstance(func, Hook):
            raise ConfigurationError(f"{func!r} is a hook already; pass its function")
        if not callable(func) or isinstance(func, type):
            raise ConfigurationError(
                f"@{when}({func!r}): a hook is a function (async def or def), or an object "
                "with a __call__ method"
            )
        if isinstance(func, functools.partial):
            raise ConfigurationError(
                f"@{when}({func!r}): a functools.partial cannot be read as a hook; give the "
                "settings to an object with a __call__ method, or to a function that makes "
                "the hook"
            )
        if inspect.isasyncgenfunction(func) or inspect.isgeneratorfunction(func):
            raise ConfigurationError(
                f"@{when}({_name(func)}): a hook is a function, not a generator; for code "
                "that runs before and after the handler, use a provider with `yield`"
            )
        self.func = func
        self.when: HookWhen = when
        self.raises = dict(raises or {})

    def __call__(self, target: T) -> T:
        """Attach this hook to ``target`` (a handler, a view class or a view method)."""
        declared = getattr(target, HOOKS_ATTRIBUTE, ())
        # Decorators apply from the bottom up: putting each one first keeps the
        # hooks in the order they are written.
        setattr(target, HOOKS_ATTRIBUTE, (self, *declared))
        return target

    def __repr__(self) -> str:
        return f"<Hook {self.when} {_name(self.func)}>"


def _name(func: Any) -> str:
    return str(getattr(func, "__qualname__", None) or type(func).__qualname__)


def before(hook: Callable[..., Any], *, raises: Mapping[int, str] | None = None) -> Hook:
    """Run ``hook`` before the handler.

    Its parameters are read like a handler's and validated with them (a 422
    lists the errors of both); it runs after the route's providers are made. It
    answers instead of the handler by raising ``HTTPError``; ``raises``
    documents those statuses, ``{403: "Wrong key."}``. Its return value is not
    used.
    """
    return Hook(hook, "before", raises)


def after(hook: Callable[..., Any], *, raises: Mapping[int, str] | None = None) -> Hook:
    """Run ``hook`` after the handler, with the response.

    Its first parameter receives the ``Response`` (the handler's result,
    serialized); the others are read like a handler's. It may change the
    response (headers, status) or return another ``Response`` to send instead.
    """
    return Hook(hook, "after", raises)


def as_hooks(items: Iterable[Callable[..., Any] | Hook], when: HookWhen) -> list[Hook]:
    """``Router(before=[...])``'s items as hooks: a function becomes one; a ``Hook``
    must be of the same kind."""
    hooks = []
    for item in items:
        if isinstance(item, Hook):
            if item.when != when:
                raise ConfigurationError(
                    f"{item!r} is listed in {when}=; list it in {item.when}= instead"
                )
            hooks.append(item)
        else:
            hooks.append(Hook(item, when))
    return hooks


def hooks_of(target: Any) -> tuple[Hook, ...]:
    """The hooks declared on a handler, a view class or a view method, in order."""
    found: tuple[Hook, ...] = getattr(target, HOOKS_ATTRIBUTE, ())
    return found
