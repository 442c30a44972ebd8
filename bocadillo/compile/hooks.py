"""Compiling a route's before and after hooks into its plan.

A hook's signature is read by the same ``read_parameters`` as a provider's:
path, query, header and cookie parameters, credentials, providers and the
``Request``; no body, form, ``BackgroundTasks`` or ``WebSocket``. Its
request data is prefixed (``@before1.x_token``), so it joins the route's
single validation pass, and its providers are resolved with the handler's, so
a provider both use is made once.

Each hook becomes one more ``ProviderStep`` of the route, after its
providers: a before hook's step calls the hook; an after hook's step binds
the hook to its inputs (``AfterHook.bind``), and the bound hook is handed to
the plan, which calls it with the response.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Collection, Sequence
from typing import Any

from starlette.responses import Response

from bocadillo.compile.parameters import SignatureParts, describe, type_hints
from bocadillo.compile.providers import ProviderGraph
from bocadillo.errors import ConfigurationError
from bocadillo.hooks import Hook, hooks_of
from bocadillo.providers import Provider
from bocadillo.runtime.hooks import AfterHook, BoundAfterHook
from bocadillo.runtime.providers import ProviderArg, ProviderStep, RouteProviders
from bocadillo.runtime.specs import ParamSpec
from bocadillo.schemas.types import split_annotated

__all__ = ["RouteHooks", "compile_hooks", "declared_hooks"]


def declared_hooks(
    router_hooks: Sequence[Hook],
    endpoint: Callable[..., Any],
    view_class: type | None,
    before_only: str | None = None,
) -> list[Hook]:
    """A route's hooks, outermost first: its routers', its view class's, its handler's.

    ``before_only`` names a kind of route that has no response for an after hook
    (``"a WebSocket route"``): an after hook there is a ``ConfigurationError``.
    """
    hooks = [
        *router_hooks,
        *(hooks_of(view_class) if view_class is not None else ()),
        *hooks_of(endpoint),
    ]
    if before_only is not None:
        for hook in hooks:
            if hook.when == "after":
                raise ConfigurationError(
                    f"{describe(endpoint)}: {hook!r} applies to {before_only}, which has "
                    "no response for it to change; after hooks run on HTTP routes only. "
                    "Declare the route on a router without after hooks, or do the work in "
                    "the handler (in a `finally:` to run it when it ends)."
                )
    return hooks


@dataclasses.dataclass(slots=True)
class _ReadHook:
    hook: Hook
    step: str  # the step's name, and the prefix of its fields and provider arguments
    func: Callable[..., Any]  # what is called: the function, or an object's __call__
    parts: SignatureParts
    response_arg: str | None  # an after hook's response parameter
    where: str


@dataclasses.dataclass(slots=True)
class RouteHooks:
    """A route's hooks, read: the providers they ask for (to resolve with the
    handler's), then ``attach`` puts them into the route's resolved providers."""

    hooks: list[_ReadHook]

    @property
    def wanted(self) -> list[tuple[str, str]]:
        """The hooks' provider arguments, ``(argument, provider name)``, each argument
        prefixed with its hook's step name."""
        return [(f"{h.step}.{arg}", name) for h in self.hooks for arg, name in h.parts.providers]

    def attach(
        self, wiring: RouteProviders
    ) -> tuple[list[ParamSpec], tuple[str | BoundAfterHook, ...]]:
        """Add a step per hook to ``wiring`` (resolved with ``wanted``); return the
        hooks' parameters and the after hooks in the order they run: each the
        argument its bound hook arrives in, or, for one that takes nothing but the
        response, the hook itself, bound now."""
        if not self.hooks:
            return [], ()
        by_step: dict[str, list[ProviderArg]] = {}
        handler_args = []
        for arg in wiring.handler_args:
            if arg.arg is not None and arg.arg.startswith("@"):
                step, _, name = arg.arg.partition(".")
                by_step.setdefault(step, []).append(ProviderArg(name, arg.key, arg.from_app))
            else:
                handler_args.append(arg)
        params: list[ParamSpec] = []
        after: list[str | BoundAfterHook] = []
        for read in self.hooks:
            params.extend(read.parts.params)
            wiring.raises.update(read.hook.raises)
            func = read.func
            if read.response_arg is not None:
                hook = AfterHook(
                    read.func,
                    response_arg=read.response_arg,
                    is_async=inspect.iscoroutinefunction(read.func),
                    name=read.where,
                )
                if not (read.parts.params or read.parts.providers or read.parts.request_arg):
                    after.append(functools.partial(hook.run, {}))  # no step needed
                    continue
                func = hook.bind
                handler_args.append(ProviderArg(read.step, read.step, from_app=False))
                after.append(read.step)
            wiring.steps.append(
                ProviderStep(
                    Provider(func, name=read.step, raises=read.hook.raises),
                    param_fields=[(spec.name, spec.field) for spec in read.parts.params],
                    provider_args=by_step.get(read.step, []),
                    request_arg=read.parts.request_arg,
                )
            )
            wiring.request_needed = wiring.request_needed or read.parts.request_arg is not None
        wiring.handler_args = handler_args
        # After hooks run in reverse: the outermost (a router's) last.
        return params, tuple(reversed(after))


def compile_hooks(
    hooks: Sequence[Hook],
    *,
    path_params: Collection[str],
    graph: ProviderGraph,
    where: str,
    request: bool = True,
) -> RouteHooks:
    """Read each hook's signature, or raise ``ConfigurationError`` naming the route and
    the hook. ``request=False`` refuses a hook that takes the ``Request`` (a WebSocket
    route has none)."""
    read: list[_ReadHook] = []
    count = {"before": 0, "after": 0}
    for hook in hooks:
        count[hook.when] += 1
        step = f"@{hook.when}{count[hook.when]}"
        found = _read_hook(hook, step, path_params=path_params, graph=graph, route=where)
        if not request and found.parts.request_arg is not None:
            raise ConfigurationError(
                f"{found.where}: parameter {found.parts.request_arg!r} asks for the Request; "
                "a WebSocket route has none. Read what the hook needs with Header(), "
                "Query() or Cookie()."
            )
        read.append(found)
    return RouteHooks(read)


def _callable(func: Any) -> Callable[..., Any]:
    """What to read and call: a function as it is, an object by its ``__call__``."""
    if inspect.isfunction(func) or inspect.ismethod(func):
        return func
    call: Callable[..., Any] = func.__call__
    return call


def _read_hook(
    hook: Hook, step: str, *, path_params: Collection[str], graph: ProviderGraph, route: str
) -> _ReadHook:
    func = _callable(hook.func)
    where = f"{route}: {hook.when} hook {describe(func)}"
    response_arg = _response_arg(func, where) if hook.when == "after" else None
    parts = graph.read(
        func,
        where=where,
        path_params=path_params,
        skip_first=response_arg is not None,
        field_prefix=f"{step}.",
        allow_body=False,
        kind="a hook",
    )
    if parts.websocket_arg is not None:
        raise ConfigurationError(
            f"{where}: parameter {parts.websocket_arg[0]!r} asks for a WebSocket; a hook "
            "runs on HTTP routes"
        )
    return _ReadHook(hook, step, func, parts, response_arg, where)


def _response_arg(func: Callable[..., Any], where: str) -> str:
    """The name of an after hook's first parameter, which receives the response."""
    try:
        parameters = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{where}: cannot read the signature: {exc}") from exc
    first = parameters[0] if parameters else None
    if first is None or first.kind not in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    ):
        raise ConfigurationError(
            f"{where}: an after hook takes the response as its first parameter, "
            "`async def hook(response: Response, ...)`"
        )
    annotation = type_hints(func, where).get(first.name)
    base, _ = split_annotated(annotation)
    if annotation is not None and not (isinstance(base, type) and issubclass(base, Response)):
        raise ConfigurationError(
            f"{where}: the first parameter of an after hook, {first.name!r}, receives the "
            f"response; annotate it `Response`, not {annotation!r}"
        )
    return first.name
