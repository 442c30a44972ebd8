"""``Telemetry(prometheus_path="/metrics")``: scraped, parsed with prometheus-client's
own parser, values checked; from one process, and from two workers that share a
``PROMETHEUS_MULTIPROC_DIR``."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

pytest.importorskip("opentelemetry.sdk", reason="telemetry needs the otel extra")
pytest.importorskip("prometheus_client", reason="/metrics needs the prometheus extra")

from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client.parser import text_string_to_metric_families

from bocadillo import App, ConfigurationError, WebSocket
from bocadillo.telemetry import Telemetry

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60.0


def families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def sample(found: dict[str, Any], family: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` of ``family`` whose labels include ``labels``."""
    for s in found[family].samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return float(s.value)
    return None


def prometheus_app() -> App:
    app = App(
        telemetry=Telemetry(
            meter_provider=MeterProvider(), traces=False, prometheus_path="/metrics"
        )
    )

    @app.get("/items/{item_id}")
    async def get_item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    @app.websocket("/echo")
    async def echo(ws: WebSocket[dict[str, int], dict[str, int]]) -> None:
        async for message in ws:
            await ws.send(message)

    return app


def test_metrics_are_served_in_the_text_format_after_traffic() -> None:
    app = prometheus_app()
    with TestClient(app, raise_server_exceptions=False) as client:
        for item in (1, 2, 3):
            assert client.get(f"/items/{item}").status_code == 200
        assert client.get("/items/x").status_code == 422
        assert client.get("/boom").status_code == 500
        with client.websocket_connect("/echo") as ws:
            ws.send_json({"n": 1})
            assert ws.receive_json() == {"n": 1}
            response = client.get("/metrics")
        after = families(client.get("/metrics").text)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    during = families(response.text)
    duration = "http_server_request_duration_seconds"
    route = {"http_request_method": "GET", "http_route": "/items/{item_id}"}
    assert (
        sample(during, duration, duration + "_count", **route, http_response_status_code="200") == 3
    )
    assert (
        sample(during, duration, duration + "_count", **route, http_response_status_code="422") == 1
    )
    assert (
        sample(
            during,
            duration,
            duration + "_bucket",
            **route,
            http_response_status_code="200",
            le="+Inf",
        )
        == 3
    )
    assert (
        0
        < sample(during, duration, duration + "_sum", **route, http_response_status_code="200")
        < 30
    )
    failed = {"http_route": "/boom", "http_response_status_code": "500", "error_type": "500"}
    assert sample(during, duration, duration + "_count", **failed) == 1
    # While the scrape is answered, it is the one request in flight; the connection is open.
    assert (
        sample(
            during,
            "http_server_active_requests",
            "http_server_active_requests",
            http_request_method="GET",
        )
        == 1
    )
    assert (
        sample(
            during,
            "bocadillo_websocket_connections",
            "bocadillo_websocket_connections",
            http_route="/echo",
        )
        == 1
    )
    assert (
        sample(
            after,
            "bocadillo_websocket_connections",
            "bocadillo_websocket_connections",
            http_route="/echo",
        )
        == 0
    )
    # The first scrape is counted too, under its own route.
    assert sample(after, duration, duration + "_count", http_route="/metrics") == 1


def test_metrics_route_is_the_frameworks_own() -> None:
    app = prometheus_app()
    with TestClient(app) as client:
        document = client.get("/openapi.json").json()
    assert "/metrics" not in document["paths"]
    assert "/items/{item_id}" in document["paths"]


def test_two_apps_in_one_process_each_serve_their_own_metrics() -> None:
    first, second = prometheus_app(), prometheus_app()
    with TestClient(first) as one, TestClient(second) as two:
        assert one.get("/items/1").status_code == 200
        found = families(two.get("/metrics").text)
    duration = "http_server_request_duration_seconds"
    assert sample(found, duration, duration + "_count", http_route="/items/{item_id}") is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"prometheus_path": "metrics"}, "starts with '/'"),
        ({"prometheus_path": "/metrics", "metrics": False}, "metrics=False"),
    ],
)
def test_bad_prometheus_settings_are_configuration_errors(
    settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        App(telemetry=Telemetry(**settings))


# -- two workers: bocadillo run --workers 2 ------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Workers:
    """``bocadillo run prometheus_app:app --workers 2`` with ``PROMETHEUS_MULTIPROC_DIR``."""

    def __init__(self, directory: Path, metrics_dir: Path) -> None:
        self.port = free_port()
        self._log = directory / "server.log"
        env = {
            **os.environ,
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        with self._log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "bocadillo", "run", "prometheus_app:app",
                    "--app-dir", "tests", "--workers", "2", "--port", str(self.port),
                ],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def log(self) -> str:
        return self._log.read_text(errors="replace")

    def wait_started(self, workers: int) -> None:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited with {self.process.returncode}:\n{self.log()}")
            if self.log().count("Application startup complete") >= workers:
                return
            time.sleep(0.05)
        pytest.fail(f"{workers} workers did not start within {TIMEOUT} s:\n{self.log()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()  # empty before the workers start, as prometheus-client asks
    server = Workers(tmp_path, metrics_dir)
    try:
        server.wait_started(2)
        yield server
    finally:
        server.stop()


def get(connection: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    connection.request("GET", path)
    response = connection.getresponse()
    return response.status, response.read()


def test_a_scrape_of_either_worker_sums_both(workers: Workers) -> None:
    # Keep-alive connections until two different workers serve them.
    served: dict[int, int] = {}
    connections: dict[int, http.client.HTTPConnection] = {}
    deadline = time.monotonic() + TIMEOUT
    try:
        while len(connections) < 2:
            if time.monotonic() > deadline:
                pytest.fail(f"not two workers: {served}")
            connection = http.client.HTTPConnection("127.0.0.1", workers.port, timeout=10)
            status, body = get(connection, "/whoami")
            assert status == 200
            pid = json.loads(body)["worker"]
            served[pid] = served.get(pid, 0) + 1
            if pid in connections:
                connection.close()
            else:
                connections[pid] = connection
        # Then a different number of requests on each worker's connection.
        for extra, connection in zip((3, 5), connections.values(), strict=True):
            for _ in range(extra):
                status, body = get(connection, "/whoami")
                assert status == 200
                served[json.loads(body)["worker"]] += 1
        total = sum(served.values())
        assert all(count < total for count in served.values())
        for connection in connections.values():
            status, text = get(connection, "/metrics")
            assert status == 200
            found = families(text.decode())
            duration = "http_server_request_duration_seconds"
            counted = sample(found, duration, duration + "_count", http_route="/whoami")
            assert counted == total, (counted, served)
            # Each scrape is in flight on its own worker only: the live gauges sum to one.
            active = sample(found, "http_server_active_requests", "http_server_active_requests")
            assert active == 1
    finally:
        for connection in connections.values():
            connection.close()


def test_a_stopped_worker_no_longer_counts_in_the_live_gauges(
    workers: Workers, tmp_path: Path
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", workers.port, timeout=10)
    assert get(connection, "/whoami")[0] == 200
    connection.close()
    metrics_dir = tmp_path / "prometheus"
    assert list(metrics_dir.glob("gauge_livesum_*.db"))
    workers.stop()
    # Each worker marked itself dead on its way out (prometheus-client's
    # mark_process_dead): its live gauges' files are gone, its counts are kept.
    assert not list(metrics_dir.glob("gauge_livesum_*.db")), workers.log()
    assert list(metrics_dir.glob("histogram_*.db"))
