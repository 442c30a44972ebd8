"""Telemetry of WebSocket connections and event streams (issue #25, item 1).

One span per WebSocket connection, with an event per message received, sent or
refused, and how the connection was closed; one span per event stream, with
its event count, its bytes and how it ended. Spans go to the OpenTelemetry
SDK's in-memory exporter, through ``Telemetry(tracer_provider=...)``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="telemetry needs the otel extra")

from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import BaseModel
from starlette.websockets import WebSocketDisconnect as ClientDisconnected

from bocadillo import App, Channel, WebSocket
from bocadillo.telemetry import Telemetry
from bocadillo.testing import create_client


class Hello(BaseModel):
    name: str


class Bye(BaseModel):
    reason: str


class Echo(BaseModel):
    text: str


class Tick(BaseModel):
    n: int


class Traced:
    """An app with telemetry on, and the spans it finished."""

    def __init__(self, **limits: Any) -> None:
        self.exporter = InMemorySpanExporter()
        provider = TracerProvider(span_limits=SpanLimits(**limits))
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.provider = provider
        self.app = App(telemetry=Telemetry(tracer_provider=provider, access_log=None))

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        found = [span for span in self.spans() if span.name == name]
        assert len(found) == 1, [span.name for span in self.spans()]
        return found[0]


def events(span: ReadableSpan) -> list[tuple[str, dict[str, Any]]]:
    return [(event.name, dict(event.attributes or {})) for event in span.events]


@pytest.fixture
def traced() -> Iterator[Traced]:
    yield Traced()


# -- WebSockets ----------------------------------------------------------------


def test_a_websocket_span_has_an_event_per_message_and_the_client_close(traced: Traced) -> None:
    app = traced.app

    @app.websocket("/chat/{room}")
    async def chat(ws: WebSocket[Hello | Bye, Echo], room: str) -> None:
        async for message in ws:
            await ws.send(Echo(text=f"{room}: {type(message).__name__}"))

    with create_client(app) as client, client.websocket_connect("/chat/lobby") as ws:
        ws.send_text('{"name":"ada"}')
        assert ws.receive_json() == {"text": "lobby: Hello"}
        ws.send_text('{"reason":"late"}')
        assert ws.receive_json() == {"text": "lobby: Bye"}
        ws.close(1001)

    span = traced.span("WEBSOCKET /chat/{room}")
    assert events(span) == [
        ("message.received", {"bocadillo.message.type": "Hello", "bocadillo.message.size": 14}),
        ("message.sent", {"bocadillo.message.type": "Echo", "bocadillo.message.size": 23}),
        ("message.received", {"bocadillo.message.type": "Bye", "bocadillo.message.size": 17}),
        ("message.sent", {"bocadillo.message.type": "Echo", "bocadillo.message.size": 21}),
    ]
    attributes = span.attributes or {}
    assert attributes["websocket.close.code"] == 1001
    assert attributes["bocadillo.websocket.closed_by"] == "client"
    assert attributes["bocadillo.websocket.messages.received"] == 2
    assert attributes["bocadillo.websocket.messages.sent"] == 2
    assert attributes["bocadillo.websocket.messages.invalid"] == 0


def test_a_websocket_the_handler_ends_is_closed_1000_by_the_server(traced: Traced) -> None:
    app = traced.app

    @app.websocket("/once")
    async def once(ws: WebSocket[Hello, Echo]) -> None:
        hello = await ws.receive()
        await ws.send(Echo(text=hello.name))

    with create_client(app) as client, client.websocket_connect("/once") as ws:
        ws.send_text('{"name":"ada"}')
        assert ws.receive_json() == {"text": "ada"}
        with pytest.raises(ClientDisconnected) as closed:
            ws.receive_text()
        assert closed.value.code == 1000

    attributes = traced.span("WEBSOCKET /once").attributes or {}
    assert attributes["websocket.close.code"] == 1000
    assert attributes["bocadillo.websocket.closed_by"] == "server"


def test_text_and_binary_messages_are_named_str_and_bytes(traced: Traced) -> None:
    app = traced.app

    @app.websocket("/text")
    async def text(ws: WebSocket[str, str]) -> None:
        async for message in ws:
            await ws.send(message.upper())

    @app.websocket("/binary")
    async def binary(ws: WebSocket[bytes, bytes]) -> None:
        async for message in ws:
            await ws.send(message * 2)

    with create_client(app) as client:
        with client.websocket_connect("/text") as ws:
            ws.send_text("héllo")  # 6 bytes in UTF-8
            assert ws.receive_text() == "HÉLLO"
        with client.websocket_connect("/binary") as ws:
            ws.send_bytes(b"abc")
            assert ws.receive_bytes() == b"abcabc"

    assert events(traced.span("WEBSOCKET /text")) == [
        ("message.received", {"bocadillo.message.type": "str", "bocadillo.message.size": 6}),
        ("message.sent", {"bocadillo.message.type": "str", "bocadillo.message.size": 6}),
    ]
    assert events(traced.span("WEBSOCKET /binary")) == [
        ("message.received", {"bocadillo.message.type": "bytes", "bocadillo.message.size": 3}),
        ("message.sent", {"bocadillo.message.type": "bytes", "bocadillo.message.size": 6}),
    ]


def test_an_invalid_message_is_an_event_with_its_errors_and_the_close_that_followed(
    traced: Traced,
) -> None:
    app = traced.app

    @app.websocket("/chat")
    async def chat(ws: WebSocket[Hello, Echo]) -> None:
        async for message in ws:
            await ws.send(Echo(text=message.name))

    with create_client(app) as client, client.websocket_connect("/chat") as ws:
        ws.send_text('{"nom": 1, "extra": true}')
        with pytest.raises(ClientDisconnected) as closed:
            ws.receive_text()
        assert closed.value.code == 1007

    span = traced.span("WEBSOCKET /chat")
    assert events(span) == [
        (
            "message.invalid",
            {
                "bocadillo.message.size": 25,
                "bocadillo.message.errors": 1,
                "bocadillo.message.answer": "close",
                "websocket.close.code": 1007,
            },
        )
    ]
    attributes = span.attributes or {}
    assert attributes["websocket.close.code"] == 1007
    assert attributes["bocadillo.websocket.closed_by"] == "server"
    assert attributes["bocadillo.websocket.messages.invalid"] == 1


def test_an_invalid_message_answered_with_an_error_reply_says_so(traced: Traced) -> None:
    app = traced.app

    @app.websocket("/chat", invalid_message="reply")
    async def chat(ws: WebSocket[Hello, Echo]) -> None:
        async for message in ws:
            await ws.send(Echo(text=message.name))

    with create_client(app) as client, client.websocket_connect("/chat") as ws:
        ws.send_text("not json")
        assert "errors" in ws.receive_json()
        ws.send_text('{"name": "ada"}')
        assert ws.receive_json() == {"text": "ada"}

    span = traced.span("WEBSOCKET /chat")
    assert [name for name, _ in events(span)] == [
        "message.invalid",
        "message.received",
        "message.sent",
    ]
    assert events(span)[0][1] == {
        "bocadillo.message.size": 8,
        "bocadillo.message.errors": 1,
        "bocadillo.message.answer": "reply",
    }
    attributes = span.attributes or {}
    assert attributes["websocket.close.code"] == 1000  # the client left at the block's end
    assert attributes["bocadillo.websocket.closed_by"] == "client"


def test_a_message_over_the_size_limit_is_refused_with_1009(traced: Traced) -> None:
    app = traced.app

    @app.websocket("/chat", max_message_size=16)
    async def chat(ws: WebSocket[str, str]) -> None:
        async for message in ws:
            await ws.send(message)

    with create_client(app) as client, client.websocket_connect("/chat") as ws:
        ws.send_text("x" * 17)
        with pytest.raises(ClientDisconnected):
            ws.receive_text()

    span = traced.span("WEBSOCKET /chat")
    assert events(span) == [
        (
            "message.invalid",
            {
                "bocadillo.message.size": 17,
                "bocadillo.message.errors": 1,
                "bocadillo.message.answer": "close",
                "websocket.close.code": 1009,
            },
        )
    ]


def test_a_long_connection_records_1000_message_events_then_counts_only() -> None:
    traced = Traced(max_events=5000)  # the SDK keeps 128 events a span by default
    app = traced.app

    @app.websocket("/echo")
    async def echo(ws: WebSocket[str, str]) -> None:
        async for message in ws:
            await ws.send(message)

    with create_client(app) as client, client.websocket_connect("/echo") as ws:
        for n in range(600):
            ws.send_text(str(n))
            assert ws.receive_text() == str(n)

    span = traced.span("WEBSOCKET /echo")
    assert len(span.events) == 1000
    attributes = span.attributes or {}
    assert attributes["bocadillo.events_dropped"] == 200
    assert attributes["bocadillo.websocket.messages.received"] == 600
    assert attributes["bocadillo.websocket.messages.sent"] == 600


# -- event streams -------------------------------------------------------------


def test_an_event_stream_span_has_its_event_count_bytes_and_end(traced: Traced) -> None:
    app = traced.app

    @app.sse("/ticks", keepalive=None)
    async def ticks() -> AsyncIterator[Tick]:
        for n in range(3):
            yield Tick(n=n)

    with create_client(app) as client:
        response = client.get("/ticks")
    assert response.status_code == 200

    span = traced.span("GET /ticks")
    attributes = span.attributes or {}
    assert attributes["bocadillo.sse.events"] == 3
    assert attributes["bocadillo.sse.bytes"] == len(response.content)
    assert attributes["bocadillo.sse.end"] == "complete"


def test_an_event_stream_the_client_leaves_ends_with_disconnect(traced: Traced) -> None:
    app = traced.app

    @app.sse("/ticks", keepalive=None)
    async def ticks() -> AsyncIterator[Tick]:
        n = 0
        while True:
            yield Tick(n=n)
            n += 1
            await asyncio.sleep(0.01)

    with create_client(app) as client:
        got = list(client.stream_events("/ticks", max_events=2))
    assert len(got) == 2

    attributes = traced.span("GET /ticks").attributes or {}
    assert attributes["bocadillo.sse.end"] == "disconnect"
    assert isinstance(attributes["bocadillo.sse.events"], int)
    assert attributes["bocadillo.sse.events"] >= 2


def test_an_event_stream_whose_handler_fails_ends_with_error(traced: Traced) -> None:
    app = traced.app

    @app.sse("/ticks", keepalive=None)
    async def ticks() -> AsyncIterator[Tick]:
        yield Tick(n=0)
        raise RuntimeError("boom")

    with create_client(app, raise_server_exceptions=False) as client:
        response = client.get("/ticks")
    assert response.status_code == 200

    attributes = traced.span("GET /ticks").attributes or {}
    assert attributes["bocadillo.sse.events"] == 1
    assert attributes["bocadillo.sse.end"] == "error"


def test_an_event_stream_behind_its_channel_ends_with_slow_subscriber(traced: Traced) -> None:
    app = traced.app
    feed = app.channel("feed", Tick, max_queue=2, overflow="disconnect")
    subscribed = asyncio.Event()
    go = asyncio.Event()

    @app.sse("/ticks", keepalive=None)
    async def ticks(feed: Channel[Tick]) -> AsyncIterator[Tick]:
        async with feed.subscribe() as sub:
            subscribed.set()
            await go.wait()  # busy elsewhere while the channel fills up
            async for tick in sub:
                yield tick

    async def scenario() -> None:
        async with app.lifespan_context():
            stream = asyncio.create_task(_get(app, "/ticks"))
            await subscribed.wait()
            for n in range(3):
                await feed.publish(Tick(n=n))
            go.set()
            await asyncio.wait_for(stream, 10)

    asyncio.run(scenario())
    attributes = traced.span("GET /ticks").attributes or {}
    assert attributes["bocadillo.sse.end"] == "slow_subscriber"
    assert attributes["bocadillo.sse.events"] == 0
    assert attributes["bocadillo.channel.deliveries"] == 2
    assert attributes["bocadillo.channel.drops"] == 1


def test_an_event_stream_the_server_stops_ends_with_shutdown(traced: Traced) -> None:
    app = traced.app
    started = asyncio.Event()

    @app.sse("/ticks", keepalive=None)
    async def ticks() -> AsyncIterator[Tick]:
        yield Tick(n=0)
        started.set()
        await asyncio.Event().wait()  # forever
        yield Tick(n=1)

    async def scenario() -> None:
        async with app.lifespan_context():
            stop = asyncio.Event()
            stream = asyncio.create_task(_get(app, "/ticks", stop=stop))
            await started.wait()
            stop.set()
            await asyncio.wait_for(stream, 10)

    asyncio.run(scenario())
    attributes = traced.span("GET /ticks").attributes or {}
    assert attributes["bocadillo.sse.end"] == "shutdown"
    assert attributes["bocadillo.sse.events"] == 1


async def _get(app: App, path: str, stop: asyncio.Event | None = None) -> list[dict[str, Any]]:
    """GET ``path`` from ``app`` over raw ASGI; with ``stop``, the server says it is
    stopping (as ``bocadillo run`` does at shutdown) once ``stop`` is set."""
    sent: list[dict[str, Any]] = []
    done = asyncio.Event()
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"accept", b"text/event-stream")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }

    async def receive() -> dict[str, Any]:
        if stop is not None:
            await stop.wait()
            scope["bocadillo.server_stopping"] = True
            stop.clear()
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    await app(scope, receive, send)
    return sent


# -- telemetry off ---------------------------------------------------------------


def test_with_telemetry_off_a_connection_and_a_stream_record_nothing() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("handler")
    app = App()

    @app.websocket("/echo")
    async def echo(ws: WebSocket[str, str]) -> None:
        with tracer.start_as_current_span("echoing"):
            async for message in ws:
                await ws.send(message)

    @app.sse("/ticks", keepalive=None)
    async def ticks() -> AsyncIterator[Tick]:
        with tracer.start_as_current_span("ticking"):
            yield Tick(n=0)

    with create_client(app) as client:
        with client.websocket_connect("/echo") as ws:
            ws.send_text("hi")
            assert ws.receive_text() == "hi"
        assert client.get("/ticks").status_code == 200

    spans = exporter.get_finished_spans()
    # Only the handlers' own spans: no server span above them, no message events.
    assert sorted(span.name for span in spans) == ["echoing", "ticking"]
    assert all(span.parent is None and not span.events for span in spans)
