"""Putting telemetry on an app: the middleware layer, the instruments, the routes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bocadillo.errors import ConfigurationError

if TYPE_CHECKING:
    from bocadillo.telemetry.config import Telemetry, TelemetryHost

__all__ = ["install"]


def install(telemetry: Telemetry, app: TelemetryHost) -> None:
    """Instrument ``app`` as ``telemetry`` says; a missing extra is a ``ConfigurationError``."""
    try:
        import opentelemetry.sdk  # noqa: F401
    except ImportError:
        raise ConfigurationError(
            "telemetry needs OpenTelemetry: pip install 'bocadillo[otel]'"
        ) from None
    from bocadillo.telemetry.scope import TelemetryMiddleware
    from bocadillo.telemetry.streams import tracing_channels

    app.dispatcher.middleware.set_outermost(
        lambda inner: TelemetryMiddleware(inner, telemetry, app)
    )
    if telemetry.traces:
        tracing_channels(app.broadcast_backend)  # messages carry their trace context
