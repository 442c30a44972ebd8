"""Compiling an HTTP handler into its ``EndpointPlan``."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection
from typing import Any

from pydantic.errors import PydanticSchemaGenerationError, PydanticUserError

from bocadillo.compile.forms import form_spec
from bocadillo.compile.parameters import describe, read_parameters
from bocadillo.compile.providers import ProviderGraph
from bocadillo.compile.responses import response_spec
from bocadillo.errors import ConfigurationError
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
) -> EndpointPlan:
    """Read ``func``'s signature and return its plan, or raise ``ConfigurationError``."""
    where = describe(func)
    parts = read_parameters(
        func,
        where=where,
        path_params=path_params,
        is_provider=graph.is_provider,
        provider_of=graph.declared,
        provider_names=graph.names,
        skip_first=view_class is not None,
    )
    if parts.websocket_arg is not None:
        raise ConfigurationError(
            f"{where}: an HTTP handler cannot take a WebSocket; declare the route with "
            "@app.websocket(path)"
        )
    form = form_spec(parts.form, parts.body, where)
    wiring = graph.resolve_route(
        parts.providers, path_params=path_params, where=where, autouse=autouse
    )
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
            params=[*wiring.params, *parts.params],
            body=parts.body,
            request_arg=parts.request_arg,
            response=response_spec(parts.hints, status_code, where),
            max_body_size=max_body_size,
            providers=wiring,
            app_values=app_values,
            form_reader=form_reader,
            background_arg=parts.background_arg,
        )
    except (PydanticSchemaGenerationError, PydanticUserError) as exc:
        raise ConfigurationError(f"{where}: cannot validate the parameters: {exc}") from exc
