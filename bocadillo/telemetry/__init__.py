"""Telemetry: OpenTelemetry traces and metrics, Prometheus' ``/metrics``, access
logs and request ids, for every route, WebSocket message and event stream.

Turned on in one line, ``App(telemetry=Telemetry())`` (or ``telemetry=True``).
Importing this module needs nothing more than Bocadillo; turning telemetry on
needs the ``otel`` extra (OpenTelemetry's API and SDK), and ``prometheus_path``
the ``prometheus`` extra.

With telemetry off nothing of this package is on the request path: the app's
middleware stack has no telemetry layer, and ``bocadillo.observe.CURRENT`` stays
``None``.
"""

from __future__ import annotations

from bocadillo.telemetry.config import Telemetry, TelemetryHost

__all__ = ["Telemetry", "TelemetryHost"]
