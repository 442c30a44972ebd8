"""Cross-site WebSocket hijacking: a page of another site may not open a WebSocket
that carries the visitor's cookies (``App(websocket_origins=...)``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated

import pytest
from starlette.testclient import WebSocketDenialResponse
from test_server_limits import Conn, assert_serving, websocket_handshake

from bocadillo import CORS, APIKeyCookie, App, ConfigurationError, Cookie, Sessions, WebSocket
from bocadillo.cli.server import HeaderLimits, server_protocol
from bocadillo.testing import LiveServer, create_client

SECRET = "s" * 32
EVIL = "https://evil.example"


def make_app(**settings: object) -> App:
    app = App(**settings)  # type: ignore[arg-type]

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    @app.websocket("/plain")
    async def plain(ws: WebSocket[str, str]) -> None:
        await ws.send("hi")

    @app.websocket("/cookie")
    async def cookie(ws: WebSocket[str, str], theme: str | None = Cookie(None)) -> None:
        await ws.send(f"theme {theme}")

    @app.websocket("/secured")
    async def secured(ws: WebSocket[str, str], key: Annotated[str, APIKeyCookie("key")]) -> None:
        await ws.send("in")

    return app


def opens(app: App, path: str, origin: str | None, host: str = "testserver") -> int:
    """The status of a handshake to ``path`` from ``origin``: 101 if it opened."""
    headers = {"host": host, "cookie": "theme=dark; key=k"}
    if origin is not None:
        headers["origin"] = origin
    with create_client(app) as client:
        try:
            with client.websocket_connect(path, headers=headers) as ws:
                ws.receive_text()
                return 101
        except WebSocketDenialResponse as denied:
            assert denied.headers["content-type"] == "application/problem+json"
            assert denied.json()["status"] == denied.status_code
            return denied.status_code


@pytest.mark.parametrize(
    "origin", [EVIL, "null", "not an origin", "http://testserver.evil.example"]
)
def test_with_sessions_another_origin_is_refused_on_every_route(origin: str) -> None:
    app = make_app(sessions=Sessions(secret_key=SECRET))
    for path in ("/plain", "/cookie", "/secured"):
        assert opens(app, path, origin) == 403


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://testserver", "testserver"),
        ("https://testserver", "testserver"),  # TLS ended by a proxy in front
        ("https://example.com", "example.com:443"),
        ("http://localhost:3000", "localhost:3000"),
        (None, "testserver"),  # not a browser: it carries no visitor's cookies
    ],
)
def test_the_site_itself_and_non_browsers_may_open(origin: str | None, host: str) -> None:
    app = make_app(sessions=Sessions(secret_key=SECRET))
    assert opens(app, "/cookie", origin, host) == 101


def test_the_refusal_says_why() -> None:
    app = make_app(sessions=Sessions(secret_key=SECRET))
    with (
        create_client(app) as client,
        pytest.raises(WebSocketDenialResponse) as denied,
        client.websocket_connect("/plain", headers={"origin": EVIL}),
    ):
        pass  # pragma: no cover
    problem = denied.value.json()
    assert problem["title"] == "Forbidden"
    assert "'https://evil.example' is refused" in problem["detail"]
    assert "websocket_origins" in problem["detail"]


def test_without_sessions_only_routes_that_read_cookies_are_guarded() -> None:
    app = make_app()
    assert opens(app, "/plain", EVIL) == 101
    assert opens(app, "/cookie", EVIL) == 403
    assert opens(app, "/secured", EVIL) == 403


def test_websocket_origins_allows_other_sites() -> None:
    app = make_app(
        sessions=Sessions(secret_key=SECRET), websocket_origins=["https://app.example.com"]
    )
    assert opens(app, "/cookie", "https://app.example.com") == 101
    assert opens(app, "/cookie", "https://APP.example.com:443") == 101
    assert opens(app, "/cookie", "http://app.example.com") == 403  # another origin
    assert opens(app, "/cookie", EVIL) == 403


def test_cors_origins_may_open_websockets_too() -> None:
    cors = CORS(allow_origins=["https://app.example.com"], allow_credentials=True)
    app = make_app(cors=cors)
    assert opens(app, "/cookie", "https://app.example.com") == 101
    assert opens(app, "/cookie", EVIL) == 403


def test_a_star_turns_the_check_off() -> None:
    app = make_app(sessions=Sessions(secret_key=SECRET), websocket_origins=["*"])
    assert opens(app, "/cookie", EVIL) == 101


@pytest.mark.parametrize(
    "origins", [["app.example.com"], ["https://app.example.com/path"], ["ftp://x"]]
)
def test_an_origin_that_is_not_one_is_a_configuration_error(origins: list[str]) -> None:
    with pytest.raises(ConfigurationError, match=r"websocket_origins: .* is not an origin"):
        App(websocket_origins=origins)


def test_a_string_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="takes a list of origins"):
        App(websocket_origins="https://app.example.com")


# -- on a real server, with both parsers -------------------------------------------------


@pytest.fixture(scope="module", params=["httptools", "h11"])
def server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    app = make_app(sessions=Sessions(secret_key=SECRET))
    with LiveServer(app, http=server_protocol(request.param, HeaderLimits())) as live:
        yield live


@pytest.mark.parametrize("origin", [EVIL, "null"])
def test_a_cross_site_handshake_gets_a_403_problem(server: LiveServer, origin: str) -> None:
    with Conn(server.port) as conn:
        conn.send(websocket_handshake("/plain", [("Origin", origin), ("Cookie", "session=x")]))
        response = conn.response()
    assert response.status == 403
    assert json.loads(response.body)["title"] == "Forbidden"
    assert_serving(server)


def test_a_same_site_handshake_opens(server: LiveServer) -> None:
    with Conn(server.port) as conn:
        conn.send(websocket_handshake("/plain", [("Origin", "http://127.0.0.1")]))
        assert conn.response().status == 101
