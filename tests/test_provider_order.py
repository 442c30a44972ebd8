"""When a generator provider's teardown runs, and what it sees at its ``yield``.

HTTP: a complete response leaves only after the teardown (where a transaction
commits) finished, and a teardown's error is answered instead; a streaming
response keeps its body's providers until its last byte. WebSocket and event
stream: the provider sees what ended the connection, once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect as ClientClosed

from bocadillo import (
    App,
    BackgroundTasks,
    Channel,
    ClientDisconnect,
    HTTPError,
    WebSocket,
    WebSocketDisconnect,
    after,
)
from bocadillo.testing import create_client


class Item(BaseModel):
    name: str


class Tick(BaseModel):
    n: int


def recording_provider(
    app: App, log: list[str], *, commit_error: BaseException | None = None
) -> None:
    """A provider ``db`` that logs what it sees at its ``yield``: a commit (nothing),
    or the exception's type (and a WebSocketDisconnect's code)."""

    @app.provider
    async def db() -> AsyncIterator[str]:
        log.append("open")
        try:
            yield "db"
        except BaseException as exc:
            code = f" {exc.code}" if isinstance(exc, WebSocketDisconnect) else ""
            log.append(f"saw {type(exc).__name__}{code}")
            raise
        log.append("commit")
        if commit_error is not None:
            raise commit_error


def recording_sends(app: App, log: list[str]) -> Callable[[Scope, Receive, Send], Any]:
    """``app``, with each response message it sends logged as it goes out."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                log.append(f"start {message['status']}")
            elif message["type"] == "http.response.body":
                log.append("body" if not message.get("more_body") else "chunk")
            await send(message)

        await app(scope, receive, recording_send)

    return asgi


def client_for(app: App, log: list[str]) -> TestClient:
    return TestClient(recording_sends(app, log), raise_server_exceptions=False)


# -- HTTP: the teardown before the response ---------------------------------------------


def test_a_typed_result_is_sent_after_the_teardown_committed() -> None:
    app = App()
    log: list[str] = []
    recording_provider(app, log)

    @app.post("/items", status_code=201)
    async def create(item: Item, db: str) -> Item:
        log.append("handler")
        return item

    response = client_for(app, log).post("/items", json={"name": "a"})
    assert (response.status_code, response.json()) == (201, {"name": "a"})
    assert log == ["open", "handler", "commit", "start 201", "body"]


@pytest.mark.parametrize("kind", ["none", "json_response", "plain_response"])
def test_none_and_a_plain_response_are_sent_after_the_teardown(kind: str) -> None:
    app = App()
    log: list[str] = []
    recording_provider(app, log)

    @app.post("/none")
    async def nothing(db: str) -> None:
        log.append("handler")

    @app.post("/x")
    async def handler(db: str) -> Response:
        log.append("handler")
        if kind == "json_response":
            return JSONResponse({"ok": True}, status_code=201)
        return Response("done", status_code=202)

    response = client_for(app, log).post("/none" if kind == "none" else "/x")
    assert response.status_code == {"none": 204, "json_response": 201, "plain_response": 202}[kind]
    assert log[:3] == ["open", "handler", "commit"]
    assert log[3].startswith("start ")
    assert log[4:] == ["body"]


def test_after_hooks_run_before_the_teardown_and_background_tasks_after_the_response() -> None:
    app = App()
    log: list[str] = []
    recording_provider(app, log)

    async def stamp(response: Response) -> None:
        log.append("after hook")
        response.headers["X-Stamped"] = "yes"

    @app.post("/x", status_code=201)
    @after(stamp)
    async def handler(db: str, tasks: BackgroundTasks) -> Item:
        log.append("handler")
        tasks.add_task(log.append, "background")
        return Item(name="a")

    response = client_for(app, log).post("/x")
    assert (response.status_code, response.headers["x-stamped"]) == (201, "yes")
    assert log == ["open", "handler", "after hook", "commit", "start 201", "body", "background"]


def test_a_response_with_its_own_background_is_sent_after_the_teardown() -> None:
    from starlette.background import BackgroundTask

    app = App()
    log: list[str] = []
    recording_provider(app, log)

    @app.post("/x")
    async def handler(db: str) -> Response:
        return JSONResponse({}, background=BackgroundTask(log.append, "background"))

    assert client_for(app, log).post("/x").status_code == 200
    assert log == ["open", "commit", "start 200", "body", "background"]


def test_a_commit_that_raises_http_error_409_turns_the_201_into_a_409_problem() -> None:
    app = App()
    log: list[str] = []
    recording_provider(app, log, commit_error=HTTPError(409, detail="That name is taken."))

    @app.post("/items", status_code=201)
    async def create(item: Item, db: str) -> Item:
        return item

    response = client_for(app, log).post("/items", json={"name": "a"})
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "That name is taken."
    assert log == ["open", "commit", "start 409", "body"]  # no 201 ever went out


def test_a_sync_generator_whose_commit_fails_gives_a_500_problem_and_the_outer_one_sees_it() -> (
    None
):
    app = App()
    log: list[str] = []
    recording_provider(app, log)

    @app.provider
    def unit_of_work(db: str) -> Iterator[str]:
        yield "uow"
        raise ConnectionError("the database went away")

    @app.post("/items", status_code=201)
    async def create(item: Item, unit_of_work: str) -> Item:
        return item

    response = client_for(app, log).post("/items", json={"name": "a"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "went away" not in response.text
    assert log == ["open", "saw ConnectionError", "start 500", "body"]


def test_a_result_that_fails_to_serialize_is_a_500_and_the_provider_sees_the_error() -> None:
    app = App()
    log: list[str] = []
    recording_provider(app, log)

    @app.get("/item")
    async def item(db: str) -> Item:
        return {"nope": 1}  # type: ignore[return-value]

    response = client_for(app, log).get("/item")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert log == ["open", "saw ResponseValidationError", "start 500", "body"]


def test_a_handler_error_is_answered_after_the_provider_saw_it() -> None:
    app = App()
    log: list[str] = []
    recording_provider(app, log)

    @app.get("/missing")
    async def missing(db: str) -> Item:
        raise HTTPError(404)

    assert client_for(app, log).get("/missing").status_code == 404
    assert log == ["open", "saw HTTPError", "start 404", "body"]


def test_a_streaming_response_keeps_its_providers_until_its_last_byte() -> None:
    app = App()
    log: list[str] = []
    recording_provider(app, log)

    @app.get("/export")
    async def export(db: str) -> StreamingResponse:
        async def rows() -> AsyncIterator[bytes]:
            for n in range(2):
                log.append(f"row {n} from {db}")
                yield b"row\n"

        return StreamingResponse(rows(), media_type="text/plain")

    response = client_for(app, log).get("/export")
    assert (response.status_code, response.text) == (200, "row\nrow\n")
    assert log[:2] == ["open", "start 200"]
    assert log[-2:] == ["body", "commit"]  # after the last byte
    assert "row 1 from db" in log


def test_a_streaming_response_that_fails_midway_reaches_the_provider() -> None:
    app = App()
    log: list[str] = []
    recording_provider(app, log)

    @app.get("/export")
    async def export(db: str) -> StreamingResponse:
        async def rows() -> AsyncIterator[bytes]:
            yield b"row\n"
            raise RuntimeError("the cursor broke")

        return StreamingResponse(rows(), media_type="text/plain")

    with pytest.raises(RuntimeError):
        TestClient(recording_sends(app, log)).get("/export")
    assert log[:2] == ["open", "start 200"]
    assert log[-1] == "saw RuntimeError"  # after the response started: a rollback


def test_the_teardown_runs_once_per_request() -> None:
    app = App()
    log: list[str] = []
    recording_provider(app, log, commit_error=HTTPError(409))

    @app.post("/x", status_code=201)
    async def handler(db: str) -> None:
        pass

    client = client_for(app, log)
    assert [client.post("/x").status_code for _ in range(3)] == [409] * 3
    assert log.count("open") == log.count("commit") == 3
    assert not [line for line in log if line.startswith("saw")]


# -- WebSocket: what ended the connection ------------------------------------------------


def closed_code(ws: Any) -> int:
    with pytest.raises(ClientClosed) as info:
        while True:
            ws.receive_text()
    return info.value.code


def echo(app: App, **options: Any) -> None:
    """``/ws`` echoes each Tick; ``n == 0`` makes the handler return, ``99`` raise."""

    @app.websocket("/ws", **options)
    async def handler(ws: WebSocket[Tick, Tick], db: str) -> None:
        async for tick in ws:
            if tick.n == 0:
                return
            if tick.n == 99:
                raise RuntimeError("boom")
            await ws.send(tick)


def test_a_websocket_whose_handler_returns_commits_before_the_close() -> None:
    app = App()
    log: list[str] = []
    recording_provider(app, log)
    echo(app)

    with TestClient(app).websocket_connect("/ws") as ws:
        ws.send_json({"n": 0})
        assert closed_code(ws) == 1000
    assert log == ["open", "commit"]


def test_a_websocket_the_client_closes_between_messages_commits() -> None:
    app = App()
    log: list[str] = []
    recording_provider(app, log)
    echo(app)

    with TestClient(app).websocket_connect("/ws") as ws:
        ws.send_json({"n": 1})
        assert ws.receive_json() == {"n": 1}
        ws.close(1001)
    assert log == ["open", "commit"]


def test_a_websocket_closed_while_the_handler_waits_for_a_reply_sees_the_close() -> None:
    app = App()
    log: list[str] = []
    recording_provider(app, log)

    @app.websocket("/ws")
    async def handler(ws: WebSocket[Tick, Tick], db: str) -> None:
        first = await ws.receive()
        await ws.send(first)
        await ws.receive()  # the second half of the exchange never comes

    with TestClient(app).websocket_connect("/ws") as ws:
        ws.send_json({"n": 1})
        assert ws.receive_json() == {"n": 1}
        ws.close(4000)
    assert log == ["open", "saw WebSocketDisconnect 4000"]


def test_a_client_close_the_route_does_not_catch_reaches_the_provider() -> None:
    app = App()
    log: list[str] = []
    recording_provider(app, log)
    echo(app, caught_close_codes={1000})

    with TestClient(app).websocket_connect("/ws") as ws:
        ws.send_json({"n": 1})
        assert ws.receive_json() == {"n": 1}
        ws.close(1006)
    assert log == ["open", "saw WebSocketDisconnect 1006"]


@pytest.mark.parametrize(
    ("message", "code"),
    [("not json", 1007), ('{"n": "x"}', 1007), ('{"n": 1, "pad": "' + "x" * 64 + '"}', 1009)],
)
def test_a_refused_message_reaches_the_provider_with_its_close_code(
    message: str, code: int
) -> None:
    app = App()
    log: list[str] = []
    recording_provider(app, log)
    echo(app, max_message_size=32)

    with TestClient(app).websocket_connect("/ws") as ws:
        ws.send_text(message)
        assert closed_code(ws) == code
    assert log == ["open", f"saw WebSocketDisconnect {code}"]


def test_a_websocket_handler_error_reaches_the_provider_and_closes_1011() -> None:
    app = App()
    log: list[str] = []
    recording_provider(app, log)
    echo(app)

    with TestClient(app).websocket_connect("/ws") as ws:
        ws.send_json({"n": 99})
        assert closed_code(ws) == 1011
    assert log == ["open", "saw RuntimeError"]


def test_a_websocket_commit_that_fails_closes_1011_instead_of_1000() -> None:
    app = App()
    log: list[str] = []
    recording_provider(app, log, commit_error=HTTPError(409))
    echo(app)

    with TestClient(app).websocket_connect("/ws") as ws:
        ws.send_json({"n": 0})
        assert closed_code(ws) == 1011
    assert log == ["open", "commit"]


def test_a_websocket_slow_subscriber_reaches_the_provider_and_closes_1013() -> None:
    app = App()
    log: list[str] = []
    recording_provider(app, log)
    app.channel("feed", Tick, max_queue=2, overflow="disconnect")

    @app.websocket("/follow")
    async def follow(ws: WebSocket[str, Tick], feed: Channel[Tick], db: str) -> None:
        async with feed.subscribe() as sub:
            for n in range(3):  # falls behind before it reads
                await feed.publish(Tick(n=n))
            async for tick in sub:
                await ws.send(tick)

    with create_client(app) as client, client.websocket_connect("/follow") as ws:
        assert closed_code(ws) == 1013
    assert log == ["open", "saw SlowSubscriber"]


def test_a_cancelled_websocket_is_torn_down_once_and_sees_the_cancellation() -> None:
    app = App()
    log: list[str] = []
    recording_provider(app, log)
    waiting = asyncio.Event()

    @app.websocket("/ws")
    async def handler(ws: WebSocket[str, str], db: str) -> None:
        waiting.set()
        await asyncio.sleep(60)

    async def scenario() -> None:
        messages = [{"type": "websocket.connect"}]

        async def receive() -> Message:
            if messages:
                return messages.pop()
            await asyncio.sleep(60)
            raise AssertionError("unreachable")

        async def send(message: Message) -> None:
            pass

        scope = {
            "type": "websocket",
            "path": "/ws",
            "raw_path": b"/ws",
            "root_path": "",
            "query_string": b"",
            "headers": [],
            "scheme": "ws",
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 80),
            "subprotocols": [],
        }
        task = asyncio.create_task(app(scope, receive, send))
        await waiting.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert log == ["open", "saw CancelledError"]


# -- event streams: what ended the stream -----------------------------------------------


async def stream(
    app: App, path: str, *, leave_after_events: int | None = None, stop_server: bool = False
) -> list[Message]:
    """One GET straight to the app; the client leaves (or the server stops) once
    ``leave_after_events`` events went out."""
    sent: list[Message] = []
    requested = False
    end = asyncio.Event()
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }

    async def receive() -> Message:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await end.wait()
        if stop_server:
            scope["bocadillo.server_stopping"] = True  # as `bocadillo run` sets it
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)
        events = sum(1 for m in sent if m.get("body", b"").startswith(b"event:"))
        if leave_after_events is not None and events >= leave_after_events:
            end.set()

    try:
        await asyncio.wait_for(app(scope, receive, send), 10)
    except TimeoutError:
        raise
    except Exception:
        pass  # raised after the response (a bug in the handler): logged by a server
    return sent


def ticking(app: App, *, count: int | None = None, fail: bool = False) -> None:
    @app.sse("/ticks", keepalive=None)
    async def ticks(db: str) -> AsyncIterator[Tick]:
        n = 0
        while count is None or n < count:
            yield Tick(n=n)
            n += 1
            await asyncio.sleep(0)
        if fail:
            raise RuntimeError("the feed broke")


def test_an_event_stream_that_runs_to_its_end_commits() -> None:
    app = App()
    log: list[str] = []
    recording_provider(app, log)
    ticking(app, count=3)

    sent = asyncio.run(stream(app, "/ticks"))
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert log == ["open", "commit"]


def test_an_event_stream_the_client_leaves_midway_reaches_the_provider() -> None:
    app = App()
    log: list[str] = []
    recording_provider(app, log)
    ticking(app)

    asyncio.run(stream(app, "/ticks", leave_after_events=2))
    assert log == ["open", "saw ClientDisconnect"]
    assert issubclass(ClientDisconnect, Exception)  # an `except Exception` rolls back


def test_an_event_stream_the_test_client_leaves_reaches_the_provider() -> None:
    app = App()
    log: list[str] = []
    recording_provider(app, log)
    ticking(app)

    with create_client(app) as client:
        events = list(client.stream_events("/ticks", max_events=2))
    assert [e.data.n for e in events] == [0, 1]
    assert log == ["open", "saw ClientDisconnect"]


def test_an_event_stream_the_server_stops_reaches_the_provider() -> None:
    app = App()
    log: list[str] = []
    recording_provider(app, log)
    ticking(app)

    sent = asyncio.run(stream(app, "/ticks", leave_after_events=1, stop_server=True))
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert log == ["open", "saw ClientDisconnect"]


def test_an_event_stream_handler_error_reaches_the_provider() -> None:
    app = App()
    log: list[str] = []
    recording_provider(app, log)
    ticking(app, count=1, fail=True)

    asyncio.run(stream(app, "/ticks"))
    assert log == ["open", "saw RuntimeError"]


def test_an_undeclared_event_reaches_the_provider() -> None:
    app = App()
    log: list[str] = []
    recording_provider(app, log)

    @app.sse("/ticks", keepalive=None)
    async def ticks(db: str) -> AsyncIterator[Tick]:
        yield Item(name="not a tick")  # type: ignore[misc]

    asyncio.run(stream(app, "/ticks"))
    assert log == ["open", "saw UndeclaredEvent"]


def test_an_event_stream_slow_subscriber_reaches_the_provider() -> None:
    app = App()
    log: list[str] = []
    recording_provider(app, log)
    app.channel("feed", Tick, max_queue=2, overflow="disconnect")

    @app.sse("/follow", keepalive=None)
    async def follow(feed: Channel[Tick], db: str) -> AsyncIterator[Tick]:
        async with feed.subscribe() as sub:
            for n in range(3):  # falls behind before it reads
                await feed.publish(Tick(n=n))
            async for tick in sub:
                yield tick

    async def scenario() -> list[Message]:
        async with app.lifespan_context():
            return await stream(app, "/follow")

    sent = asyncio.run(scenario())
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert log == ["open", "saw SlowSubscriber"]


def test_a_cancelled_event_stream_is_torn_down_once_and_sees_the_cancellation() -> None:
    app = App()
    log: list[str] = []
    recording_provider(app, log)
    ticking(app)

    async def scenario() -> None:
        started = asyncio.Event()

        async def receive() -> Message:
            await asyncio.sleep(60)
            raise AssertionError("unreachable")

        async def send(message: Message) -> None:
            if message.get("body", b"").startswith(b"event:"):
                started.set()

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/ticks",
            "raw_path": b"/ticks",
            "root_path": "",
            "query_string": b"",
            "headers": [],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 80),
        }
        task = asyncio.create_task(app(scope, receive, send))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert log == ["open", "saw CancelledError"]
