"""Telemetry's settings: ``Telemetry``, and what it instruments, ``TelemetryHost``."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Literal, Protocol

from bocadillo.errors import ConfigurationError

if TYPE_CHECKING:
    from bocadillo.channels.channel import Backend
    from bocadillo.http.dispatch import Dispatcher

__all__ = ["Telemetry", "TelemetryHost"]

AccessLog = Literal["text", "json"]


class TelemetryHost(Protocol):
    """What telemetry instruments: an ``App``."""

    dispatcher: Dispatcher
    broadcast_backend: Backend


@dataclasses.dataclass(frozen=True, kw_only=True)
class Telemetry:
    """What to observe, and where it goes.

    - ``tracer_provider`` and ``meter_provider``: OpenTelemetry's providers;
      ``None`` takes the global ones (``opentelemetry.trace.set_tracer_provider``).
    - ``traces`` and ``metrics``: turn either off.
    - ``provider_spans``: a child span around each provider's set-up and teardown.
    - ``access_log``: one line per request, connection and stream on the
      ``bocadillo.access`` logger, ``"text"`` or ``"json"``; ``None``: no line.
    - ``request_id_header``: the request id read from (and, when absent,
      generated and sent back in) this header; ``None``: no request id.
    - ``prometheus_path``: serve the metrics for Prometheus at this path
      (``"/metrics"``); ``None``: no such route.
    """

    tracer_provider: Any = None
    meter_provider: Any = None
    traces: bool = True
    metrics: bool = True
    provider_spans: bool = False
    access_log: AccessLog | None = "text"
    request_id_header: str | None = "X-Request-ID"
    prometheus_path: str | None = None

    @classmethod
    def of(cls, setting: Telemetry | bool) -> Telemetry:
        """``App(telemetry=...)``'s value as a ``Telemetry``: ``True`` is the defaults."""
        if setting is True:
            return cls()
        if isinstance(setting, Telemetry):
            return setting
        raise ConfigurationError(
            f"telemetry={setting!r}: pass True or a bocadillo.telemetry.Telemetry(...)"
        )
