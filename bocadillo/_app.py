"""The ``App``: routes, start-up and shutdown, errors, and the ASGI entry point."""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._errors import (
    ConfigurationError,
    HTTPError,
    http_error_response,
    problem_response,
)
from ._plan import EndpointPlan, ResponseAlreadyStarted, ResponseValidationError
from ._requests import Request
from ._routing import PathEntry, RouteDef, Router, RouteTable
from ._signature import compile_endpoint

__all__ = ["App"]

logger = logging.getLogger("bocadillo")

DEFAULT_MAX_BODY_SIZE = 1024 * 1024

ExceptionHandler = Callable[[Request, Any], "Response | Awaitable[Response]"]
Hook = Callable[[], Any]
Lifespan = Callable[["App"], contextlib.AbstractAsyncContextManager[Any]]
E = TypeVar("E", bound=ExceptionHandler)
H = TypeVar("H", bound=Hook)


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
    ) -> None:
        super().__init__()
        if max_body_size <= 0:
            raise ConfigurationError("max_body_size must be a positive number of bytes")
        self.title = title
        self.version = version
        self.description = description
        self.max_body_size = max_body_size
        self._on_startup = list(on_startup)
        self._on_shutdown = list(on_shutdown)
        self._lifespan = lifespan
        self._exception_handlers: dict[type[BaseException], ExceptionHandler] = dict(
            exception_handlers or {}
        )
        self._handler_cache: dict[type[BaseException], ExceptionHandler | None] = {}
        self._table: RouteTable | None = None

    # -- configuration -------------------------------------------------------

    def _changed(self) -> None:
        self._table = None

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

    def check(self) -> RouteTable:
        """Compile every handler now; raise ``ConfigurationError`` on the first bad one."""
        if self._table is None:
            self._table = self._build_table()
        return self._table

    def _build_table(self) -> RouteTable:
        entries: dict[str, PathEntry] = {}
        for route in self.iter_routes():
            entry = entries.setdefault(route.path, PathEntry(route.path, {}))
            if route.method in entry.methods:
                raise ConfigurationError(
                    f"{route.method} {route.path} is declared twice (second: "
                    f"{getattr(route.endpoint, '__qualname__', route.endpoint)})"
                )
            entry.methods[route.method] = self._compile(route)
        return RouteTable(entries, list(self.iter_mounts()))

    def _compile(self, route: RouteDef) -> EndpointPlan:
        from ._routing import compile_path

        _, names = compile_path(route.path)
        return compile_endpoint(
            route.endpoint,
            path_params=names,
            status_code=route.status_code,
            max_body_size=route.max_body_size or self.max_body_size,
            view_class=route.view_class,
        )

    def plans(self) -> list[tuple[RouteDef, EndpointPlan]]:
        """Every declared route with its compiled plan, in declaration order."""
        table = self.check()
        by_path = {entry.path: entry for entry in table.static.values()}
        by_path.update({entry.path: entry for _, entry in table.dynamic})
        return [(route, by_path[route.path].methods[route.method]) for route in self.iter_routes()]

    # -- ASGI ----------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan_protocol(scope, receive, send)
        else:
            mount = self.check().match_mount(route_path(scope))
            if mount is not None:
                await self._call_mount(mount.app, mount.path, scope, receive, send)
            elif kind == "websocket":
                await send({"type": "websocket.close", "code": 1000, "reason": ""})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "HEAD":
            send = _headers_only(send)
        table = self._table or self.check()
        path = route_path(scope)
        entry, path_params = table.match(path)
        try:
            if entry is None:
                mount = table.match_mount(path)
                if mount is None:
                    raise HTTPError(404, detail=f"No route matches {path}.")
                await self._call_mount(mount.app, mount.path, scope, receive, send)
                return
            plan = entry.methods.get(scope["method"])
            if plan is None:
                raise HTTPError(
                    405,
                    detail=f"{scope['method']} is not allowed here; allowed: {entry.allow}.",
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
                "Error while sending the response to %s %s",
                scope["method"],
                scope["path"],
                exc_info=cause,
            )
            raise cause
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
        """Compile the handlers, run the start-up hooks and ``lifespan``; undo on exit."""
        self.check()
        state: dict[str, Any] = {}
        async with contextlib.AsyncExitStack() as stack:
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


async def _call_hook(hook: Hook) -> None:
    result = hook()
    if inspect.isawaitable(result):
        await result
