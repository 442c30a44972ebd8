"""The telemetry layer: each HTTP request and WebSocket connection served inside an
observation (a server span, the instruments, the access log line).

``TelemetryMiddleware`` is the outermost layer of the app's middleware stack
(``MiddlewareStack.set_outermost``). For each ``http`` and ``websocket`` scope it
finds the route template, starts the server span (a child of the incoming W3C
``traceparent``), sets ``bocadillo.observe.CURRENT`` to a ``ScopeObservation``,
serves the scope, and records how it ended.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bocadillo.http.dispatch import route_path
from bocadillo.observe import CURRENT
from bocadillo.telemetry.metrics import Instruments, ScopeKind
from bocadillo.telemetry.streams import StreamsMixin

if TYPE_CHECKING:
    from bocadillo.telemetry.config import Telemetry, TelemetryHost

__all__ = ["ScopeObservation", "TelemetryMiddleware", "route_template"]


def route_template(app: TelemetryHost, scope: Scope) -> str | None:
    """The declared path of the route ``scope`` goes to (``/todos/{id}``), or ``None``."""
    dispatcher = app.dispatcher
    table = dispatcher.table or dispatcher.compile()
    path = route_path(scope)
    if scope["type"] == "websocket":
        entry, _ = dispatcher.websocket_table.match(path)
    else:
        entry = table.static.get(path)
        if entry is None:
            entry, _ = table.match(path)
    if entry is not None:
        return entry.path
    mount = table.match_mount(path)
    return None if mount is None else mount.path + "/{path}"


class ScopeObservation(StreamsMixin):
    """One request or connection: its span, its route, what happened to it."""

    def __init__(
        self,
        telemetry: Telemetry,
        instruments: Instruments,
        span: Any,
        kind: ScopeKind,
        method: str,
        route: str | None,
    ) -> None:
        self.telemetry = telemetry
        self.instruments = instruments
        self.span = span
        self.kind = kind
        self.method = method
        self.route = route
        self.status: int | None = None
        self.error: BaseException | None = None
        self.started = time.perf_counter()

    def failed(self, exc: BaseException, status: int) -> None:
        self.error = exc
        if status >= 500:
            self.span.record_exception(exc)

    @contextlib.contextmanager
    def provider(self, name: str, phase: Literal["setup", "teardown"]) -> Iterator[None]:
        yield


def _carrier(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


class TelemetryMiddleware:
    """The outermost layer: every ``http`` and ``websocket`` scope inside an observation."""

    def __init__(
        self,
        app: ASGIApp,
        telemetry: Telemetry,
        host: TelemetryHost,
        instruments: Instruments | None = None,
    ) -> None:
        self.app = app
        self.telemetry = telemetry
        self.host = host
        self.instruments = instruments or Instruments(telemetry)
        self.tracer = trace.get_tracer("bocadillo", tracer_provider=telemetry.tracer_provider)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        route = route_template(self.host, scope)
        method = scope["method"] if kind == "http" else "GET"
        name = f"{method} {route}" if route is not None else method
        if kind == "websocket":
            name = f"WEBSOCKET {route}" if route is not None else "WEBSOCKET"
        parent = extract(_carrier(scope))
        span = self.tracer.start_span(name, context=parent, kind=SpanKind.SERVER)
        if route is not None:
            span.set_attribute("http.route", route)
        span.set_attribute("http.request.method", method)
        observation = ScopeObservation(self.telemetry, self.instruments, span, kind, method, route)
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        current = CURRENT.set(observation)

        async def send_observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                observation.status = message["status"]
            await send(message)

        self.instruments.started(kind, method, route, scope.get("scheme", "http"))
        try:
            await self.app(scope, receive, send_observed)
        except BaseException as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
        finally:
            CURRENT.reset(current)
            otel_context.detach(token)
            status = observation.status or 0
            if status:
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
            observation.streams_finished()
            self.instruments.finished(
                observation.kind,
                method,
                route,
                status,
                time.perf_counter() - observation.started,
                scope.get("scheme", "http"),
            )
            span.end()
