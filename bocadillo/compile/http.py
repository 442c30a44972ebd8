"""Compiling an HTTP handler into its ``EndpointPlan``."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Sequence
from typing import Any

from pydantic.errors import PydanticSchemaGenerationError, PydanticUserError

from bocadillo.compile.forms import form_spec
from bocadillo.compile.hooks import compile_hooks, declared_hooks
from bocadillo.compile.parameters import describe
from bocadillo.compile.providers import ProviderGraph
from bocadillo.compile.responses import response_spec
from bocadillo.errors import ConfigurationError
from bocadillo.hooks import Hook
from bocadillo.runtime.endpoint import EndpointPlan
from bocadillo.runtime.forms import FormReader

__all__ = ["compile_endpoint"]


def compile_endpoint(
    func: Callable[..., Any],
    *,
    path_params: Collection[str],
    status_code: int | None,
    max_body_size: int,
    view_class: type | None = None,
    graph: ProviderGraph,
    app_values: dict[Any, Any],
    autouse: bool = True,
    hooks: Sequence[Hook] = (),
) -> EndpointPlan:
    """Read ``func``'s signature and return its plan, or raise ``ConfigurationError``.

    ``hooks`` are the route's routers' hooks, outermost first; the hooks declared on
    the view class and on ``func`` run inside them."""
    where = describe(func)
    parts = graph.read(
        func,
        where=where,
        path_params=path_params,
        skip_first=view_class is not None,
    )
    if parts.websocket_arg is not None:
        raise ConfigurationError(
            f"{where}: an HTTP handler cannot take a WebSocket; declare the route with "
            "@app.websocket(path)"
        )
    form = form_spec(parts.form, parts.body, where)
    route_hooks = compile_hooks(
        declared_hooks(hooks, func, view_class), path_params=path_params, graph=graph, where=where
    )
    wiring = graph.resolve_route(
        [*parts.providers, *route_hooks.wanted],
        path_params=path_params,
        where=where,
        autouse=autouse,
    )
    hook_params, after_hooks = route_hooks.attach(wiring)
    form_reader = None
    if form is not None:
        try:
            form_reader = FormReader(form, max_body_size)
        except (PydanticSchemaGenerationError, PydanticUserError) as exc:
            raise ConfigurationError(f"{where}: cannot validate the form: {exc}") from exc
    try:
        return EndpointPlan(
            endpoint=func,
            name=where,
            is_async=inspect.iscoroutinefunction(func),
            view_class=view_class,
            params=[*wiring.params, *hook_params, *parts.params],
            body=parts.body,
            request_arg=parts.request_arg,
            response=response_spec(parts.hints, status_code, where),
            max_body_size=max_body_size,
            providers=wiring,
            app_values=app_values,
            form_reader=form_reader,
            background_arg=parts.background_arg,
            after_hooks=after_hooks,
        )
    except (PydanticSchemaGenerationError, PydanticUserError) as exc:
        raise ConfigurationError(f"{where}: cannot validate the parameters: {exc}") from exc
