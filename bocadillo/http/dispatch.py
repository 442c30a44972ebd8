"""Dispatch: where each ASGI scope goes.

An HTTP request passes the ``Host`` check and the middleware stack, then finds
its route (a static path is one dict lookup; patterns and mounts only on a
miss); HEAD is answered with the headers only, a path that differs from a
route's by a trailing slash is redirected, and what matches nothing is a 404,
or a 405 with ``Allow``. A WebSocket finds its route the same way, or its
handshake is refused with a 404.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bocadillo.errors import HTTPError
from bocadillo.http.errors import ExceptionHandlers
from bocadillo.http.handshake import refuse_handshake
from bocadillo.http.middleware import HostCheck, MiddlewareStack
from bocadillo.http.origins import OriginCheck
from bocadillo.routing.table import RouteTable

__all__ = ["DispatchedApp", "Dispatcher", "headers_only", "route_path", "serve"]


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


def headers_only(send: Send) -> Send:
    """A ``send`` that drops body bytes: the answer to HEAD is the GET's headers alone.

    Covers what plans do not build themselves: returned ``Response`` objects,
    errors, and mounted apps.
    """

    async def send_headers_only(message: Message) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            message = {**message, "body": b""}
        await send(message)

    return send_headers_only


async def call_mount(app: ASGIApp, path: str, scope: Scope, receive: Receive, send: Send) -> None:
    """Call a mounted ``app`` with ``path`` added to the ``root_path``."""
    root_path = scope.get("root_path", "")
    child = {**scope, "root_path": root_path + path, "app_root_path": root_path}
    await app(child, receive, send)


class Dispatcher:
    """Where an app's scopes go: the ``Host`` check and the middleware stack
    (``serve``), and inside the stack each scope to its handling.

    The app gives it ``compile`` (compile the routes now: ``App.check``),
    ``start`` (make the app providers) and ``lifespan`` (start the app, yielding
    its state, and stop it on exit), and keeps ``table``, ``websocket_table`` and
    ``started`` up to date.
    """

    def __init__(
        self,
        *,
        compile: Callable[[], RouteTable],
        start: Callable[[], Awaitable[None]],
        lifespan: Callable[[], contextlib.AbstractAsyncContextManager[dict[str, Any]]],
        errors: ExceptionHandlers,
        host_check: HostCheck,
        origin_check: OriginCheck,
        middleware: MiddlewareStack,
    ) -> None:
        self.compile = compile
        self.start = start
        self.lifespan = lifespan
        self.errors = errors
        self.host_check = host_check
        self.origin_check = origin_check
        self.middleware = middleware
        self.table: RouteTable | None = None  # the compiled HTTP routes; None: to compile
        self.websocket_table = RouteTable({}, [])
        self.started = False  # the app providers the routes need are made

    def stack(self) -> ASGIApp:
        """The middleware stack around ``dispatch`` (built now if it is not)."""
        return self.middleware.app or self.middleware.build(self.dispatch, self.answer_error)

    async def answer_error(
        self, exc: Exception, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Answer an exception raised outside a plan (a middleware's, a bad ``Host``)
        as a handler's would be; a HEAD request gets the headers only."""
        if scope["method"] == "HEAD":
            send = headers_only(send)
        await self.errors.answer(exc, scope, receive, send)

    async def dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app inside the middleware stack: each kind of scope to its handling."""
        kind = scope["type"]
        if kind == "http":
            await self.http(scope, receive, send)
        elif kind == "lifespan":
            await self.lifespan_protocol(scope, receive, send)
        elif kind == "websocket":
            await self.websocket(scope, receive, send)
        else:
            mount = self.compile().match_mount(route_path(scope))
            if mount is not None:
                await call_mount(mount.app, mount.path, scope, receive, send)

    async def lifespan_protocol(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI lifespan: start the app, say so, wait for the shutdown, stop it."""
        started = False
        await receive()  # lifespan.startup
        try:
            async with self.lifespan() as state:
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

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve an HTTP request: its route's plan, a mount, a redirect, 404 or 405."""
        method = scope["method"]
        if method == "HEAD":
            send = headers_only(send)
        table = self.table or self.compile()
        path: str = scope["path"]
        if scope.get("root_path"):
            path = route_path(scope)
        path_params = None
        entry = table.static.get(path)
        if entry is None:
            entry, path_params = table.match(path)
        try:
            if not self.started:
                await self.start()
            if entry is None:
                mount = table.match_mount(path)
                if mount is None:
                    # /todos/ for /todos (or the reverse): a 308 to the declared form.
                    redirect = table.trailing_slash_redirect(scope, path)
                    if redirect is not None:
                        await redirect(scope, receive, send)
                        return
                    raise HTTPError(404, detail=f"No route matches {path}.")
                await call_mount(mount.app, mount.path, scope, receive, send)
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
            await self.errors.answer(exc, scope, receive, send)

    async def websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a WebSocket: its route's plan, a mount, or a refused handshake (404)."""
        table = self.compile()
        if not self.started:
            await self.start()
        path = route_path(scope)
        entry, path_params = self.websocket_table.match(path)
        if entry is not None:
            plan = entry.methods["WEBSOCKET"]
            if self.origin_check.guards(plan):
                error = self.origin_check.error(scope)
                if error is not None:
                    await refuse_handshake(
                        error,
                        scope,
                        receive,
                        send,
                        reason="Origin refused",
                        error_format=self.errors.error_format,
                    )
                    return
            await plan(scope, receive, send, path_params)
            return
        mount = table.match_mount(path)
        if mount is not None:
            await call_mount(mount.app, mount.path, scope, receive, send)
            return
        error = HTTPError(404, detail=f"No WebSocket route matches {path}.")
        await refuse_handshake(
            error,
            scope,
            receive,
            send,
            reason="No such route",
            error_format=self.errors.error_format,
        )


class DispatchedApp(Protocol):
    """An app that ``serve`` can be the ASGI entry of: one with a dispatcher."""

    dispatcher: Dispatcher


async def serve(app: DispatchedApp, scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI entry of ``app`` (``App.__call__`` is this function): the ``Host``
    check, then the middleware stack, or without one the route straight away.

    A function rather than a ``Dispatcher`` method that ``App.__call__`` would
    await: the common request then calls its plan one coroutine deep.
    """
    scope["app"] = app
    dispatcher = app.dispatcher
    kind = scope["type"]
    if kind == "http" and dispatcher.middleware.bare:
        # The common case, no middleware: the Host check, then the route.
        error = dispatcher.host_check.error(scope)
        if error is not None:
            await dispatcher.answer_error(error, scope, receive, send)
            return
        # http()'s most common case, inlined (one coroutine less): a static path
        # with a plan for the method, nothing to strip or to start first.
        table = dispatcher.table
        method = scope["method"]
        if (
            table is not None
            and dispatcher.started
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
                        await dispatcher.errors.answer(exc, scope, receive, send)
                    return
        await dispatcher.http(scope, receive, send)
        return
    if kind == "http" or kind == "websocket":
        error = dispatcher.host_check.error(scope)
        if error is not None:
            if kind == "http":
                await dispatcher.answer_error(error, scope, receive, send)
            else:
                await refuse_handshake(
                    error, scope, receive, send, error_format=dispatcher.errors.error_format
                )
            return
    await dispatcher.stack()(scope, receive, send)
