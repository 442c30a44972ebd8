"""What 0.18's WebSockets did, in the typed API: ``caught_close_codes``, ``async with ws``,
``ws.reject()``, ``ws.url``, and what an exception before the handshake is accepted does."""

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect as ClientDisconnect

from bocadillo import App, ConfigurationError, HTTPError, WebSocket, WebSocketDisconnect
from bocadillo.testing import create_client

PROBLEM_JSON = "application/problem+json"


def raw_websocket(
    app: App, path: str, *, incoming: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Open a WebSocket on the ASGI app as a server without the ``websocket.http.response``
    extension does; send ``incoming`` after the connect, then a disconnect (1000); return
    what the app sent."""
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
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
        await asyncio.sleep(0)
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    return sent


def refusal(client: Any, path: str) -> WebSocketDenialResponse:
    """The HTTP response a refused handshake to ``path`` got."""
    with pytest.raises(WebSocketDenialResponse) as refused, client.websocket_connect(path):
        pass  # pragma: no cover - refused
    return refused.value


def close_of(ws: Any) -> tuple[int, str]:
    """The code and reason the server closed the test client's connection with."""
    with pytest.raises(ClientDisconnect) as closed:
        ws.receive_text()
    return closed.value.code, closed.value.reason


def with_teardown_log(app: App) -> list[Any]:
    """Register a connection provider ``conn`` whose teardown records what it saw."""
    seen: list[Any] = []

    @app.provider
    async def conn() -> AsyncIterator[str]:
        try:
            yield "conn"
        except Exception as exc:
            seen.append(("teardown saw", type(exc).__name__, getattr(exc, "code", None)))
            raise
        else:
            seen.append("teardown clean")

    return seen


# -- caught_close_codes ------------------------------------------------------------------


@pytest.mark.parametrize("code", [1000, 1001, 1005, 1006, 4000])
def test_by_default_every_close_of_the_client_ends_the_loop_quietly(app: App, code: int) -> None:
    seen = with_teardown_log(app)

    @app.websocket("/echo")
    async def echo(ws: WebSocket[str, str], conn: str) -> None:
        async for text in ws:
            await ws.send(text)
        seen.append("after the loop")

    with create_client(app) as client, client.websocket_connect("/echo") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "hi"
        ws.close(code)

    assert seen == ["after the loop", "teardown clean"]


@pytest.mark.parametrize("code", [1000, 1001])
def test_a_caught_close_ends_the_loop_quietly(app: App, code: int) -> None:
    seen = with_teardown_log(app)

    @app.websocket("/echo", caught_close_codes=(1000, 1001))
    async def echo(ws: WebSocket[str, str], conn: str) -> None:
        async for text in ws:
            await ws.send(text)
        seen.append("after the loop")

    with create_client(app) as client, client.websocket_connect("/echo") as ws:
        ws.close(code)

    assert seen == ["after the loop", "teardown clean"]


@pytest.mark.parametrize("code", [1005, 1006, 1011, 4000])
def test_any_other_close_raises_websocket_disconnect_out_of_the_loop(
    app: App, code: int, caplog: pytest.LogCaptureFixture
) -> None:
    seen = with_teardown_log(app)

    @app.websocket("/echo", caught_close_codes=(1000, 1001))
    async def echo(ws: WebSocket[str, str], conn: str) -> None:
        try:
            async for text in ws:
                await ws.send(text)
        except WebSocketDisconnect as exc:
            seen.append(("handler saw", exc.code))
            raise
        seen.append("after the loop")  # pragma: no cover - the loop raised

    with (
        caplog.at_level(logging.INFO, "bocadillo"),
        create_client(app) as client,
        client.websocket_connect("/echo") as ws,
    ):
        ws.send_text("hi")
        assert ws.receive_text() == "hi"
        ws.close(code)

    # The providers' teardown gets it as the failure; the client's leaving is no error.
    assert seen == [("handler saw", code), ("teardown saw", "WebSocketDisconnect", code)]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert f"closed with {code}" in caplog.text


def test_an_uncaught_close_sends_nothing_more_to_the_client_that_left(app: App) -> None:
    @app.websocket("/strict", caught_close_codes=())
    async def strict(ws: WebSocket[str, str]) -> None:
        async for _ in ws:
            pass  # pragma: no cover - no message comes

    sent = raw_websocket(app, "/strict")

    assert [m["type"] for m in sent] == ["websocket.accept"]


def test_an_empty_tuple_catches_no_close_and_receive_always_raises(app: App) -> None:
    seen: list[Any] = []

    @app.websocket("/strict", caught_close_codes=())
    async def strict(ws: WebSocket[str, str]) -> None:
        try:
            async for _ in ws:
                pass  # pragma: no cover - no message comes
        except WebSocketDisconnect as exc:
            seen.append(("loop", exc.code))
        try:
            await ws.receive()
        except WebSocketDisconnect as exc:
            seen.append(("receive", exc.code))  # the client's code, again

    with create_client(app) as client, client.websocket_connect("/strict") as ws:
        ws.close(1000)

    assert seen == [("loop", 1000), ("receive", 1000)]


def test_a_send_after_a_caught_close_raises_the_clients_code(app: App) -> None:
    seen: list[Any] = []

    @app.websocket("/late", caught_close_codes=(1001,))
    async def late(ws: WebSocket[str, str]) -> None:
        async for _ in ws:
            pass  # pragma: no cover - no message comes
        try:
            await ws.send("anyone there?")
        except WebSocketDisconnect as exc:
            seen.append(exc.code)
            raise  # caught: ends the handler quietly

    with create_client(app) as client, client.websocket_connect("/late") as ws:
        ws.close(1001)

    assert seen == [1001]


def test_all_is_the_default_spelt_out(app: App) -> None:
    seen: list[str] = []

    @app.websocket("/all", caught_close_codes="all")
    async def every(ws: WebSocket[str, str]) -> None:
        async for _ in ws:
            pass  # pragma: no cover - no message comes
        seen.append("ended")

    with create_client(app) as client, client.websocket_connect("/all") as ws:
        ws.close(4321)

    assert seen == ["ended"]


@pytest.mark.parametrize(
    ("codes", "message"),
    [
        (all, "the string 'all', not the built-in all()"),
        ("some", "'all' or a tuple of close codes"),
        (1000, "'all' or a tuple of close codes"),
        ((1000, 999), "999 is not a WebSocket close code"),
        ((True,), "True is not a WebSocket close code"),
        ((5000,), "5000 is not a WebSocket close code"),
    ],
)
def test_caught_close_codes_out_of_shape_are_a_start_up_error(
    app: App, codes: Any, message: str
) -> None:
    @app.websocket("/ws", caught_close_codes=codes)
    async def handler(ws: WebSocket[str, str]) -> None:
        pass  # pragma: no cover - never served

    with pytest.raises(ConfigurationError, match="caught_close_codes") as error:
        app.check()
    assert message in str(error.value)
    assert "handler" in str(error.value)


def test_caught_close_codes_change_nothing_in_the_asyncapi_document(app: App) -> None:
    @app.websocket("/a")
    async def a(ws: WebSocket[str, str]) -> None:
        pass  # pragma: no cover - never served

    @app.websocket("/b", caught_close_codes=(1000,))
    async def b(ws: WebSocket[str, str]) -> None:
        pass  # pragma: no cover - never served

    with create_client(app) as client:
        channels = client.get("/asyncapi.json").json()["channels"]
    first, second = (channel for channel in channels.values())
    assert first["x-close-codes"] == second["x-close-codes"]
    assert first["description"] == second["description"]


# -- async with ws -----------------------------------------------------------------------


def test_async_with_accepts_on_enter_and_closes_1000_on_exit(app: App) -> None:
    seen: list[str] = []

    @app.websocket("/hello", auto_accept=False)
    async def hello(ws: WebSocket[str, str]) -> None:
        async with ws:
            await ws.send("hello")
        seen.append("after the block")

    with create_client(app) as client, client.websocket_connect("/hello") as ws:
        assert ws.receive_text() == "hello"
        assert close_of(ws) == (1000, "")

    assert seen == ["after the block"]


def test_async_with_on_an_accepted_connection_does_not_accept_again(app: App) -> None:
    @app.websocket("/echo")
    async def echo(ws: WebSocket[str, str]) -> None:
        assert ws.accepted
        async with ws:
            async for text in ws:
                await ws.send(text)

    with create_client(app) as client, client.websocket_connect("/echo") as ws:
        ws.send_text("one")
        assert ws.receive_text() == "one"


def test_an_error_in_async_with_closes_1011_logs_once_and_reaches_the_providers(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    seen = with_teardown_log(app)

    @app.websocket("/boom", auto_accept=False)
    async def boom(ws: WebSocket[str, str], conn: str) -> None:
        async with ws:
            async for text in ws:
                raise ValueError(f"cannot handle {text}")

    with (
        caplog.at_level(logging.ERROR, "bocadillo"),
        create_client(app) as client,
        client.websocket_connect("/boom") as ws,
    ):
        ws.send_text("this")
        assert close_of(ws) == (1011, "Internal error")

    assert seen == [("teardown saw", "ValueError", None)]
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failures) == 1
    assert "cannot handle this" in str(failures[0].exc_info[1])  # type: ignore[index]


def test_an_error_caught_outside_async_with_leaves_the_connection_closed_1011(
    app: App,
) -> None:
    seen: list[str] = []

    @app.websocket("/boom")
    async def boom(ws: WebSocket[str, str]) -> None:
        try:
            async with ws:
                raise KeyError("x")
        except KeyError:
            seen.append("handled")

    with create_client(app) as client, client.websocket_connect("/boom") as ws:
        assert close_of(ws)[0] == 1011

    assert seen == ["handled"]


def test_a_caught_close_inside_async_with_ends_the_block_quietly(app: App) -> None:
    seen: list[str] = []

    @app.websocket("/once", caught_close_codes=(1000, 1001))
    async def once(ws: WebSocket[str, str]) -> None:
        async with ws:
            await ws.receive()  # raises: the client leaves
        seen.append("after the block")

    with create_client(app) as client, client.websocket_connect("/once") as ws:
        ws.close(1001)

    assert seen == ["after the block"]


def test_another_close_inside_async_with_goes_on_to_the_handler(app: App) -> None:
    seen: list[Any] = []

    @app.websocket("/once", caught_close_codes=(1000, 1001))
    async def once(ws: WebSocket[str, str]) -> None:
        try:
            async with ws:
                await ws.receive()
        except WebSocketDisconnect as exc:
            seen.append(exc.code)

    with create_client(app) as client, client.websocket_connect("/once") as ws:
        ws.close(4001)

    assert seen == [4001]


def test_async_with_after_a_rejection_is_an_error(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    @app.websocket("/no", auto_accept=False)
    async def no(ws: WebSocket[str, str]) -> None:
        await ws.reject(403)
        async with ws:
            pass  # pragma: no cover - refused

    with caplog.at_level(logging.ERROR, "bocadillo"), create_client(app) as client:
        refused = refusal(client, "/no")
    assert refused.status_code == 403
    assert "the connection is closed already" in caplog.text


# -- ws.reject() -------------------------------------------------------------------------


def test_reject_refuses_the_handshake_with_a_403_problem_by_default(app: App) -> None:
    seen: list[str] = []

    @app.websocket("/private", auto_accept=False)
    async def private(ws: WebSocket[str, str]) -> None:
        await ws.reject()
        seen.append("went on")

    with create_client(app) as client:
        refused = refusal(client, "/private")

    response = refused
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json() == {"type": "about:blank", "title": "Forbidden", "status": 403}
    assert seen == ["went on"]  # reject() answers; the handler returns when it likes


def test_reject_takes_a_status_a_detail_and_headers(app: App) -> None:
    @app.websocket("/private", auto_accept=False)
    async def private(ws: WebSocket[str, str]) -> None:
        if "token" not in ws.query_params:
            await ws.reject(401, "Log in first.", headers={"WWW-Authenticate": "Bearer"})
            return
        await ws.accept()
        await ws.send("welcome")

    with create_client(app) as client:
        refused = refusal(client, "/private")
        with client.websocket_connect("/private?token=t") as ws:
            assert ws.receive_text() == "welcome"

    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert refused.json()["detail"] == "Log in first."


@pytest.mark.parametrize(("status", "code"), [(403, 1008), (404, 1008), (503, 1011)])
def test_reject_closes_1008_or_1011_where_the_server_cannot_send_a_response(
    app: App, status: int, code: int
) -> None:
    @app.websocket("/private", auto_accept=False)
    async def private(ws: WebSocket[str, str]) -> None:
        await ws.reject(status, "Not now.")

    sent = raw_websocket(app, "/private")

    assert sent == [{"type": "websocket.close", "code": code, "reason": "Not now."}]


def test_reject_after_accepting_is_an_error_that_closes_1011(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    @app.websocket("/late")
    async def late(ws: WebSocket[str, str]) -> None:
        await ws.reject()

    with (
        caplog.at_level(logging.ERROR, "bocadillo"),
        create_client(app) as client,
        client.websocket_connect("/late") as ws,
    ):
        assert close_of(ws) == (1011, "Internal error")

    assert "ws.reject() refuses the handshake, but this connection is accepted" in caplog.text
    assert "await ws.close(code, reason)" in caplog.text


def test_reject_with_a_status_that_is_no_error_refuses_with_a_500(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    @app.websocket("/odd", auto_accept=False)
    async def odd(ws: WebSocket[str, str]) -> None:
        await ws.reject(200)

    with caplog.at_level(logging.ERROR, "bocadillo"), create_client(app) as client:
        refused = refusal(client, "/odd")

    assert refused.status_code == 500
    assert "4xx or 5xx status, got 200" in caplog.text


# -- ws.url ------------------------------------------------------------------------------


def test_ws_url_is_the_url_the_handshake_was_sent_to(app: App) -> None:
    @app.websocket("/rooms/{room}")
    async def room(ws: WebSocket[str, str], room: str) -> None:
        url = ws.url
        await ws.send(f"{url} {url.scheme} {url.path} {url.query}")

    with create_client(app) as client, client.websocket_connect("/rooms/lobby?nick=ada") as ws:
        assert ws.receive_text() == (
            "ws://testserver/rooms/lobby?nick=ada ws /rooms/lobby nick=ada"
        )


# -- an exception before the handshake is accepted --------------------------------------


def test_a_handler_error_before_accepting_refuses_with_a_500_problem(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    @app.websocket("/manual", auto_accept=False)
    async def manual(ws: WebSocket[str, str]) -> None:
        raise ValueError("secret detail")

    with caplog.at_level(logging.ERROR, "bocadillo"), create_client(app) as client:
        refused = refusal(client, "/manual")

    assert refused.status_code == 500
    assert refused.headers["content-type"] == PROBLEM_JSON
    assert "secret detail" not in refused.text
    assert "secret detail" in caplog.text


def test_a_handler_error_before_accepting_closes_1011_where_no_response_can_go(
    app: App,
) -> None:
    @app.websocket("/manual", auto_accept=False)
    async def manual(ws: WebSocket[str, str]) -> None:
        raise ValueError("secret detail")

    sent = raw_websocket(app, "/manual")

    assert sent == [{"type": "websocket.close", "code": 1011, "reason": "Internal error"}]


def test_a_provider_error_before_accepting_closes_1011_where_no_response_can_go(
    app: App,
) -> None:
    @app.provider
    async def broken() -> str:
        raise RuntimeError("database down")

    @app.websocket("/feed")
    async def feed(ws: WebSocket[str, str], broken: str) -> None:
        pass  # pragma: no cover - never called

    sent = raw_websocket(app, "/feed")

    assert [(m["type"], m["code"]) for m in sent] == [("websocket.close", 1011)]


def test_an_http_error_before_accepting_still_closes_1008_where_no_response_can_go(
    app: App,
) -> None:
    @app.websocket("/manual", auto_accept=False)
    async def manual(ws: WebSocket[str, str]) -> None:
        raise HTTPError(403, detail="Not you.")

    sent = raw_websocket(app, "/manual")

    assert [(m["type"], m["code"]) for m in sent] == [("websocket.close", 1008)]


def test_an_error_after_accepting_closes_1011(app: App) -> None:
    @app.websocket("/auto")
    async def auto(ws: WebSocket[str, str]) -> None:
        raise ValueError("secret detail")

    with create_client(app) as client, client.websocket_connect("/auto") as ws:
        assert close_of(ws) == (1011, "Internal error")


def test_the_asyncapi_document_says_a_500_refusal_closes_1011(app: App) -> None:
    @app.websocket("/ws")
    async def handler(ws: WebSocket[str, str]) -> None:
        pass  # pragma: no cover - never served

    with create_client(app) as client:
        (channel,) = client.get("/asyncapi.json").json()["channels"].values()
        page = client.get("/docs/channels").text
    assert "close code 1008 (1011 for a 500)" in channel["description"]
    assert "500" in channel["x-handshake-responses"]
    assert "close code 1008 (1011 for a 500)" in page
