"""``bocadillo routes``: the route table, and the type pretty-printer it writes types with."""

from __future__ import annotations

import argparse
import inspect
import types
import typing
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from starlette.staticfiles import StaticFiles

from bocadillo.cli.arguments import Commands, add_app_argument, add_app_dir
from bocadillo.cli.loader import compiled_app
from bocadillo.cli.output import write_stdout
from bocadillo.params import ParamSource
from bocadillo.runtime.sse import SSEPlan

if TYPE_CHECKING:
    from bocadillo.app import App
    from bocadillo.routing.table import Mount
    from bocadillo.runtime.providers import RouteProviders
    from bocadillo.runtime.specs import ParamSpec, ResponseSpec

__all__ = ["add_routes"]


def add_routes(commands: Commands) -> None:
    """``bocadillo routes``: print the route table."""
    parser = commands.add_parser(
        "routes",
        help="print an app's routes: methods, paths, handlers, inputs, outputs, providers",
        description=(
            "Print a table of the app's routes in declaration order: the method (WS for a "
            "WebSocket route, SSE for an event stream), the path, the handler, what a "
            "request carries (the body type and the query, header and cookie parameters; "
            "the message type of a WebSocket route), what the route answers (the status "
            "and type; the event names of an event stream; the message type of a WebSocket "
            "route) and the providers it uses, directly or through other providers. The "
            "app's own docs routes are left out; mounted apps come last."
        ),
    )
    add_app_argument(parser)
    add_app_dir(parser)
    parser.set_defaults(handler=_routes)


def _routes(args: argparse.Namespace) -> int:
    app = compiled_app(args.app, args.app_dir, documents=False)
    http_plans = {(route.path, route.method): plan for route, plan in app.plans()}
    ws_plans = {route.path: plan for route, plan in app.websocket_plans()}
    rows = [("METHOD", "PATH", "HANDLER", "REQUEST", "RESPONSE", "PROVIDERS")]
    for route in app.iter_routes():
        if route.framework:
            continue
        if route.method == "WEBSOCKET":
            ws = ws_plans[route.path]
            request = _request_text(_type_name(ws.receives.annotation), ws.params)
            response = _type_name(ws.sends.annotation)
            rows.append(
                (
                    "WS",
                    route.path,
                    _handler_name(ws.endpoint),
                    request,
                    response,
                    _provider_names(ws.providers),
                )
            )
            continue
        plan = http_plans[(route.path, route.method)]
        body = None if plan.body is None else _type_name(plan.body.annotation)
        if isinstance(plan, SSEPlan):
            method, response = "SSE", " | ".join(kind.name for kind in plan.kinds)
        else:
            method, response = route.method, _response_text(plan.response)
        rows.append(
            (
                method,
                route.path,
                _handler_name(plan.endpoint),
                _request_text(body, plan.params),
                response,
                _provider_names(plan.providers),
            )
        )
    for mount in app.iter_mounts():
        if not _is_docs_assets(app, mount):
            rows.append(("MOUNT", mount.path, _mounted_name(mount.app), "", "", ""))
    write_stdout(_table(rows).encode())
    return 0


def _request_text(body: str | None, params: Sequence[ParamSpec]) -> str:
    """``TodoIn; query: limit, offset; header: x-token``, or ``-``."""
    parts = [body] if body else []
    for source in (ParamSource.QUERY, ParamSource.HEADER, ParamSource.COOKIE):
        keys = dict.fromkeys(spec.key for spec in params if spec.source is source)
        if keys:
            parts.append(f"{source.value}: {', '.join(keys)}")
    return "; ".join(parts) or "-"


def _response_text(response: ResponseSpec) -> str:
    """``201 Todo``, ``204``, ``200 HTMLResponse``; just the status when untyped."""
    if response.kind == "empty" or response.annotation in (None, Any):
        return str(response.status_code)
    return f"{response.status_code} {_type_name(response.annotation)}"


def _provider_names(providers: RouteProviders) -> str:
    """The providers a route uses, app-scoped then request-scoped, dependencies first."""
    names = [node.provider.name for node in providers.app_nodes]
    names += [step.name for step in providers.steps]
    return ", ".join(dict.fromkeys(names)) or "-"


def _handler_name(endpoint: Any) -> str:
    func = inspect.unwrap(endpoint)
    qualname = getattr(func, "__qualname__", None) or repr(func)
    module = getattr(func, "__module__", None)
    return f"{module}.{qualname}" if module else qualname


def _mounted_name(app: Any) -> str:
    """A mounted ASGI app: the function's name, or the type of the object."""
    if inspect.isfunction(app) or inspect.ismethod(app):
        return _handler_name(app)
    return _handler_name(type(app))


def _is_docs_assets(app: App, mount: Mount) -> bool:
    """The Swagger UI assets the app mounts for its docs page: a framework route."""
    return (
        app.docs_url is not None
        and app.openapi_url is not None
        and mount.path == app.docs_url.rstrip("/") + "/assets"
        and isinstance(mount.app, StaticFiles)
    )


def _type_name(tp: Any) -> str:
    """A type as a reader writes it: ``Todo``, ``list[Todo]``, ``Join | Say | Leave``."""
    if tp is None or tp is type(None):
        return "None"
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is typing.Union or origin is types.UnionType:
        return " | ".join(_type_name(arg) for arg in args)
    if origin is typing.Literal:
        return f"Literal[{', '.join(repr(arg) for arg in args)}]"
    if origin is not None:
        name = _type_name(origin)
        return f"{name}[{', '.join(_type_name(arg) for arg in args)}]" if args else name
    if tp is Ellipsis:
        return "..."
    if isinstance(tp, type):
        return tp.__name__
    # A typesystem schema or field: its title, the items of an Array, a Reference's target.
    title = getattr(tp, "title", None)
    if isinstance(title, str) and title:
        return title
    items = getattr(tp, "items", None)
    if items is not None and not callable(items):
        return f"list[{_type_name(items)}]"
    target = getattr(tp, "to", None)
    if isinstance(target, str):
        return target
    alias = getattr(tp, "__name__", None)  # a type alias, a TypeVar
    return alias if isinstance(alias, str) else type(tp).__name__


def _table(rows: Sequence[Sequence[str]]) -> str:
    """Rows as aligned columns, two spaces apart, no trailing spaces."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines) + "\n"
