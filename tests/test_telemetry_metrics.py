"""Telemetry's metrics, read with the OpenTelemetry SDK's in-memory metric reader."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

pytest.importorskip("opentelemetry.sdk", reason="telemetry needs the otel extra")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from bocadillo import App, WebSocket
from bocadillo.telemetry import Telemetry
from bocadillo.telemetry.metrics import DURATION_BUCKETS, Instruments


class Ping(BaseModel):
    n: int


class Item(BaseModel):
    name: str


def metered(**options: Any) -> tuple[App, InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    app = App(telemetry=Telemetry(meter_provider=provider, traces=False, **options))

    @app.get("/items/{item_id}")
    async def get_item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.post("/items")
    async def create_item(item: Item) -> Item:
        return item

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    @app.websocket("/echo")
    async def echo(ws: WebSocket[Ping, Ping]) -> None:
        async for ping in ws:
            await ws.send(Ping(n=ping.n + 1))

    return app, reader


def points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    """The data points of metric ``name`` (none if it was never recorded)."""
    data = reader.get_metrics_data()
    found: list[Any] = []
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    found.extend(metric.data.data_points)
    return found


def metric(reader: InMemoryMetricReader, name: str) -> Any:
    data = reader.get_metrics_data()
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for found in scope.metrics:
                if found.name == name:
                    return found
    raise AssertionError(f"no metric {name}")


def by_attributes(found: list[Any]) -> dict[frozenset[tuple[str, Any]], Any]:
    return {frozenset(point.attributes.items()): point for point in found}


def test_the_duration_histogram_is_by_route_template_method_and_status() -> None:
    app, reader = metered()
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/items/1").status_code == 200
        assert client.get("/items/2").status_code == 200
        assert client.get("/items/x").status_code == 422
        assert client.post("/items", json={"name": "a"}).status_code == 200
        assert client.get("/boom").status_code == 500
        assert client.get("/nowhere").status_code == 404

    duration = metric(reader, "http.server.request.duration")
    assert duration.unit == "s"
    series = by_attributes(duration.data.data_points)
    ok = series[
        frozenset(
            {
                ("http.request.method", "GET"),
                ("url.scheme", "http"),
                ("http.route", "/items/{item_id}"),
                ("http.response.status_code", 200),
            }
        )
    ]
    assert ok.count == 2
    assert 0 < ok.sum < 10
    assert tuple(ok.explicit_bounds) == DURATION_BUCKETS
    invalid = frozenset(
        {
            ("http.request.method", "GET"),
            ("url.scheme", "http"),
            ("http.route", "/items/{item_id}"),
            ("http.response.status_code", 422),
        }
    )
    assert series[invalid].count == 1
    created = frozenset(
        {
            ("http.request.method", "POST"),
            ("url.scheme", "http"),
            ("http.route", "/items"),
            ("http.response.status_code", 200),
        }
    )
    assert series[created].count == 1
    failed = frozenset(
        {
            ("http.request.method", "GET"),
            ("url.scheme", "http"),
            ("http.route", "/boom"),
            ("http.response.status_code", 500),
            ("error.type", "500"),
        }
    )
    assert series[failed].count == 1
    # No route matched: no http.route (the raw path would be a series per URL).
    unrouted = frozenset(
        {("http.request.method", "GET"), ("url.scheme", "http"), ("http.response.status_code", 404)}
    )
    assert series[unrouted].count == 1


def test_an_unknown_method_is_recorded_as_other() -> None:
    app, reader = metered()
    with TestClient(app) as client:
        assert client.request("BREW", "/items/1").status_code == 405
    methods = {
        p.attributes["http.request.method"] for p in points(reader, "http.server.request.duration")
    }
    assert methods == {"_OTHER"}


def test_requests_in_flight_go_back_to_zero() -> None:
    app, reader = metered()
    seen: list[int] = []

    @app.get("/peek")
    async def peek() -> dict[str, bool]:
        # Collected while this request is served: it is in flight.
        for point in points(reader, "http.server.active_requests"):
            seen.append(point.value)
        return {"ok": True}

    with TestClient(app) as client:
        assert client.get("/peek").status_code == 200
        assert client.get("/items/1").status_code == 200
    assert seen == [1]
    (active,) = points(reader, "http.server.active_requests")
    assert dict(active.attributes) == {"http.request.method": "GET", "url.scheme": "http"}
    assert active.value == 0


def test_open_websocket_connections_are_counted_by_route() -> None:
    app, reader = metered()
    with TestClient(app) as client, client.websocket_connect("/echo") as ws:
        ws.send_json({"n": 1})
        assert ws.receive_json() == {"n": 2}
        (open_now,) = points(reader, "bocadillo.websocket.connections")
        assert dict(open_now.attributes) == {"http.route": "/echo"}
        assert open_now.value == 1
    (closed,) = points(reader, "bocadillo.websocket.connections")
    assert closed.value == 0
    # A connection is not an HTTP request: neither in flight nor in the duration histogram.
    assert points(reader, "http.server.request.duration") == []


def test_two_apps_on_one_meter_provider_count_together() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])

    def app() -> App:
        new = App(telemetry=Telemetry(meter_provider=provider, traces=False))

        @new.websocket("/echo")
        async def echo(ws: WebSocket[Ping, Ping]) -> None:
            async for ping in ws:
                await ws.send(ping)

        return new

    with (
        TestClient(app()) as one,
        TestClient(app()) as two,
        one.websocket_connect("/echo") as first_ws,
        two.websocket_connect("/echo") as second_ws,
    ):
        for ws in (first_ws, second_ws):
            ws.send_json({"n": 1})
            assert ws.receive_json() == {"n": 1}
        (open_now,) = points(reader, "bocadillo.websocket.connections")
        assert open_now.value == 2
    (closed,) = points(reader, "bocadillo.websocket.connections")
    assert closed.value == 0


def test_metrics_false_records_nothing() -> None:
    app, reader = metered(metrics=False)
    with TestClient(app) as client:
        assert client.get("/items/1").status_code == 200
        with client.websocket_connect("/echo") as ws:
            ws.send_json({"n": 1})
            ws.receive_json()
    assert reader.get_metrics_data() is None or all(
        not scope.metrics
        for resource in reader.get_metrics_data().resource_metrics
        for scope in resource.scope_metrics
    )


# The streams engineer's hooks (runtime/websockets.py, runtime/sse.py,
# channels/channel.py) call these; until they are merged these tests call the
# instruments as those hooks do.


def instruments() -> tuple[Instruments, InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    telemetry = Telemetry(meter_provider=MeterProvider(metric_readers=[reader]))
    return Instruments(telemetry), reader


def test_websocket_messages_are_counted_by_route_direction_and_type() -> None:
    app, reader = metered()
    with TestClient(app).websocket_connect("/echo") as ws:
        ws.send_json({"n": 1})
        assert ws.receive_json() == {"n": 2}
        ws.send_json({"n": 2})
        assert ws.receive_json() == {"n": 3}
        ws.send_json({"n": "not a number"})
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1007
    series = {
        (p.attributes["bocadillo.direction"], p.attributes["bocadillo.message.type"]): p.value
        for p in points(reader, "bocadillo.websocket.messages")
    }
    assert series == {("received", "Ping"): 2, ("sent", "Ping"): 2}
    assert {p.attributes["http.route"] for p in points(reader, "bocadillo.websocket.messages")} == {
        "/echo"
    }
    failures = {
        (p.attributes["http.route"], p.attributes["bocadillo.kind"]): p.value
        for p in points(reader, "bocadillo.validation.failures")
    }
    assert failures == {("/echo", "websocket"): 1}
    (open_now,) = points(reader, "bocadillo.websocket.connections")
    assert open_now.value == 0


def test_event_streams_and_their_events_are_counted() -> None:
    app, reader = metered()

    @app.sse("/ticks")
    async def ticks() -> AsyncIterator[Ping]:
        for n in range(3):
            yield Ping(n=n)

    with TestClient(app).stream("GET", "/ticks") as response:
        assert response.status_code == 200
        assert response.read().count(b"event: Ping") == 3
    (closed,) = points(reader, "bocadillo.sse.streams")
    assert (dict(closed.attributes), closed.value) == ({"http.route": "/ticks"}, 0)
    events = {
        p.attributes["bocadillo.event.type"]: p.value
        for p in points(reader, "bocadillo.sse.events")
    }
    assert events == {"Ping": 3}
    active = {
        p.attributes["http.request.method"]: p.value
        for p in points(reader, "http.server.active_requests")
    }
    assert active == {"GET": 0}


def test_a_request_that_fails_validation_is_counted_by_route() -> None:
    app, reader = metered()
    client = TestClient(app)
    assert client.post("/items", json={"name": 3}).status_code == 422
    assert client.post("/items", json={"name": "ok"}).status_code == 200
    failures = {
        (p.attributes["http.route"], p.attributes["bocadillo.kind"]): p.value
        for p in points(reader, "bocadillo.validation.failures")
    }
    assert failures == {("/items", "http"): 1}


def test_channel_deliveries_drops_and_validation_failures_are_counted() -> None:
    meter, reader = instruments()
    meter.delivered("news")
    meter.delivered("news")
    meter.dropped("news", "drop_oldest")
    meter.dropped("news", "disconnect")
    meter.validation_failed("websocket", "/chat")
    meter.validation_failed("http", "/items")
    (delivered,) = points(reader, "bocadillo.channel.deliveries")
    assert (dict(delivered.attributes), delivered.value) == ({"bocadillo.channel": "news"}, 2)
    drops = {
        p.attributes["bocadillo.drop.reason"]: p.value
        for p in points(reader, "bocadillo.channel.drops")
    }
    assert drops == {"drop_oldest": 1, "disconnect": 1}
    failures = {
        (p.attributes["http.route"], p.attributes["bocadillo.kind"]): p.value
        for p in points(reader, "bocadillo.validation.failures")
    }
    assert failures == {("/chat", "websocket"): 1, ("/items", "http"): 1}


# -- the bench's telemetry column (bench/inprocess.py --telemetry) -----------------


def load_bench() -> Any:
    import importlib.util
    import sys
    from pathlib import Path

    name = "bench_inprocess"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).resolve().parent.parent / "bench" / "inprocess.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_the_bench_with_telemetry_on_answers_every_scenario_and_reports_the_cost() -> None:
    import asyncio

    bench = load_bench()
    asyncio.run(bench.check_all(["bocadillo-telemetry"]))

    def target(framework: str, scenario: str, us: float) -> Any:
        return bench.Target(
            bench.FRAMEWORK_BY_KEY[framework],
            bench.SCENARIO_BY_KEY[scenario],
            app=None,
            scope=None,
            receive=None,
            samples=[us / 1e6],
        )

    plaintext = bench.SCENARIO_BY_KEY["plaintext"]
    report = bench.telemetry_cost(
        [target("bocadillo", "plaintext", 5.0), target("bocadillo-telemetry", "plaintext", 20.0)],
        [plaintext],
    )
    assert plaintext.title in report
    assert "+ 15.00 µs (4.00x)" in report


def test_the_ab_bench_times_two_copies_of_the_package_in_one_process() -> None:
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    # The same copy on both sides: what matters here is that it runs and reports.
    result = subprocess.run(
        [
            sys.executable, "bench/telemetry_ab.py", "--before", str(root),
            "--rounds", "1", "--batch-time", "0.001", "--no-pin",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "| plaintext GET |" in result.stdout
    assert "| SSE stream of 1,000 events (per event) |" in result.stdout
