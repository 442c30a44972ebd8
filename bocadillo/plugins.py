"""Plugins: callables that receive the app when it is made (``App(plugins=[...])``)
and add routes, providers, middleware and start-up work to it."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import TypeAlias, TypeVar

from bocadillo.errors import ConfigurationError

__all__ = ["PluginEntry", "apply_plugins", "call_hook"]

AppT = TypeVar("AppT")

# A plugin, or ``{plugin: condition}``: each plugin whose condition is True.
PluginEntry: TypeAlias = Callable[[AppT], None] | Mapping[Callable[[AppT], None], bool]


def apply_plugins(app: AppT, plugins: Iterable[PluginEntry[AppT]]) -> None:
    """Call each plugin with ``app``, in order; a ``{plugin: condition}`` entry calls
    the plugins whose condition is ``True``.

    A plugin that is not callable, a condition that is not a ``bool`` (a string
    read from the environment, say ``"false"``, would be true) and a plugin that
    returns a value (likely a factory called without its arguments, or with too
    few) are a ``ConfigurationError`` naming the plugin.
    """
    for entry in plugins:
        if isinstance(entry, Mapping):
            chosen = []
            for plugin, condition in entry.items():
                if not isinstance(condition, bool):
                    raise ConfigurationError(
                        f"plugin {_name(plugin)}: its condition {condition!r} is not a bool "
                        "(convert it: config('VERBOSE', cast=bool), not the raw string)"
                    )
                if condition:
                    chosen.append(plugin)
        else:
            chosen = [entry]
        for plugin in chosen:
            if not callable(plugin):
                raise ConfigurationError(
                    f"plugin {plugin!r} is not callable: a plugin is a function taking the app"
                )
            result = plugin(app)
            if result is not None:
                raise ConfigurationError(
                    f"plugin {_name(plugin)} returned {result!r}; a plugin returns None. "
                    "Was it a plugin factory, used without calling it (plugins=[health()])?"
                )


def _name(plugin: object) -> str:
    return str(getattr(plugin, "__qualname__", None) or repr(plugin))


async def call_hook(hook: Callable[[], object]) -> None:
    """Call a start-up or shutdown hook (``on_startup``), sync or async."""
    result = hook()
    if inspect.isawaitable(result):
        await result
