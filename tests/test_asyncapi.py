"""The AsyncAPI 3.0 document of the WebSocket routes, its URLs, its page and its command."""

from __future__ import annotations

import enum
import json
import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import jsonschema
import pytest
import typesystem
import yaml
from pydantic import BaseModel, Field
from starlette.testclient import TestClient

from bocadillo import (
    APIKeyHeader,
    APIKeyQuery,
    App,
    ConfigurationError,
    Cookie,
    Header,
    HTTPBearer,
    OAuth2PasswordBearer,
    Query,
    Router,
    WebSocket,
)
from bocadillo import Path as PathParam
from bocadillo.cli.main import main

DATA = Path(__file__).resolve().parent / "data"
ASYNCAPI_SCHEMA = json.loads((DATA / "asyncapi-3.0.0-without-id.json").read_text())
VALIDATOR = jsonschema.Draft7Validator(
    ASYNCAPI_SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
)


def local_refs(node: Any) -> Iterator[str]:
    if isinstance(node, list):
        for item in node:
            yield from local_refs(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            elif key not in ("enum", "const", "default", "examples", "example"):
                yield from local_refs(value)


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and token in node, f"{ref} does not resolve"
        node = node[token]
    return node


def assert_valid_asyncapi(document: dict[str, Any]) -> None:
    """Valid against the official AsyncAPI 3.0.0 JSON Schema, and every $ref resolves
    (which the JSON Schema cannot check)."""
    errors = sorted(VALIDATOR.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors[:10]
    )
    for ref in local_refs(document):
        resolve(document, ref)
    # Every operation's messages belong to its channel.
    for operation in document.get("operations", {}).values():
        channel_ref = operation["channel"]["$ref"]
        for message in operation.get("messages", []):
            assert message["$ref"].startswith(channel_ref + "/messages/")


# -- the app under test -----------------------------------------------------------------


class ChatIn(BaseModel):
    text: str = Field(min_length=1, max_length=500)


class ChatOut(BaseModel):
    room: str
    user: str
    text: str


class Todo(BaseModel):
    id: int
    title: str


class Ping(BaseModel):
    kind: Literal["ping"]


class Say(BaseModel):
    kind: Literal["say"]
    text: str


Command = Annotated[Ping | Say, Field(discriminator="kind")]


class Evil(BaseModel):
    """</pre><script>alert(2)</script>"""

    text: str = Field(description="<img src=x onerror=alert(3)>")


class WebSocketError(BaseModel):
    """A user's type named like the framework's error message."""

    mine: int


def make_app(**options: Any) -> App:
    app = App(title="Chat", version="2.0.0", description="Talks.", **options)

    @app.provider(raises={403: "You may not join this room."})
    async def user(key: Annotated[str, APIKeyHeader("X-API-Key")]) -> str:
        return key

    @app.get("/todos/{id}")
    async def get_todo(id: int) -> Todo:
        return Todo(id=id, title="tea")

    @app.post("/messages", status_code=201)
    async def post_message(message: ChatIn) -> ChatOut:
        return ChatOut(room="main", user="ada", text=message.text)

    @app.websocket("/chat/{room}", max_message_size=4096, tags=["chat"])
    async def chat(
        ws: WebSocket[ChatIn, ChatOut],
        room: str = PathParam(description="The room to join."),
        user: str = "",
        since: int = Query(0, ge=0, description="Replay messages after this id."),
        trace: str | None = Header(None, alias="X-Trace"),
    ) -> None:
        """Chat in a room.

        Every message is broadcast to the room.
        """
        async for message in ws:
            await ws.send(ChatOut(room=room, user=user, text=message.text))

    @app.websocket("/echo", invalid_message="reply")
    async def echo(ws: WebSocket[ChatIn, ChatIn]) -> None:
        async for message in ws:
            await ws.send(message)

    @app.websocket("/raw")
    async def raw(ws: WebSocket[bytes, str]) -> None:
        async for data in ws:
            await ws.send(data.hex())

    @app.websocket("/todos/live")
    async def todos_live(ws: WebSocket[str, Todo]) -> None:
        async for _ in ws:
            await ws.send(Todo(id=1, title="tea"))

    @app.websocket("/commands")
    async def commands(ws: WebSocket[Command, str]) -> None:
        async for command in ws:
            await ws.send(command.kind)

    @app.websocket("/hidden", include_in_schema=False)
    async def hidden(ws: WebSocket[str, str]) -> None:
        await ws.close()

    return app


@pytest.fixture(scope="module")
def chat_app() -> App:
    return make_app()


@pytest.fixture(scope="module")
def document(chat_app: App) -> dict[str, Any]:
    return chat_app.asyncapi()


# -- the document -------------------------------------------------------------------------


def test_document_is_valid_asyncapi_3(document: dict[str, Any]) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert_valid_asyncapi(document)


def test_the_validator_rejects_a_broken_document(document: dict[str, Any]) -> None:
    assert ASYNCAPI_SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema"
    broken = json.loads(json.dumps(document))
    broken["operations"]["chat_receive"]["action"] = "listen"
    del broken["info"]["version"]
    messages = [e.message for e in VALIDATOR.iter_errors(broken)]
    assert messages, "the vendored schema accepted a broken document"


def test_info_and_a_local_server(document: dict[str, Any]) -> None:
    assert document["info"] == {"title": "Chat", "version": "2.0.0", "description": "Talks."}
    assert document["servers"] == {"ws": {"host": "localhost", "protocol": "ws"}}
    assert document["defaultContentType"] == "application/json"


def test_one_channel_per_documented_websocket_route(document: dict[str, Any]) -> None:
    channels = document["channels"]
    assert list(channels) == ["chat", "echo", "raw", "todos_live", "commands"]
    assert {c["address"] for c in channels.values()} == {
        "/chat/{room}",
        "/echo",
        "/raw",
        "/todos/live",
        "/commands",
    }
    assert set(document["operations"]) == {
        f"{name}_{action}" for name in channels for action in ("receive", "send")
    }


def test_channel_from_the_handler(document: dict[str, Any]) -> None:
    chat = document["channels"]["chat"]
    assert chat["title"] == "Chat"
    assert chat["summary"] == "Chat in a room."
    assert chat["description"].startswith("Every message is broadcast to the room.\n\n")
    assert chat["tags"] == [{"name": "chat"}]
    assert chat["parameters"] == {
        "room": {"description": 'The room to join. JSON Schema: {"type":"string"}'}
    }


def test_ws_binding_holds_the_query_and_header_schemas(document: dict[str, Any]) -> None:
    binding = document["channels"]["chat"]["bindings"]["ws"]
    assert binding["method"] == "GET"
    assert binding["bindingVersion"] == "0.1.0"
    assert binding["query"] == {
        "type": "object",
        "properties": {
            "since": {
                "type": "integer",
                "minimum": 0,
                "default": 0,
                "description": "Replay messages after this id.",
            }
        },
    }
    headers = binding["headers"]
    assert headers["type"] == "object"
    assert set(headers["properties"]) == {"X-API-Key", "x-trace"}
    assert headers["properties"]["x-trace"] == {"type": "string"}
    assert headers["properties"]["X-API-Key"]["type"] == "string"
    assert "401" in headers["properties"]["X-API-Key"]["description"]
    assert headers["required"] == ["X-API-Key"]
    # A route without parameters has a binding with neither.
    assert document["channels"]["echo"]["bindings"] == {
        "ws": {"method": "GET", "bindingVersion": "0.1.0"}
    }


def test_messages_and_operations(document: dict[str, Any]) -> None:
    chat = document["channels"]["chat"]
    assert set(chat["messages"]) == {"in", "out"}
    received, sent = chat["messages"]["in"], chat["messages"]["out"]
    assert received["payload"] == {"$ref": "#/components/schemas/ChatIn"}
    assert received["contentType"] == "application/json"
    assert received["name"] == "ChatIn"
    assert sent["payload"] == {"$ref": "#/components/schemas/ChatOut"}
    receive, send = document["operations"]["chat_receive"], document["operations"]["chat_send"]
    assert receive["action"] == "receive"  # what the app receives: what clients send
    assert receive["channel"] == {"$ref": "#/channels/chat"}
    assert receive["messages"] == [{"$ref": "#/channels/chat/messages/in"}]
    assert send["action"] == "send"
    assert send["messages"] == [{"$ref": "#/channels/chat/messages/out"}]
    assert receive["tags"] == send["tags"] == [{"name": "chat"}]


def test_text_and_binary_payloads(document: dict[str, Any]) -> None:
    raw = document["channels"]["raw"]["messages"]
    assert raw["in"]["payload"] == {"type": "string", "format": "binary"}
    assert raw["in"]["contentType"] == "application/octet-stream"
    assert raw["out"]["payload"] == {"type": "string"}
    assert raw["out"]["contentType"] == "text/plain"
    live = document["channels"]["todos_live"]["messages"]
    assert live["in"]["payload"] == {"type": "string"}
    assert live["out"]["payload"] == {"$ref": "#/components/schemas/Todo"}
    codes = document["channels"]["raw"]["x-close-codes"]
    assert "binary" in codes["1003"]
    assert "1007" not in codes  # bytes are never validated


def test_a_type_used_by_http_and_websocket_routes_has_one_schema(
    chat_app: App, document: dict[str, Any]
) -> None:
    openapi = chat_app.openapi()["components"]["schemas"]
    asyncapi = document["components"]["schemas"]
    for name in ("ChatIn", "ChatOut", "Todo"):
        assert asyncapi[name] == openapi[name], name
    post = chat_app.openapi()["paths"]["/messages"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body == document["channels"]["chat"]["messages"]["in"]["payload"]
    # Only what the channels use: no Problem schema, no HTTP-only types.
    assert "Problem" not in asyncapi


def test_a_type_only_websocket_routes_use_is_a_component(document: dict[str, Any]) -> None:
    payload = document["channels"]["commands"]["messages"]["in"]["payload"]
    schemas = document["components"]["schemas"]
    assert {"Ping", "Say"} <= set(schemas)
    # AsyncAPI's Schema Object names the discriminator property (a string).
    assert payload["discriminator"] == "kind"
    assert {"$ref": "#/components/schemas/Ping"} in payload["oneOf"]


def test_close_codes_in_the_channel_description(document: dict[str, Any]) -> None:
    chat = document["channels"]["chat"]
    description = chat["description"]
    assert "**Close codes**" in description
    for code in (1000, 1003, 1007, 1008, 1009, 1011):
        assert f"| {code} |" in description
    assert "4096 bytes" in description
    assert chat["x-close-codes"]["1009"].startswith("A message larger than 4096 bytes")
    assert chat["x-close-codes"]["1011"] == "The handler failed; the reason does not say how."
    assert chat["x-close-codes"]["1007"] == (
        "A message that is not valid JSON or does not match the messages the route receives."
    )
    # Statuses a refused handshake answers with: the credentials, the provider's own,
    # invalid parameters, a path parameter holding a slash, a failed provider.
    assert chat["x-handshake-responses"] == {
        "401": "Missing or malformed credentials.",
        "403": "You may not join this room.",
        "404": "No WebSocket route matches the path (a path parameter held a slash, for one).",
        "422": "The path, query or header parameters did not validate.",
        "500": "A provider failed during the handshake; the error was logged.",
    }
    assert "| 403 | You may not join this room. |" in description
    assert "application/problem+json" in description
    assert "65536 bytes" in document["channels"]["echo"]["description"]  # the default


def test_reply_mode_sends_an_error_message(document: dict[str, Any]) -> None:
    echo = document["channels"]["echo"]
    assert set(echo["messages"]) == {"in", "out", "error"}
    error = echo["messages"]["error"]
    assert error["payload"] == {"$ref": "#/components/schemas/WebSocketError"}
    assert document["operations"]["echo_send"]["messages"] == [
        {"$ref": "#/channels/echo/messages/out"},
        {"$ref": "#/channels/echo/messages/error"},
    ]
    assert "1007" not in echo["x-close-codes"]  # answered, not closed
    assert "stays open" in echo["description"]
    schema = document["components"]["schemas"]["WebSocketError"]
    assert schema["required"] == ["type", "code", "detail", "errors"]
    assert schema["properties"]["errors"]["items"] == {
        "$ref": "#/components/schemas/ValidationIssue"
    }
    assert "error" not in document["channels"]["chat"]["messages"]


def _component_validator(document: dict[str, Any], name: str) -> jsonschema.Draft7Validator:
    schema = {**document["components"]["schemas"][name], "components": document["components"]}
    return jsonschema.Draft7Validator(schema)


def test_what_the_routes_send_matches_the_document(chat_app: App) -> None:
    document = chat_app.asyncapi()
    with TestClient(chat_app) as client, client.websocket_connect("/echo") as ws:
        ws.send_text("{not json")
        error = ws.receive_json()
        ws.send_text('{"text": ""}')
        mismatch = ws.receive_json()
        ws.send_text('{"text": "hi"}')
        echoed = ws.receive_json()
    validator = _component_validator(document, "WebSocketError")
    validator.validate(error)
    validator.validate(mismatch)
    assert error["type"] == "error" and error["code"] == 1007
    _component_validator(document, "ChatIn").validate(echoed)


def test_channel_ids_are_unique_and_stable() -> None:
    app = App()
    first, second = Router(prefix="/a"), Router(prefix="/b")

    for router in (first, second):

        @router.websocket("/feed")
        async def feed(ws: WebSocket[str, str]) -> None:
            await ws.close()

    @app.websocket("/named", operation_id="my.feed")
    async def named(ws: WebSocket[str, str]) -> None:
        await ws.close()

    @app.websocket("/files/{name:path}")
    async def files(ws: WebSocket[str, str], name: str) -> None:
        await ws.close()

    app.include_router(first)
    app.include_router(second)
    document = app.asyncapi()
    assert list(document["channels"]) == ["my.feed", "files", "feed", "feed_2"]
    assert document["channels"]["feed"]["address"] == "/a/feed"
    assert document["channels"]["feed_2"]["address"] == "/b/feed"
    assert document["channels"]["files"]["address"] == "/files/{name}"
    assert set(document["channels"]["files"]["parameters"]) == {"name"}
    assert app.asyncapi() is document
    assert_valid_asyncapi(document)
    again = App()
    again.include_router(first)
    assert list(again.asyncapi()["channels"]) == ["feed"]


def test_servers_follow_the_app_servers() -> None:
    app = App(
        servers=[
            {"url": "https://chat.example/api/", "description": "production"},
            {"url": "http://localhost:8000"},
            {"url": "/v2"},
        ]
    )

    @app.websocket("/feed")
    async def feed(ws: WebSocket[str, str], token: Annotated[str, HTTPBearer()]) -> None:
        await ws.close()

    document = app.asyncapi()
    assert document["servers"] == {
        "ws": {
            "host": "chat.example",
            "protocol": "wss",
            "pathname": "/api",
            "description": "production",
        },
        "ws2": {"host": "localhost:8000", "protocol": "ws"},
        "ws3": {"host": "localhost", "protocol": "ws", "pathname": "/v2"},
    }
    assert document["components"]["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer"}
    }
    assert_valid_asyncapi(document)


def test_security_schemes() -> None:
    app = App()

    @app.websocket("/keyed")
    async def keyed(ws: WebSocket[str, str], key: Annotated[str, APIKeyQuery("api_key")]) -> None:
        await ws.close()

    @app.websocket("/oauth")
    async def oauth(
        ws: WebSocket[str, str], token: Annotated[str, OAuth2PasswordBearer(token_url="/token")]
    ) -> None:
        await ws.close()

    document = app.asyncapi()
    schemes = document["components"]["securitySchemes"]
    assert schemes["api_key"] == {"type": "httpApiKey", "name": "api_key", "in": "query"}
    # AsyncAPI wants an absolute token URL: with none known, the bearer token it is.
    assert schemes["oauth2"]["type"] == "http"
    assert schemes["oauth2"]["scheme"] == "bearer"
    assert "/token" in schemes["oauth2"]["description"]
    keyed_ops = [document["operations"][f"keyed_{a}"] for a in ("receive", "send")]
    for operation in keyed_ops:
        assert operation["security"] == [{"$ref": "#/components/securitySchemes/api_key"}]
    assert document["channels"]["keyed"]["bindings"]["ws"]["query"]["required"] == ["api_key"]
    assert document["channels"]["keyed"]["x-handshake-responses"] == {
        "401": "Missing or malformed credentials.",
        "500": "A provider failed during the handshake; the error was logged.",
    }
    assert_valid_asyncapi(document)

    served = App(servers=[{"url": "https://auth.example"}])

    @served.websocket("/oauth")
    async def oauth_served(
        ws: WebSocket[str, str], token: Annotated[str, OAuth2PasswordBearer(token_url="/token")]
    ) -> None:
        await ws.close()

    flows = served.asyncapi()["components"]["securitySchemes"]["oauth2"]["flows"]
    assert flows == {"password": {"tokenUrl": "https://auth.example/token", "availableScopes": {}}}
    assert_valid_asyncapi(served.asyncapi())


class Color(enum.Enum):
    red = "red"
    blue = "blue"


NOTE = typesystem.Schema(fields={"title": typesystem.String(max_length=10)})


def test_other_payloads_and_parameters() -> None:
    app = App()

    @app.websocket("/paint/{color}")
    async def paint(
        ws: WebSocket[NOTE, list[Todo]],  # type: ignore[valid-type]
        color: Color,
        session: str = Cookie(),
    ) -> None:
        await ws.close()

    document = app.asyncapi()
    channel = document["channels"]["paint"]
    assert channel["parameters"]["color"]["enum"] == ["red", "blue"]
    assert "The handshake reads the cookies: session." in channel["description"]
    received, sent = channel["messages"]["in"], channel["messages"]["out"]
    assert received["name"] == "in"  # a typesystem schema, inline
    assert received["payload"]["properties"]["title"]["maxLength"] == 10
    assert sent["payload"] == {"type": "array", "items": {"$ref": "#/components/schemas/Todo"}}
    assert_valid_asyncapi(document)


def test_an_app_without_websocket_routes() -> None:
    app = App(title="Plain")

    @app.get("/ping")
    async def ping() -> str:
        return "pong"

    document = app.asyncapi()
    assert document["channels"] == {} and document["operations"] == {}
    assert "components" not in document
    assert_valid_asyncapi(document)


def test_the_document_is_cached_until_the_routes_change() -> None:
    app = App()

    @app.websocket("/one")
    async def one(ws: WebSocket[str, str]) -> None:
        await ws.close()

    first = app.asyncapi()
    assert app.asyncapi() is first

    @app.websocket("/two")
    async def two(ws: WebSocket[str, str]) -> None:
        await ws.close()

    second = app.asyncapi()
    assert second is not first
    assert list(second["channels"]) == ["one", "two"]


def test_a_user_type_named_like_the_error_message_keeps_its_schema() -> None:
    app = App()

    @app.websocket("/mine")
    async def mine(ws: WebSocket[WebSocketError, WebSocketError]) -> None:
        await ws.close()

    @app.websocket("/reply", invalid_message="reply")
    async def reply(ws: WebSocket[ChatIn, str]) -> None:
        await ws.close()

    document = app.asyncapi()
    schemas = document["components"]["schemas"]
    assert schemas["WebSocketError"]["properties"] == {"mine": {"title": "Mine", "type": "integer"}}
    error = document["channels"]["reply"]["messages"]["error"]["payload"]["$ref"]
    assert error == "#/components/schemas/WebSocketError2"
    assert schemas["WebSocketError2"]["properties"]["code"]["const"] == 1007
    assert_valid_asyncapi(document)


# -- built from the API model ---------------------------------------------------------------


def test_the_document_does_not_wait_for_the_openapi_document() -> None:
    app = App()

    @app.get("/a", operation_id="same")
    async def first() -> None: ...

    @app.get("/b", operation_id="same")
    async def second() -> None: ...

    @app.websocket("/echo")
    async def echo(ws: WebSocket[str, str]) -> None: ...

    with pytest.raises(ConfigurationError, match="operation_id='same'"):
        app.openapi()  # an OpenAPI matter only
    assert list(app.asyncapi()["channels"]) == ["echo"]


# -- served --------------------------------------------------------------------------


def test_served_as_json_and_yaml(chat_app: App) -> None:
    client = TestClient(chat_app)
    response = client.get("/asyncapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == chat_app.asyncapi()
    as_yaml = client.get("/asyncapi.yaml")
    assert as_yaml.status_code == 200
    assert as_yaml.headers["content-type"] == "application/yaml"
    assert as_yaml.text.startswith("asyncapi: 3.0.0\n")
    assert yaml.safe_load(as_yaml.text) == response.json()
    # The framework's own routes are in neither document.
    assert "/asyncapi.json" not in chat_app.openapi()["paths"]
    assert "/docs/channels" not in chat_app.openapi()["paths"]


def test_asyncapi_url_none_turns_the_document_and_page_off() -> None:
    app = make_app(asyncapi_url=None)
    client = TestClient(app)
    assert client.get("/asyncapi.json").status_code == 404
    assert client.get("/asyncapi.yaml").status_code == 404
    assert client.get("/docs/channels").status_code == 404
    assert "channels" not in client.get("/docs").text
    assert client.get("/openapi.json").status_code == 200
    assert app.asyncapi()["channels"]  # still there for the command line


def test_a_custom_asyncapi_url() -> None:
    app = make_app(asyncapi_url="/api/async.json")
    client = TestClient(app)
    assert client.get("/api/async.json").json()["asyncapi"] == "3.0.0"
    assert client.get("/api/async.yaml").text.startswith("asyncapi: 3.0.0")
    assert 'href="/api/async.json"' in client.get("/docs/channels").text


# -- the channels page ---------------------------------------------------------------------

_URL = re.compile(r"""(?:https?:)?//[^\s"'<>()]+""")


def test_swagger_page_links_to_the_channels_page(chat_app: App) -> None:
    client = TestClient(chat_app)
    assert 'href="/docs/channels"' in client.get("/docs").text
    plain = App()
    assert "/docs/channels" not in TestClient(plain).get("/docs").text


def test_channels_page_content(chat_app: App) -> None:
    response = TestClient(chat_app).get("/docs/channels")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert "<title>Chat - Channels</title>" in page
    assert '<section class="channel" id="channel-chat">' in page
    assert "<h2><code>/chat/{room}</code> Chat</h2>" in page
    assert "<p>Every message is broadcast to the room.</p>" in page
    assert "**Close codes**" not in page  # rendered as a table, not as Markdown
    assert "<code>room</code>" in page and "The room to join." in page
    assert "<code>since</code>" in page and "<code>X-API-Key</code>" in page
    assert "<h3>The client sends</h3>\n<h4>ChatIn</h4>" in page
    assert "<h3>The client receives</h3>\n<h4>ChatOut</h4>" in page
    assert '<p>Payload: <a href="#schema-ChatIn">ChatIn</a>.</p>' in page
    assert '<h3 id="schema-ChatIn">ChatIn</h3>' in page
    assert "<td>1009</td><td>A message larger than 4096 bytes" in page
    assert "<td>403</td><td>You may not join this room.</td>" in page
    assert "<h4>WebSocketError</h4>" in page  # echo's error message
    assert 'id="channel-hidden"' not in page
    # Only the app's own URLs: no script, no stylesheet, no link elsewhere.
    assert "<script" not in page and "<link" not in page and "url(" not in page
    for attribute in re.findall(r'\b(?:src|href|action)="([^"]*)"', page):
        assert attribute.startswith(("/", "#")), attribute
    assert not _URL.findall(page.replace("ws://testserver", "")), _URL.findall(page)
    assert 'href="/docs"' in page and 'href="/asyncapi.json"' in page


def test_channels_page_escapes_everything() -> None:
    app = App(title="<script>alert(1)</script>", description="a & b <i>")

    @app.websocket("/evil/{name}", summary="<b>bold</b>")
    async def evil(
        ws: WebSocket[Evil, str],
        name: str = PathParam(description='"><script>alert(4)</script>'),
    ) -> None:
        """Ignored summary.

        <iframe src="/x"></iframe> & more.
        """
        await ws.close()

    page = TestClient(app).get("/docs/channels").text
    assert "<script" not in page and "<img" not in page and "<iframe" not in page
    assert "<b>" not in page and "<i>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "&lt;iframe src=&quot;/x&quot;&gt;&lt;/iframe&gt; &amp; more." in page
    assert "&lt;img src=x onerror=alert(3)&gt;" in page
    assert "&lt;/pre&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;script&gt;alert(4)&lt;/script&gt;" in page


def test_channels_page_shows_the_server_it_was_asked_from() -> None:
    app = make_app()
    page = TestClient(app, base_url="http://127.0.0.1:8111").get("/docs/channels").text
    assert "Servers: <code>ws://127.0.0.1:8111</code>" in page
    assert "localhost" not in page
    secure = TestClient(app, base_url="https://docs.example:8443", root_path="/api")
    page = secure.get("/docs/channels").text
    assert "Servers: <code>wss://docs.example:8443/api</code>" in page
    # Declared servers are what the page shows, wherever it is asked from.
    declared = App(servers=[{"url": "https://api.example.com/v1"}])

    @declared.websocket("/ws")
    async def ws(ws: WebSocket[str, str]) -> None:
        await ws.close()

    page = TestClient(declared, base_url="http://127.0.0.1:8111").get("/docs/channels").text
    assert "Servers: <code>wss://api.example.com/v1</code>" in page


def test_channels_page_renders_the_descriptions_markdown() -> None:
    app = App(description="The **chat** API: see `/docs`.")

    @app.websocket("/rooms/{room}/{seat}", invalid_message="reply")
    async def rooms(
        ws: WebSocket[str, str],
        room: Annotated[str, PathParam(min_length=2, max_length=8, description="The `room`.")],
        seat: Annotated[int, PathParam(ge=1)],
    ) -> None:
        """Join a room.

        Send `join` first, then:

        - `say <text>`
        - `leave`

        | command | effect |
        | --- | --- |
        | `say` | speaks \\| shouts |

        <b>not bold</b> & `<i>`
        """
        await ws.close()

    page = TestClient(app).get("/docs/channels").text
    assert "<p>The <strong>chat</strong> API: see <code>/docs</code>.</p>" in page
    assert "<p>Send <code>join</code> first, then:</p>" in page
    assert "<ul><li><code>say &lt;text&gt;</code></li><li><code>leave</code></li></ul>" in page
    assert "<tr><th>command</th><th>effect</th></tr>" in page
    assert "<tr><td><code>say</code></td><td>speaks | shouts</td></tr>" in page
    assert "<p>&lt;b&gt;not bold&lt;/b&gt; &amp; <code>&lt;i&gt;</code></p>" in page
    # The generated notes read as text too: no Markdown left in the page.
    assert "`" not in page and "**" not in page
    # Path parameters: name, type, constraints, then the description.
    assert (
        "<tr><td><code>room</code></td><td>string</td><td>at least 2 characters, "
        "at most 8 characters</td><td>The <code>room</code>.</td></tr>"
    ) in page
    assert "<tr><td><code>seat</code></td><td>integer</td><td>\u2265 1</td><td></td></tr>" in page
    assert "JSON Schema" not in page


def test_channels_page_without_channels_and_under_a_root_path() -> None:
    app = App()
    page = TestClient(app, root_path="/api").get("/docs/channels").text
    assert "This app has no WebSocket or server-sent events routes." in page
    assert 'href="/api/docs"' in page and 'href="/api/asyncapi.json"' in page


def test_channels_page_follows_the_docs_url() -> None:
    assert TestClient(make_app(docs_url=None)).get("/docs/channels").status_code == 404
    moved = TestClient(make_app(docs_url="/reference"))
    assert moved.get("/reference/channels").status_code == 200
    assert 'href="/reference/channels"' in moved.get("/reference").text
    # Without the OpenAPI document there is no Swagger page to link back to.
    no_openapi = TestClient(make_app(openapi_url=None))
    assert no_openapi.get("/docs").status_code == 404
    page = no_openapi.get("/docs/channels").text
    assert "Swagger" not in page and 'href="/asyncapi.json"' in page


# -- the command -------------------------------------------------------------------------

CHAT_MODULE = """
from typing import Annotated

from pydantic import BaseModel

from bocadillo import App, WebSocket

app = App(title="CLI chat")


class Line(BaseModel):
    text: str


@app.websocket("/lines/{room}", invalid_message="reply")
async def lines(ws: WebSocket[Line, Line], room: str) -> None:
    async for line in ws:
        await ws.send(line)
"""


@pytest.fixture
def chat_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / "cli_asyncapi_chat.py").write_text(textwrap.dedent(CHAT_MODULE))
    yield tmp_path
    sys.modules.pop("cli_asyncapi_chat", None)


def test_command_prints_the_served_document(
    chat_module: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = ["cli_asyncapi_chat:app", "--app-dir", str(chat_module)]
    assert main(["asyncapi", *target]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    from cli_asyncapi_chat import app  # type: ignore[import-not-found]

    client = TestClient(app)
    assert out.encode() == client.get("/asyncapi.json").content + b"\n"
    assert json.loads(out)["channels"]["lines"]["address"] == "/lines/{room}"
    assert_valid_asyncapi(json.loads(out))

    assert main(["asyncapi", *target, "--yaml"]) == 0
    assert capsys.readouterr().out.encode() == client.get("/asyncapi.yaml").content

    written = chat_module / "out.json"
    assert main(["asyncapi", *target, "-o", str(written)]) == 0
    assert capsys.readouterr() == ("", "")
    assert written.read_bytes() == client.get("/asyncapi.json").content + b"\n"


def test_command_errors(
    chat_module: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["asyncapi", "cli_asyncapi_chat:nope", "--app-dir", str(chat_module)]) == 2
    assert capsys.readouterr().err.startswith("bocadillo asyncapi: error: module")
    target = tmp_path / "missing" / "out.json"
    code = main(
        ["asyncapi", "cli_asyncapi_chat:app", "--app-dir", str(chat_module), "-o", str(target)]
    )
    assert code == 1
    assert capsys.readouterr().err.startswith("bocadillo asyncapi: error: could not write")


def test_command_reports_a_misconfigured_websocket_route(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / "cli_asyncapi_bad.py").write_text(
        textwrap.dedent(
            """
            from bocadillo import App, WebSocket

            app = App()

            @app.websocket("/bad")
            def bad(ws: WebSocket[str, str]) -> None:
                pass
            """
        )
    )
    try:
        assert main(["asyncapi", "cli_asyncapi_bad:app", "--app-dir", str(tmp_path)]) == 1
    finally:
        sys.modules.pop("cli_asyncapi_bad", None)
    err = capsys.readouterr().err
    assert err.startswith("bocadillo asyncapi: error: cli_asyncapi_bad:app is misconfigured: ")
    assert "async def" in err


def test_help_lists_the_asyncapi_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "asyncapi" in capsys.readouterr().out


def test_binding_schemas_hold_the_parameter_defaults() -> None:
    app = App()

    @app.websocket("/feed")
    async def feed(
        ws: WebSocket[str, str],
        since: Annotated[int, Query(ge=0)] = 5,
        lang: str = Header("en"),
        after: int | None = None,
    ) -> None:
        await ws.close()

    binding = app.asyncapi()["channels"]["feed"]["bindings"]["ws"]
    since = binding["query"]["properties"]["since"]
    assert since == {"type": "integer", "minimum": 0, "default": 5}
    assert "default" not in binding["query"]["properties"]["after"]
    assert binding["headers"]["properties"]["lang"]["default"] == "en"
