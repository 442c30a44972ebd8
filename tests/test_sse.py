"""Server-sent events: @app.sse routes, their events, their end, and their documents."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
import uvicorn
from jsonschema import Draft7Validator
from openapi_spec_validator import validate as validate_openapi
from pydantic import BaseModel

from bocadillo import (
    App,
    BackgroundTasks,
    Body,
    ConfigurationError,
    Event,
    File,
    Form,
    HTTPError,
    Query,
    UploadFile,
    WebSocket,
)
from bocadillo.testing import create_client

DATA = Path(__file__).parent / "data"


class Tick(BaseModel):
    n: int


class Done(BaseModel):
    total: int


class Blob(BaseModel):
    n: int
    text: str


class Other(BaseModel):
    __sse_event__: ClassVar[str] = "Tick"


class Renamed(BaseModel):
    __sse_event__: ClassVar[str] = "renamed-event"
    text: str


# -- driving the ASGI app by hand: every message, with the time it was sent ----------


@dataclass
class Sent:
    at: float
    message: dict[str, Any]


async def drive(
    app: App,
    path: str,
    *,
    headers: list[tuple[bytes, bytes]] | None = None,
    leave_after: float | None = None,
    method: str = "GET",
    query: bytes = b"",
) -> list[Sent]:
    """One request straight to the app; the client leaves after ``leave_after`` seconds."""
    loop = asyncio.get_running_loop()
    left = asyncio.Event()
    sent: list[Sent] = []
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await left.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(Sent(loop.time(), message))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": headers or [],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }
    task = loop.create_task(app(scope, receive, send))
    if leave_after is not None:
        await asyncio.sleep(leave_after)
        left.set()
    try:
        await asyncio.wait_for(task, 5)
    except TimeoutError:
        raise
    except Exception:
        pass  # raised after the response, as a server sees it: the tests read the log
    return sent


def body_of(sent: list[Sent]) -> bytes:
    return b"".join(s.message.get("body", b"") for s in sent[1:])


# -- events on the wire ---------------------------------------------------------------


def test_each_yield_is_one_event_named_by_its_type() -> None:
    app = App()

    @app.sse("/feed")
    async def feed() -> AsyncIterator[Tick | Done | Renamed | str]:
        yield Tick(n=1)
        yield Renamed(text="hi")
        yield "two\nlines"
        yield Done(total=1)

    sent = asyncio.run(drive(app, "/feed"))
    assert sent[0].message["status"] == 200
    assert dict(sent[0].message["headers"]) == {
        b"content-type": b"text/event-stream; charset=utf-8",
        b"cache-control": b"no-cache",
        b"x-accel-buffering": b"no",
    }
    assert body_of(sent) == (
        b'event: Tick\ndata: {"n":1}\n\n'
        b'event: renamed-event\ndata: {"text":"hi"}\n\n'
        b"event: message\ndata: two\ndata: lines\n\n"
        b'event: Done\ndata: {"total":1}\n\n'
    )
    assert sent[-1].message == {"type": "http.response.body", "body": b"", "more_body": False}


def test_event_sets_id_and_retry_and_route_names_events() -> None:
    app = App()

    @app.sse("/feed", event_names={Tick: "tick"})
    async def feed() -> AsyncIterator[Event[Tick]]:
        yield Event(Tick(n=1), id=7, retry=2500)
        yield Event(Tick(n=2), id="eight", event="tick")

    body = body_of(asyncio.run(drive(app, "/feed")))
    assert body == (
        b'id: 7\nevent: tick\ndata: {"n":1}\nretry: 2500\n\n'
        b'id: eight\nevent: tick\ndata: {"n":2}\n\n'
    )


def test_a_subclass_is_sent_under_its_declared_base() -> None:
    class BigTick(Tick):
        big: bool = True

    app = App()

    @app.sse("/feed")
    async def feed() -> AsyncIterator[Tick]:
        yield BigTick(n=3)

    # Dumped as the declared type: the subclass's extra field does not leak.
    assert body_of(asyncio.run(drive(app, "/feed"))) == b'event: Tick\ndata: {"n":3}\n\n'


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"id": "a\nb"}, "line break"),
        ({"id": "a\0b"}, "NUL"),
        ({"event": ""}, "non-empty"),
        ({"event": "a\rb"}, "line breaks"),
        ({"retry": -1}, "negative"),
        ({"retry": 1.5}, "whole number"),
        ({"retry": True}, "whole number"),
    ],
)
def test_event_refuses_fields_that_would_break_the_stream(
    fields: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        Event(Tick(n=1), **fields)


def test_event_is_exported_and_repr_shows_its_fields() -> None:
    assert repr(Event(Tick(n=1), id=3)) == "Event(Tick(n=1), id='3')"


# -- what may not be sent --------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [{"n": 2}, Done(total=2), Event(Tick(n=2), event="other")],
    ids=["a dict", "an undeclared model", "a wrong event name"],
)
def test_an_undeclared_value_ends_the_stream_and_is_raised(
    value: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = App()
    after: list[str] = []

    @app.sse("/feed")
    async def feed() -> AsyncIterator[Tick]:
        try:
            yield Tick(n=1)
            yield value
            yield Tick(n=3)
        finally:
            after.append("closed")

    with create_client(app) as client:
        stream = client.stream_events("/feed")
        received = []
        with pytest.raises(TypeError, match="not one of the events it declares: Tick"), stream:
            received.extend(stream)
    assert [event.data for event in received] == [Tick(n=1)]
    assert after == ["closed"]
    assert "not one of the events it declares" in caplog.text

    # A server logs it and ends the stream cleanly after the events that were valid.
    sent = asyncio.run(drive(app, "/feed"))
    assert body_of(sent) == b'event: Tick\ndata: {"n":1}\n\n'
    assert sent[-1].message.get("more_body") is False


def test_a_handler_error_after_the_start_ends_the_stream(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = App()
    seen: list[Any] = []

    @app.provider
    async def resource() -> AsyncIterator[str]:
        try:
            yield "r"
        except Exception as exc:
            seen.append(exc)
            raise

    @app.sse("/feed")
    async def feed(resource: str) -> AsyncIterator[Tick]:
        yield Tick(n=1)
        raise RuntimeError("the database went away")

    with (
        create_client(app) as client,
        pytest.raises(RuntimeError, match="database went away"),
        client.stream_events("/feed") as stream,
    ):
        assert [e.data for e in stream] == [Tick(n=1)]
    # The provider's teardown saw the handler's error.
    assert [str(e) for e in seen] == ["the database went away"]
    with caplog.at_level(logging.ERROR, logger="bocadillo"):
        sent = asyncio.run(drive(app, "/feed"))
    assert sent[0].message["status"] == 200
    assert body_of(sent) == b'event: Tick\ndata: {"n":1}\n\n'
    assert "the database went away" in caplog.text
    assert b"Traceback" not in body_of(sent)


# -- before the stream: parameters, providers ------------------------------------------


def test_parameters_and_provider_errors_are_problems_before_the_stream() -> None:
    app = App()
    events_sent: list[int] = []

    @app.provider(raises={404: "No such feed."})
    async def feed_name(name: str) -> str:
        if name != "news":
            raise HTTPError(404, detail=f"No feed {name}.")
        return name

    @app.sse("/feeds/{name}")
    async def feed(feed_name: str, count: int = Query(2, ge=1, le=5)) -> AsyncIterator[Tick]:
        for n in range(count):
            events_sent.append(n)
            yield Tick(n=n)

    with create_client(app) as client:
        missing = client.get("/feeds/sports")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.json()["detail"] == "No feed sports."
        bad = client.get("/feeds/news?count=9")
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["loc"] == ["query", "count"]
        assert events_sent == []
        assert [e.data.n for e in client.stream_events("/feeds/news", params={"count": 3})] == [
            0,
            1,
            2,
        ]


def test_the_test_client_checks_the_data_type_it_is_told() -> None:
    app = App()

    @app.sse("/mixed")
    async def mixed() -> AsyncIterator[Tick | Done]:
        yield Tick(n=1)
        yield Done(total=1)

    with create_client(app) as client:
        ticks = client.stream_events("/mixed", max_events=1, data_type=Tick)
        assert [e.data.n for e in ticks] == [1]
        with pytest.raises(AssertionError, match="event 'Done' holds a Done, not a Tick"):
            list(client.stream_events("/mixed", data_type=Tick))


def test_last_event_id_is_read_from_its_header_and_typed() -> None:
    app = App()

    @app.sse("/count")
    async def count(last_event_id: int | None) -> AsyncIterator[Event[Tick]]:
        start = 0 if last_event_id is None else last_event_id + 1
        for n in range(start, start + 2):
            yield Event(Tick(n=n), id=n)

    with create_client(app) as client:
        first = list(client.stream_events("/count"))
        assert [(e.id, e.data.n) for e in first] == [("0", 0), ("1", 1)]
        resumed = list(
            client.stream_events("/count", headers={"Last-Event-ID": first[-1].id or ""})
        )
        assert [(e.id, e.data.n) for e in resumed] == [("2", 2), ("3", 3)]
        bad = client.get("/count", headers={"Last-Event-ID": "abc"})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["loc"] == ["header", "last-event-id"]
    parameter = app.openapi()["paths"]["/count"]["get"]["parameters"][0]
    assert parameter == {
        "name": "last-event-id",
        "in": "header",
        "required": False,
        "schema": {"type": "integer"},
    }


def test_head_sends_the_headers_without_running_the_generator() -> None:
    app = App()
    ran: list[bool] = []

    @app.sse("/feed")
    async def feed() -> AsyncIterator[Tick]:
        ran.append(True)
        yield Tick(n=1)

    sent = asyncio.run(drive(app, "/feed", method="HEAD"))
    assert sent[0].message["status"] == 200
    assert body_of(sent) == b""
    assert ran == []


# -- keep-alive --------------------------------------------------------------------------


def test_a_keepalive_comment_goes_out_when_no_event_did() -> None:
    app = App()

    @app.sse("/slow", keepalive=0.1)
    async def slow() -> AsyncIterator[Tick]:
        yield Tick(n=1)
        await asyncio.sleep(0.35)
        yield Tick(n=2)
        await asyncio.sleep(10)

    sent = asyncio.run(drive(app, "/slow", leave_after=0.5))
    start = sent[0].at
    timeline = [(round(s.at - start, 2), s.message.get("body")) for s in sent[1:]]
    comments = [at for at, body in timeline if body == b": keep-alive\n\n"]
    # Events at 0 and 0.35; comments 0.1 s after the last thing sent, only when idle.
    assert len(comments) == 4, timeline
    assert all(0.08 <= at <= 0.35 or at >= 0.43 for at in comments), timeline
    gaps = [b - a for a, b in zip([0.0, *comments], comments, strict=False)]
    assert all(gap >= 0.08 for gap in gaps), timeline


def test_keepalive_none_sends_no_comment() -> None:
    app = App()

    @app.sse("/quiet", keepalive=None)
    async def quiet() -> AsyncIterator[Tick]:
        await asyncio.sleep(10)
        yield Tick(n=1)

    sent = asyncio.run(drive(app, "/quiet", leave_after=0.3))
    assert body_of(sent) == b""


# -- the end: the client leaves ---------------------------------------------------------


def test_leaving_closes_the_generator_and_tears_providers_down() -> None:
    app = App()
    log: list[str] = []

    @app.provider
    async def session() -> AsyncIterator[str]:
        log.append("session opened")
        try:
            yield "s"
        finally:  # the client left mid-stream: ClientDisconnect is raised at the yield
            log.append("session closed")

    @app.sse("/forever")
    async def forever(session: str) -> AsyncIterator[Tick]:
        n = 0
        try:
            while True:
                yield Tick(n=n)
                n += 1
                await asyncio.sleep(0.01)
        finally:
            log.append("generator closed")

    sent = asyncio.run(drive(app, "/forever", leave_after=0.1))
    assert log == ["session opened", "generator closed", "session closed"]
    # The client left: nothing is sent after it did, not even the final empty body.
    assert sent[-1].message.get("more_body") is True
    with create_client(app) as client:
        events = list(client.stream_events("/forever", max_events=3))
    assert [e.data.n for e in events] == [0, 1, 2]
    assert log[3:] == ["session opened", "generator closed", "session closed"]


def test_the_test_client_fails_a_handler_slow_to_stop() -> None:
    app = App()

    @app.sse("/stubborn")
    async def stubborn() -> AsyncIterator[Tick]:
        try:
            yield Tick(n=1)
            await asyncio.sleep(10)
        finally:
            await asyncio.sleep(1)  # a slow clean-up: the client left a second ago

    with (
        create_client(app) as client,
        pytest.raises(AssertionError, match=r"did not stop within 0\.3 s"),
        client.stream_events("/stubborn", max_events=1, close_timeout=0.3) as stream,
    ):
        list(stream)


def test_stream_events_stops_at_its_timeout_and_reports_non_streams() -> None:
    app = App()

    @app.sse("/never", keepalive=0.05)
    async def never() -> AsyncIterator[Tick]:
        await asyncio.sleep(30)
        yield Tick(n=1)

    @app.get("/plain")
    async def plain() -> Tick:
        return Tick(n=1)

    with create_client(app) as client:
        started = time.monotonic()
        assert list(client.stream_events("/never", timeout=0.3)) == []
        assert time.monotonic() - started < 10  # the handler sleeps 30 s
        with pytest.raises(AssertionError, match="not an event stream"):
            list(client.stream_events("/plain"))


# -- over a real socket --------------------------------------------------------------------


@contextlib.contextmanager
def serve(app: App) -> Iterator[int]:
    """``app`` served by uvicorn in a thread on a free 127.0.0.1 port."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def http_get(port: int, path: str, timeout: float = 3.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        return data


def open_stream(port: int, path: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=3)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n".encode())
    return sock


def wait_for(condition: Any, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_a_generator_that_never_awaits_stops_when_its_client_leaves() -> None:
    app = App()
    state = {"sent": 0, "closed": False}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.sse("/busy")
    async def busy() -> AsyncIterator[Tick]:
        try:
            while True:  # never awaits anything
                state["sent"] += 1
                yield Tick(n=1)
        finally:
            state["closed"] = True

    with serve(app) as port:
        sock = open_stream(port, "/busy")
        assert b"200 OK" in sock.recv(4096)
        assert wait_for(lambda: state["sent"] > 100)
        sock.close()
        assert wait_for(lambda: state["closed"]), "the generator was not closed"
        started = time.monotonic()
        assert b'{"status":"ok"}' in http_get(port, "/health", timeout=10)
        assert time.monotonic() - started < 5  # a blocked loop would never answer


def test_a_slow_reader_holds_the_generator_back() -> None:
    app = App()
    produced = [0]
    chunk = "x" * 10_000

    @app.sse("/firehose")
    async def firehose() -> AsyncIterator[Blob]:
        while True:
            produced[0] += 1
            yield Blob(n=produced[0], text=chunk)

    with serve(app) as port:
        sock = open_stream(port, "/firehose")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        # The client reads nothing: once the socket buffers are full, the
        # generator is not asked for more.
        time.sleep(1.0)
        plateau = produced[0]
        time.sleep(0.7)
        assert produced[0] == plateau, (
            "the generator kept producing for a reader that reads nothing"
        )
        assert plateau < 2_000  # ~20 MB at most: the kernel's buffers, not the server's memory
        # Reading resumes the stream, in order, nothing lost.
        sock.settimeout(3)
        data = b""
        while data.count(b"\n\n") < plateau + 50:
            data += sock.recv(1 << 20)
        events = [part for part in data.split(b"\r\n\r\n", 1)[1].split(b"\n\n") if b"data:" in part]
        numbers = [json.loads(e.split(b"data: ", 1)[1])["n"] for e in events[: plateau + 40]]
        assert numbers == list(range(1, len(numbers) + 1))
        sock.close()


def test_a_server_disconnect_runs_the_teardown() -> None:
    app = App()
    log: list[str] = []

    @app.provider
    async def subscription() -> AsyncIterator[str]:
        log.append("subscribed")
        try:
            yield "sub"
        finally:  # the client left mid-stream: ClientDisconnect is raised at the yield
            log.append("unsubscribed")

    @app.sse("/waits")
    async def waits(subscription: str) -> AsyncIterator[Tick]:
        try:
            yield Tick(n=1)
            await asyncio.sleep(60)
        finally:
            log.append("generator closed")

    with serve(app) as port:
        sock = open_stream(port, "/waits")
        assert b"event: Tick" in sock.recv(4096) or b"event: Tick" in sock.recv(4096)
        sock.close()
        assert wait_for(lambda: len(log) == 3)
    assert log == ["subscribed", "generator closed", "unsubscribed"]


# -- declaring mistakes -------------------------------------------------------------------


def _compile_error(handler: Any, **options: Any) -> str:
    app = App()
    app.sse("/x", **options)(handler)
    with pytest.raises(ConfigurationError) as info:
        app.check()
    return str(info.value)


def test_declaration_mistakes_fail_at_start_up() -> None:
    async def not_a_generator() -> AsyncIterator[Tick]:
        return None  # type: ignore[return-value]

    async def no_annotation():  # type: ignore[no-untyped-def]
        yield Tick(n=1)

    async def not_an_iterator() -> Tick:  # type: ignore[misc]
        yield Tick(n=1)

    async def a_dict() -> AsyncIterator[dict[str, int]]:
        yield {"n": 1}

    async def bare_event() -> AsyncIterator[Event]:  # type: ignore[type-arg]
        yield Event(Tick(n=1))

    async def clash() -> AsyncIterator[Tick | Other]:
        yield Tick(n=1)

    async def with_body(tick: Tick) -> AsyncIterator[Tick]:
        yield tick

    async def fine() -> AsyncIterator[Tick]:
        yield Tick(n=1)

    assert "is an async generator" in _compile_error(not_a_generator)
    assert "return annotation" in _compile_error(no_annotation)
    assert "AsyncIterator[Tick | Done]" in _compile_error(not_an_iterator)
    assert "are classes" in _compile_error(a_dict)
    assert "Event needs its data type" in _compile_error(bare_event)
    assert "are both named 'Tick'" in _compile_error(clash)
    assert "an SSE route is a GET" in _compile_error(with_body)
    assert "event_names names Done" in _compile_error(fine, event_names={Done: "done"})
    assert "keepalive" in _compile_error(fine, keepalive=0)


# -- the documents ----------------------------------------------------------------------


def feed_app(**options: Any) -> App:
    app = App(title="Feed", **options)

    @app.sse("/feed", tags=["feed"])
    async def feed(last_event_id: str | None = None) -> AsyncIterator[Event[Tick | Done] | str]:
        """Ticks, then done."""
        yield Event(Tick(n=1), id=1)
        yield "note"
        yield Event(Done(total=1), id=2)

    return app


def test_openapi_documents_each_event() -> None:
    app = feed_app()
    document = app.openapi()
    validate_openapi(document)
    assert document["openapi"] == "3.1.0"
    ok = document["paths"]["/feed"]["get"]["responses"]["200"]
    assert ok["description"] == "A stream of server-sent events: Tick, Done, message."
    media = ok["content"]["text/event-stream"]
    assert set(media) == {"schema"}
    tick, done, message = media["schema"]["oneOf"]
    assert tick == {
        "title": "Tick event",
        "type": "object",
        "properties": {
            "event": {"type": "string", "const": "Tick"},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"$ref": "#/components/schemas/Tick"},
            },
            "id": {"type": "string"},
            "retry": {"type": "integer", "minimum": 0},
        },
        "required": ["event", "data"],
    }
    assert done["properties"]["event"]["const"] == "Done"
    assert message["properties"]["data"] == {"type": "string"}
    assert "Tick" in document["components"]["schemas"]


def test_openapi_32_uses_item_schema_and_the_docs_page_still_reads_31() -> None:
    app = feed_app(openapi_version="3.2.0")
    document = app.openapi()
    from openapi_spec_validator import OpenAPIV32SpecValidator

    OpenAPIV32SpecValidator(document).validate()
    media = document["paths"]["/feed"]["get"]["responses"]["200"]["content"]["text/event-stream"]
    assert media["schema"] == {"type": "array", "items": media["itemSchema"]}
    assert [e["properties"]["event"]["const"] for e in media["itemSchema"]["oneOf"]] == [
        "Tick",
        "Done",
        "message",
    ]
    with create_client(app) as client:
        assert client.get("/openapi.json").json()["openapi"] == "3.2.0"
        page = client.get("/docs").text
        assert "/docs/openapi-3.1.json" in page
        for_page = client.get("/docs/openapi-3.1.json").json()
        assert for_page["openapi"] == "3.1.0"
        validate_openapi(for_page)
    with pytest.raises(ConfigurationError, match=r"3\.1\.x or 3\.2\.x"):
        App(openapi_version="3.0.3")


def test_asyncapi_lists_the_stream_as_a_channel() -> None:
    app = feed_app(servers=[{"url": "https://api.example.com/v1"}])
    document = app.asyncapi()
    schema = json.loads((DATA / "asyncapi-3.0.0-without-id.json").read_text())
    assert list(Draft7Validator(schema).iter_errors(document)) == []
    assert document["servers"] == {
        "http": {"host": "api.example.com", "protocol": "https", "pathname": "/v1"}
    }
    channel = document["channels"]["feed"]
    assert channel["address"] == "/feed"
    assert channel["summary"] == "Ticks, then done."
    assert channel["servers"] == [{"$ref": "#/servers/http"}]
    assert {key: m["payload"] for key, m in channel["messages"].items()} == {
        "Tick": {"$ref": "#/components/schemas/Tick"},
        "Done": {"$ref": "#/components/schemas/Done"},
        "message": {"type": "string"},
    }
    assert channel["x-sse"]["headers"]["properties"] == {"last-event-id": {"type": "string"}}
    assert "Last-Event-ID" in channel["description"]
    operation = document["operations"]["feed_send"]
    assert operation["action"] == "send"
    assert operation["bindings"] == {"http": {"method": "GET", "bindingVersion": "0.3.0"}}
    assert [ref["$ref"] for ref in operation["messages"]] == [
        "#/channels/feed/messages/Tick",
        "#/channels/feed/messages/Done",
        "#/channels/feed/messages/message",
    ]


def test_websocket_and_sse_channels_get_their_own_servers() -> None:
    app = feed_app()

    @app.websocket("/echo")
    async def echo(ws: WebSocket[str, str]) -> None:
        async for text in ws:
            await ws.send(text)

    document = app.asyncapi()
    assert set(document["servers"]) == {"ws", "http"}
    assert document["channels"]["echo"]["servers"] == [{"$ref": "#/servers/ws"}]
    assert document["channels"]["feed"]["servers"] == [{"$ref": "#/servers/http"}]


def test_the_channels_page_shows_the_stream() -> None:
    app = feed_app()
    with create_client(app) as client:
        assert "Channels: WebSocket and server-sent events" in client.get("/docs").text
        page = client.get("/docs/channels").text
    assert (
        "Server-sent events: <code>GET /feed</code> answers <code>text/event-stream</code>" in page
    )
    assert "<h3>Request</h3>" in page and "last-event-id" in page
    assert "Refused before the stream starts" in page
    assert "Tick event" not in page or "<h4>Tick</h4>" in page
    assert "The client sends" not in page


# -- schemathesis reads the events ---------------------------------------------------------


def _schemathesis_failures(app: App) -> list[str]:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.config import SchemathesisConfig

    config = SchemathesisConfig(seed=1)
    config.projects.default.checks.update(included_check_names=["all"])
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def run(case: Any) -> None:
            try:
                case.call_and_validate()
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(repr(exc) + str(getattr(exc, "exceptions", "")))
                raise

        with contextlib.suppress(Exception, BaseExceptionGroup):
            run()
    return failures


@pytest.mark.parametrize("version", ["3.1.0", "3.2.0"])
def test_schemathesis_validates_every_event(version: str) -> None:
    assert _schemathesis_failures(feed_app(openapi_version=version)) == []


def test_schemathesis_catches_an_event_that_breaks_its_schema() -> None:
    app = feed_app()
    document = app.openapi()
    # Document Tick's n as a string: the events sent no longer match.
    document["components"]["schemas"]["Tick"]["properties"]["n"] = {"type": "string"}
    failures = _schemathesis_failures(app)
    assert failures and any("Tick" in failure or "n" in failure for failure in failures)


def test_leaving_an_unread_error_response_does_not_hang() -> None:
    app = App()

    @app.provider(raises={404: "No such thing."})
    async def thing(id: int) -> int:
        raise HTTPError(404, detail="No such thing.")

    @app.sse("/things/{id}/events")
    async def events(thing: int) -> AsyncIterator[Tick]:
        yield Tick(n=thing)

    with create_client(app) as client:
        started = time.monotonic()
        with client.stream_events("/things/1/events", close_timeout=3) as stream:
            assert stream.status_code == 404
            assert stream.headers["content-type"] == "application/problem+json"
        assert time.monotonic() - started < 5  # not the 10 s wait for a response


async def _sse_with_tasks(tasks: BackgroundTasks) -> AsyncIterator[Tick]:
    yield Tick(n=1)  # pragma: no cover - never compiled


async def _sse_with_form(name: str = Form()) -> AsyncIterator[Tick]:
    yield Tick(n=1)  # pragma: no cover - never compiled


async def _sse_with_file(upload: UploadFile = File()) -> AsyncIterator[Tick]:
    yield Tick(n=1)  # pragma: no cover - never compiled


async def _sse_with_body(payload: int = Body()) -> AsyncIterator[Tick]:
    yield Tick(n=1)  # pragma: no cover - never compiled


@pytest.mark.parametrize(
    ("handler", "parameter", "advice"),
    [
        (_sse_with_tasks, "tasks", "Do the work in the generator"),
        (_sse_with_form, "name", "Read query parameters instead"),
        (_sse_with_file, "upload", "Read query parameters instead"),
        (_sse_with_body, "payload", "Read query parameters instead"),
    ],
    ids=["BackgroundTasks", "Form", "File", "Body"],
)
def test_what_an_sse_route_cannot_serve_fails_at_start_up(
    handler: Any, parameter: str, advice: str
) -> None:
    message = _compile_error(handler)
    assert handler.__name__ in message and f"{parameter!r}" in message and advice in message


def test_a_provider_asking_for_background_tasks_fails_at_start_up_on_an_sse_route() -> None:
    app = App()

    @app.provider
    def audit(tasks: BackgroundTasks) -> str:
        return "audit"  # pragma: no cover - never compiled

    async def audited(audit: str) -> AsyncIterator[Tick]:
        yield Tick(n=1)  # pragma: no cover - never compiled

    app.sse("/x")(audited)
    with pytest.raises(ConfigurationError, match="asks for BackgroundTasks; a provider cannot"):
        app.check()
