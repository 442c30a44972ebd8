"""What an observation records of WebSocket messages, event streams and channel deliveries.

A WebSocket connection's span (the scope's server span) gets one event per
message received (``message.received``), sent (``message.sent``) or refused
(``message.invalid``), and, when it ends, how it was closed and how many
messages went each way. An event stream's span (the request's) gets, when it
ends, its event count, its bytes and how it ended. A channel message delivered
to the scope's subscription is a short ``deliver CHANNEL`` span under the
scope's span, linked to the span the message was published under (on any
worker: the context travels with the message).

Spans of long connections stay bounded: past ``MAX_SPAN_EVENTS`` message events
and deliveries in one scope, the rest are only counted
(``bocadillo.events_dropped``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.trace import Link, SpanKind

from bocadillo.observe import StreamEnd

if TYPE_CHECKING:
    from bocadillo.telemetry.config import Telemetry
    from bocadillo.telemetry.metrics import Instruments, ScopeKind

__all__ = ["MAX_SPAN_EVENTS", "StreamsMixin", "trace_context", "tracing_channels"]

# Message events and delivery spans recorded per scope; past it, only counted.
MAX_SPAN_EVENTS = 1000


def trace_context() -> dict[str, str] | None:
    """The active trace context (W3C ``traceparent``, ``tracestate``...) for a
    channel message being published, or ``None`` outside any span.

    ``install()`` gives it to the app's broadcast backend (``trace_context``)."""
    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier or None


def tracing_channels(backend: Any) -> None:
    """Have ``backend`` (the app's broadcast backend) send the trace context with
    every message published; a backend of another kind is left as it is."""
    if hasattr(backend, "trace_context"):
        backend.trace_context = trace_context


class StreamsMixin:
    """The WebSocket, SSE and channel half of ``ScopeObservation``.

    It uses the attributes the observation sets: ``span`` (an OpenTelemetry
    span, recording or not), ``kind``, ``route``, ``instruments``, ``telemetry``,
    ``status``.
    """

    span: Any
    kind: ScopeKind
    route: str | None
    instruments: Instruments
    telemetry: Telemetry
    status: int | None

    # What the stream half counted: set on first use, so a plain HTTP request
    # pays nothing for them.
    _counts: dict[str, int]
    _budget: int
    _closed: tuple[int, str] | None
    _sse_end: StreamEnd | None
    _tracer: Any

    def _count(self, key: str, by: int = 1) -> None:
        try:
            counts = self._counts
        except AttributeError:
            counts = self._counts = {}
        counts[key] = counts.get(key, 0) + by

    def _may_record(self) -> bool:
        """Whether one more event (or delivery span) fits the scope's budget."""
        if not self.span.is_recording():
            return False
        budget = getattr(self, "_budget", MAX_SPAN_EVENTS)
        if budget <= 0:
            self._count("events_dropped")
            return False
        self._budget = budget - 1
        return True

    # -- WebSockets ------------------------------------------------------------

    def message_received(self, type_name: str, size: int) -> None:
        self._count("received")
        self.instruments.message(self.route, "in", type_name)
        if self._may_record():
            self.span.add_event(
                "message.received",
                {"bocadillo.message.type": type_name, "bocadillo.message.size": size},
            )

    def message_invalid(self, size: int, errors: int, close_code: int | None) -> None:
        self._count("invalid")
        self.instruments.validation_failed("websocket", self.route)
        if self._may_record():
            attributes: dict[str, Any] = {
                "bocadillo.message.size": size,
                "bocadillo.message.errors": errors,
                "bocadillo.message.answer": "reply" if close_code is None else "close",
            }
            if close_code is not None:
                attributes["websocket.close.code"] = close_code
            self.span.add_event("message.invalid", attributes)

    def message_sent(self, type_name: str, size: int) -> None:
        self._count("sent")
        self.instruments.message(self.route, "out", type_name)
        if self._may_record():
            self.span.add_event(
                "message.sent",
                {"bocadillo.message.type": type_name, "bocadillo.message.size": size},
            )

    def websocket_closed(self, code: int, by: Literal["client", "server"]) -> None:
        if getattr(self, "_closed", None) is None:
            self._closed = (code, by)
            self.status = code

    # -- event streams ---------------------------------------------------------

    def stream_started(self) -> None:
        self.kind = "sse"
        self._sse_end = None
        self.instruments.stream_opened(self.route)

    def event_sent(self, event: str | None, size: int) -> None:
        self._count("events")
        self._count("bytes", size)
        self.instruments.event(self.route, event)

    def stream_ended(self, how: StreamEnd) -> None:
        if getattr(self, "_sse_end", None) is None:
            self._sse_end = how

    # -- channels --------------------------------------------------------------

    def delivered(self, channel: str, context: Mapping[str, str] | None) -> None:
        self._count("deliveries")
        self.instruments.delivered(channel)
        if not self._may_record():
            return
        links = None
        if context:
            published = trace.get_current_span(extract(context)).get_span_context()
            if published.is_valid:
                links = [Link(published)]
        tracer = getattr(self, "_tracer", None)
        if tracer is None:
            provider = self.telemetry.tracer_provider
            tracer = self._tracer = trace.get_tracer("bocadillo", tracer_provider=provider)
        span = tracer.start_span(
            f"deliver {channel}",
            context=trace.set_span_in_context(self.span),
            kind=SpanKind.CONSUMER,
            links=links,
            attributes={
                "messaging.system": "bocadillo",
                "messaging.operation.name": "deliver",
                "messaging.operation.type": "process",
                "messaging.destination.name": channel,
            },
        )
        span.end()

    def dropped(self, channel: str, reason: Literal["drop_oldest", "disconnect"]) -> None:
        self._count("drops")
        self.instruments.dropped(channel, reason)

    # -- the end ---------------------------------------------------------------

    def streams_finished(self) -> None:
        """The scope ended: what the stream half still has to record."""
        counts = getattr(self, "_counts", None)
        span = self.span
        if self.kind == "websocket":
            closed = getattr(self, "_closed", None)
            if closed is not None:
                span.set_attribute("websocket.close.code", closed[0])
                span.set_attribute("bocadillo.websocket.closed_by", closed[1])
            counts = counts or {}
            for key in ("received", "sent", "invalid"):
                span.set_attribute(f"bocadillo.websocket.messages.{key}", counts.get(key, 0))
        elif self.kind == "sse":
            counts = counts or {}
            span.set_attribute("bocadillo.sse.events", counts.get("events", 0))
            span.set_attribute("bocadillo.sse.bytes", counts.get("bytes", 0))
            span.set_attribute("bocadillo.sse.end", getattr(self, "_sse_end", None) or "error")
        if counts:
            for key, name in _CHANNEL_COUNTS:
                if key in counts:
                    span.set_attribute(name, counts[key])


_CHANNEL_COUNTS = (
    ("deliveries", "bocadillo.channel.deliveries"),
    ("drops", "bocadillo.channel.drops"),
    ("events_dropped", "bocadillo.events_dropped"),
)
