"""The ``App``: the composition root. It holds the settings, the routes, the
providers and channels, compiles the routes (``check``) and runs start-up and
shutdown; requests go through ``http.dispatch.Dispatcher``."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import re
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar, overload

from starlette.types import ASGIApp

from bocadillo.channels.channel import Backend, Channel, make_backend
from bocadillo.compile.http import compile_endpoint
from bocadillo.compile.parameters import check_placeholders
from bocadillo.compile.providers import ProviderGraph
from bocadillo.compile.sse import compile_sse
from bocadillo.compile.websockets import compile_websocket
from bocadillo.docs.documents import ApiDocuments
from bocadillo.docs.model import ApiModel
from bocadillo.docs.routes import add_docs_routes
from bocadillo.errors import PROBLEM_DETAILS, ConfigurationError, ErrorFormat
from bocadillo.hooks import Hook as RouteHook
from bocadillo.http.dispatch import Dispatcher, serve
from bocadillo.http.errors import ExceptionHandler, ExceptionHandlers
from bocadillo.http.middleware import (
    CORS,
    GZip,
    HostCheck,
    MiddlewareEntry,
    MiddlewareHook,
    MiddlewareStack,
    Sessions,
    hook_entry,
    hsts_max_age,
    settings,
)
from bocadillo.http.origins import OriginCheck
from bocadillo.http.static import static_folder
from bocadillo.overrides import ProviderOverride
from bocadillo.plugins import PluginEntry, apply_plugins
from bocadillo.providers import (
    GLOBAL_PROVIDERS,
    Provider,
    ProviderRegistry,
    ProviderScope,
    load_providerconf,
    register_provider,
)
from bocadillo.routing.router import RouteDef, Router
from bocadillo.routing.table import PathEntry, RouteTable, compile_path
from bocadillo.runtime.endpoint import EndpointPlan
from bocadillo.runtime.providers import AppNode, AppProviders
from bocadillo.runtime.websockets import WebSocketPlan

__all__ = ["App"]

logger = logging.getLogger("bocadillo")

DEFAULT_MAX_BODY_SIZE = 1024 * 1024

Hook = Callable[[], Any]
# The OpenAPI versions Bocadillo writes (App checks the value at run time too).
OpenAPIVersion = Literal["3.1.0", "3.1.1", "3.1.2", "3.2.0"]
Lifespan = Callable[["App"], contextlib.AbstractAsyncContextManager[Any]]
E = TypeVar("E", bound=ExceptionHandler)
H = TypeVar("H", bound=Hook)
F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound=MiddlewareHook)
T = TypeVar("T")


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

    ``static=True`` serves the ``static`` folder beside the app's module at
    ``/static`` (``static="assets"`` names another folder, which must exist).
    ``plugins`` are called with the app at the end of ``__init__``, in order;
    ``{plugin: condition}`` calls a plugin only when its condition is True.
    """

    def __init__(
        self,
        *,
        title: str = "Bocadillo",
        version: str = "0.1.0",
        description: str | None = None,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        before: Sequence[Callable[..., Any] | RouteHook] = (),
        after: Sequence[Callable[..., Any] | RouteHook] = (),
        on_startup: Sequence[Hook] = (),
        on_shutdown: Sequence[Hook] = (),
        lifespan: Lifespan | None = None,
        exception_handlers: Mapping[type[BaseException], ExceptionHandler] | None = None,
        error_format: ErrorFormat = PROBLEM_DETAILS,
        servers: Sequence[Mapping[str, Any]] | None = None,
        openapi_url: str | None = "/openapi.json",
        openapi_version: OpenAPIVersion = "3.1.0",
        docs_url: str | None = "/docs",
        asyncapi_url: str | None = "/asyncapi.json",
        cors: CORS | Mapping[str, Any] | None = None,
        gzip: bool | GZip = False,
        allowed_hosts: Sequence[str] | None = None,
        https_redirect: bool = False,
        hsts: bool | int = False,
        sessions: Sessions | Mapping[str, Any] | None = None,
        broadcast: str | Backend | None = None,
        responses: Mapping[int, Any] | None = None,
        websocket_origins: Sequence[str] | None = None,
        static: bool | str | os.PathLike[str] = False,
        plugins: Sequence[PluginEntry[App]] = (),
    ) -> None:
        super().__init__(responses=responses, before=before, after=after)
        if not isinstance(error_format, ErrorFormat):
            raise ConfigurationError(
                f"error_format={error_format!r} is not an ErrorFormat: pass an instance of a "
                "bocadillo.ErrorFormat subclass (ProblemDetails() is the default)"
            )
        self._error_format = error_format
        if max_body_size <= 0:
            raise ConfigurationError("max_body_size must be a positive number of bytes")
        # Security settings, checked now: a dangerous one never serves a request.
        self.cors = None if cors is None else settings(CORS, cors, "cors")
        self.gzip = GZip() if gzip is True else (settings(GZip, gzip, "gzip") if gzip else None)
        self.allowed_hosts = None if allowed_hosts is None else list(allowed_hosts)
        host_check = HostCheck(allowed_hosts)
        self.https_redirect = bool(https_redirect)
        self.hsts = hsts_max_age(hsts)
        self.sessions = None if sessions is None else settings(Sessions, sessions, "sessions")
        origin_check = OriginCheck(websocket_origins, sessions=self.sessions is not None)
        if self.cors is not None:  # the pages the app lets call it with credentials
            origin_check.add(o for o in self.cors.allow_origins if o != "*")
        self._middleware = MiddlewareStack(
            cors=self.cors,
            gzip=self.gzip,
            sessions=self.sessions,
            hsts=self.hsts,
            https_redirect=self.https_redirect,
            error_format=error_format,
        )
        self.title = title
        self.version = version
        self.description = description
        self.servers = [dict(server) for server in servers or ()]
        if not re.fullmatch(r"3\.[12]\.(0|[1-9][0-9]*)", openapi_version):
            raise ConfigurationError(
                f"openapi_version {openapi_version!r}: Bocadillo writes OpenAPI 3.1.x or 3.2.x"
            )
        self.openapi_url = openapi_url
        self.openapi_version: str = openapi_version
        self.docs_url = docs_url
        self.asyncapi_url = asyncapi_url
        self.max_body_size = max_body_size
        self._on_startup = list(on_startup)
        self._on_shutdown = list(on_shutdown)
        self._lifespan = lifespan
        self._errors = ExceptionHandlers(exception_handlers, error_format)
        # Where requests go (see __call__); it holds the route tables check() compiles.
        self.dispatcher = Dispatcher(
            compile=self.check,
            start=self._start_app_providers,
            lifespan=self.lifespan_context,
            errors=self._errors,
            host_check=host_check,
            origin_check=origin_check,
            middleware=self._middleware,
        )
        self._providers = ProviderRegistry(parent=GLOBAL_PROVIDERS)
        self._overrides: dict[str, Provider] = {}
        self._app_providers = AppProviders()
        self._app_nodes: list[AppNode] = []
        self._app_nodes_lock = asyncio.Lock()
        # The module that made the app: its providerconf.py is loaded at start-up.
        self._module: str | None = sys._getframe(1).f_globals.get("__name__")
        # Where channel messages travel: this process, or Redis (started with the app).
        self.broadcast_backend: Backend = make_backend(broadcast)
        self._channels: dict[str, Channel[Any]] = {}
        # The documents and docs pages, built from api_model() on first use.
        self._documents = ApiDocuments(self.api_model)
        self.channels_url = add_docs_routes(
            self,
            self._documents,
            openapi_url=openapi_url,
            openapi_version=openapi_version,
            asyncapi_url=asyncapi_url,
            docs_url=docs_url,
            openapi=self.openapi,
            asyncapi=self.asyncapi,
        )
        # static=True: the static/ folder beside the app's module, served at /static.
        if (folder := static_folder(static, self._module)) is not None:
            self.static("/static", folder)
        apply_plugins(self, plugins)  # last: a plugin receives the app as configured

    @property
    def error_format(self) -> ErrorFormat:
        """How errors are answered and documented (``App(error_format=...)``)."""
        return self._error_format

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
        self._middleware.add(MiddlewareEntry(middleware, args, options))

    def middleware(self, func: M) -> M:
        """Run ``func`` around every HTTP request, in the stack with ``add_middleware``'s::

            @app.middleware
            async def timing(request: Request, call_next) -> Response:
                response = await call_next(request)
                response.headers["Server-Timing"] = "app"
                return response

        ``call_next(request)`` returns the app's response (an error already
        turned into its problem response). Return it, changed or not, or a
        response of your own.
        """
        self._middleware.add(hook_entry(func))
        return func

    def _changed(self) -> None:
        super()._changed()
        self.dispatcher.table = None
        self._documents.clear()

    # -- the API documents and docs pages ---------------------------------------

    def api_model(self) -> ApiModel:
        """The API as the documents describe it: settings and compiled routes."""
        return ApiModel(
            title=self.title,
            version=self.version,
            description=self.description,
            servers=self.servers,
            openapi_version=self.openapi_version,
            http=self.plans(),
            websockets=self.websocket_plans(),
            error_format=self.error_format,
        )

    def openapi(self) -> dict[str, Any]:
        """The app's OpenAPI document, of ``openapi_version`` (built from the compiled
        plans, then cached)."""
        return self._documents.openapi()

    def asyncapi(self) -> dict[str, Any]:
        """The app's AsyncAPI 3.0 document: a channel per WebSocket route and per SSE
        route (built from the compiled plans, then cached)."""
        return self._documents.asyncapi()

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
            self._errors.add(exc_type, func)
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
        lazy: bool = False,
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
        lazy: bool = False,
    ) -> Any:
        """Register a provider for this app only (it wins over a global one of the same name).

        Takes the same arguments as ``bocadillo.provider``.
        """
        self._changed()
        return register_provider(
            self._providers, func, scope=scope, name=name, autouse=autouse, raises=raises, lazy=lazy
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
        return ProviderOverride(lambda: self._restore_override(name, previous))

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
        dispatcher = self.dispatcher
        dispatcher.stack()
        if dispatcher.table is None:
            dispatcher.table = self._build_table()
        return dispatcher.table

    def _build_table(self) -> RouteTable:
        load_providerconf(self._module)
        graph = ProviderGraph(
            self._lookup,
            lambda: self._providers.names() | set(self._overrides),
            [self._lookup(p.name) or p for p in self._providers.autouse()],
            declared=self._providers.get,
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
                    hooks=route.hooks,
                    **route.websocket_options,
                )
                plan.error_format = self.error_format
                check_placeholders(route.path, names, plan.params, route.endpoint)
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
        self.dispatcher.websocket_table = RouteTable(ws_entries, [])
        self._app_nodes = graph.app_nodes
        self.dispatcher.started = False
        return table

    def _compile(self, route: RouteDef, graph: ProviderGraph) -> EndpointPlan:
        _, names = compile_path(route.path)
        plan: EndpointPlan
        if route.sse_options is not None:
            plan = compile_sse(
                route.endpoint,
                path_params=names,
                graph=graph,
                app_values=self._app_providers.values,
                hooks=route.hooks,
                autouse=not route.framework,
                **route.sse_options,
            )
        else:
            plan = compile_endpoint(
                route.endpoint,
                path_params=names,
                status_code=route.status_code,
                max_body_size=route.max_body_size or self.max_body_size,
                view_class=route.view_class,
                graph=graph,
                app_values=self._app_providers.values,
                autouse=not route.framework,
                hooks=route.hooks,
            )
        check_placeholders(route.path, names, plan.params, route.endpoint)
        return plan

    async def _start_app_providers(self) -> None:
        """Make the app providers the compiled routes need (once; again after an override)."""
        async with self._app_nodes_lock:
            if not self.dispatcher.started:
                await self._app_providers.ensure(self._app_nodes)
                self.dispatcher.started = True

    def plans(self) -> list[tuple[RouteDef, EndpointPlan]]:
        """Every route the app declares with its compiled plan, in declaration order
        (the framework's own routes, such as the API document, left out)."""
        by_path = self.check().entries()
        return [
            (route, by_path[route.path].methods[route.method])
            for route in self.iter_routes()
            if not route.framework and route.method != "WEBSOCKET"
        ]

    def websocket_plans(self) -> list[tuple[RouteDef, WebSocketPlan]]:
        """Every WebSocket route with its compiled plan, in declaration order."""
        self.check()
        by_path = self.dispatcher.websocket_table.entries()
        return [
            (route, by_path[route.path].methods["WEBSOCKET"])
            for route in self.iter_routes()
            if route.method == "WEBSOCKET"
        ]

    async def _stop_app_providers(self) -> None:
        self.dispatcher.started = False
        await self._app_providers.close()

    # -- ASGI ----------------------------------------------------------------

    # The ASGI entry: the Host check, the middleware stack, the route (http.dispatch).
    __call__ = serve

    # -- lifespan ------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lifespan_context(self) -> AsyncIterator[dict[str, Any]]:
        """Compile the handlers, make the app providers, run the start-up hooks and
        ``lifespan``, then start each mounted Bocadillo app the same way; undo it
        all on exit, in reverse."""
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
            # Mounted Bocadillo apps start as if served alone, in mount order
            # (and stop in reverse); their state joins ours (ours wins).
            seen = {id(self)}
            for mount in self.iter_mounts():
                child = mount.app
                if isinstance(child, App) and id(child) not in seen:
                    seen.add(id(child))
                    child_state = await stack.enter_async_context(child.lifespan_context())
                    for key, value in child_state.items():
                        state.setdefault(key, value)
            yield state


async def _call_hook(hook: Hook) -> None:
    result = hook()
    if inspect.isawaitable(result):
        await result
