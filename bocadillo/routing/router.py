"""Declaring routes: ``Router``, its decorators and their typed options."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from starlette.types import ASGIApp
from typing_extensions import TypedDict, Unpack

from bocadillo.errors import ConfigurationError
from bocadillo.hooks import Hook, as_hooks
from bocadillo.http.static import ProblemStaticFiles
from bocadillo.http.wsgi import WSGIApp, as_asgi
from bocadillo.routing.table import HTTP_METHODS, Mount, compile_path

__all__ = [
    "Methods",
    "RouteDef",
    "RouteOptions",
    "Router",
    "SSERouteOptions",
    "WebSocketRouteOptions",
]

_VIEW_METHODS = tuple(m.lower() for m in HTTP_METHODS)

F = TypeVar("F", bound=Callable[..., Any])


# What ``methods=`` takes: method names, one name, or "*" for every method.
Methods = Sequence[str] | Literal["*"]


def route_methods(methods: Methods, path: str) -> list[str]:
    """The methods a route declares, as a list: ``"*"`` is every method but
    ``HEAD`` (which ``GET`` answers); none at all is a ``ConfigurationError``."""
    if methods == "*":
        return [m for m in HTTP_METHODS if m != "HEAD"]
    if isinstance(methods, str):
        return [methods]
    if methods is all:  # type: ignore[comparison-overlap]
        raise ConfigurationError(
            f'route {path!r}: methods=all was Bocadillo 0.18\'s spelling; write methods="*"'
        )
    listed = list(methods)
    if not listed:
        raise ConfigurationError(
            f"route {path!r} has methods=[]: a route must answer at least one method "
            '(methods="*" answers every one)'
        )
    return listed


class WebSocketRouteOptions(TypedDict, total=False):
    """What every route takes: its name and what the API documents say of it.

    ``name`` names the route; ``tags``, ``summary``, ``description``,
    ``deprecated`` and ``operation_id`` go into the documents (the summary and
    description default to the handler's docstring); ``include_in_schema=False``
    leaves the route out of them; ``raises`` documents the error statuses the
    handler raises, ``{404: "no such room"}``.
    """

    name: str | None
    tags: Sequence[str]
    summary: str | None
    description: str | None
    deprecated: bool
    include_in_schema: bool
    raises: Mapping[int, str]
    operation_id: str | None


class SSERouteOptions(WebSocketRouteOptions, total=False):
    """The options of an event stream: those of every route, and ``responses``
    (documented responses by status, added to the operation)."""

    responses: Mapping[int, Any]


class RouteOptions(SSERouteOptions, total=False):
    """The options of an HTTP route: those of an event stream, ``status_code`` (the
    success status, by default 200, or 204 for ``-> None``) and ``max_body_size``
    (bytes; the app's ``max_body_size`` by default)."""

    status_code: int | None
    max_body_size: int | None


_HTTP_OPTIONS = RouteOptions.__optional_keys__
_SSE_OPTIONS = SSERouteOptions.__optional_keys__
_WEBSOCKET_OPTIONS = WebSocketRouteOptions.__optional_keys__


def _check_options(options: Mapping[str, Any], known: Collection[str], route: str) -> None:
    """Raise ``TypeError`` for an option a route does not take (a typo reaching the
    decorator through ``**options``)."""
    for option in options:
        if option not in known:
            raise TypeError(
                f"{route}: unknown route option {option!r}; this route takes "
                f"{', '.join(sorted(known))}"
            )


@dataclasses.dataclass(slots=True)
class RouteDef:
    """One handler bound to one path and method, as the user declared it."""

    path: str
    method: str
    endpoint: Callable[..., Any]
    view_class: type | None = None
    name: str | None = None
    tags: list[str] = dataclasses.field(default_factory=list)
    status_code: int | None = None
    max_body_size: int | None = None
    summary: str | None = None
    description: str | None = None
    deprecated: bool = False
    include_in_schema: bool = True
    responses: dict[int, Any] = dataclasses.field(default_factory=dict)
    # ``responses=`` of the app, routers and include calls above the route, merged
    # (the nearer wins); the route's own ``responses`` and ``raises`` win over them.
    shared_responses: dict[int, Any] = dataclasses.field(default_factory=dict)
    raises: dict[int, str] = dataclasses.field(default_factory=dict)
    operation_id: str | None = None
    framework: bool = False  # the app's own routes (the API document, the docs page)
    websocket_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    sse_options: dict[str, Any] | None = None  # set for @app.sse routes
    # The hooks of the app, routers and include calls above the route, outermost first
    # (the route's own, declared with @before/@after on its handler, are read from it).
    hooks: list[Hook] = dataclasses.field(default_factory=list)


class Router:
    """A group of routes with a shared path prefix, tags, documented responses and hooks.

    ``responses`` (same shape as the route option) is documented on each of its
    routes that takes ``responses`` (HTTP and SSE): a route's own entry for a
    status wins over its router's, which wins over the app's. ``before`` and
    ``after`` hooks (functions, or hooks made by ``before()``/``after()``) run
    around each of its HTTP routes, outside the routes' own hooks. ::

        router = Router(prefix="/todos", tags=["todos"], responses={404: "No such todo"})

        @router.get("/{id}")
        async def get_todo(id: int) -> Todo: ...

        app.include_router(router)
    """

    def __init__(
        self,
        prefix: str = "",
        *,
        tags: Sequence[str] | None = None,
        responses: Mapping[int, Any] | None = None,
        before: Sequence[Callable[..., Any] | Hook] = (),
        after: Sequence[Callable[..., Any] | Hook] = (),
    ) -> None:
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ConfigurationError(
                f"router prefix {prefix!r} must start with '/' and not end with '/'"
            )
        self.prefix = prefix
        self.tags = list(tags or [])
        self.responses: dict[int, Any] = dict(responses or {})
        self._routes: list[RouteDef] = []
        self._mounts: list[Mount] = []
        self._includes: list[tuple[Router, str, list[str], dict[int, Any], list[Hook]]] = []
        self._parents: list[Router] = []
        self.hooks: list[Hook] = [*as_hooks(before, "before"), *as_hooks(after, "after")]

    # -- declaring -----------------------------------------------------------

    def add_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        methods: Methods = ("GET",),
        framework: bool = False,
        **options: Unpack[RouteOptions],
    ) -> None:
        """Register ``endpoint`` (a function, or a class with a method per verb).

        ``methods="*"`` registers a function for every method (``HEAD`` is then
        answered by its ``GET``, as on every route); so does a view class's
        ``handle`` method. ``framework=True`` marks the framework's own routes
        (the API documents, the docs pages): left out of ``App.plans()`` and of
        autouse providers.
        """
        methods = route_methods(methods, path)
        _check_options(options, _HTTP_OPTIONS, f"{', '.join(methods)} {path}")
        if isinstance(endpoint, type):
            verbs = [m for m in _VIEW_METHODS if callable(getattr(endpoint, m, None))]
            handle = getattr(endpoint, "handle", None)
            if callable(handle):  # one method for every verb, as methods="*"
                if verbs:
                    raise ConfigurationError(
                        f"view class {endpoint.__qualname__} at {path!r} defines handle "
                        f"and {', '.join(verbs)}: handle answers every method; keep one"
                    )
                for method in route_methods("*", path):
                    self._add(
                        RouteDef(path, method, handle, endpoint), options, framework=framework
                    )
                return
            if not verbs:
                raise ConfigurationError(
                    f"view class {endpoint.__qualname__} at {path!r} defines none of "
                    f"{', '.join(_VIEW_METHODS)} (or handle, for every method): a route "
                    "must answer at least one method"
                )
            for verb in verbs:
                route = RouteDef(path, verb.upper(), getattr(endpoint, verb), endpoint)
                self._add(route, options, framework=framework)
            return
        for method in methods:
            self._add(RouteDef(path, method.upper(), endpoint), options, framework=framework)

    def _add(self, route: RouteDef, options: Mapping[str, Any], *, framework: bool = False) -> None:
        if route.method not in HTTP_METHODS and route.method != "WEBSOCKET":
            raise ConfigurationError(
                f"unknown HTTP method {route.method!r} for route {route.path!r}"
            )
        compile_path(route.path)  # fail at declaration on a malformed pattern
        options = dict(options)
        route.tags = list(options.pop("tags", None) or [])
        route.responses = dict(options.pop("responses", None) or {})
        route.raises = dict(options.pop("raises", None) or {})
        route.framework = framework
        for option, value in options.items():
            setattr(route, option, value)
        self._routes.append(route)
        self._changed()

    def add_hooks(
        self,
        *,
        before: Sequence[Callable[..., Any] | Hook] = (),
        after: Sequence[Callable[..., Any] | Hook] = (),
    ) -> None:
        """Add hooks to every HTTP route of this router (as ``Router(before=...,
        after=...)`` does), after the ones it has."""
        self.hooks.extend([*as_hooks(before, "before"), *as_hooks(after, "after")])
        self._changed()

    def _changed(self) -> None:
        """Called when the declared routes change: the routers (and the app) that
        include this one hear of it, so the app drops its compiled table."""
        for parent in self._parents:
            parent._changed()

    def route(
        self, path: str, *, methods: Methods = ("GET",), **options: Unpack[RouteOptions]
    ) -> Callable[[F], F]:
        """Register a function for ``methods`` (``"*"``: every method), or a
        class-based view (a method per verb)."""
        methods = route_methods(methods, path)
        _check_options(options, _HTTP_OPTIONS, f"{', '.join(methods)} {path}")
        compile_path(path)  # a malformed pattern fails here, before a handler is given

        def decorator(endpoint: F) -> F:
            self.add_route(path, endpoint, methods=methods, **options)
            return endpoint

        return decorator

    def get(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[F], F]:
        """Register a GET handler (HEAD is answered by it too)."""
        return self.route(path, methods=("GET",), **options)

    def post(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[F], F]:
        """Register a POST handler."""
        return self.route(path, methods=("POST",), **options)

    def put(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[F], F]:
        """Register a PUT handler."""
        return self.route(path, methods=("PUT",), **options)

    def patch(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[F], F]:
        """Register a PATCH handler."""
        return self.route(path, methods=("PATCH",), **options)

    def delete(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[F], F]:
        """Register a DELETE handler."""
        return self.route(path, methods=("DELETE",), **options)

    def head(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[F], F]:
        """Register a HEAD handler (without one, HEAD is answered by the GET handler)."""
        return self.route(path, methods=("HEAD",), **options)

    def options(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[F], F]:
        """Register an OPTIONS handler."""
        return self.route(path, methods=("OPTIONS",), **options)

    def websocket(
        self,
        path: str,
        *,
        auto_accept: bool = True,
        max_message_size: int = 64 * 1024,
        invalid_message: Literal["close", "reply"] = "close",
        caught_close_codes: Literal["all"] | Collection[int] = "all",
        **options: Unpack[WebSocketRouteOptions],
    ) -> Callable[[F], F]:
        """Register a WebSocket handler, which takes ``ws: WebSocket[In, Out]``.

        ``auto_accept=False`` leaves the handshake to the handler
        (``await ws.accept()``, or ``await ws.reject(403)``). ``max_message_size``
        (bytes) closes the connection with 1009 past it.
        ``invalid_message="reply"`` answers a message that does not validate
        with an error message instead of closing with 1007.
        ``caught_close_codes`` are the client's close codes that end ``async for
        message in ws`` (and ``async with ws``) quietly: ``"all"`` (the default)
        or a tuple such as ``(1000, 1001)``; any other close raises
        ``WebSocketDisconnect`` in the handler.
        """
        _check_options(options, _WEBSOCKET_OPTIONS, f"WEBSOCKET {path}")
        websocket_options = {
            "auto_accept": auto_accept,
            "max_message_size": max_message_size,
            "invalid_message": invalid_message,
            "caught_close_codes": caught_close_codes,
        }

        def decorator(endpoint: F) -> F:
            route = RouteDef(path, "WEBSOCKET", endpoint, websocket_options=dict(websocket_options))
            self._add(route, options)
            return endpoint

        return decorator

    def sse(
        self,
        path: str,
        *,
        keepalive: float | None = 15.0,
        event_names: Mapping[Any, str] | None = None,
        headers: Mapping[str, str] | None = None,
        **options: Unpack[SSERouteOptions],
    ) -> Callable[[F], F]:
        """Register a server-sent events handler: an async generator declared
        ``-> AsyncIterator[Tick | Done]``, served on GET.

        ``keepalive`` (seconds, or None for never) sends a comment when no event
        went out for that long, so proxies keep the connection open.
        ``event_names`` maps event types to the ``event:`` names sent for them
        (by default the class's ``__sse_event__``, else its name; ``message``
        for ``str``). ``headers`` are added to the stream's response (and documented),
        ``{"cache-control": "no-store"}``: a header of the framework's own
        (``cache-control``, ``x-accel-buffering``) is replaced, ``content-type``
        cannot be. The other options are those of every route, and
        ``responses``.
        """
        _check_options(options, _SSE_OPTIONS, f"SSE {path}")
        sse_options = {
            "keepalive": keepalive,
            "event_names": dict(event_names or {}),
            "headers": dict(headers or {}),
        }

        def decorator(endpoint: F) -> F:
            self._add(RouteDef(path, "GET", endpoint, sse_options=dict(sse_options)), options)
            return endpoint

        return decorator

    def include_router(
        self,
        router: Router,
        *,
        prefix: str = "",
        tags: Sequence[str] | None = None,
        responses: Mapping[int, Any] | None = None,
        before: Sequence[Callable[..., Any] | Hook] = (),
        after: Sequence[Callable[..., Any] | Hook] = (),
    ) -> None:
        """Serve ``router``'s routes here, under ``prefix`` + the router's own prefix.

        ``tags`` and ``responses`` are added to its routes (the router's own
        ``responses`` win over these, which win over this router's). ``before``
        and ``after`` hooks run around its HTTP routes, inside this router's
        hooks and outside the included router's own."""
        if router is self:
            raise ConfigurationError("a router cannot include itself")
        hooks = [*as_hooks(before, "before"), *as_hooks(after, "after")]
        self._includes.append((router, prefix, list(tags or []), dict(responses or {}), hooks))
        router._parents.append(self)
        self._changed()

    def mount(self, path: str, app: ASGIApp | WSGIApp, *, name: str | None = None) -> None:
        """Serve any ASGI app under ``path`` (its ``root_path`` is extended by ``path``).

        A WSGI app (a Flask or Django app, say: a plain callable taking
        ``(environ, start_response)``) is served through ``a2wsgi``, installed
        by ``pip install 'bocadillo[wsgi]'``; its ``SCRIPT_NAME`` is ``path``.
        """
        if not path.startswith("/") or path.endswith("/") or "{" in path:
            raise ConfigurationError(
                f"mount path {path!r} must start with '/', not end with '/', and have no "
                "placeholders"
            )
        self._mounts.append(Mount(path, as_asgi(app), name))
        self._changed()

    def static(
        self,
        path: str,
        directory: str | os.PathLike[str],
        *,
        name: str | None = None,
        html: bool = False,
    ) -> None:
        """Serve the files under ``directory`` at ``path`` (``/static/app.css`` is
        ``directory/app.css``), with ``ETag`` and ``Last-Modified`` headers and
        ``304 Not Modified`` answers to conditional requests.

        A missing file is a 404 problem response. ``html=True`` serves
        ``index.html`` for a directory and ``404.html`` (if there is one) for a
        missing file, so a static site can be mounted at ``path``. The directory
        must exist when the route is declared.
        """
        folder = Path(directory)
        if not folder.is_dir():
            raise ConfigurationError(
                f"static files at {path!r}: directory {str(folder)!r} does not exist "
                f"(relative paths are read from the working directory, {os.getcwd()!r}; "
                "build it from __file__ to be independent of it)"
            )
        self.mount(path, ProblemStaticFiles(directory=folder, html=html), name=name)

    # -- reading back --------------------------------------------------------

    def iter_routes(
        self,
        prefix: str = "",
        tags: Sequence[str] = (),
        responses: Mapping[int, Any] | None = None,
        hooks: Sequence[Hook] = (),
    ) -> Iterator[RouteDef]:
        """Every route of this router and the ones it includes, with prefixes, tags,
        shared responses and hooks applied (the framework's own routes take no hooks)."""
        prefix = prefix + self.prefix
        tags = [*tags, *self.tags]
        shared = {**(responses or {}), **self.responses}
        hooks = [*hooks, *self.hooks]
        for route in self._routes:
            path = prefix + route.path if route.path != "/" or not prefix else prefix
            yield dataclasses.replace(
                route,
                path=path,
                tags=list(dict.fromkeys([*tags, *route.tags])),
                shared_responses={} if route.method == "WEBSOCKET" else dict(shared),
                hooks=[] if route.framework else list(hooks),
            )
        for (
            router,
            include_prefix,
            include_tags,
            include_responses,
            include_hooks,
        ) in self._includes:
            yield from router.iter_routes(
                prefix + include_prefix,
                [*tags, *include_tags],
                {**shared, **include_responses},
                [*hooks, *include_hooks],
            )

    def iter_mounts(self, prefix: str = "") -> Iterator[Mount]:
        prefix = prefix + self.prefix
        for mount in self._mounts:
            yield dataclasses.replace(mount, path=prefix + mount.path)
        for router, include_prefix, *_ in self._includes:
            yield from router.iter_mounts(prefix + include_prefix)
