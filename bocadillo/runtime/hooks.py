"""Running after hooks.

A before hook needs nothing here: it is compiled into one more step of the
route's provider session (``bocadillo.compile.hooks``), made after the
providers and before the handler. An after hook's inputs are read the same
way, before the handler, by a step whose value is the hook bound to them
(``AfterHook.bind``), unless it takes nothing but the response; the plan
calls the bound hooks with the response once the handler returned.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

__all__ = ["AfterHook", "BoundAfterHook", "run_after_hooks"]

BoundAfterHook = Callable[[Response], Any]


class AfterHook:
    """One after hook, compiled: its function, the argument that receives the
    response, and whether it is awaited or run in a worker thread."""

    __slots__ = ("func", "is_async", "name", "response_arg")

    def __init__(
        self, func: Callable[..., Any], *, response_arg: str, is_async: bool, name: str
    ) -> None:
        self.func = func
        self.response_arg = response_arg
        self.is_async = is_async
        self.name = name  # for error messages

    async def bind(self, **kwargs: Any) -> BoundAfterHook:
        """The hook with its request inputs (made before the handler), waiting for
        the response."""
        return functools.partial(self.run, kwargs)

    async def run(self, kwargs: dict[str, Any], response: Response) -> Response:
        """Call the hook with ``response``; the response to send on."""
        kwargs = {**kwargs, self.response_arg: response}
        if self.is_async:
            result = await self.func(**kwargs)
        else:
            result = await run_in_threadpool(self.func, **kwargs)
        if result is None:
            return response
        if not isinstance(result, Response):
            raise TypeError(
                f"after hook {self.name} returned a {type(result).__name__}; an after hook "
                "returns None (the response, changed in place) or a Response to send instead"
            )
        return result


async def run_after_hooks(hooks: list[BoundAfterHook], response: Response) -> Response:
    """Run the bound after hooks in order, each given the previous one's response."""
    for hook in hooks:
        response = await hook(response)
    return response
