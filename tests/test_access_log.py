"""The access log (one line per request and WebSocket connection on ``bocadillo.access``,
as text or JSON) and the request's ids on the app's own log records."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="telemetry needs the otel extra")

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.testclient import TestClient

from bocadillo import App, HTTPError, Telemetry, WebSocket
from bocadillo.telemetry.logs import RequestContextFilter

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


class Lines(logging.Handler):
    """The records a logger emits, and their formatted lines."""

    def __init__(self, formatter: logging.Formatter | None = None) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []
        self.setFormatter(formatter or logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


@pytest.fixture
def access() -> Any:
    logger = logging.getLogger("bocadillo.access")
    handler = Lines()
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def make_app(exporter: InMemorySpanExporter, telemetry: bool = True, **options: Any) -> App:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    setting = Telemetry(tracer_provider=provider, metrics=False, **options) if telemetry else False
    app = App(telemetry=setting)

    @app.get("/todos/{id}")
    async def get_todo(id: int) -> dict[str, int]:
        logging.getLogger("my.app").warning("reading todo %s", id)
        if id == 404:
            raise HTTPError(404, detail="no such todo")
        return {"id": id}

    @app.websocket("/echo/{room}")
    async def echo(ws: WebSocket[str, str], room: str) -> None:
        await ws.accept()
        await ws.send(await ws.receive())
        await ws.close(code=4000)

    return app


def test_a_text_line_per_request(access: Lines, exporter: InMemorySpanExporter) -> None:
    client = TestClient(make_app(exporter))
    headers = {"X-Request-ID": "req-1", "traceparent": TRACEPARENT}
    assert client.get("/todos/7?x=1", headers=headers).status_code == 200
    assert client.get("/todos/404", headers={"X-Request-ID": "req-2"}).status_code == 404
    first, second = access.lines
    assert first.startswith("GET /todos/7 200 ")
    assert "route=/todos/{id}" in first
    assert "request_id=req-1" in first
    assert f"trace_id={TRACE_ID}" in first
    assert second.startswith("GET /todos/404 404 ")
    assert "request_id=req-2" in second
    record = access.records[0]
    assert record.levelno == logging.INFO
    assert record.name == "bocadillo.access"
    # The fields, for any formatter (structlog's, a JSON one).
    fields = record.__dict__
    assert fields["kind"] == "http"
    assert fields["method"] == "GET"
    assert fields["route"] == "/todos/{id}"
    assert fields["path"] == "/todos/7"
    assert fields["status"] == 200
    assert fields["duration_ms"] >= 0
    assert fields["request_id"] == "req-1"
    assert fields["trace_id"] == TRACE_ID
    [span] = [s for s in exporter.get_finished_spans() if s.name == "GET /todos/{id}"][:1]
    assert fields["span_id"] == trace.format_span_id(span.context.span_id)


def test_a_json_line_per_request(access: Lines, exporter: InMemorySpanExporter) -> None:
    client = TestClient(make_app(exporter, access_log="json"))
    response = client.get("/todos/3", headers={"traceparent": TRACEPARENT})
    [line] = access.lines
    entry = json.loads(line)
    assert entry["kind"] == "http"
    assert entry["method"] == "GET"
    assert entry["route"] == "/todos/{id}"
    assert entry["path"] == "/todos/3"
    assert entry["status"] == 200
    assert isinstance(entry["duration_ms"], float)
    assert entry["request_id"] == response.headers["x-request-id"]
    assert entry["trace_id"] == TRACE_ID
    assert entry["time"].endswith("+00:00")


def test_an_unmatched_request_has_no_route(access: Lines, exporter: InMemorySpanExporter) -> None:
    TestClient(make_app(exporter, access_log="json")).get("/nowhere")
    [line] = access.lines
    entry = json.loads(line)
    assert entry["route"] is None
    assert entry["status"] == 404


def test_a_line_per_websocket_connection_with_its_close_code(
    access: Lines, exporter: InMemorySpanExporter
) -> None:
    client = TestClient(make_app(exporter, access_log="json"))
    with client.websocket_connect("/echo/lobby") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "hi"
    [line] = access.lines
    entry = json.loads(line)
    assert entry["kind"] == "websocket"
    assert entry["method"] == "WEBSOCKET"
    assert entry["route"] == "/echo/{room}"
    assert entry["path"] == "/echo/lobby"
    assert entry["status"] == 4000


def test_a_client_closing_gives_its_close_code(
    access: Lines, exporter: InMemorySpanExporter
) -> None:
    app = make_app(exporter)

    @app.websocket("/listen")
    async def listen(ws: WebSocket[str, str]) -> None:
        await ws.accept()
        async for _ in ws:
            pass

    with TestClient(app).websocket_connect("/listen") as ws:
        ws.close(code=4321)
    [line] = access.lines
    assert line.startswith("WEBSOCKET /listen 4321 ")


def test_no_access_line_when_asked(access: Lines, exporter: InMemorySpanExporter) -> None:
    client = TestClient(make_app(exporter, access_log=None))
    assert client.get("/todos/1").status_code == 200
    assert access.lines == []
    assert [s.name for s in exporter.get_finished_spans()] == ["GET /todos/{id}"]


def test_no_access_line_when_telemetry_is_off(
    access: Lines, exporter: InMemorySpanExporter
) -> None:
    client = TestClient(make_app(exporter, telemetry=False))
    assert client.get("/todos/1").status_code == 200
    assert access.lines == []


def test_the_apps_own_records_carry_the_requests_ids(
    exporter: InMemorySpanExporter,
) -> None:
    handler = Lines(logging.Formatter("%(request_id)s %(trace_id)s %(span_id)s %(message)s"))
    handler.addFilter(RequestContextFilter())
    logger = logging.getLogger("my.app")
    logger.addHandler(handler)
    try:
        client = TestClient(make_app(exporter))
        client.get("/todos/5", headers={"X-Request-ID": "abc", "traceparent": TRACEPARENT})
        logger.warning("outside any request")
    finally:
        logger.removeHandler(handler)
    inside, outside = handler.lines
    [span] = [s for s in exporter.get_finished_spans() if s.name == "GET /todos/{id}"]
    span_id = trace.format_span_id(span.context.span_id)
    assert inside == f"abc {TRACE_ID} {span_id} reading todo 5"
    assert outside == "None None None outside any request"


def test_a_records_own_request_id_is_kept(exporter: InMemorySpanExporter) -> None:
    handler = Lines(logging.Formatter("%(request_id)s %(message)s"))
    handler.addFilter(RequestContextFilter())
    logger = logging.getLogger("my.other")
    logger.addHandler(handler)
    try:
        logger.warning("job done", extra={"request_id": "job-9"})
    finally:
        logger.removeHandler(handler)
    assert handler.lines == ["job-9 job done"]
