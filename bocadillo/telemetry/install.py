"""Putting telemetry on an app: the middleware layer, the instruments, the routes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bocadillo.errors import ConfigurationError
from bocadillo.routing.router import Router

if TYPE_CHECKING:
    from bocadillo.telemetry.config import Telemetry, TelemetryHost
    from bocadillo.telemetry.prometheus import PrometheusMetrics

__all__ = ["install"]


def install(telemetry: Telemetry, app: TelemetryHost) -> None:
    """Instrument ``app`` as ``telemetry`` says; a missing extra is a ``ConfigurationError``."""
    try:
        import opentelemetry.sdk  # noqa: F401
    except ImportError:
        raise ConfigurationError(
            "telemetry needs OpenTelemetry: pip install 'bocadillo[otel]'"
        ) from None
    from bocadillo.telemetry.metrics import Instruments
    from bocadillo.telemetry.scope import TelemetryMiddleware
    from bocadillo.telemetry.streams import tracing_channels

    prometheus = None
    if telemetry.prometheus_path is not None:
        prometheus = _prometheus_route(telemetry, telemetry.prometheus_path, app)
    # One per app: the middleware stack is rebuilt when a middleware is added.
    instruments = Instruments(telemetry, prometheus)
    app.dispatcher.middleware.set_outermost(
        lambda inner: TelemetryMiddleware(inner, telemetry, app, instruments)
    )
    if telemetry.traces:
        tracing_channels(app.broadcast_backend)  # messages carry their trace context


def _prometheus_route(telemetry: Telemetry, path: str, app: TelemetryHost) -> PrometheusMetrics:
    from bocadillo.telemetry.metrics import DURATION_BUCKETS
    from bocadillo.telemetry.prometheus import PrometheusMetrics

    if not telemetry.metrics:
        raise ConfigurationError(
            f"Telemetry(prometheus_path={path!r}, metrics=False): /metrics serves the "
            "metrics; turn them on, or leave prometheus_path None"
        )
    if not path.startswith("/"):
        raise ConfigurationError(f"Telemetry(prometheus_path={path!r}): a path starts with '/'")
    prometheus = PrometheusMetrics(DURATION_BUCKETS)
    if isinstance(app, Router):
        # The framework's own route, as /openapi.json: not in the API's documents.
        app.add_route(path, prometheus.endpoint(), framework=True, include_in_schema=False)
    on_shutdown = getattr(app, "on_shutdown", None)
    if on_shutdown is not None:
        on_shutdown(prometheus.worker_stopped)
    return prometheus
