"""WebSocket routes through the test client: typed messages, params, providers per
connection, handshake refusals, close codes, reply mode, manual accept, start-up checks."""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Literal

import pytest
import typesystem
from pydantic import BaseModel, Field
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect as ClientDisconnect

from bocadillo import (
    App,
    BackgroundTasks,
    Body,
    ConfigurationError,
    Cookie,
    File,
    Form,
    Header,
    HTTPBearer,
    HTTPError,
    Query,
    Request,
    UploadFile,
    WebSocket,
    WebSocketDisconnect,
)

PROBLEM_JSON = "application/problem+json"


class Ping(BaseModel):
    n: int = Field(ge=0)


class Pong(BaseModel):
    n: int


class Join(BaseModel):
    type: Literal["join"]
    name: str


class Say(BaseModel):
    type: Literal["say"]
    text: str


class Leave(BaseModel):
    type: Literal["leave"]


ChatIn = Annotated[Join | Say | Leave, Field(discriminator="type")]


class Heard(BaseModel):
    kind: str
    detail: str


def echo_app(app: App, path: str = "/echo", **options: Any) -> App:
    """``path`` answers each Ping ``n`` with a Pong ``n + 1``."""

    @app.websocket(path, **options)
    async def echo(ws: WebSocket[Ping, Pong]) -> None:
        async for ping in ws:
            await ws.send(Pong(n=ping.n + 1))

    return app


def closed_code(ws: Any) -> tuple[int, str | None]:
    """Receive until the server's close frame; return its code and reason."""
    with pytest.raises(ClientDisconnect) as info:
        while True:
            ws.receive_text()
    return info.value.code, info.value.reason


def refused(client: TestClient, path: str, **kwargs: Any) -> WebSocketDenialResponse:
    """Connect to ``path`` and return the HTTP response that refused the handshake."""
    with pytest.raises(WebSocketDenialResponse) as info, client.websocket_connect(path, **kwargs):
        pass  # pragma: no cover - the handshake is refused
    return info.value


def assert_problem(response: WebSocketDenialResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


# -- typed messages ------------------------------------------------------------------


def test_model_messages_are_validated_and_answered(app: App, client: TestClient) -> None:
    echo_app(app)

    with client.websocket_connect("/echo") as ws:
        ws.send_json({"n": 1})
        assert ws.receive_json() == {"n": 2}
        ws.send_json({"n": 41})
        assert ws.receive_json() == {"n": 42}


def test_handler_receives_model_instances(app: App, client: TestClient) -> None:
    seen: list[Any] = []

    @app.websocket("/ws")
    async def handler(ws: WebSocket[Ping, Pong]) -> None:
        seen.append(await ws.receive())

    with client.websocket_connect("/ws") as ws:
        ws.send_json({"n": 3})
        assert closed_code(ws)[0] == 1000
    assert seen == [Ping(n=3)]


def test_typesystem_schema_messages(app: App, client: TestClient) -> None:
    note_in = typesystem.Schema(fields={"text": typesystem.String(max_length=5)})
    note_out = typesystem.Schema(
        fields={"text": typesystem.String(), "length": typesystem.Integer()}
    )

    @app.websocket("/notes")
    async def notes(ws: WebSocket[note_in, note_out]) -> None:  # type: ignore[valid-type]
        async for note in ws:
            await ws.send({"text": note["text"], "length": len(note["text"])})

    with client.websocket_connect("/notes") as ws:
        ws.send_json({"text": "hello"})
        assert ws.receive_json() == {"text": "hello", "length": 5}
        ws.send_json({"text": "too long"})
        assert closed_code(ws)[0] == 1007


def test_discriminated_union_messages_arrive_as_their_own_type(
    app: App, client: TestClient
) -> None:
    @app.websocket("/chat")
    async def chat(ws: WebSocket[ChatIn, Heard]) -> None:
        async for message in ws:
            match message:
                case Join(name=name):
                    await ws.send(Heard(kind="join", detail=name))
                case Say(text=text):
                    await ws.send(Heard(kind="say", detail=text))
                case Leave():
                    await ws.send(Heard(kind="leave", detail=""))
                    return

    with client.websocket_connect("/chat") as ws:
        ws.send_json({"type": "join", "name": "ada"})
        assert ws.receive_json() == {"kind": "join", "detail": "ada"}
        ws.send_json({"type": "say", "text": "hi"})
        assert ws.receive_json() == {"kind": "say", "detail": "hi"}
        ws.send_json({"type": "leave"})
        assert ws.receive_json() == {"kind": "leave", "detail": ""}
        assert closed_code(ws)[0] == 1000


def test_discriminated_union_refuses_an_unknown_tag(app: App, client: TestClient) -> None:
    @app.websocket("/chat")
    async def chat(ws: WebSocket[ChatIn, Heard]) -> None:
        async for _ in ws:
            pass

    with client.websocket_connect("/chat") as ws:
        ws.send_json({"type": "shout", "text": "hi"})
        assert closed_code(ws)[0] == 1007


def test_str_route_takes_and_sends_text_as_sent(app: App, client: TestClient) -> None:
    @app.websocket("/text")
    async def text(ws: WebSocket[str, str]) -> None:
        async for message in ws:
            await ws.send(message.upper())

    with client.websocket_connect("/text") as ws:
        ws.send_text(' {"not": "parsed"} ')
        assert ws.receive_text() == ' {"NOT": "PARSED"} '


def test_bytes_route_takes_and_sends_binary_frames(app: App, client: TestClient) -> None:
    @app.websocket("/binary")
    async def binary(ws: WebSocket[bytes, bytes]) -> None:
        async for message in ws:
            await ws.send(message[::-1])

    with client.websocket_connect("/binary") as ws:
        ws.send_bytes(b"\x00\x01\xff")
        assert ws.receive_bytes() == b"\xff\x01\x00"


def test_receive_raises_websocket_disconnect_once_the_client_left(
    app: App, client: TestClient
) -> None:
    codes: list[int] = []

    @app.websocket("/ws")
    async def handler(ws: WebSocket[Ping, Pong]) -> None:
        first = await ws.receive()
        await ws.send(Pong(n=first.n))
        try:
            await ws.receive()
        except WebSocketDisconnect as exc:
            codes.append(exc.code)

    with client.websocket_connect("/ws") as ws:
        ws.send_json({"n": 7})
        assert ws.receive_json() == {"n": 7}
        ws.close(4001)
    assert codes == [4001]


def test_async_for_ends_when_the_client_leaves(app: App, client: TestClient) -> None:
    received: list[int] = []
    finished = asyncio.Event()

    @app.websocket("/ws")
    async def handler(ws: WebSocket[Ping, Pong]) -> None:
        async for ping in ws:
            received.append(ping.n)
        finished.set()

    with client.websocket_connect("/ws") as ws:
        ws.send_json({"n": 1})
        ws.send_json({"n": 2})
        ws.close()
    assert received == [1, 2]
    assert finished.is_set()


@pytest.mark.parametrize(
    ("route_types", "wrong"),
    [
        ("model", {"secret": "leaked detail"}),
        ("model", "leaked detail"),
        ("text", b"leaked detail"),
        ("bytes", "leaked detail"),
    ],
)
def test_sending_a_message_of_another_type_closes_1011_without_detail(
    app: App, client: TestClient, caplog: pytest.LogCaptureFixture, route_types: str, wrong: Any
) -> None:
    types = {"model": Pong, "text": str, "bytes": bytes}[route_types]

    @app.websocket("/ws")
    async def handler(ws: WebSocket[str, types]) -> None:  # type: ignore[valid-type]
        await ws.send(wrong)

    with caplog.at_level(logging.ERROR, "bocadillo"), client.websocket_connect("/ws") as ws:
        code, reason = closed_code(ws)
    assert code == 1011
    assert "leaked" not in (reason or "")
    assert "failed" in caplog.text  # the server's log has the details


# -- parameters ----------------------------------------------------------------------


def test_path_query_header_and_cookie_params_reach_the_handler(
    app: App, client: TestClient
) -> None:
    @app.websocket("/rooms/{room}")
    async def room(
        ws: WebSocket[str, str],
        room: int,
        nick: str = Query(min_length=2),
        agent: str = Header(alias="x-agent"),
        theme: str = Cookie("light"),
    ) -> None:
        await ws.send(f"{room} {nick} {agent} {theme}")

    with client.websocket_connect(
        "/rooms/7?nick=ada", headers={"x-agent": "bot", "cookie": "theme=dark"}
    ) as ws:
        assert ws.receive_text() == "7 ada bot dark"
    with client.websocket_connect("/rooms/8?nick=bob", headers={"x-agent": "b"}) as ws:
        assert ws.receive_text() == "8 bob b light"


@pytest.mark.parametrize(
    ("path", "headers", "loc"),
    [
        ("/rooms/seven?nick=ada", {"x-agent": "bot"}, ["path", "room"]),
        ("/rooms/7?nick=a", {"x-agent": "bot"}, ["query", "nick"]),
        ("/rooms/7", {"x-agent": "bot"}, ["query", "nick"]),
        ("/rooms/7?nick=ada", {}, ["header", "x-agent"]),
        ("/rooms/7?nick=ada", {"x-agent": "bot", "cookie": "count=many"}, ["cookie", "count"]),
    ],
)
def test_a_bad_param_refuses_the_handshake_with_a_422_problem(
    app: App, client: TestClient, path: str, headers: dict[str, str], loc: list[str]
) -> None:
    ran: list[bool] = []

    @app.websocket("/rooms/{room}")
    async def room(
        ws: WebSocket[str, str],
        room: int,
        nick: str = Query(min_length=2),
        agent: str = Header(alias="x-agent"),
        count: int = Cookie(0),
    ) -> None:
        ran.append(True)

    body = assert_problem(refused(client, path, headers=headers), 422)
    assert [error["loc"] for error in body["errors"]] == [loc]
    assert ran == []


# -- providers -----------------------------------------------------------------------


def test_request_provider_is_made_once_per_connection(app: App, client: TestClient) -> None:
    made: list[int] = []

    @app.provider
    async def connection_id() -> int:
        made.append(len(made) + 1)
        return len(made)

    @app.websocket("/ws")
    async def handler(ws: WebSocket[Ping, Pong], connection_id: int) -> None:
        async for _ in ws:
            await ws.send(Pong(n=connection_id))

    for expected in (1, 2):
        with client.websocket_connect("/ws") as ws:
            ws.send_json({"n": 0})
            ws.send_json({"n": 0})
            assert ws.receive_json() == ws.receive_json() == {"n": expected}
    assert made == [1, 2]


def test_app_provider_is_shared_by_every_connection(app: App) -> None:
    @app.provider(scope="app")
    async def counter() -> AsyncIterator[list[int]]:
        yield []

    @app.websocket("/ws")
    async def handler(ws: WebSocket[Ping, Pong], counter: list[int]) -> None:
        counter.append(1)
        await ws.send(Pong(n=len(counter)))

    with TestClient(app) as client:
        for expected in (1, 2, 3):
            with client.websocket_connect("/ws") as ws:
                assert ws.receive_json() == {"n": expected}


def _recorded_session(app: App, events: list[str], **options: Any) -> None:
    """A route whose connection-scoped provider records its life; ``{"n": 0}`` makes
    the handler return, ``{"n": 99}`` makes it raise."""

    @app.provider
    async def member() -> AsyncIterator[str]:
        events.append("made")
        try:
            yield "ada"
        except Exception as exc:
            events.append(f"saw {type(exc).__name__}")
            raise
        finally:
            events.append("torn down")

    @app.websocket("/ws", **options)
    async def handler(ws: WebSocket[Ping, Pong], member: str) -> None:
        events.append("handler")
        async for ping in ws:
            events.append(f"message {ping.n}")
            if ping.n == 0:
                return
            if ping.n == 99:
                raise RuntimeError("boom")
            await ws.send(Pong(n=ping.n))


def test_connection_provider_is_made_before_accept_and_torn_down_when_the_client_closes(
    app: App, client: TestClient
) -> None:
    events: list[str] = []
    _recorded_session(app, events)

    with client.websocket_connect("/ws") as ws:
        ws.send_json({"n": 5})
        assert ws.receive_json() == {"n": 5}
        assert events == ["made", "handler", "message 5"]
        ws.close()
    assert events == ["made", "handler", "message 5", "torn down"]


def test_an_async_teardown_finishes_though_the_test_client_cancels_the_connection(
    app: App, client: TestClient
) -> None:
    # The TestClient cancels the connection's task right after sending the close.
    events: list[str] = []

    @app.provider
    async def member() -> AsyncIterator[str]:
        yield "ada"
        for step in range(5):
            await asyncio.sleep(0)  # telling the others, say
            events.append(f"step {step}")

    @app.websocket("/ws")
    async def handler(ws: WebSocket[str, str], member: str) -> None:
        async for text in ws:
            await ws.send(text)

    for _ in range(20):
        events.clear()
        with client.websocket_connect("/ws") as ws:
            ws.send_text("hi")
            assert ws.receive_text() == "hi"
        assert events == [f"step {n}" for n in range(5)]


def test_connection_provider_is_torn_down_when_the_handler_returns(
    app: App, client: TestClient
) -> None:
    events: list[str] = []
    _recorded_session(app, events)

    with client.websocket_connect("/ws") as ws:
        ws.send_json({"n": 0})
        assert closed_code(ws)[0] == 1000
    assert events == ["made", "handler", "message 0", "torn down"]


def test_connection_provider_sees_the_handler_error_at_its_yield(
    app: App, client: TestClient
) -> None:
    events: list[str] = []
    _recorded_session(app, events)

    with client.websocket_connect("/ws") as ws:
        ws.send_json({"n": 99})
        assert closed_code(ws)[0] == 1011
    assert events == ["made", "handler", "message 99", "saw RuntimeError", "torn down"]


def test_connection_provider_is_torn_down_when_a_bad_message_closes(
    app: App, client: TestClient
) -> None:
    events: list[str] = []
    _recorded_session(app, events)

    with client.websocket_connect("/ws") as ws:
        ws.send_text("not json")
        assert closed_code(ws)[0] == 1007
    # The refused message cut the conversation: the provider sees it (and rolls back).
    assert events == ["made", "handler", "saw WebSocketDisconnect", "torn down"]


@pytest.mark.parametrize("status", [401, 403])
def test_auth_provider_refuses_the_handshake_with_its_status(
    app: App, client: TestClient, status: int
) -> None:
    events: list[str] = []

    @app.provider
    async def user(token: str | None = Query(None)) -> str:
        if token is None:
            raise HTTPError(401, detail="Log in first.", headers={"WWW-Authenticate": "Bearer"})
        if token != "admin":
            raise HTTPError(403, detail="Admins only.")
        return token

    @app.websocket("/admin")
    async def admin(ws: WebSocket[str, str], user: str) -> None:
        events.append("handler")
        await ws.send(f"hello {user}")

    path = "/admin" if status == 401 else "/admin?token=guest"
    response = refused(client, path)
    body = assert_problem(response, status)
    assert body["detail"] == ("Log in first." if status == 401 else "Admins only.")
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    assert events == []
    with client.websocket_connect("/admin?token=admin") as ws:
        assert ws.receive_text() == "hello admin"


def test_missing_bearer_token_refuses_with_401_and_a_challenge(
    app: App, client: TestClient
) -> None:
    @app.websocket("/ws")
    async def handler(ws: WebSocket[str, str], token: Annotated[str, HTTPBearer()]) -> None:
        await ws.send(token)

    response = refused(client, "/ws")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    with client.websocket_connect("/ws", headers={"Authorization": "Bearer abc"}) as ws:
        assert ws.receive_text() == "abc"


def test_a_provider_failing_at_connect_refuses_with_500_without_detail(
    app: App, client: TestClient
) -> None:
    @app.provider
    async def broken() -> int:
        raise RuntimeError("database password is hunter2")

    @app.websocket("/ws")
    async def handler(ws: WebSocket[str, str], broken: int) -> None:
        pass  # pragma: no cover - never called

    response = refused(client, "/ws")
    assert_problem(response, 500)
    assert "hunter2" not in response.text


# -- refusal without the HTTP response extension -------------------------------------


def _call_websocket(
    app: App,
    path: str,
    *,
    query_string: bytes = b"",
    incoming: list[dict[str, Any]] | None = None,
    broken_pipe: bool = False,
) -> list[dict[str, Any]]:
    """Open a WebSocket straight on the ASGI app with a server that has no
    ``websocket.http.response`` extension, send it ``incoming`` after the connect
    and then a disconnect; return what the app sent."""
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query_string,
        "headers": [],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "subprotocols": [],
        "extensions": {},
    }
    messages = [{"type": "websocket.connect"}, *(incoming or [])]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        if broken_pipe and message["type"] == "websocket.send":
            raise OSError("the client is gone")  # as uvicorn's ClientDisconnected
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_a_refused_handshake_closes_1008_where_the_server_cannot_send_a_response(
    app: App,
) -> None:
    @app.websocket("/ws")
    async def handler(ws: WebSocket[str, str], n: int) -> None:
        pass  # pragma: no cover - never called

    sent = _call_websocket(app, "/ws", query_string=b"n=x")

    assert [m["type"] for m in sent] == ["websocket.close"]
    assert sent[0]["code"] == 1008


def test_an_auth_refusal_closes_1008_where_the_server_cannot_send_a_response(
    app: App,
) -> None:
    @app.provider
    async def user() -> str:
        raise HTTPError(403)

    @app.websocket("/ws")
    async def handler(ws: WebSocket[str, str], user: str) -> None:
        pass  # pragma: no cover - never called

    sent = _call_websocket(app, "/ws")

    assert [(m["type"], m["code"]) for m in sent] == [("websocket.close", 1008)]


def test_an_unknown_path_closes_1008_where_the_server_cannot_send_a_response(
    app: App,
) -> None:
    sent = _call_websocket(echo_app(app), "/nowhere")

    assert [(m["type"], m["code"]) for m in sent] == [("websocket.close", 1008)]


def test_no_close_frame_is_sent_after_the_client_disconnected(app: App) -> None:
    # An ASGI server may refuse a close after the disconnect (uvicorn raises).
    echo_app(app)

    sent = _call_websocket(
        app, "/echo", incoming=[{"type": "websocket.receive", "text": '{"n": 1}'}]
    )

    assert sent == [
        {"type": "websocket.accept", "subprotocol": None, "headers": []},
        {"type": "websocket.send", "text": '{"n":2}'},
    ]


def test_receive_after_the_client_left_raises_websocket_disconnect_again(app: App) -> None:
    caught: list[int] = []

    @app.websocket("/ws")
    async def handler(ws: WebSocket[str, str]) -> None:
        async for _ in ws:
            pass  # pragma: no cover - no message is sent
        try:
            await ws.receive()
        except WebSocketDisconnect as exc:
            caught.append(exc.code)

    sent = _call_websocket(app, "/ws")

    assert caught == [1000]
    assert [m["type"] for m in sent] == ["websocket.accept"]


def test_sending_after_the_client_left_raises_websocket_disconnect(app: App) -> None:
    caught: list[int] = []

    @app.websocket("/ws")
    async def handler(ws: WebSocket[str, str]) -> None:
        async for _ in ws:
            pass  # pragma: no cover - no message is sent
        try:
            await ws.send("anyone there?")
        except WebSocketDisconnect as exc:
            caught.append(exc.code)

    sent = _call_websocket(app, "/ws")

    assert caught == [1000]  # the code the client closed with
    assert [m["type"] for m in sent] == ["websocket.accept"]


def test_a_send_the_server_cannot_deliver_raises_websocket_disconnect(app: App) -> None:
    caught: list[int] = []

    @app.websocket("/ws")
    async def handler(ws: WebSocket[str, str]) -> None:
        try:
            await ws.send("hello")
        except WebSocketDisconnect as exc:
            caught.append(exc.code)

    _call_websocket(app, "/ws", broken_pipe=True)

    assert caught == [1006]


# -- close codes ---------------------------------------------------------------------


def test_handler_returning_closes_1000(app: App, client: TestClient) -> None:
    @app.websocket("/ws")
    async def handler(ws: WebSocket[str, str]) -> None:
        await ws.send("bye")

    with client.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "bye"
        assert closed_code(ws)[0] == 1000


def test_handler_closes_with_its_own_code_and_reason(app: App, client: TestClient) -> None:
    @app.websocket("/ws")
    async def handler(ws: WebSocket[str, str]) -> None:
        await ws.close(4000, "room closed")

    with client.websocket_connect("/ws") as ws:
        assert closed_code(ws) == (4000, "room closed")


@pytest.mark.parametrize(
    ("types", "send"),
    [
        ("json", lambda ws: ws.send_bytes(b'{"n": 1}')),
        ("text", lambda ws: ws.send_bytes(b"hello")),
        ("bytes", lambda ws: ws.send_text("hello")),
    ],
    ids=["binary-to-json", "binary-to-text", "text-to-bytes"],
)
def test_a_frame_of_the_wrong_kind_closes_1003(
    app: App, client: TestClient, types: str, send: Callable[[Any], None]
) -> None:
    message_type = {"json": Ping, "text": str, "bytes": bytes}[types]

    @app.websocket("/ws")
    async def handler(ws: WebSocket[message_type, str]) -> None:  # type: ignore[valid-type]
        async for _ in ws:
            pass  # pragma: no cover - nothing gets through

    with client.websocket_connect("/ws") as ws:
        send(ws)
        assert closed_code(ws)[0] == 1003


@pytest.mark.parametrize(
    "text",
    ['{"n": ', "not json", '{"n": "1"}', '{"n": -1}', "{}", "[1]", "null", '{"n": 1.5}'],
)
def test_a_message_that_is_not_json_or_not_in_closes_1007(
    app: App, client: TestClient, text: str
) -> None:
    echo_app(app)

    with client.websocket_connect("/echo") as ws:
        ws.send_text(text)
        assert closed_code(ws)[0] == 1007


def test_a_message_over_the_default_64_kib_closes_1009(app: App, client: TestClient) -> None:
    @app.websocket("/ws")
    async def handler(ws: WebSocket[str, int]) -> None:
        async for message in ws:
            await ws.send(len(message))

    with client.websocket_connect("/ws") as ws:
        ws.send_text("x" * 65536)
        assert ws.receive_json() == 65536
        ws.send_text("é" * 32769)  # 65,538 bytes in UTF-8
        assert closed_code(ws)[0] == 1009


def test_a_message_over_the_route_max_message_size_closes_1009(
    app: App, client: TestClient
) -> None:
    @app.websocket("/ws", max_message_size=8)
    async def handler(ws: WebSocket[bytes, bytes]) -> None:
        async for message in ws:
            await ws.send(message)

    with client.websocket_connect("/ws") as ws:
        ws.send_bytes(b"12345678")
        assert ws.receive_bytes() == b"12345678"
        ws.send_bytes(b"123456789")
        assert closed_code(ws)[0] == 1009


def test_a_handler_error_closes_1011_with_a_generic_reason(
    app: App, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    @app.websocket("/ws")
    async def handler(ws: WebSocket[Ping, Pong]) -> None:
        await ws.receive()
        raise KeyError("the secret key")

    with caplog.at_level(logging.ERROR, "bocadillo"), client.websocket_connect("/ws") as ws:
        ws.send_json({"n": 1})
        code, reason = closed_code(ws)
    assert code == 1011
    assert "secret" not in (reason or "")
    assert "the secret key" in caplog.text


# -- reply mode ----------------------------------------------------------------------


def test_reply_mode_answers_a_bad_message_and_keeps_the_connection(
    app: App, client: TestClient
) -> None:
    echo_app(app, invalid_message="reply")

    with client.websocket_connect("/echo") as ws:
        ws.send_json({"n": -1})
        error = ws.receive_json()
        assert error["type"] == "error"
        assert error["code"] == 1007
        assert error["detail"]
        assert [e["loc"] for e in error["errors"]] == [["n"]]
        assert set(error["errors"][0]) == {"loc", "msg", "type"}
        ws.send_json({"n": 1})
        assert ws.receive_json() == {"n": 2}


def test_reply_mode_answers_malformed_json(app: App, client: TestClient) -> None:
    echo_app(app, invalid_message="reply")

    with client.websocket_connect("/echo") as ws:
        ws.send_text('{"n": ')
        error = ws.receive_json()
        assert (error["code"], error["errors"][0]["type"]) == (1007, "json_invalid")
        ws.send_json({"n": 2})
        assert ws.receive_json() == {"n": 3}


def test_reply_mode_still_closes_1003_for_a_binary_frame(app: App, client: TestClient) -> None:
    echo_app(app, invalid_message="reply")

    with client.websocket_connect("/echo") as ws:
        ws.send_bytes(b'{"n": 1}')
        assert closed_code(ws)[0] == 1003


# -- manual accept -------------------------------------------------------------------


def test_manual_accept_with_a_subprotocol(app: App, client: TestClient) -> None:
    @app.websocket("/ws", auto_accept=False)
    async def handler(ws: WebSocket[str, str]) -> None:
        assert not ws.accepted
        await ws.accept(subprotocol="chat.v1")
        assert ws.accepted
        await ws.send("welcome")

    with client.websocket_connect("/ws", subprotocols=["chat.v1"]) as ws:
        assert ws.accepted_subprotocol == "chat.v1"
        assert ws.receive_text() == "welcome"


def test_manual_accept_handler_refuses_with_an_http_error(
    app: App, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    @app.websocket("/ws", auto_accept=False)
    async def handler(ws: WebSocket[str, str], ticket: str = Query("")) -> None:
        if ticket != "ok":
            raise HTTPError(403, detail="No ticket.")
        await ws.accept()
        await ws.send("in")

    with caplog.at_level(logging.ERROR, "bocadillo"):
        assert assert_problem(refused(client, "/ws"), 403)["detail"] == "No ticket."
    assert caplog.text == ""  # a refusal is not a failure
    with client.websocket_connect("/ws?ticket=ok") as ws:
        assert ws.receive_text() == "in"


def test_manual_accept_handler_refuses_by_closing(app: App, client: TestClient) -> None:
    @app.websocket("/ws", auto_accept=False)
    async def handler(ws: WebSocket[str, str]) -> None:
        await ws.close(1008, "go away")

    with pytest.raises(ClientDisconnect) as info, client.websocket_connect("/ws"):
        pass  # pragma: no cover - the handshake is refused
    assert info.value.code == 1008


def test_manual_accept_handler_that_returns_without_accepting_refuses_403(
    app: App, client: TestClient
) -> None:
    @app.websocket("/ws", auto_accept=False)
    async def handler(ws: WebSocket[str, str]) -> None:
        return

    assert_problem(refused(client, "/ws"), 403)


def test_manual_accept_handler_error_before_accept_refuses_500_without_detail(
    app: App, client: TestClient
) -> None:
    @app.websocket("/ws", auto_accept=False)
    async def handler(ws: WebSocket[str, str]) -> None:
        raise RuntimeError("the secret plan")

    response = refused(client, "/ws")
    assert_problem(response, 500)
    assert "secret" not in response.text


# -- routing -------------------------------------------------------------------------


def test_unknown_path_refuses_with_a_404_problem(app: App, client: TestClient) -> None:
    echo_app(app)

    assert_problem(refused(client, "/nowhere"), 404)


def test_an_http_route_is_not_a_websocket_route(app: App, client: TestClient) -> None:
    @app.get("/page")
    async def page() -> str:
        return "page"

    assert_problem(refused(client, "/page"), 404)


def test_websocket_and_http_routes_can_share_a_path(app: App, client: TestClient) -> None:
    echo_app(app, "/live")

    @app.get("/live")
    async def page() -> str:
        return "page"

    assert client.get("/live").json() == "page"
    with client.websocket_connect("/live") as ws:
        ws.send_json({"n": 1})
        assert ws.receive_json() == {"n": 2}


def test_websocket_route_in_an_included_router(app: App, client: TestClient) -> None:
    from bocadillo import Router

    router = Router(prefix="/api")
    echo_app(router, "/echo")  # type: ignore[arg-type]
    app.include_router(router)

    with client.websocket_connect("/api/echo") as ws:
        ws.send_json({"n": 1})
        assert ws.receive_json() == {"n": 2}


def test_websocket_plans_lists_each_route_with_its_messages(app: App) -> None:
    echo_app(app)

    @app.websocket("/raw/{name}", max_message_size=10, invalid_message="reply")
    async def raw(ws: WebSocket[bytes, str], name: str) -> None:
        pass  # pragma: no cover - not connected

    [(echo_route, echo_plan), (raw_route, raw_plan)] = app.websocket_plans()
    assert (echo_route.path, raw_route.path) == ("/echo", "/raw/{name}")
    assert (echo_plan.receives.kind, echo_plan.sends.kind) == ("json", "json")
    assert (raw_plan.receives.kind, raw_plan.sends.kind) == ("bytes", "text")
    assert (raw_plan.max_message_size, raw_plan.invalid_message) == (10, "reply")


# -- start-up checks -----------------------------------------------------------------


def _configuration_error(app: App) -> str:
    with pytest.raises(ConfigurationError) as info:
        app.check()
    return str(info.value)


def test_websocket_handler_without_a_websocket_parameter_is_refused(app: App) -> None:
    @app.websocket("/ws")
    async def no_socket(room: str = Query("main")) -> None:
        pass  # pragma: no cover - never compiled

    message = _configuration_error(app)
    assert "no_socket" in message and "WebSocket[In, Out]" in message


def test_sync_websocket_handler_is_refused(app: App) -> None:
    @app.websocket("/ws")
    def sync_handler(ws: WebSocket[str, str]) -> None:
        pass  # pragma: no cover - never compiled

    message = _configuration_error(app)
    assert "sync_handler" in message and "async def" in message


def test_websocket_without_its_message_types_is_refused(app: App) -> None:
    @app.websocket("/ws")
    async def untyped(ws: WebSocket) -> None:  # type: ignore[type-arg]
        pass  # pragma: no cover - never compiled

    message = _configuration_error(app)
    assert "untyped" in message and "WebSocket[In, Out]" in message


@pytest.mark.parametrize("annotation", [Ping, Annotated[int, Body()]], ids=["model", "Body"])
def test_a_body_parameter_on_a_websocket_route_is_refused(app: App, annotation: Any) -> None:
    async def with_body(ws: WebSocket[str, str], payload: annotation) -> None:  # type: ignore[valid-type]
        pass  # pragma: no cover - never compiled

    app.websocket("/ws")(with_body)

    assert "with_body" in _configuration_error(app)


def test_a_request_parameter_on_a_websocket_route_is_refused(app: App) -> None:
    @app.websocket("/ws")
    async def with_request(ws: WebSocket[str, str], request: Request) -> None:
        pass  # pragma: no cover - never compiled

    assert "with_request" in _configuration_error(app)


def test_an_http_handler_taking_a_websocket_is_refused(app: App) -> None:
    @app.get("/page")
    async def page(ws: WebSocket[str, str]) -> str:
        return "page"  # pragma: no cover - never compiled

    message = _configuration_error(app)
    assert "page" in message and "@app.websocket" in message


def test_an_unknown_invalid_message_mode_is_refused(app: App) -> None:
    echo_app(app, invalid_message="ignore")

    assert "invalid_message" in _configuration_error(app)


def test_a_websocket_path_declared_twice_is_refused(app: App) -> None:
    echo_app(app, "/ws")
    echo_app(app, "/ws")

    assert "declared twice" in _configuration_error(app)


def test_messages_no_backend_can_use_are_refused(app: App) -> None:
    class NotAModel:
        pass

    @app.websocket("/ws")
    async def odd(ws: WebSocket[NotAModel, str]) -> None:
        pass  # pragma: no cover - never compiled

    assert "odd" in _configuration_error(app)


@pytest.mark.parametrize(
    "annotation",
    [Annotated[str, Form()], Annotated[UploadFile, File()], BackgroundTasks],
    ids=["Form", "File", "BackgroundTasks"],
)
def test_what_only_an_http_request_has_is_refused_on_a_websocket_route(
    app: App, annotation: Any
) -> None:
    async def with_http(ws: WebSocket[str, str], extra: annotation) -> None:  # type: ignore[valid-type]
        pass  # pragma: no cover - never compiled

    app.websocket("/ws")(with_http)

    message = _configuration_error(app)
    assert "with_http" in message and "'extra'" in message
    assert "a WebSocket handler cannot" in message


def test_a_provider_taking_a_request_is_refused_on_a_websocket_route(app: App) -> None:
    @app.provider
    def client_ip(request: Request) -> str:
        return request.client.host if request.client else "?"  # pragma: no cover

    @app.get("/ip")
    async def ip(client_ip: str) -> str:
        return client_ip

    @app.websocket("/ws")
    async def echo_ip(ws: WebSocket[str, str], client_ip: str) -> None:
        pass  # pragma: no cover - never compiled

    message = _configuration_error(app)
    assert "echo_ip" in message and "provider 'client_ip'" in message
    assert "has no Request" in message and "Header()" in message


def test_a_provider_taking_the_websocket_is_refused(app: App) -> None:
    @app.provider
    def peer(ws: WebSocket[str, str]) -> str:
        return "peer"  # pragma: no cover - never compiled

    @app.websocket("/ws")
    async def greet(ws: WebSocket[str, str], peer: str) -> None:
        pass  # pragma: no cover - never compiled

    message = _configuration_error(app)
    assert "provider 'peer'" in message and "asks for the WebSocket; a provider cannot" in message
