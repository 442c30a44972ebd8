"""Each metric telemetry records, defined once: its OpenTelemetry name, unit,
description and attributes, and the Prometheus name and labels derived from them
(``.`` as ``_``, what OpenTelemetry's Prometheus exporter would write), so
``Instruments`` and ``PrometheusMetrics`` cannot drift apart."""

from __future__ import annotations

import dataclasses

__all__ = [
    "ACTIVE",
    "CONNECTIONS",
    "DELIVERIES",
    "DROPS",
    "DURATION",
    "EVENTS",
    "FAILURES",
    "MESSAGES",
    "STREAMS",
    "MetricName",
]

ROUTE = "http.route"


@dataclasses.dataclass(frozen=True)
class MetricName:
    """One metric: ``name``, ``unit`` (UCUM, as OpenTelemetry writes it), ``description``
    and the ``attributes`` it is recorded by."""

    name: str
    unit: str
    description: str
    attributes: tuple[str, ...]

    @property
    def prometheus_name(self) -> str:
        """The Prometheus name: dots as underscores, seconds said (counters get
        ``_total`` from prometheus-client)."""
        base = self.name.replace(".", "_")
        return f"{base}_seconds" if self.unit == "s" else base

    @property
    def prometheus_labels(self) -> list[str]:
        return [attribute.replace(".", "_") for attribute in self.attributes]


DURATION = MetricName(
    "http.server.request.duration",
    "s",
    "Duration of HTTP server requests.",
    ("http.request.method", "url.scheme", ROUTE, "http.response.status_code", "error.type"),
)
ACTIVE = MetricName(
    "http.server.active_requests",
    "{request}",
    "Number of active HTTP server requests.",
    ("http.request.method", "url.scheme"),
)
CONNECTIONS = MetricName(
    "bocadillo.websocket.connections",
    "{connection}",
    "Open WebSocket connections, by route.",
    (ROUTE,),
)
STREAMS = MetricName("bocadillo.sse.streams", "{stream}", "Open event streams, by route.", (ROUTE,))
MESSAGES = MetricName(
    "bocadillo.websocket.messages",
    "{message}",
    "WebSocket messages received and sent, by route, direction and type.",
    (ROUTE, "bocadillo.direction", "bocadillo.message.type"),
)
EVENTS = MetricName(
    "bocadillo.sse.events",
    "{event}",
    "Server-sent events sent, by route and event type.",
    (ROUTE, "bocadillo.event.type"),
)
DELIVERIES = MetricName(
    "bocadillo.channel.deliveries",
    "{message}",
    "Channel messages delivered to a subscription, by channel.",
    ("bocadillo.channel",),
)
DROPS = MetricName(
    "bocadillo.channel.drops",
    "{message}",
    "Channel messages dropped for a slow subscriber, by channel and reason.",
    ("bocadillo.channel", "bocadillo.drop.reason"),
)
FAILURES = MetricName(
    "bocadillo.validation.failures",
    "{failure}",
    "Requests (422) and WebSocket messages that failed validation, by route.",
    (ROUTE, "bocadillo.kind"),
)
