"""``/metrics`` for Prometheus: prometheus-client's own metrics, fed beside OpenTelemetry's.

``Instruments`` records each measurement twice: through OpenTelemetry's API
(for any OpenTelemetry exporter) and into the ``PrometheusMetrics`` here, which
the ``Telemetry(prometheus_path=...)`` route serves in the text exposition
format. prometheus-client, not OpenTelemetry's Prometheus exporter, because it
is the one that handles several worker processes, as its docs describe: with
``PROMETHEUS_MULTIPROC_DIR`` set (before the workers start), each worker writes
its values to files there, a scrape of any worker reads them all
(``MultiProcessCollector``), gauges of what is open are summed over the live
workers (``multiprocess_mode="livesum"``), and a worker that stops marks itself
dead (``mark_process_dead``), so its open gauges no longer count.

Names and labels are OpenTelemetry's with ``.`` as ``_`` (what OpenTelemetry's
Prometheus exporter would write), so a dashboard reads the same either way.
"""

from __future__ import annotations

import os
from typing import Any

from starlette.responses import Response

from bocadillo.errors import ConfigurationError

__all__ = ["PrometheusMetrics", "multiprocess_dir"]

_ROUTE = "http_route"


def multiprocess_dir() -> str | None:
    """The directory of prometheus-client's multiprocess mode, if it is on."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class PrometheusMetrics:
    """One app's prometheus-client metrics, in a registry of their own; the request
    duration in ``buckets`` (seconds)."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        try:
            from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
        except ImportError:
            raise ConfigurationError(
                "Telemetry(prometheus_path=...) needs prometheus-client: "
                "pip install 'bocadillo[prometheus]'"
            ) from None
        # The app's own registry (two apps in one process each have theirs). With
        # several workers it is not what a scrape reads: the workers' files are.
        self.registry = registry = CollectorRegistry(auto_describe=True)
        live: Any = {"multiprocess_mode": "livesum"}
        self.duration = Histogram(
            "http_server_request_duration_seconds",
            "Duration of HTTP server requests.",
            [
                "http_request_method",
                "url_scheme",
                _ROUTE,
                "http_response_status_code",
                "error_type",
            ],
            buckets=buckets,
            registry=registry,
        )
        self.active = Gauge(
            "http_server_active_requests",
            "Number of active HTTP server requests.",
            ["http_request_method", "url_scheme"],
            registry=registry,
            **live,
        )
        self.connections = Gauge(
            "bocadillo_websocket_connections",
            "Open WebSocket connections, by route.",
            [_ROUTE],
            registry=registry,
            **live,
        )
        self.streams = Gauge(
            "bocadillo_sse_streams",
            "Open event streams, by route.",
            [_ROUTE],
            registry=registry,
            **live,
        )
        self.messages = Counter(
            "bocadillo_websocket_messages",
            "WebSocket messages received and sent, by route, direction and type.",
            [_ROUTE, "bocadillo_direction", "bocadillo_message_type"],
            registry=registry,
        )
        self.events = Counter(
            "bocadillo_sse_events",
            "Server-sent events sent, by route and event type.",
            [_ROUTE, "bocadillo_event_type"],
            registry=registry,
        )
        self.deliveries = Counter(
            "bocadillo_channel_deliveries",
            "Channel messages delivered to a subscription, by channel.",
            ["bocadillo_channel"],
            registry=registry,
        )
        self.drops = Counter(
            "bocadillo_channel_drops",
            "Channel messages dropped for a slow subscriber, by channel and reason.",
            ["bocadillo_channel", "bocadillo_drop_reason"],
            registry=registry,
        )
        self.failures = Counter(
            "bocadillo_validation_failures",
            "Requests (422) and WebSocket messages that failed validation, by route.",
            [_ROUTE, "bocadillo_kind"],
            registry=registry,
        )

    def exposition(self) -> bytes:
        """Every metric in the text exposition format: every worker's, with several."""
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        if multiprocess_dir() is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)

    def endpoint(self) -> Any:
        """The handler of the ``/metrics`` route."""
        from prometheus_client import CONTENT_TYPE_LATEST

        def metrics() -> Response:  # a thread: with several workers, it reads their files
            return Response(self.exposition(), media_type=CONTENT_TYPE_LATEST)

        return metrics

    def worker_stopped(self) -> None:
        """This worker is stopping: its open-gauges no longer count (multiprocess mode)."""
        if multiprocess_dir() is None:
            return
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
