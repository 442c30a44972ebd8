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
from bocadillo.telemetry.metric_names import (
    ACTIVE,
    CONNECTIONS,
    DELIVERIES,
    DROPS,
    DURATION,
    EVENTS,
    FAILURES,
    MESSAGES,
    STREAMS,
)

__all__ = ["PrometheusMetrics", "multiprocess_dir"]


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
        self.duration = Histogram(
            DURATION.prometheus_name,
            DURATION.description,
            DURATION.prometheus_labels,
            buckets=buckets,
            registry=registry,
        )
        live: Any = {"multiprocess_mode": "livesum"}  # what is open: the live workers' sum
        self.active, self.connections, self.streams = (
            Gauge(m.prometheus_name, m.description, m.prometheus_labels, registry=registry, **live)
            for m in (ACTIVE, CONNECTIONS, STREAMS)
        )
        self.messages, self.events, self.deliveries, self.drops, self.failures = (
            Counter(m.prometheus_name, m.description, m.prometheus_labels, registry=registry)
            for m in (MESSAGES, EVENTS, DELIVERIES, DROPS, FAILURES)
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
