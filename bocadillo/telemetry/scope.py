"""The telemetry layer: each HTTP request and WebSocket connection served inside an
observation (a server span, the instruments, the access log line).

``TelemetryMiddleware`` is the outermost layer of the app's middleware stack
(``MiddlewareStack.set_outermost``). For each ``http`` and ``websocket`` scope it
finds the route template and the request id, starts the server span (a child of
the incoming W3C ``traceparent``), sets ``bocadillo.observe.CURRENT`` to a
``ScopeObservation``, serves the scope, and records how it ended.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bocadillo.errors import HTTPError, RequestValidationError
from bocadillo.http.dispatch import route_path
from bocadillo.observe import CURRENT
from bocadillo.runtime.providers import observe_provider_spans
from bocadillo.telemetry.logs import AccessLog, observe_log_records
from bocadillo.telemetry.metrics import Instruments, ScopeKind
from bocadillo.telemetry.streams import StreamsMixin

if TYPE_CHECKING:
    from bocadillo.telemetry.config import Telemetry, TelemetryHost

__all__ = ["ScopeObservation", "TelemetryMiddleware", "request_id_of", "route_template"]

# RFC 9110's methods, PATCH (RFC 5789) and QUERY: any other is "_OTHER" (semconv).
KNOWN_METHODS = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE"}
)
MAX_REQUEST_ID = 200


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


def request_id_of(value: str | None) -> str:
    """``value`` if it is a sane request id (1 to 200 printable ASCII characters),
    else a new one (32 hex digits)."""
    if value and len(value) <= MAX_REQUEST_ID and value.isascii() and value.isprintable():
        return value
    return uuid.uuid4().hex


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
        request_id: str | None = None,
        tracer: Any = None,
    ) -> None:
        self.telemetry = telemetry
        self.instruments = instruments
        self.span = span
        self.kind = kind
        self.method = method
        self.route = route
        self.request_id = request_id
        self.provider_spans = telemetry.provider_spans and tracer is not None
        self.tracer = tracer
        self.status: int | None = None
        self.error: BaseException | None = None
        self.started = time.perf_counter()

    def failed(self, exc: BaseException, status: int) -> None:
        if isinstance(exc, RequestValidationError):
            self.instruments.validation_failed(self.kind, self.route)
        # An HTTPError is an answer the app chose: a 5xx one is named by its status
        # (when the scope ends), an unexpected exception is recorded.
        if status >= 500 and self.error is None and not isinstance(exc, HTTPError):
            self.error = exc
            self.span.record_exception(exc)
            self.span.set_attribute("error.type", _qualified_name(exc))

    @contextlib.contextmanager
    def provider(self, name: str, phase: Literal["setup", "teardown"]) -> Iterator[None]:
        if self.tracer is None:
            yield
            return
        with self.tracer.start_as_current_span(
            f"provider.{phase} {name}",
            attributes={"bocadillo.provider": name},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield
            except Exception as exc:
                # An HTTPError below 500 (a provider refusing a request) is an answer.
                if not isinstance(exc, HTTPError) or exc.status_code >= 500:
                    span.record_exception(exc)
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                    span.set_attribute("error.type", _qualified_name(exc))
                raise


def _qualified_name(exc: BaseException) -> str:
    cls = type(exc)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


def _split_host(host: str) -> tuple[str, str]:
    """A ``Host`` header's address and port (``"[::1]:8000"``: ``("::1", "8000")``)."""
    if host.startswith("["):
        address, _, rest = host[1:].partition("]")
        return address, rest[1:] if rest.startswith(":") else ""
    address, _, port = host.partition(":")
    return address, port


def _headers(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


def _with_header(message: Message, name: bytes, value: bytes) -> Message:
    """``message`` with the header ``name: value`` added, unless it has one."""
    headers = list(message.get("headers") or ())
    if any(key.lower() == name for key, _ in headers):
        return message
    headers.append((name, value))
    return {**message, "headers": headers}


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
        self.traces = telemetry.traces
        header = telemetry.request_id_header
        self.request_id_header = None if header is None else header.lower()
        self.request_id_key = None if header is None else header.lower().encode("latin-1")
        self.access_log = None if telemetry.access_log is None else AccessLog(telemetry.access_log)
        if telemetry.access_log is not None:
            observe_log_records(telemetry.access_log)
        if telemetry.provider_spans and telemetry.traces:
            observe_provider_spans()

    def _span(
        self,
        scope: Scope,
        kind: ScopeKind,
        method: str,
        route: str | None,
        headers: dict[str, str],
        parent: otel_context.Context,
    ) -> Any:
        if kind == "websocket":
            name = "WEBSOCKET" if route is None else f"WEBSOCKET {route}"
            scheme = scope.get("scheme") or "ws"
        else:
            label = method if method in KNOWN_METHODS else "HTTP"
            name = label if route is None else f"{label} {route}"
            scheme = scope.get("scheme") or "http"
        attributes: dict[str, Any] = {
            "http.request.method": method if method in KNOWN_METHODS else "_OTHER",
            "url.path": scope["path"],
            "url.scheme": scheme,
        }
        if method not in KNOWN_METHODS:
            attributes["http.request.method_original"] = method
        if route is not None:
            attributes["http.route"] = route
        query = scope.get("query_string")
        if query:
            attributes["url.query"] = query.decode("latin-1")
        host = headers.get("host")
        if host:
            address, port = _split_host(host)
            attributes["server.address"] = address
            if port.isdigit():
                attributes["server.port"] = int(port)
        client = scope.get("client")
        if client:
            attributes["client.address"] = client[0]
        version = scope.get("http_version")
        if version:
            attributes["network.protocol.version"] = version
        agent = headers.get("user-agent")
        if agent:
            attributes["user_agent.original"] = agent
        return self.tracer.start_span(
            name, context=parent, kind=SpanKind.SERVER, attributes=attributes
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        route = route_template(self.host, scope)
        method = scope["method"] if kind == "http" else "GET"
        request_id = None
        if self.request_id_header is not None:
            request_id = request_id_of(headers.get(self.request_id_header))
        token = None
        if self.traces:
            parent = extract(headers)
            span = self._span(scope, kind, method, route, headers, parent)
            token = otel_context.attach(trace.set_span_in_context(span, parent))
            tracer = self.tracer
        else:
            span = trace.INVALID_SPAN
            tracer = None
        observation = ScopeObservation(
            self.telemetry, self.instruments, span, kind, method, route, request_id, tracer
        )
        if request_id is not None and span.is_recording():
            span.set_attribute(f"http.response.header.{self.request_id_header}", (request_id,))
        current = CURRENT.set(observation)
        id_key = self.request_id_key
        id_value = None if request_id is None else request_id.encode("latin-1")
        accepted = False

        async def send_observed(message: Message) -> None:
            nonlocal accepted
            kind = message["type"]
            if kind == "http.response.start" or kind == "websocket.http.response.start":
                observation.status = message["status"]
                if id_key is not None and id_value is not None:
                    message = _with_header(message, id_key, id_value)
            elif kind == "websocket.accept":
                accepted = True
                if id_key is not None and id_value is not None:
                    message = _with_header(message, id_key, id_value)
            elif kind == "websocket.close" and observation.status is None:
                # Closed before it was accepted: the server refuses the handshake (403).
                observation.status = message.get("code", 1000) if accepted else 403
            await send(message)

        async def receive_observed() -> Message:
            message = await receive()
            if message["type"] == "websocket.disconnect" and observation.status is None:
                observation.status = message.get("code", 1005)
            return message

        self.instruments.started(kind, method, route, scope.get("scheme", "http"))
        try:
            if kind == "websocket":
                await self.app(scope, receive_observed, send_observed)
            else:
                await self.app(scope, receive, send_observed)
        except Exception as exc:
            if observation.status is None:
                # What the app's last layer answers (a WebSocket: the server's close).
                observation.status = 1011 if accepted else 500
            if observation.error is None:
                observation.error = exc
                span.record_exception(exc)
                span.set_attribute("error.type", _qualified_name(exc))
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
        finally:
            status = observation.status or 0
            self._finish(observation, span, status, accepted)
            if self.access_log is not None:
                self.access_log.emit(
                    observation.kind, method, route, scope["path"], status, observation.started
                )
            CURRENT.reset(current)
            if token is not None:
                otel_context.detach(token)
            self.instruments.finished(
                observation.kind,
                method,
                route,
                status,
                time.perf_counter() - observation.started,
                scope.get("scheme", "http"),
            )
            span.end()

    def _finish(
        self, observation: ScopeObservation, span: Any, status: int, accepted: bool
    ) -> None:
        observation.streams_finished()
        if not span.is_recording():
            return
        if observation.kind == "websocket":
            http_status = 101 if accepted else status
            if http_status:
                span.set_attribute("http.response.status_code", http_status)
            failed = http_status >= 500 or status == 1011
        else:
            if status:
                span.set_attribute("http.response.status_code", status)
            failed = status >= 500
        if failed:
            if observation.error is None:
                span.set_attribute("error.type", str(status))
            span.set_status(Status(StatusCode.ERROR))
