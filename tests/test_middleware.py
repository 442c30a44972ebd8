"""Middleware and the security settings: add_middleware, @app.middleware, CORS,
gzip, allowed hosts and the Host check, HTTPS redirect, HSTS, sessions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.middleware.base import RequestResponseEndpoint
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bocadillo import (
    CORS,
    App,
    Body,
    ConfigurationError,
    GZip,
    HTTPError,
    Request,
    Response,
    Sessions,
    WebSocket,
)
from bocadillo.testing import create_client

SECRET = "s" * 32
PROBLEM = "application/problem+json"


class Tag:
    """A pure ASGI middleware that records its name on the way in and out."""

    def __init__(self, app: ASGIApp, name: str, log: list[str]) -> None:
        self.app = app
        self.name = name
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.log.append(f"{scope['type']}:{self.name}")

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], (b"x-tag", self.name.encode())]
            await send(message)

        await self.app(scope, receive, tagged)


def hello_app(**settings: Any) -> App:
    app = App(**settings)

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    return app


# -- the stack -----------------------------------------------------------------


def test_first_added_is_outermost() -> None:
    log: list[str] = []
    app = hello_app()
    app.add_middleware(Tag, name="first", log=log)

    @app.middleware
    async def second(request: Request, call_next: RequestResponseEndpoint) -> Response:
        log.append("http:second")
        return await call_next(request)

    app.add_middleware(Tag, name="third", log=log)
    with TestClient(app) as client:
        log.clear()
        response = client.get("/hello")
    assert log == ["http:first", "http:second", "http:third"]
    # Headers are added on the way out: innermost first.
    assert response.headers.get_list("x-tag") == ["third", "first"]


def test_lifespan_and_websocket_pass_through_middleware() -> None:
    log: list[str] = []
    app = hello_app()
    app.add_middleware(Tag, name="tag", log=log)
    started: list[bool] = []
    app.on_startup(lambda: started.append(True))

    @app.websocket("/ws")
    async def echo(ws: WebSocket[str, str]) -> None:
        await ws.send("hi")

    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "hi"
    assert started == [True]
    assert "lifespan:tag" in log and "websocket:tag" in log


def test_hook_sees_and_changes_the_response() -> None:
    app = hello_app()

    @app.middleware
    async def stamp(request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.headers.get("x-block"):
            return Response(status_code=418)
        response = await call_next(request)
        response.headers["x-status-seen"] = str(response.status_code)
        return response

    client = TestClient(app)
    ok = client.get("/hello")
    assert ok.json() == {"hello": "world"} and ok.headers["x-status-seen"] == "200"
    missing = client.get("/nope")  # the 404 is a problem response before the hook sees it
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
    assert missing.headers["x-status-seen"] == "404"
    assert client.get("/hello", headers={"x-block": "1"}).status_code == 418


def test_hook_error_is_a_problem_response() -> None:
    app = hello_app()

    @app.middleware
    async def guard(request: Request, call_next: RequestResponseEndpoint) -> Response:
        if "x-key" not in request.headers:
            raise HTTPError(401, detail="no key")
        if request.headers["x-key"] == "crash":
            raise RuntimeError("boom")
        return await call_next(request)

    client = TestClient(app)
    denied = client.get("/hello")
    assert denied.status_code == 401 and denied.headers["content-type"] == PROBLEM
    assert denied.json()["detail"] == "no key"
    crashed = client.get("/hello", headers={"x-key": "crash"})
    assert crashed.status_code == 500 and "boom" not in crashed.text
    assert client.get("/hello", headers={"x-key": "k"}).status_code == 200


def test_stack_is_rebuilt_when_middleware_is_added() -> None:
    log: list[str] = []
    app = hello_app()
    client = TestClient(app)
    assert client.get("/hello").headers.get("x-tag") is None
    app.add_middleware(Tag, name="late", log=log)
    assert client.get("/hello").headers["x-tag"] == "late"


def test_hook_must_be_async_with_two_parameters() -> None:
    app = App()
    with pytest.raises(ConfigurationError, match="async def"):
        app.middleware(lambda request, call_next: None)  # type: ignore[arg-type,return-value]

    async def one(request: Request) -> Response:
        return Response()

    with pytest.raises(ConfigurationError, match="two arguments"):
        app.middleware(one)  # type: ignore[arg-type]


class ASGI2Middleware:
    """An ASGI2 middleware: its instance takes the scope and returns the callable."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __call__(self, scope: Scope) -> Any:
        async def instance(receive: Receive, send: Send) -> None:
            await self.app(scope, receive, send)

        return instance


def test_asgi2_middleware_is_refused_when_added() -> None:
    app = hello_app()
    with pytest.raises(ConfigurationError, match="ASGI2Middleware is an ASGI2 middleware"):
        app.add_middleware(ASGI2Middleware)
    # The app serves as it did before the refused middleware.
    response = TestClient(app).get("/hello")
    assert response.status_code == 200
    assert response.json() == {"hello": "world"}


# -- CORS ----------------------------------------------------------------------

ORIGIN = "http://localhost:3000"


def test_cors_simple_request() -> None:
    client = TestClient(hello_app(cors=CORS(allow_origins=[ORIGIN], expose_headers=["x-id"])))
    response = client.get("/hello", headers={"origin": ORIGIN})
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-expose-headers"] == "x-id"
    assert "Origin" in response.headers["vary"]
    other = client.get("/hello", headers={"origin": "http://evil.example"})
    assert other.status_code == 200
    assert "access-control-allow-origin" not in other.headers


def test_cors_preflight() -> None:
    app = hello_app(
        cors={"allow_origins": [ORIGIN], "allow_headers": ["x-token"], "allow_credentials": True}
    )
    client = TestClient(app)
    preflight = client.options(
        "/hello",
        headers={
            "origin": ORIGIN,
            "access-control-request-method": "GET",
            "access-control-request-headers": "x-token",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "GET" in preflight.headers["access-control-allow-methods"]
    assert "x-token" in preflight.headers["access-control-allow-headers"].lower()
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert preflight.headers["access-control-max-age"] == "600"
    refused = client.options(
        "/hello",
        headers={"origin": "http://evil.example", "access-control-request-method": "GET"},
    )
    assert "access-control-allow-origin" not in refused.headers
    # Without the preflight headers, OPTIONS is the app's own 405.
    assert client.options("/hello").status_code == 405


def test_cors_any_origin_with_credentials_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="allow_credentials"):
        CORS(allow_origins=["*"], allow_credentials=True)
    with pytest.raises(ConfigurationError, match="allow_credentials"):
        App(cors={"allow_origins": ["*"], "allow_credentials": True})
    App(cors={"allow_origins": ["*"]})  # without credentials: allowed


@pytest.mark.parametrize("origin", ["http://localhost:3000/", "localhost:3000", "http://a/b"])
def test_cors_origin_must_be_an_origin(origin: str) -> None:
    with pytest.raises(ConfigurationError, match="not an origin"):
        CORS(allow_origins=[origin])


def test_cors_settings_dict_with_unknown_key() -> None:
    with pytest.raises(ConfigurationError, match="cors="):
        App(cors={"allow_origin": [ORIGIN]})


# -- gzip ----------------------------------------------------------------------


def gzip_app(**settings: Any) -> App:
    app = App(**settings)

    @app.get("/big")
    async def big() -> list[dict[str, int]]:
        return [{"n": n} for n in range(500)]

    @app.get("/small")
    async def small() -> dict[str, int]:
        return {"n": 1}

    return app


def test_gzip_compresses_large_responses_only() -> None:
    client = TestClient(gzip_app(gzip=True))
    big = client.get("/big", headers={"accept-encoding": "gzip"})
    assert big.headers["content-encoding"] == "gzip"
    assert big.json()[499] == {"n": 499}  # the client decompressed it
    assert "Accept-Encoding" in big.headers["vary"]
    small = client.get("/small", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in small.headers and small.json() == {"n": 1}
    plain = client.get("/big", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers


def test_gzip_settings() -> None:
    client = TestClient(gzip_app(gzip=GZip(minimum_size=1, compresslevel=1)))
    small = client.get("/small", headers={"accept-encoding": "gzip"})
    assert small.headers["content-encoding"] == "gzip"
    with pytest.raises(ConfigurationError, match="compresslevel"):
        GZip(compresslevel=10)


async def raw_get(app: App, path: str, headers: list[tuple[bytes, bytes]]) -> list[Message]:
    """Call the app directly and collect what it sends (the raw, undecoded bytes)."""
    sent: list[Message] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    received = False

    async def receive() -> Message:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def test_gzip_leaves_event_streams_alone() -> None:
    app = App(gzip=GZip(minimum_size=1))

    @app.sse("/ticks")
    async def ticks() -> AsyncIterator[str]:
        for n in range(3):
            yield "x" * 600 + str(n)

    with (
        create_client(app) as client,
        client.stream_events("/ticks", headers={"accept-encoding": "gzip"}) as stream,
    ):
        assert "content-encoding" not in stream.headers
        assert [event.data[-1] for event in stream] == ["0", "1", "2"]

    app.check()
    sent = asyncio.run(raw_get(app, "/ticks", [(b"host", b"a"), (b"accept-encoding", b"gzip")]))
    start = sent[0]
    assert start["type"] == "http.response.start"
    assert not any(name == b"content-encoding" for name, _ in start["headers"])
    bodies = [m["body"] for m in sent[1:] if m.get("body")]
    assert len(bodies) == 3  # one chunk per event, none held back
    assert bodies[0].startswith(b"event: message\ndata: xxx")


# -- Host ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "exa mple.com",
        "example.com/evil",
        "user@example.com",
        "example.com\x01",
        "example.com:port",
        "example.com:99999",
        "example.com:80:80",
        "[::1",
        "[not-ipv6]",
        "",
    ],
)
def test_malformed_host_is_a_400_problem_by_default(host: str) -> None:
    client = TestClient(hello_app())
    response = client.get("/hello", headers={"host": host})
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 400


@pytest.mark.parametrize(
    "host", ["example.com", "EXAMPLE.com:8000", "127.0.0.1:8000", "[::1]:8000", "[::1]", "a-b.c_d"]
)
def test_wellformed_hosts_pass(host: str) -> None:
    client = TestClient(hello_app())
    assert client.get("/hello", headers={"host": host}).status_code == 200


def test_missing_host_passes_and_duplicate_host_is_refused() -> None:
    app = hello_app()
    app.check()
    sent = asyncio.run(raw_get(app, "/hello", []))
    assert sent[0]["status"] == 200
    sent = asyncio.run(raw_get(app, "/hello", [(b"host", b"a.com"), (b"host", b"b.com")]))
    assert sent[0]["status"] == 400


def test_allowed_hosts() -> None:
    client = TestClient(hello_app(allowed_hosts=["example.com", "*.example.org", "[::1]"]))
    for host in ("example.com", "EXAMPLE.COM:443", "api.example.org", "a.b.example.org", "[::1]"):
        assert client.get("/hello", headers={"host": host}).status_code == 200, host
    for host in ("evil.com", "example.org", "example.com.evil.com", "notexample.org"):
        refused = client.get("/hello", headers={"host": host})
        assert refused.status_code == 400, host
        assert refused.headers["content-type"] == PROBLEM
        assert refused.json()["detail"] == "This server does not serve that host."


@pytest.mark.parametrize("hosts", [[], ["ex*ample.com"], ["*example.com"], ["example.com:80"]])
def test_allowed_hosts_are_checked(hosts: list[str]) -> None:
    with pytest.raises(ConfigurationError, match="allowed_hosts"):
        App(allowed_hosts=hosts)


def test_refused_host_on_websocket() -> None:
    app = App(allowed_hosts=["example.com"])

    @app.websocket("/ws")
    async def echo(ws: WebSocket[str, str]) -> None:
        await ws.send("hi")

    client = TestClient(app, base_url="ws://evil.com")
    with pytest.raises(WebSocketDenialResponse) as denied, client.websocket_connect("/ws"):
        pass
    assert denied.value.status_code == 400
    assert denied.value.json()["detail"] == "This server does not serve that host."


# -- HTTPS ---------------------------------------------------------------------


def test_https_redirect_and_hsts() -> None:
    app = hello_app(https_redirect=True, hsts=True)
    client = TestClient(app, base_url="http://example.com", follow_redirects=False)
    redirect = client.post("/hello?x=1")
    assert redirect.status_code == 308
    assert redirect.headers["location"] == "https://example.com/hello?x=1"
    assert "strict-transport-security" not in redirect.headers
    other_port = client.get("http://example.com:8080/hello")
    assert other_port.headers["location"] == "https://example.com:8080/hello"
    secure = TestClient(app, base_url="https://example.com").get("/hello")
    assert secure.status_code == 200
    assert secure.headers["strict-transport-security"] == "max-age=31536000"
    missing = TestClient(app, base_url="https://example.com").get("/nope")
    assert missing.headers["strict-transport-security"] == "max-age=31536000"


def ws_redirect_app() -> App:
    app = App(https_redirect=True)

    @app.websocket("/ws")
    async def echo(ws: WebSocket[str, str]) -> None:
        await ws.send("hi")  # pragma: no cover - never reached over ws://

    return app


def test_https_redirect_refuses_a_ws_handshake_with_a_308_to_wss() -> None:
    client = TestClient(ws_redirect_app())
    with pytest.raises(WebSocketDenialResponse) as denied, client.websocket_connect("/ws?x=1"):
        pass
    assert denied.value.status_code == 308
    assert denied.value.headers["location"] == "wss://testserver/ws?x=1"


def test_https_redirect_closes_a_ws_handshake_1008_where_no_response_can_be_sent() -> None:
    sent: list[Message] = []
    scope = {
        "type": "websocket",
        "scheme": "ws",
        "path": "/ws",
        "raw_path": b"/ws",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"example.com")],
        "server": ("example.com", 80),
    }

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(ws_redirect_app()(scope, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "Use wss://"}]


def test_hsts_max_age() -> None:
    app = hello_app(hsts=300)
    secure = TestClient(app, base_url="https://example.com").get("/hello")
    assert secure.headers["strict-transport-security"] == "max-age=300"
    assert "strict-transport-security" not in TestClient(app).get("/hello").headers
    with pytest.raises(ConfigurationError, match="hsts"):
        App(hsts=-1)


# -- sessions ------------------------------------------------------------------


def session_app(**options: Any) -> App:
    app = App(sessions=Sessions(secret_key=SECRET, **options))

    @app.post("/login")
    async def login(request: Request, user: str) -> None:
        request.session["user"] = user

    @app.get("/me")
    async def me(request: Request) -> dict[str, Any]:
        return {"user": request.session.get("user")}

    return app


def test_session_round_trip() -> None:
    client = TestClient(session_app())
    assert client.get("/me").json() == {"user": None}
    login = client.post("/login?user=ada")
    cookie = login.headers["set-cookie"]
    assert cookie.startswith("session=") and "httponly" in cookie and "samesite=lax" in cookie
    assert "Max-Age=1209600" in cookie
    assert client.get("/me").json() == {"user": "ada"}


def test_tampered_session_cookie_is_ignored() -> None:
    app = session_app(cookie_name="sid")
    value = TestClient(app).post("/login?user=ada").cookies["sid"]
    fresh = TestClient(app)  # no cookie jar of its own yet: each request says its cookie

    def user(cookie: str) -> Any:
        return fresh.get("/me", headers={"cookie": f"sid={cookie}"}).json()["user"]

    assert user(value) == "ada"
    payload, rest = value.split(".", 1)
    assert user(payload[:-2] + "xx." + rest) is None  # data changed, signature kept
    assert user("eyJ1c2VyIjogImV2ZSJ9.abc.def") is None  # {"user": "eve"}, forged signature
    other_app = session_app(cookie_name="sid")
    other_value = TestClient(other_app).post("/login?user=eve").cookies["sid"]
    assert user(other_value) == "eve"  # same secret: accepted
    stranger = App(sessions={"secret_key": "t" * 32, "cookie_name": "sid"})

    @stranger.post("/login")
    async def login(request: Request) -> None:
        request.session["user"] = "mallory"

    foreign = TestClient(stranger).post("/login").cookies["sid"]
    assert user(foreign) is None  # signed with another secret


@pytest.mark.parametrize("secret", ["", "short", "x" * 31])
def test_short_session_secret_is_refused(secret: str) -> None:
    with pytest.raises(ConfigurationError, match="32 characters"):
        App(sessions={"secret_key": secret})
    with pytest.raises(ConfigurationError, match="32 characters"):
        Sessions(secret_key=secret)


def test_same_site_none_needs_https_only() -> None:
    with pytest.raises(ConfigurationError, match="https_only"):
        Sessions(secret_key=SECRET, same_site="none")
    assert Sessions(secret_key=SECRET, same_site="none", https_only=True).https_only
    assert SECRET not in repr(Sessions(secret_key=SECRET))


def test_settings_sit_outside_added_middleware() -> None:
    """A hook can read the session and CORS headers reach its own responses."""
    app = hello_app(
        sessions={"secret_key": SECRET}, cors=CORS(allow_origins=[ORIGIN]), allowed_hosts=["*"]
    )

    @app.middleware
    async def members_only(request: Request, call_next: RequestResponseEndpoint) -> Response:
        if "user" not in request.session:
            return Response(status_code=403)
        return await call_next(request)

    response = TestClient(app).get("/hello", headers={"origin": ORIGIN})
    assert response.status_code == 403
    assert response.headers["access-control-allow-origin"] == ORIGIN


def test_max_body_size_still_applies_under_middleware() -> None:
    app = App(max_body_size=10, gzip=True)

    @app.post("/echo")
    async def echo(data: dict[str, str] = Body()) -> dict[str, str]:
        return data

    response = TestClient(app).post("/echo", json={"a": "x" * 50})
    assert response.status_code == 413 and response.headers["content-type"] == PROBLEM


def test_event_stream_through_a_hook() -> None:
    app = App(gzip=True)

    @app.middleware
    async def stamp(request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers["x-hook"] = "yes"
        return response

    @app.sse("/ticks")
    async def ticks() -> AsyncIterator[str]:
        for n in range(3):
            yield str(n)

    with (
        create_client(app) as client,
        client.stream_events("/ticks", headers={"accept-encoding": "gzip"}) as stream,
    ):
        assert stream.headers["x-hook"] == "yes"
        assert [event.data for event in stream] == ["0", "1", "2"]


def test_middleware_changes_do_not_leak_into_later_responses() -> None:
    """Plans reuse precomputed headers; middleware that edit them in place must not
    change what the next response (or another app) sends."""

    def stream_app(**settings: Any) -> App:
        app = App(**settings)

        @app.sse("/ticks")
        async def ticks() -> AsyncIterator[str]:
            yield "1"

        @app.get("/big")
        async def big() -> list[int]:
            return list(range(1000))

        return app

    hooked = stream_app(gzip=True, cors={"allow_origins": [ORIGIN]})

    @hooked.middleware
    async def stamp(request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers["x-hook"] = "yes"
        return response

    client = create_client(hooked)
    for _ in range(2):
        stream = client.get("/ticks", headers={"origin": ORIGIN})
        assert stream.headers["x-hook"] == "yes"
        assert stream.headers.get_list("access-control-allow-origin") == [ORIGIN]
        assert client.get("/big", headers={"accept-encoding": "gzip"}).headers.get_list(
            "content-encoding"
        ) == ["gzip"]
    plain = create_client(stream_app())
    assert "x-hook" not in plain.get("/ticks").headers
    assert "access-control-allow-origin" not in plain.get("/ticks").headers


def test_a_head_request_with_a_bad_host_gets_the_400_headers_only() -> None:
    app = App()

    @app.get("/")
    async def home() -> dict[str, str]:
        return {"ok": "yes"}

    with create_client(app) as client:
        response = client.head("/", headers={"host": "bad host"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.content == b""
