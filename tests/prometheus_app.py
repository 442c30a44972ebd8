"""The app tests/test_prometheus.py serves with ``bocadillo run --workers 2`` (``--app-dir tests``).

Telemetry on with ``/metrics`` for Prometheus; run with ``PROMETHEUS_MULTIPROC_DIR``
set, as several workers need.

- ``GET /whoami``: ``{"worker": pid}``, the process that served it.
- ``GET /metrics``: every worker's metrics, in the text exposition format.
"""

from __future__ import annotations

import os

from opentelemetry.sdk.metrics import MeterProvider

from bocadillo import App
from bocadillo.telemetry import Telemetry

app = App(
    telemetry=Telemetry(
        meter_provider=MeterProvider(), traces=False, access_log=None, prometheus_path="/metrics"
    )
)


@app.get("/whoami")
async def whoami() -> dict[str, int]:
    return {"worker": os.getpid()}
