"""The ``App``: routes, start-up and shutdown, errors, and the ASGI entry point."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar, overload

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bocadillo.channels.channel import Backend, Channel, make_backend
from bocadillo.compile.providers import ProviderGraph
from bocadillo.compile.signature import compile_endpoint
from bocadillo.errors import (
    ConfigurationError,
    HTTPError,
    http_error_response,
    problem_response,
)
from bocadillo.http.middleware import (
    CORS,
    HSTS,
    AnswerErrors,
    GZip,
    HostCheck,
    HTTPSRedirect,
    MiddlewareEntry,
    MiddlewareHook,
    OwnMessages,
    Sessions,
    hook_entry,
    hsts_max_age,
    refuse,
    settings,
)
from bocadillo.providers import (
    GLOBAL_PROVIDERS,
    Provider,
    ProviderRegistry,
    ProviderScope,
    load_providerconf,
    register_provider,
)
from bocadillo.routing.router import (
    PathEntry,
    ProblemStaticFiles,
    RouteDef,
    Router,
    RouteTable,
    compile_path,
)
from bocadillo.runtime.endpoint import EndpointPlan, ResponseAlreadyStarted, ResponseValidationError
from bocadillo.runtime.providers import AppNode, AppProviders
from bocadillo.runtime.requests import Request
from bocadillo.runtime.sse import compile_sse
from bocadillo.runtime.websockets import WebSocketPlan, compile_websocket

__all__ = ["App"]

logger = logging.getLogger("bocadillo")

DEFAULT_MAX_BODY_SIZE = 1024 * 1024

ExceptionHandler = Callable[[Request, Any], "Response | Awaitable[Response]"]
Hook = Callable[[], Any]
Lifespan = Callable[["App"], contextlib.AbstractAsyncContextManager[Any]]
E = TypeVar("E", bound=ExceptionHandler)
H = TypeVar("H", bound=Hook)
F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound=MiddlewareHook)
T = TypeVar("T")


def route_path(scope: Scope) -> str:
    """The path to route on: ``scope["path"]`` without the app's ``root_path``."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        rest = path[len(root_path) :]
        if not rest:
            return "/"
        if rest[0] == "/":
            return rest
    return path


class App(Router):
    """A Bocadillo application: a router that is also the ASGI app to serve.

    ::

        app = App(title="Todos", version="1.0.0")

        @app.get("/todos/{id}")
        async def get_todo(id: int) -> Todo: ...

    Handlers are compiled into plans when the app starts (the ASGI lifespan
    start-up, or the first request if the server sends no lifespan events); a
    handler the framework cannot serve raises ``ConfigurationError`` then.
    ``check()`` compiles on demand.
    """

    def __init__(
        self,
        *,
        title: str = "Bocadillo",
        version: str = "0.1.0",
        description: str | None = None,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        on_startup: Sequence[Hook] = (),
        on_shutdown: Sequence[Hook] = (),
        lifespan: Lifespan | None = None,
        exception_handlers: Mapping[type[BaseException], ExceptionHandler] | None = None,
        servers: Sequence[Mapping[str, Any]] | None = None,
        openapi_url: str | None = "/openapi.json",
        openapi_version: str = "3.1.0",
        docs_url: str | None = "/docs",
        asyncapi_url: str | None = "/asyncapi.json",
        cors: CORS | Mapping[str, Any] | None = None,
        gzip: bool | GZip = False,
        allowed_hosts: Sequence[str] | None = None,
        https_redirect: bool = False,
        hsts: bool | int = False,
        sessions: Sessions | Mapping[str, Any] | None = None,
        broadcast: str | Backend | None = None,
    ) -> None:
        super().__init__()
        if max_body_size <= 0:
            raise ConfigurationError("max_body_size must be a positive number of bytes")
        # Security settings, checked now: a dangerous one never serves a request.
        self.cors = None if cors is None else settings(CORS, cors, "cors")
        self.gzip = GZip() if gzip is True else (settings(GZip, gzip, "gzip") if gzip else None)
        self.allowed_hosts = None if allowed_hosts is None else list(allowed_hosts)
        self._host_check = HostCheck(allowed_hosts)
        self.https_redirect = bool(https_redirect)
        self.hsts = hsts_max_age(hsts)
        self.sessions = None if sessions is None else settings(Sessions, sessions, "sessions")
        self._middleware: list[MiddlewareEntry] = []
        # The middleware stack around the app's own dispatch, built on first use and
        # again after add_middleware; None when there is no middleware at all.
        self._stack: ASGIApp | None = None
        self._stack_stale = True
        # True once the stack is built and empty: an HTTP request goes straight to
        # _http (see __call__). Cleared with _stack_stale.
        self._direct = False
        self.title = title
        self.version = version
        self.description = description
        self.servers = [dict(server) for server in servers or ()]
        if not re.fullmatch(r"3\.[12]\.(0|[1-9][0-9]*)", openapi_version):
            raise ConfigurationError(
                f"openapi_version {openapi_version!r}: Bocadillo writes OpenAPI 3.1.x or 3.2.x"
            )
        self.openapi_url = openapi_url
        self.openapi_version = openapi_version
        self.docs_url = docs_url
        self.asyncapi_url = asyncapi_url
        self.channels_url: str | None = None  # the channels page, set with the docs routes
        self._openapi: dict[str, Any] | None = None
        self._openapi_31: tuple[dict[str, Any], dict[str, Any]] | None = None
        self._asyncapi: dict[str, Any] | None = None
        self.max_body_size = max_body_size
        self._on_startup = list(on_startup)
        self._on_shutdown = list(on_shutdown)
        self._lifespan = lifespan
        self._exception_handlers: dict[type[BaseException], ExceptionHandler] = dict(
            exception_handlers or {}
        )
        self._handler_cache: dict[type[BaseException], ExceptionHandler | None] = {}
        self._table: RouteTable | None = None
        self._ws_table = RouteTable({}, [])
        self._providers = ProviderRegistry(parent=GLOBAL_PROVIDERS)
        self._overrides: dict[str, Provider] = {}
        self._app_providers = AppProviders()
        self._app_nodes: list[AppNode] = []
        self._app_nodes_ready = False
        self._app_nodes_lock = asyncio.Lock()
        # The module that made the app: its providerconf.py is loaded at start-up.
        self._module: str | None = sys._getframe(1).f_globals.get("__name__")
        # Where channel messages travel: this process, or Redis (started with the app).
        self.broadcast_backend: Backend = make_backend(broadcast)
        self._channels: dict[str, Channel[Any]] = {}
        self._add_docs_routes()

    # -- configuration -------------------------------------------------------

    def add_middleware(
        self, middleware: Callable[..., ASGIApp], *args: Any, **options: Any
    ) -> None:
        """Wrap the app in an ASGI middleware: ``middleware(app, *args, **options)``.

        Any Starlette or pure-ASGI middleware class works::

            app.add_middleware(SomeMiddleware, option=1)

        The first middleware added is the outermost: a request passes through
        them in the order they were added, the response back in reverse. The
        settings on ``App(...)`` (the ``Host`` check, ``https_redirect``,
        ``hsts``, ``cors``, ``gzip``, ``sessions``) are outside all of them.
        """
        if not callable(middleware):
            raise ConfigurationError(f"add_middleware: {middleware!r} is not a middleware class")
        self._middleware.append(MiddlewareEntry(middleware, args, options))
        self._stack_stale = True
        self._direct = False

    def middleware(self, func: M) -> M:
        """Run ``func`` around every HTTP request, in the stack with ``add_middleware``'s.

        ::

            @app.middleware
            async def timing(request: Request, call_next) -> Response:
                response = await call_next(request)
                response.headers["Server-Timing"] = "app"
                return response

        ``call_next(request)`` returns the app's response (an error already
        turned into its problem response). Return it, changed or not, or a
        response of your own.
        """
        self._middleware.append(hook_entry(func))
        self._stack_stale = True
        self._direct = False
        return func

    def _build_stack(self) -> ASGIApp | None:
        """Build the middleware stack around ``_dispatch``, outermost last wrapped."""
        app: ASGIApp = OwnMessages(self._dispatch)
        for entry in reversed(self._middleware):
            # What a middleware raises is answered where it happened, so the
            # middleware outside it see a response.
            app = AnswerErrors(entry.wrap(app), self._answer_error)
        if self.sessions is not None:
            app = self.sessions.wrap(app)
        if self.gzip is not None:
            app = self.gzip.wrap(app)
        if self.cors is not None:
            app = self.cors.wrap(app)
        if self.hsts is not None:
            app = HSTS(app, self.hsts)
        if self.https_redirect:
            app = HTTPSRedirect(app)
        self._stack = (
            None if isinstance(app, OwnMessages) else AnswerErrors(app, self._answer_error)
        )
        self._stack_stale = False
        self._direct = self._stack is None
        return self._stack

    def _changed(self) -> None:
        super()._changed()
        self._table = None
        self._openapi = None
        self._asyncapi = None

    # -- the API document and docs pages ---------------------------------------

    def openapi(self) -> dict[str, Any]:
        """The app's OpenAPI document, of ``openapi_version`` (built from the compiled
        plans, then cached)."""
        if self._openapi is None:
            from bocadillo.docs.openapi import build_openapi

            self._openapi = build_openapi(self, self.openapi_version)
        return self._openapi

    def _openapi_for_docs(self) -> dict[str, Any]:
        """The document the Swagger UI page reads: the app's, or its 3.1 form
        (Swagger UI reads 3.0 and 3.1 only)."""
        document = self.openapi()
        if document["openapi"].startswith("3.1."):
            return document
        if self._openapi_31 is None or self._openapi_31[0] is not document:
            from bocadillo.docs.openapi import build_openapi

            self._openapi_31 = (document, build_openapi(self, "3.1.0"))
        return self._openapi_31[1]

    def asyncapi(self) -> dict[str, Any]:
        """The app's AsyncAPI 3.0 document: a channel per WebSocket route and per SSE
        route (built from the compiled plans, then cached)."""
        if self._asyncapi is None:
            from bocadillo.docs.asyncapi import build_asyncapi

            self._asyncapi = build_asyncapi(self)
        return self._asyncapi

    def _add_docs_routes(self) -> None:
        openapi_url = self.openapi_url
        asyncapi_url = self.asyncapi_url
        docs_url = self.docs_url
        cache: dict[str, tuple[dict[str, Any], bytes]] = {}

        def rendered(key: str, document: dict[str, Any]) -> bytes:
            cached = cache.get(key)
            if cached is None or cached[0] is not document:
                from bocadillo.docs.openapi import render_openapi

                data = render_openapi(document, as_yaml=key.endswith(".yaml"))
                cache[key] = (document, data)
                return data
            return cached[1]

        async def openapi_json() -> Response:
            return Response(rendered("openapi.json", self.openapi()), media_type="application/json")

        async def openapi_yaml() -> Response:
            return Response(rendered("openapi.yaml", self.openapi()), media_type="application/yaml")

        async def asyncapi_json() -> Response:
            data = rendered("asyncapi.json", self.asyncapi())
            return Response(data, media_type="application/json")

        async def asyncapi_yaml() -> Response:
            data = rendered("asyncapi.yaml", self.asyncapi())
            return Response(data, media_type="application/yaml")

        own: dict[str, Any] = {"include_in_schema": False, "framework": True}
        for url, json_view, yaml_view in (
            (openapi_url, openapi_json, openapi_yaml),
            (asyncapi_url, asyncapi_json, asyncapi_yaml),
        ):
            if url is None:
                continue
            self.add_route(url, json_view, **own)
            yaml_url = url.removesuffix(".json") + ".yaml"
            if yaml_url != url:
                self.add_route(yaml_url, yaml_view, **own)

        if docs_url is None:
            return
        swagger_url = docs_url if openapi_url is not None else None
        channels_url = docs_url.rstrip("/") + "/channels" if asyncapi_url is not None else None
        self.channels_url = channels_url

        def has_channels() -> bool:
            return any(
                (route.method == "WEBSOCKET" or route.sse_options is not None)
                and route.include_in_schema
                for route in self.iter_routes()
            )

        if openapi_url is not None:
            from bocadillo.docs.pages import SWAGGER_UI_ASSETS, swagger_ui_page

            assets_path = docs_url.rstrip("/") + "/assets"
            page_document_url = openapi_url
            if not self.openapi_version.startswith("3.1."):
                # Swagger UI reads 3.0 and 3.1: the page gets the document in 3.1 form.
                page_document_url = docs_url.rstrip("/") + "/openapi-3.1.json"

                async def openapi_for_page() -> Response:
                    data = rendered("page.json", self._openapi_for_docs())
                    return Response(data, media_type="application/json")

                self.add_route(page_document_url, openapi_for_page, **own)

            async def docs_page(request: Request) -> HTMLResponse:
                root = request.scope.get("root_path", "")
                link = root + channels_url if channels_url and has_channels() else None
                return HTMLResponse(
                    swagger_ui_page(
                        title=self.title,
                        openapi_url=root + page_document_url,
                        assets_url=root + assets_path,
                        channels_url=link,
                    )
                )

            self.add_route(docs_url, docs_page, **own)
            self.mount(assets_path, ProblemStaticFiles(directory=SWAGGER_UI_ASSETS))

        if channels_url is not None and asyncapi_url is not None:
            page_cache: list[tuple[dict[str, Any], str, str]] = []  # (document, root, page)

            async def channels_page(request: Request) -> HTMLResponse:
                from bocadillo.docs.channels_page import render_channels_page

                root = request.scope.get("root_path", "")
                document = self.asyncapi()
                if not page_cache or page_cache[0][0] is not document or page_cache[0][1] != root:
                    page = render_channels_page(
                        document,
                        asyncapi_url=root + asyncapi_url,
                        docs_url=root + swagger_url if swagger_url is not None else None,
                    )
                    page_cache[:] = [(document, root, page)]
                return HTMLResponse(page_cache[0][2])

            self.add_route(channels_url, channels_page, **own)

    def on_startup(self, func: H) -> H:
        """Run ``func`` (sync or async) when the app starts, after handlers are compiled."""
        self._on_startup.append(func)
        return func

    def on_shutdown(self, func: H) -> H:
        """Run ``func`` (sync or async) when the app shuts down."""
        self._on_shutdown.append(func)
        return func

    def exception_handler(self, exc_type: type[BaseException]) -> Callable[[E], E]:
        """Answer exceptions of ``exc_type`` (and subclasses) with your own response.

        ::

            @app.exception_handler(OutOfStock)
            async def out_of_stock(request: Request, exc: OutOfStock) -> Response:
                return JSONResponse({"sku": exc.sku}, status_code=409)
        """

        def decorator(func: E) -> E:
            self._exception_handlers[exc_type] = func
            self._handler_cache.clear()
            return func

        return decorator

    # -- providers -------------------------------------------------------------

    @overload
    def provider(self, func: F, /) -> F: ...

    @overload
    def provider(
        self,
        /,
        *,
        scope: ProviderScope = "request",
        name: str | None = None,
        autouse: bool = False,
        raises: Mapping[int, str] | None = None,
    ) -> Callable[[F], F]: ...

    def provider(
        self,
        func: F | None = None,
        /,
        *,
        scope: ProviderScope = "request",
        name: str | None = None,
        autouse: bool = False,
        raises: Mapping[int, str] | None = None,
    ) -> Any:
        """Register a provider for this app only (it wins over a global one of the same name).

        Takes the same arguments as ``bocadillo.provider``.
        """
        self._changed()
        return register_provider(
            self._providers, func, scope=scope, name=name, autouse=autouse, raises=raises
        )

    @overload
    def channel(
        self,
        name: str,
        message_type: type[T],
        *,
        max_queue: int = ...,
        overflow: Literal["drop_oldest", "disconnect"] = ...,
    ) -> Channel[T]: ...

    @overload
    def channel(
        self,
        name: str,
        message_type: Any,
        *,
        max_queue: int = ...,
        overflow: Literal["drop_oldest", "disconnect"] = ...,
    ) -> Channel[Any]: ...

    def channel(
        self,
        name: str,
        message_type: Any,
        *,
        max_queue: int = 100,
        overflow: Literal["drop_oldest", "disconnect"] = "drop_oldest",
    ) -> Channel[Any]:
        """Declare a channel of ``message_type`` messages; also a provider named ``name``.

        ::

            feed = app.channel("feed", Post)

            @app.post("/posts")
            async def publish(post: Post, feed: Channel[Post]) -> Post:
                await feed.publish(post)
                return post

        Each subscription queues at most ``max_queue`` messages; past that the
        oldest is dropped (``overflow="drop_oldest"``) or the subscription ends
        with ``SlowSubscriber`` (``overflow="disconnect"``). See docs/channels.md.
        """
        if name in self._channels:
            raise ConfigurationError(f"the app already has a channel named {name!r}")
        channel: Channel[Any] = Channel(
            self, name, message_type, max_queue=max_queue, overflow=overflow
        )
        self._channels[name] = channel
        if name.isidentifier():

            def provide() -> Channel[Any]:
                return channel

            provide.__name__ = name
            self.provider(scope="app", name=name)(provide)
        return channel

    def override_provider(
        self, name: str, replacement: Any, *, scope: ProviderScope | None = None
    ) -> ProviderOverride:
        """Replace provider ``name`` for this app, in tests; undone on leaving the ``with``.

        ``replacement`` is a function (sync or async, plain or generator, with
        parameters like any provider's) or, if not callable, the value itself::

            with app.override_provider("db", fake_db):
                ...

        The replacement keeps the original's scope unless ``scope`` is given.
        """
        original = self._lookup(name)
        if original is None:
            known = ", ".join(sorted(self._providers.names())) or "none"
            raise ConfigurationError(
                f"there is no provider named {name!r} to override (providers: {known})"
            )
        previous = self._overrides.get(name)
        self._overrides[name] = Provider(
            replacement, name=name, scope=scope or original.scope, raises=original.raises
        )
        self._changed()
        return ProviderOverride(self, name, previous)

    def _restore_override(self, name: str, previous: Provider | None) -> None:
        if previous is None:
            self._overrides.pop(name, None)
        else:
            self._overrides[name] = previous
        self._changed()

    def _lookup(self, name: str) -> Provider | None:
        return self._overrides.get(name) or self._providers.get(name)

    # -- compiling ---------------------------------------------------------------

    def check(self) -> RouteTable:
        """Compile every handler now (and build the middleware stack); raise
        ``ConfigurationError`` on the first bad one."""
        if self._stack_stale:
            self._build_stack()
        if self._table is None:
            self._table = self._build_table()
        return self._table

    def _build_table(self) -> RouteTable:
        load_providerconf(self._module)
        graph = ProviderGraph(
            self._lookup,
            lambda: self._providers.names() | set(self._overrides),
            [self._lookup(p.name) or p for p in self._providers.autouse()],
        )
        graph.resolve_app_autouse()
        entries: dict[str, PathEntry] = {}
        ws_entries: dict[str, PathEntry] = {}
        for route in self.iter_routes():
            if route.method == "WEBSOCKET":
                if route.path in ws_entries:
                    raise ConfigurationError(f"WebSocket route {route.path} is declared twice")
                _, names = compile_path(route.path)
                plan = compile_websocket(
                    route.endpoint,
                    path_params=names,
                    graph=graph,
                    app_values=self._app_providers.values,
                    **route.websocket_options,
                )
                ws_entries[route.path] = PathEntry(route.path, {"WEBSOCKET": plan})
                continue
            entry = entries.setdefault(route.path, PathEntry(route.path, {}))
            if route.method in entry.methods:
                raise ConfigurationError(
                    f"{route.method} {route.path} is declared twice (second: "
                    f"{getattr(route.endpoint, '__qualname__', route.endpoint)})"
                )
            entry.methods[route.method] = self._compile(route, graph)
        table = RouteTable(entries, list(self.iter_mounts()))
        self._ws_table = RouteTable(ws_entries, [])
        self._app_nodes = graph.app_nodes
        self._app_nodes_ready = False
        return table

    def _compile(self, route: RouteDef, graph: ProviderGraph) -> EndpointPlan:
        _, names = compile_path(route.path)
        if route.sse_options is not None:
            return compile_sse(
                route.endpoint,
                path_params=names,
                graph=graph,
                app_values=self._app_providers.values,
                autouse=not route.framework,
                **route.sse_options,
            )
        return compile_endpoint(
            route.endpoint,
            path_params=names,
            status_code=route.status_code,
            max_body_size=route.max_body_size or self.max_body_size,
            view_class=route.view_class,
            graph=graph,
            app_values=self._app_providers.values,
            autouse=not route.framework,
        )

    async def _start_app_providers(self) -> None:
        """Make the app providers the compiled routes need (once; again after an override)."""
        async with self._app_nodes_lock:
            if not self._app_nodes_ready:
                await self._app_providers.ensure(self._app_nodes)
                self._app_nodes_ready = True

    def plans(self) -> list[tuple[RouteDef, EndpointPlan]]:
        """Every route the app declares with its compiled plan, in declaration order
        (the framework's own routes, such as the API document, left out)."""
        table = self.check()
        by_path = {entry.path: entry for entry in table.static.values()}
        by_path.update({entry.path: entry for _, entry in table.dynamic})
        return [
            (route, by_path[route.path].methods[route.method])
            for route in self.iter_routes()
            if not route.framework and route.method != "WEBSOCKET"
        ]

    def websocket_plans(self) -> list[tuple[RouteDef, WebSocketPlan]]:
        """Every WebSocket route with its compiled plan, in declaration order."""
        self.check()
        by_path = {entry.path: entry for entry in self._ws_table.static.values()}
        by_path.update({entry.path: entry for _, entry in self._ws_table.dynamic})
        return [
            (route, by_path[route.path].methods["WEBSOCKET"])
            for route in self.iter_routes()
            if route.method == "WEBSOCKET"
        ]

    async def _stop_app_providers(self) -> None:
        self._app_nodes_ready = False
        await self._app_providers.close()

    # -- ASGI ----------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        kind = scope["type"]
        if kind == "http" and self._direct:
            # The common case, no middleware stack: the Host check, then _http.
            error = self._host_check.error(scope)
            if error is not None:
                await self._answer_error(error, scope, receive, send)
                return
            # _http's most common case, inlined (one coroutine less): a static path
            # with a plan for the method, nothing to strip or to start first.
            table = self._table
            method = scope["method"]
            if (
                table is not None
                and self._app_nodes_ready
                and method != "HEAD"
                and not scope.get("root_path")
            ):
                entry = table.static.get(scope["path"])
                if entry is not None:
                    plan = entry.methods.get(method)
                    if plan is not None:
                        try:
                            await plan(scope, receive, send, None)
                        except Exception as exc:
                            await self._handle_exception(exc, scope, receive, send)
                        return
            await self._http(scope, receive, send)
            return
        if kind == "http" or kind == "websocket":
            error = self._host_check.error(scope)
            if error is not None:
                if kind == "http":
                    await self._answer_error(error, scope, receive, send)
                else:
                    await refuse(error, scope, receive, send)
                return
        stack = self._build_stack() if self._stack_stale else self._stack
        await (stack or self._dispatch)(scope, receive, send)

    async def _answer_error(
        self, exc: Exception, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Answer an exception raised outside a plan (a middleware's, a bad ``Host``)
        as a handler's would be; a HEAD request gets the headers only."""
        if scope["method"] == "HEAD":
            send = _headers_only(send)
        await self._handle_exception(exc, scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app inside the middleware stack: each kind of scope to its handling."""
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan_protocol(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        else:
            mount = self.check().match_mount(route_path(scope))
            if mount is not None:
                await self._call_mount(mount.app, mount.path, scope, receive, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        table = self.check()
        if not self._app_nodes_ready:
            await self._start_app_providers()
        path = route_path(scope)
        entry, path_params = self._ws_table.match(path)
        if entry is not None:
            await entry.methods["WEBSOCKET"](scope, receive, send, path_params)
            return
        mount = table.match_mount(path)
        if mount is not None:
            await self._call_mount(mount.app, mount.path, scope, receive, send)
            return
        # No such channel: refuse the handshake with a 404 where the server can.
        if "websocket.http.response" in scope.get("extensions", {}):
            response = http_error_response(
                HTTPError(404, detail=f"No WebSocket route matches {path}.")
            )
            await response(scope, receive, send)
        else:
            await send({"type": "websocket.close", "code": 1008, "reason": "No such route"})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method == "HEAD":
            send = _headers_only(send)
        table = self._table or self.check()
        path: str = scope["path"]
        if scope.get("root_path"):
            path = route_path(scope)
        # A static path is one dict lookup; patterns and mounts only on a miss.
        path_params = None
        entry = table.static.get(path)
        if entry is None:
            entry, path_params = table.match(path)
        try:
            if not self._app_nodes_ready:
                await self._start_app_providers()
            if entry is None:
                mount = table.match_mount(path)
                if mount is None:
                    # /todos/ for /todos (or the reverse): a 308 to the declared form.
                    redirect = table.trailing_slash_redirect(scope, path)
                    if redirect is not None:
                        await redirect(scope, receive, send)
                        return
                    raise HTTPError(404, detail=f"No route matches {path}.")
                await self._call_mount(mount.app, mount.path, scope, receive, send)
                return
            plan = entry.methods.get(method)
            if plan is None:
                raise HTTPError(
                    405,
                    detail=f"{method} is not allowed here; allowed: {entry.allow}.",
                    headers={"Allow": entry.allow},
                )
            await plan(scope, receive, send, path_params)
        except Exception as exc:
            await self._handle_exception(exc, scope, receive, send)

    @staticmethod
    async def _call_mount(
        app: ASGIApp, path: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        root_path = scope.get("root_path", "")
        child = {**scope, "root_path": root_path + path, "app_root_path": root_path}
        await app(child, receive, send)

    # -- errors --------------------------------------------------------------

    def _handler_for(self, exc_type: type[BaseException]) -> ExceptionHandler | None:
        try:
            return self._handler_cache[exc_type]
        except KeyError:
            handlers = self._exception_handlers
            handler = next((handlers[c] for c in exc_type.__mro__ if c in handlers), None)
            self._handler_cache[exc_type] = handler
            return handler

    async def _handle_exception(
        self, exc: Exception, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if isinstance(exc, ClientDisconnect):
            return  # nobody is listening for an answer
        if isinstance(exc, ResponseAlreadyStarted):
            cause = exc.__cause__ or exc
            logger.error(
                "Error after the response to %s %s had started",
                scope["method"],
                scope["path"],
                exc_info=cause,
            )
            raise cause
        if isinstance(exc, StarletteHTTPException) and exc.status_code >= 400:
            # Raised by a mounted Starlette app (a missing static file, say).
            exc = HTTPError(exc.status_code, detail=exc.detail, headers=exc.headers)
        handler = self._handler_for(type(exc))
        if handler is not None:
            try:
                response = handler(Request(scope, receive), exc)
                if inspect.isawaitable(response):
                    response = await response
                await response(scope, receive, send)
                return
            except Exception as handler_exc:
                exc = handler_exc
                if isinstance(exc, HTTPError):
                    await http_error_response(exc)(scope, receive, send)
                    return
        if isinstance(exc, HTTPError):
            await http_error_response(exc)(scope, receive, send)
            return
        await self._internal_error(exc, scope, receive, send)

    async def _internal_error(
        self, exc: BaseException, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if isinstance(exc, ResponseValidationError):
            logger.error("Invalid response for %s %s: %s", scope["method"], scope["path"], exc)
        else:
            logger.error(
                "Unhandled exception for %s %s", scope["method"], scope["path"], exc_info=exc
            )
        response = problem_response(
            500, detail="The server could not handle this request; the error was logged."
        )
        await response(scope, receive, send)

    # -- lifespan ------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lifespan_context(self) -> AsyncIterator[dict[str, Any]]:
        """Compile the handlers, make the app providers, run the start-up hooks and
        ``lifespan``; undo it all on exit, in reverse."""
        self.check()
        # A document that cannot be built fails the start, not a request.
        if self.openapi_url is not None:
            self.openapi()
        if self.asyncapi_url is not None:
            self.asyncapi()
        state: dict[str, Any] = {}
        async with contextlib.AsyncExitStack() as stack:
            await self.broadcast_backend.start()
            stack.push_async_callback(self.broadcast_backend.stop)
            stack.push_async_callback(self._stop_app_providers)
            await self._start_app_providers()
            for hook in self._on_startup:
                await _call_hook(hook)
            for hook in reversed(self._on_shutdown):
                stack.push_async_callback(_call_hook, hook)
            if self._lifespan is not None:
                value = await stack.enter_async_context(self._lifespan(self))
                if isinstance(value, Mapping):
                    state.update(value)
            yield state

    async def _lifespan_protocol(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False
        await receive()  # lifespan.startup
        try:
            async with self.lifespan_context() as state:
                if state and "state" in scope:
                    scope["state"].update(state)
                await send({"type": "lifespan.startup.complete"})
                started = True
                await receive()  # lifespan.shutdown
        except BaseException as exc:
            message = f"{type(exc).__name__}: {exc}"
            if started:
                await send({"type": "lifespan.shutdown.failed", "message": message})
            else:
                await send({"type": "lifespan.startup.failed", "message": message})
            raise
        await send({"type": "lifespan.shutdown.complete"})


def _headers_only(send: Send) -> Send:
    """A ``send`` that drops body bytes: the answer to HEAD is the GET's headers alone.

    Covers what plans do not build themselves: returned ``Response`` objects,
    errors, and mounted apps.
    """

    async def send_headers_only(message: Message) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            message = {**message, "body": b""}
        await send(message)

    return send_headers_only


class ProviderOverride:
    """An override made by ``App.override_provider``; leaving its ``with`` undoes it."""

    def __init__(self, app: App, name: str, previous: Provider | None) -> None:
        self._app = app
        self._name = name
        self._previous = previous

    def __enter__(self) -> ProviderOverride:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.undo()

    def undo(self) -> None:
        """Put back what was there before the override."""
        self._app._restore_override(self._name, self._previous)


async def _call_hook(hook: Hook) -> None:
    result = hook()
    if inspect.isawaitable(result):
        await result
