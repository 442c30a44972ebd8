"""bocadillo.testing: the test client, and the WebSocket message fuzzer finding real bugs."""

import asyncio
from typing import Annotated, Any, Literal

import pytest
import typesystem
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator
from pydantic import BaseModel, Field
from starlette.testclient import TestClient

import bocadillo.testing
from bocadillo import App, Query, WebSocket
from bocadillo.testing import create_client, fuzz_websockets
from bocadillo.testing.strategies import from_json_schema


class Join(BaseModel):
    type: Literal["join"]
    name: str = Field(min_length=1, max_length=20)


class Say(BaseModel):
    type: Literal["say"]
    text: str = Field(max_length=200)


class Leave(BaseModel):
    type: Literal["leave"]


ChatIn = Annotated[Join | Say | Leave, Field(discriminator="type")]


class Event(BaseModel):
    type: str
    text: str = ""
    count: int = Field(0, ge=0)


FAST = {"max_examples": 30, "seed": 1}


# -- the module ----------------------------------------------------------------------


def test_testing_module_exports_the_client_and_the_fuzzer() -> None:
    assert bocadillo.testing.__all__ == [
        "Client",
        "ContractFailure",
        "ContractReport",
        "EventStream",
        "LiveServer",
        "ServerSentEvent",
        "contract_test",
        "create_client",
        "fuzz_websockets",
        "isolated_providers",
        "run_contract",
    ]


@pytest.mark.parametrize("name", bocadillo.testing.__all__)
def test_testing_names_have_docstrings(name: str) -> None:
    doc = getattr(bocadillo.testing, name).__doc__
    assert doc is not None and doc.strip()


# -- create_client -------------------------------------------------------------------


def test_create_client_is_a_starlette_test_client_with_options(app: App) -> None:
    @app.get("/")
    async def index() -> str:
        return "hi"

    client = create_client(app, base_url="http://example.org")

    assert isinstance(client, TestClient)
    assert client.get("/").json() == "hi"
    assert str(client.base_url) == "http://example.org"


def test_create_client_runs_startup_and_shutdown_in_a_with_block(app: App) -> None:
    events: list[str] = []

    @app.provider(scope="app")
    async def resource() -> Any:
        events.append("start")
        yield "ready"
        events.append("stop")

    @app.websocket("/ws")
    async def handler(ws: WebSocket[str, str], resource: str) -> None:
        await ws.send(resource)

    with create_client(app) as client:
        assert events == ["start"]
        with client.websocket_connect("/ws") as ws:
            assert ws.receive_text() == "ready"
    assert events == ["start", "stop"]


# -- the fuzzer on routes that keep their contract -----------------------------------


def test_fuzzer_passes_routes_that_keep_their_contract(app: App) -> None:
    @app.websocket("/chat/{room}")
    async def chat(ws: WebSocket[ChatIn, Event], room: int) -> None:
        async for message in ws:
            await ws.send(Event(type=message.type, text=str(room)))

    @app.websocket("/text", max_message_size=32)
    async def text(ws: WebSocket[str, str]) -> None:
        async for message in ws:
            await ws.send(message[::-1])

    @app.websocket("/binary")
    async def binary(ws: WebSocket[bytes, bytes]) -> None:
        async for message in ws:
            await ws.send(message * 2)

    note = typesystem.Schema(
        fields={"text": typesystem.String(max_length=10), "n": typesystem.Integer(minimum=0)}
    )

    @app.websocket("/notes", invalid_message="reply")
    async def notes(ws: WebSocket[note, note]) -> None:  # type: ignore[valid-type]
        async for message in ws:
            await ws.send(message)

    opened = fuzz_websockets(app, **FAST)

    # One connection for the oversize message, then one per generated case.
    assert opened == dict.fromkeys(["/chat/{room}", "/text", "/binary", "/notes"], 31)


def test_fuzzer_takes_one_route_by_pattern_or_concrete_path(app: App) -> None:
    rooms: list[str] = []

    @app.websocket("/rooms/{room}")
    async def room(ws: WebSocket[str, str], room: str) -> None:
        rooms.append(room)
        async for message in ws:
            await ws.send(message)

    @app.websocket("/other")
    async def other(ws: WebSocket[str, str]) -> None:
        raise AssertionError("not fuzzed")  # pragma: no cover

    assert fuzz_websockets(app, "/rooms/{room}", max_examples=3) == {"/rooms/{room}": 4}
    assert set(rooms) == {"1"}
    assert fuzz_websockets(app, "/rooms/lobby", max_examples=3) == {"/rooms/{room}": 4}
    assert set(rooms) == {"1", "lobby"}
    with pytest.raises(AssertionError, match="no WebSocket route matches '/nowhere'"):
        fuzz_websockets(app, "/nowhere")


def test_fuzzer_fills_path_params_with_values_the_route_accepts_or_the_given_ones(
    app: App,
) -> None:
    seen: list[tuple[int, str]] = []

    @app.websocket("/{year}/{slug}")
    async def page(
        ws: WebSocket[str, str],
        year: Annotated[int, Field(ge=1900)],
        slug: Annotated[str, Field(pattern="^[a-z]+$")],
    ) -> None:
        seen.append((year, slug))

    fuzz_websockets(app, max_examples=2)
    assert set(seen) == {(2024, "test")}  # the first simple values that fit
    seen.clear()
    fuzz_websockets(app, max_examples=2, path_params={"year": 1999, "slug": "news"})
    assert set(seen) == {(1999, "news")}


def test_fuzzer_sends_a_given_path_param_as_it_is(app: App) -> None:
    seen: set[str] = set()

    @app.websocket("/files/{name:path}")
    async def files(ws: WebSocket[str, str], name: str) -> None:
        seen.add(name)

    fuzz_websockets(app, max_examples=2, path_params={"name": "my notes/día 1.txt"})

    assert seen == {"my notes/día 1.txt"}


def test_fuzzer_asks_for_a_path_param_no_simple_value_fits(app: App) -> None:
    @app.websocket("/orders/{code}")
    async def order(ws: WebSocket[str, str], code: Annotated[str, Field(pattern="^ORD-")]) -> None:
        pass  # pragma: no cover - never connected

    with pytest.raises(AssertionError, match=r"pass path_params=\{'code': \.\.\.\}"):
        fuzz_websockets(app)


def test_fuzzer_reports_a_refused_handshake_and_sends_query_and_headers(app: App) -> None:
    @app.websocket("/feed")
    async def feed(
        ws: WebSocket[str, str], token: str = Query(min_length=3), lang: str = Query("en")
    ) -> None:
        async for message in ws:
            await ws.send(f"{token} {lang}: {message}")

    with pytest.raises(AssertionError) as info:
        fuzz_websockets(app, max_examples=2)
    assert "the handshake was not accepted (HTTP 422" in str(info.value)
    assert "query=" in str(info.value)

    assert fuzz_websockets(app, max_examples=2, query={"token": "abc"}) == {"/feed": 3}


# -- the fuzzer finds bugs ------------------------------------------------------------


def test_fuzzer_catches_a_handler_that_crashes_on_some_valid_input(app: App) -> None:
    @app.websocket("/chat")
    async def chat(ws: WebSocket[ChatIn, Event]) -> None:
        async for message in ws:
            if isinstance(message, Say):
                # Bug: an empty message divides by zero.
                await ws.send(Event(type="said", count=100 // len(message.text)))

    with pytest.raises(AssertionError) as info:
        fuzz_websockets(app, **FAST)

    report = str(info.value)
    assert "WebSocket /chat: the server closed the connection with 1011" in report
    assert '{"type":"say","text":""}' in report  # shrunk to the smallest failing message
    assert "ZeroDivisionError" in report  # from the server's log


def test_fuzzer_catches_a_handler_that_sends_a_message_out_does_not_allow(app: App) -> None:
    @app.websocket("/count")
    async def count(ws: WebSocket[Join, Event]) -> None:
        async for message in ws:
            # Bug: model_construct skips validation, so a negative count gets out.
            await ws.send(Event.model_construct(type="joined", text="", count=-len(message.name)))

    with pytest.raises(AssertionError) as info:
        fuzz_websockets(app, **FAST)

    report = str(info.value)
    assert "WebSocket /count: the server sent" in report
    assert "does not match the route's Out type" in report
    assert "greater_than_equal" in report


def test_fuzzer_catches_a_handler_that_fails_on_a_sequence_of_messages(app: App) -> None:
    @app.websocket("/chat")
    async def chat(ws: WebSocket[ChatIn, Event]) -> None:
        members: list[str] = []
        joined: str | None = None
        async for message in ws:
            if isinstance(message, Join):
                joined = message.name
                members.append(joined)
            elif isinstance(message, Leave) and joined is not None:
                members.remove(joined)  # Bug: joined is not reset, so a second leave fails
                await ws.send(Event(type="left", text=joined))

    with pytest.raises(AssertionError) as info:
        fuzz_websockets(app, max_examples=100, seed=3)

    report = str(info.value)
    assert "1011" in report and "ValueError" in report
    sent = report.split("messages sent, in order:\n")[1].split("\nthe server logged:")[0]
    join, leave, leave_again = sent.splitlines()  # shrunk to the three that matter
    assert '"type":"join"' in join
    assert '{"type":"leave"}' in leave and '{"type":"leave"}' in leave_again


def test_fuzzer_catches_a_handler_that_refuses_valid_messages_itself(app: App) -> None:
    @app.websocket("/strict")
    async def strict(ws: WebSocket[Say, Event]) -> None:
        async for message in ws:
            if not message.text:  # Bug: refuses what In allows
                await ws.close(1007, "say something")
                return
            await ws.send(Event(type="said"))

    with pytest.raises(AssertionError, match="got close 1007 for a valid message"):
        fuzz_websockets(app, **FAST)


def test_fuzzer_catches_a_server_that_accepts_invalid_messages(app: App) -> None:
    # A stand-in for a framework bug: an app that answers anything without refusing.
    @app.websocket("/chat")
    async def chat(ws: WebSocket[ChatIn, Event]) -> None:
        async for _ in ws:
            pass  # pragma: no cover

    async def lenient(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            await app(scope, receive, send)
            return
        await receive()
        await send({"type": "websocket.accept"})
        while (await receive())["type"] != "websocket.disconnect":
            await send({"type": "websocket.send", "text": '{"type": "ok"}'})

    lenient.websocket_plans = app.websocket_plans  # type: ignore[attr-defined]

    with pytest.raises(AssertionError, match=r"must (be refused|close the connection with 100)"):
        fuzz_websockets(lenient, **FAST)  # type: ignore[arg-type]


def test_fuzzer_run_is_quick(app: App) -> None:
    @app.websocket("/chat/{room}")
    async def chat(ws: WebSocket[ChatIn, Event], room: str) -> None:
        async for message in ws:
            await asyncio.sleep(0)
            await ws.send(Event(type=message.type))

    loop = asyncio.new_event_loop()
    start = loop.time()
    fuzz_websockets(app, max_examples=50)
    assert loop.time() - start < 10
    loop.close()


# -- generating values from a JSON Schema ---------------------------------------------

SCHEMAS: list[dict[str, Any]] = [
    {"type": "integer", "minimum": 3, "exclusiveMaximum": 7},
    {"type": "integer", "multipleOf": 5, "minimum": -20, "maximum": 20},
    {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    {"type": "string", "minLength": 2, "maxLength": 4},
    {"type": "string", "pattern": "^[a-z]{3}-[0-9]{2}$"},
    {"type": "string", "format": "date-time"},
    {"type": "string", "format": "uuid"},
    {"enum": ["a", "b", 3]},
    {"anyOf": [{"type": "string"}, {"type": "null"}]},
    {"type": ["integer", "boolean"]},
    {"type": "array", "items": {"type": "boolean"}, "minItems": 2, "maxItems": 3},
    {"type": "array", "prefixItems": [{"const": "x"}, {"type": "integer"}], "items": False},
    {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"$ref": "#/$defs/B"}},
        "required": ["a"],
        "$defs": {"B": {"type": "object", "properties": {"c": {"const": 1}}, "required": ["c"]}},
    },
    {
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
            }
        },
        "$ref": "#/$defs/Node",
    },
    {"allOf": [{"$ref": "#/$defs/A"}], "$defs": {"A": {"type": "boolean"}}},
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=[str(i) for i in range(len(SCHEMAS))])
def test_generated_values_match_their_schema(schema: dict[str, Any]) -> None:
    validator = Draft202012Validator(schema)

    @given(from_json_schema(schema))
    @settings(
        max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def check(value: Any) -> None:
        assert validator.is_valid(value), value

    check()


# -- contract_test and run_contract: they pass on a sound app and fail on a broken one ----


class Item(BaseModel):
    n: int = Field(ge=0, le=100)


def sound_app() -> App:
    app = App(title="Sound")
    items: list[Item] = []

    @app.post("/items", status_code=201)
    async def add(item: Item) -> Item:
        items.append(item)
        return item

    @app.get("/items")
    async def list_items() -> list[Item]:
        return items

    return app


def test_contract_test_is_a_test_that_passes_on_a_sound_app() -> None:
    test = bocadillo.testing.contract_test(sound_app(), max_examples=10)
    assert test.__name__ == "test_contract"
    test()  # raises on any failure
    report = bocadillo.testing.run_contract(sound_app(), max_examples=10)
    assert report.ok
    assert [row.operation for row in report.rows] == ["POST /items", "GET /items"]
    assert all(row.cases > 0 and row.failures == 0 for row in report.rows)
    assert report.table().splitlines()[0].split() == ["operation", "cases", "failures"]


def test_contract_test_fails_on_a_server_error_with_a_reproduction() -> None:
    app = App(title="Broken")

    @app.post("/items")
    async def add(item: Item) -> Item:
        if item.n > 50:
            raise RuntimeError("only small items")
        return item

    with pytest.raises(AssertionError) as info:
        bocadillo.testing.contract_test(app, max_examples=20, stateful=False)()
    text = str(info.value)
    assert "Broken: the app does not keep its contract." in text
    assert "POST /items: Server error (not_a_server_error)" in text
    assert "curl -X POST" in text and "only small items" not in text


def test_run_contract_finds_an_undocumented_status() -> None:
    app = App(title="Teapot")

    @app.get("/brew")
    async def brew(strength: int = Query(1, ge=1, le=5)) -> Any:
        from bocadillo import JSONResponse

        if strength == 5:
            return JSONResponse({"detail": "too strong"}, status_code=418)
        return {"ok": True}

    report = bocadillo.testing.run_contract(app, max_examples=20, stateful=False)
    assert not report.ok
    assert {(f.operation, f.check) for f in report.failures} >= {
        ("GET /brew", "status_code_conformance")
    }
    assert report.rows[0].failures >= 1


def test_contract_test_fuzzes_websocket_routes_too() -> None:
    app = App(title="Fragile")

    @app.websocket("/echo")
    async def echo(ws: WebSocket[Event, Event]) -> None:
        async for message in ws:
            if message.count > 10:
                raise RuntimeError("counts that high break the echo")
            await ws.send(message)

    report = bocadillo.testing.run_contract(app, max_examples=30)
    assert [f.operation for f in report.failures] == ["WebSocket /echo"]
    assert "1011" in report.failures[0].message


# -- create_client overrides, LiveServer ----------------------------------------------------


def test_create_client_overrides_providers_for_its_lifetime() -> None:
    app = App()

    @app.provider
    async def greeting() -> str:
        return "hello"

    @app.get("/greet")
    async def greet(greeting: str) -> dict[str, str]:
        return {"greeting": greeting}

    with create_client(app, overrides={"greeting": "hi from a test"}) as client:
        assert client.get("/greet").json() == {"greeting": "hi from a test"}
    with create_client(app) as client:
        assert client.get("/greet").json() == {"greeting": "hello"}


def test_live_server_serves_over_a_real_socket() -> None:
    import urllib.request

    app = App()
    log: list[str] = []
    app.on_startup(lambda: log.append("started"))
    app.on_shutdown(lambda: log.append("stopped"))

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    with bocadillo.testing.LiveServer(app) as server:
        assert server.url.startswith("http://127.0.0.1:") and server.port > 0
        assert log == ["started"]
        with urllib.request.urlopen(server.url + "/ping", timeout=5) as response:
            assert response.status == 200
            assert response.read() == b'{"pong":"yes"}'
    assert log == ["started", "stopped"]
    with pytest.raises(OSError):
        urllib.request.urlopen(server.url + "/ping", timeout=2)
