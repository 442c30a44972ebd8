"""In-process benchmark: Bocadillo against Starlette, FastAPI and Litestar.

Each framework's ASGI app is called directly, with a hand-built HTTP (or
WebSocket) scope and a minimal ``receive``/``send`` (no sockets, no server), so
the figures are the framework's own cost per request. Every app serves the same
six HTTP scenarios, a WebSocket echo and a server-sent events stream, each
written the way that framework's users would write it; every response is
checked (status, content type, body; the messages or events) once before
anything is timed. The WebSocket row is per message, the SSE row per event.

Bocadillo also serves "companions" of the providers scenario: the same handler
without providers, timed in the same rounds, so the cost of its providers can
be read as a ratio (providers / inlined) at the end of the run.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/inprocess.py            # ~5 minutes
    .venv/bin/python bench/inprocess.py --quick    # ~30 s smoke run

Timing: per scenario and framework, a batch of requests sized to take
``--batch-time`` seconds; each round runs one batch of every (scenario,
framework), the framework order rotating from round to round; the table shows
the median µs per request over the rounds and the speed relative to Starlette
(``2.00x`` = twice as fast as Starlette, ``0.50x`` = half as fast).

``--profile bocadillo:params`` runs one scenario under cProfile instead.
"""

import argparse
import asyncio
import contextlib
import cProfile
import datetime
import gc
import importlib.metadata
import json
import os
import platform
import pstats
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar
from urllib.parse import parse_qsl

import orjson
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]

# -- the data every framework serves -----------------------------------------


class Greeting(BaseModel):
    message: str
    lang: str
    count: int


class ItemIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    price: float = Field(gt=0)
    quantity: int = Field(ge=0)
    tags: list[str] = []


class Item(ItemIn):
    id: int


PLAINTEXT = "Hello, world!"
GREETING = {"message": "Hello, world!", "lang": "en", "count": 3}
ITEMS = [
    Item(id=i, name=f"item {i}", price=1.5 + i, quantity=i % 7, tags=["bench", "x"])
    for i in range(100)
]
ITEMS_JSON = [item.model_dump(mode="json") for item in ITEMS]
NEW_ITEM = {"name": "widget", "price": 9.5, "quantity": 3, "tags": ["a", "b"]}


# The WebSocket echo: the client sends WS_MESSAGES of these, one at a time, and
# the app answers each with a Pong before the next one comes in.


class Ping(BaseModel):
    text: str = Field(max_length=200)
    n: int = Field(ge=0)


class Pong(BaseModel):
    text: str
    n: int


# The SSE stream: SSE_EVENTS of these, each sent as an event named "Tick".


class Tick(BaseModel):
    n: int


WS_MESSAGES = 100  # per connection; the handshake is part of the time
SSE_EVENTS = 1000
WS_PINGS = [{"text": f"message {i}", "n": i} for i in range(WS_MESSAGES)]
SSE_TICKS = [{"n": n} for n in range(SSE_EVENTS)]


def make_greeting() -> Greeting:
    return Greeting(message="Hello, world!", lang="en", count=3)


def make_item(data: ItemIn) -> Item:
    return Item(id=1, **data.model_dump())


# The providers scenario's three nested values, as plain async functions, which
# the hand-written apps (and Bocadillo's "awaited" companion) await in turn.
# FastAPI, Litestar and Bocadillo declare their own three, marked their way.


async def get_a() -> int:
    return 1


async def get_b(a: int) -> int:
    return a + 1


async def get_c(b: int) -> int:
    return b + 1


# -- scenarios -----------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    method: str
    path: str
    query: bytes = b""
    body: bytes = b""
    headers: tuple[tuple[bytes, bytes], ...] = ()
    status: int = 200
    content_type: str = "application/json"
    # bytes for a raw body, anything else is compared as JSON; for "websocket" the
    # replies (as JSON), for "sse" the events' data (as JSON)
    expected: Any = None
    kind: str = "http"  # "http", "websocket" (an echo conversation) or "sse" (a stream)
    units: int = 1  # requests, messages or events per call: the table shows time per unit
    unit: str = "request"
    event: str = ""  # for "sse": the name of every event
    messages: tuple[bytes, ...] = ()  # for "websocket": the text frames the client sends


SCENARIOS = [
    Scenario(
        "plaintext",
        "plaintext GET",
        "GET",
        "/plaintext",
        content_type="text/plain",
        expected=PLAINTEXT.encode(),
    ),
    Scenario("json", "small JSON GET", "GET", "/json", expected=GREETING),
    Scenario(
        "params",
        "int path + 2 query params",
        "GET",
        "/items/42",
        query=b"limit=10&q=abc",
        expected={"id": 42, "limit": 10, "q": "abc"},
    ),
    Scenario(
        "post",
        "POST pydantic body → model",
        "POST",
        "/items",
        body=json.dumps(NEW_ITEM).encode(),
        headers=((b"content-type", b"application/json"),),
        status=201,
        expected={"id": 1, **NEW_ITEM},
    ),
    Scenario("list", "100-object JSON list", "GET", "/items", expected=ITEMS_JSON),
    Scenario("providers", "3 nested async providers", "GET", "/providers", expected={"value": 3}),
    Scenario(
        "ws",
        "WebSocket echo, pydantic in and out (per message)",
        "GET",
        "/ws",
        kind="websocket",
        units=WS_MESSAGES,
        unit="message",
        messages=tuple(json.dumps(m).encode() for m in WS_PINGS),
        expected=WS_PINGS,
    ),
    Scenario(
        "sse",
        "SSE stream of 1,000 events (per event)",
        "GET",
        "/events",
        kind="sse",
        units=SSE_EVENTS,
        unit="event",
        content_type="text/event-stream",
        event="Tick",
        expected=SSE_TICKS,
    ),
]
SCENARIO_BY_KEY = {s.key: s for s in SCENARIOS}


@dataclass(frozen=True)
class Companion:
    """A one-framework variant of a scenario, timed in the same rounds as the scenario.

    It is not a column of the table: it is reported as the ratio
    scenario / companion for that framework, against ``target`` if set.
    """

    framework: str
    of: str  # the scenario it accompanies
    scenario: Scenario
    target: float | None = None  # the highest acceptable scenario / companion ratio


COMPANIONS = [
    Companion(
        "bocadillo",
        "providers",
        Scenario(
            "providers-inlined",
            "same handler, values inlined",
            "GET",
            "/providers/inlined",
            expected={"value": 3},
        ),
        target=1.5,
    ),
    Companion(
        "bocadillo",
        "providers",
        Scenario(
            "providers-awaited",
            "same handler, awaits the 3 functions",
            "GET",
            "/providers/awaited",
            expected={"value": 3},
        ),
    ),
    Companion(
        "starlette",
        "list",
        Scenario(
            "list-tuned",
            "TypeAdapter(list[Item]).dump_json",
            "GET",
            "/items/tuned",
            expected=ITEMS_JSON,
        ),
    ),
]
COMPANION_BY_KEY = {c.scenario.key: c for c in COMPANIONS}

_CLIENT_HEADERS = (
    (b"host", b"127.0.0.1:8000"),
    (b"user-agent", b"bench/1.0"),
    (b"accept", b"*/*"),
)


# -- the apps ------------------------------------------------------------------


def bocadillo_app(telemetry: Any = False) -> ASGIApp:
    from collections.abc import AsyncIterator

    from bocadillo import App, PlainTextResponse, Query, WebSocket

    # Without telemetry, as before the setting existed (bench/telemetry_ab.py builds
    # this app with an earlier copy of the package too).
    app = App(title="bench", **({"telemetry": telemetry} if telemetry else {}))

    @app.get("/plaintext")
    async def plaintext() -> PlainTextResponse:
        return PlainTextResponse(PLAINTEXT)

    @app.get("/json")
    async def small_json() -> Greeting:
        return make_greeting()

    @app.get("/items/{id}")
    async def get_item(
        id: int,
        limit: int = Query(10, ge=1, le=100),
        q: str = Query("", max_length=50),
    ) -> dict[str, Any]:
        return {"id": id, "limit": limit, "q": q}

    @app.post("/items", status_code=201)
    async def create_item(item: ItemIn) -> Item:
        return make_item(item)

    @app.get("/items")
    async def list_items() -> list[Item]:
        return ITEMS

    # App-local providers: the names stay out of the global registry.
    @app.provider
    async def a() -> int:
        return 1

    @app.provider
    async def b(a: int) -> int:
        return a + 1

    @app.provider
    async def c(b: int) -> int:
        return b + 1

    @app.get("/providers")
    async def nested(c: int) -> dict[str, int]:
        return {"value": c}

    # The companions: the same handler without providers.
    @app.get("/providers/inlined")
    async def nested_inlined() -> dict[str, int]:
        a = 1
        b = a + 1
        c = b + 1
        return {"value": c}

    @app.get("/providers/awaited")
    async def nested_awaited() -> dict[str, int]:
        a = await get_a()
        b = await get_b(a)
        c = await get_c(b)
        return {"value": c}

    @app.websocket("/ws")
    async def echo(ws: WebSocket[Ping, Pong]) -> None:
        async for ping in ws:  # each one validated into a Ping
            await ws.send(Pong(text=ping.text, n=ping.n))

    @app.sse("/events")
    async def events() -> AsyncIterator[Tick]:
        for n in range(SSE_EVENTS):
            yield Tick(n=n)

    return app


def bocadillo_telemetry_app() -> ASGIApp:
    """The same app with telemetry on: traces, metrics and the access log, through the
    OpenTelemetry SDK, exported nowhere (a batch span processor with an exporter that
    drops the spans, an in-memory metric reader; ``main`` sends the access log to
    /dev/null)."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    from bocadillo.telemetry import Telemetry

    class Dropped(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(Dropped()))
    return bocadillo_app(
        Telemetry(
            tracer_provider=tracer_provider,
            meter_provider=MeterProvider(metric_readers=[InMemoryMetricReader()]),
        )
    )


def access_log_to_devnull() -> None:
    """Every access log line formatted and written, to /dev/null (``--telemetry``)."""
    import logging

    access = logging.getLogger("bocadillo.access")
    access.propagate = False
    access.setLevel(logging.INFO)
    access.addHandler(logging.StreamHandler(open(os.devnull, "w")))  # noqa: SIM115


class ItemQuery(BaseModel):
    limit: int = Field(10, ge=1, le=100)
    q: str = Field("", max_length=50)


ITEMS_ADAPTER = TypeAdapter(list[Item])


def starlette_app() -> ASGIApp:
    """Hand-written Starlette: pydantic called by hand where the scenario validates."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket

    def invalid(exc: ValidationError) -> Response:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        return JSONResponse({"errors": errors}, status_code=422)

    async def plaintext(request: Request) -> Response:
        return PlainTextResponse(PLAINTEXT)

    async def small_json(request: Request) -> Response:
        return JSONResponse({"message": "Hello, world!", "lang": "en", "count": 3})

    async def get_item(request: Request) -> Response:
        try:
            query = ItemQuery.model_validate(dict(request.query_params))
        except ValidationError as exc:
            return invalid(exc)
        item_id = request.path_params["id"]
        return JSONResponse({"id": item_id, "limit": query.limit, "q": query.q})

    async def create_item(request: Request) -> Response:
        try:
            data = ItemIn.model_validate_json(await request.body())
        except ValidationError as exc:
            return invalid(exc)
        body = make_item(data).model_dump_json()
        return Response(body, status_code=201, media_type="application/json")

    async def list_items(request: Request) -> Response:
        # As Starlette's users write it: dump each model, JSONResponse the list.
        return JSONResponse([item.model_dump(mode="json") for item in ITEMS])

    async def list_items_tuned(request: Request) -> Response:
        # The companion: one TypeAdapter dumps the whole list, as the floor does.
        return Response(ITEMS_ADAPTER.dump_json(ITEMS), media_type="application/json")

    async def nested(request: Request) -> Response:
        a = await get_a()
        b = await get_b(a)
        c = await get_c(b)
        return JSONResponse({"value": c})

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        async for text in websocket.iter_text():
            try:
                ping = Ping.model_validate_json(text)
            except ValidationError:
                await websocket.close(1007)
                return
            await websocket.send_text(Pong(text=ping.text, n=ping.n).model_dump_json())

    async def events(request: Request) -> Response:
        async def ticks() -> Any:
            for n in range(SSE_EVENTS):
                yield f"event: Tick\ndata: {Tick(n=n).model_dump_json()}\n\n"

        return StreamingResponse(ticks(), media_type="text/event-stream")

    return Starlette(
        routes=[
            Route("/plaintext", plaintext),
            Route("/json", small_json),
            Route("/items/{id:int}", get_item),
            Route("/items", create_item, methods=["POST"]),
            Route("/items", list_items),
            Route("/items/tuned", list_items_tuned),
            Route("/providers", nested),
            WebSocketRoute("/ws", echo),
            Route("/events", events),
        ]
    )


def fastapi_app() -> ASGIApp:
    from collections.abc import AsyncIterator

    from fastapi import Depends, FastAPI, Query, WebSocket
    from fastapi.responses import PlainTextResponse
    from fastapi.sse import EventSourceResponse, ServerSentEvent

    app = FastAPI()

    @app.get("/plaintext")
    async def plaintext() -> PlainTextResponse:
        return PlainTextResponse(PLAINTEXT)

    @app.get("/json")
    async def small_json() -> Greeting:
        return make_greeting()

    @app.get("/items/{id}")
    async def get_item(
        id: int,
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
        q: Annotated[str, Query(max_length=50)] = "",
    ) -> dict[str, Any]:
        return {"id": id, "limit": limit, "q": q}

    @app.post("/items", status_code=201)
    async def create_item(item: ItemIn) -> Item:
        return make_item(item)

    @app.get("/items")
    async def list_items() -> list[Item]:
        return ITEMS

    async def dep_a() -> int:
        return 1

    async def dep_b(a: Annotated[int, Depends(dep_a)]) -> int:
        return a + 1

    async def dep_c(b: Annotated[int, Depends(dep_b)]) -> int:
        return b + 1

    @app.get("/providers")
    async def nested(c: Annotated[int, Depends(dep_c)]) -> dict[str, int]:
        return {"value": c}

    @app.websocket("/ws")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        async for text in websocket.iter_text():
            try:
                ping = Ping.model_validate_json(text)
            except ValidationError:
                await websocket.close(1007)
                return
            await websocket.send_text(Pong(text=ping.text, n=ping.n).model_dump_json())

    # FastAPI's own SSE support (fastapi.sse): a generator path operation with
    # response_class=EventSourceResponse; ServerSentEvent names the event.
    @app.get("/events", response_class=EventSourceResponse)
    async def events() -> AsyncIterator[ServerSentEvent]:
        for n in range(SSE_EVENTS):
            yield ServerSentEvent(data=Tick(n=n), event="Tick")

    return app


def litestar_app() -> ASGIApp:
    from collections.abc import AsyncIterator

    from litestar import Litestar, MediaType, get, post, websocket_listener
    from litestar.di import NamedDependency, Provide
    from litestar.params import FromPath, JSONBody, QueryParameter
    from litestar.plugins.pydantic import PydanticDTO
    from litestar.response import ServerSentEvent, ServerSentEventMessage

    @get("/plaintext", media_type=MediaType.TEXT)
    async def plaintext() -> str:
        return PLAINTEXT

    @get("/json")
    async def small_json() -> Greeting:
        return make_greeting()

    @get("/items/{id:int}")
    async def get_item(
        id: FromPath[int],
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 10,
        q: Annotated[str, QueryParameter(max_length=50)] = "",
    ) -> dict[str, Any]:
        return {"id": id, "limit": limit, "q": q}

    @post("/items")  # 201 is Litestar's default for POST
    async def create_item(data: JSONBody[ItemIn]) -> Item:
        return make_item(data)

    @get("/items")
    async def list_items() -> list[Item]:
        return ITEMS

    async def dep_a() -> int:
        return 1

    async def dep_b(a: NamedDependency[int]) -> int:
        return a + 1

    async def dep_c(b: NamedDependency[int]) -> int:
        return b + 1

    dependencies = {"a": Provide(dep_a), "b": Provide(dep_b), "c": Provide(dep_c)}

    @get("/providers", dependencies=dependencies)
    async def nested(c: NamedDependency[int]) -> dict[str, int]:
        return {"value": c}

    # A typed listener. Without a DTO Litestar hands the listener the decoded JSON
    # (a dict, unvalidated), so the pydantic DTOs do the decoding and encoding.
    @websocket_listener("/ws", dto=PydanticDTO[Ping], return_dto=PydanticDTO[Pong])
    async def echo(data: Ping) -> Pong:
        return Pong(text=data.text, n=data.n)

    @get("/events")
    async def events() -> ServerSentEvent:
        async def ticks() -> AsyncIterator[ServerSentEventMessage]:
            for n in range(SSE_EVENTS):
                yield ServerSentEventMessage(data=Tick(n=n).model_dump_json(), event="Tick")

        return ServerSentEvent(ticks())

    handlers = [plaintext, small_json, get_item, create_item, list_items, nested, echo, events]
    return Litestar(handlers)


_RAW_QUERY = TypeAdapter(ItemQuery)
_RAW_ITEM_IN = TypeAdapter(ItemIn)
_RAW_ITEM = TypeAdapter(Item)
_RAW_JSON_HEADERS = [(b"content-type", b"application/json")]
_RAW_PING = TypeAdapter(Ping)
_RAW_PONG = TypeAdapter(Pong)
_RAW_TICK = TypeAdapter(Tick)
_RAW_SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


def raw_app() -> ASGIApp:
    """The floor: one ASGI callable, a dict of routes, no framework at all."""

    async def send_bytes(send: Any, status: int, body: bytes, content_type: bytes) -> None:
        headers = [(b"content-type", content_type), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def plaintext(scope: Any, receive: Any, send: Any) -> None:
        await send_bytes(send, 200, b"Hello, world!", b"text/plain; charset=utf-8")

    async def small_json(scope: Any, receive: Any, send: Any) -> None:
        body = orjson.dumps({"message": "Hello, world!", "lang": "en", "count": 3})
        await send_bytes(send, 200, body, b"application/json")

    async def get_item(scope: Any, receive: Any, send: Any, item_id: str) -> None:
        query = _RAW_QUERY.validate_python(dict(parse_qsl(scope["query_string"].decode())))
        body = orjson.dumps({"id": int(item_id), "limit": query.limit, "q": query.q})
        await send_bytes(send, 200, body, b"application/json")

    async def create_item(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        data = _RAW_ITEM_IN.validate_json(message["body"])
        await send_bytes(send, 201, _RAW_ITEM.dump_json(make_item(data)), b"application/json")

    async def list_items(scope: Any, receive: Any, send: Any) -> None:
        await send_bytes(send, 200, ITEMS_ADAPTER.dump_json(ITEMS), b"application/json")

    async def nested(scope: Any, receive: Any, send: Any) -> None:
        a = await get_a()
        b = await get_b(a)
        c = await get_c(b)
        await send_bytes(send, 200, orjson.dumps({"value": c}), b"application/json")

    async def echo(scope: Any, receive: Any, send: Any) -> None:
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            try:
                ping = _RAW_PING.validate_json(message.get("text") or message.get("bytes") or b"")
            except ValidationError:
                await send({"type": "websocket.close", "code": 1007})
                return
            reply = _RAW_PONG.dump_json(Pong(text=ping.text, n=ping.n)).decode()
            await send({"type": "websocket.send", "text": reply})

    async def events(scope: Any, receive: Any, send: Any) -> None:
        # One body message per event, like the frameworks; no disconnect listener.
        await send({"type": "http.response.start", "status": 200, "headers": _RAW_SSE_HEADERS})
        for n in range(SSE_EVENTS):
            body = b"event: Tick\ndata: " + _RAW_TICK.dump_json(Tick(n=n)) + b"\n\n"
            await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    routes = {
        ("GET", "/plaintext"): plaintext,
        ("GET", "/json"): small_json,
        ("POST", "/items"): create_item,
        ("GET", "/items"): list_items,
        ("GET", "/providers"): nested,
        ("GET", "/events"): events,
    }

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[-1]  # startup / shutdown
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        path = scope["path"]
        if scope["type"] == "websocket":
            if path == "/ws":
                await echo(scope, receive, send)
            else:
                await receive()
                await send({"type": "websocket.close", "code": 1000})
            return
        handler = routes.get((scope["method"], path))
        if handler is not None:
            await handler(scope, receive, send)
        elif path.startswith("/items/"):
            await get_item(scope, receive, send, path[7:])
        else:
            await send_bytes(send, 404, b"", b"text/plain")

    return app


@dataclass(frozen=True)
class Framework:
    key: str
    title: str
    make: Callable[[], ASGIApp]
    dist: str | None  # the distribution whose version is reported


FRAMEWORKS = [
    Framework("raw", "raw ASGI", raw_app, None),
    Framework("starlette", "Starlette", starlette_app, "starlette"),
    Framework("bocadillo", "Bocadillo", bocadillo_app, "bocadillo"),
    # --telemetry: the same app with telemetry on (not in the default --frameworks).
    Framework("bocadillo-telemetry", "Bocadillo+telemetry", bocadillo_telemetry_app, "bocadillo"),
    Framework("fastapi", "FastAPI", fastapi_app, "fastapi"),
    Framework("litestar", "Litestar", litestar_app, "litestar"),
]
FRAMEWORK_BY_KEY = {f.key: f for f in FRAMEWORKS}


# -- the harness -----------------------------------------------------------------


def make_scope(scenario: Scenario, state: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    """A factory of fresh scopes, as uvicorn builds them (frameworks write into the scope)."""
    headers = list(_CLIENT_HEADERS + scenario.headers)
    if scenario.body:
        headers.append((b"content-length", str(len(scenario.body)).encode()))
    if scenario.kind == "websocket":
        return make_websocket_scope(scenario, state)
    if scenario.kind == "sse":
        headers = [(k, v) for k, v in headers if k != b"accept"] + [
            (b"accept", b"text/event-stream")
        ]
    template: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": scenario.method,
        "root_path": "",
        "path": scenario.path,
        "raw_path": scenario.path.encode(),
        "query_string": scenario.query,
        "headers": headers,
    }

    def scope() -> dict[str, Any]:
        return {**template, "state": state.copy()}

    return scope


def make_websocket_scope(scenario: Scenario, state: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    """A factory of fresh WebSocket handshake scopes, as uvicorn builds them."""
    headers = [
        *_CLIENT_HEADERS[:2],
        (b"connection", b"Upgrade"),
        (b"upgrade", b"websocket"),
        (b"sec-websocket-version", b"13"),
        (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
    ]
    template: dict[str, Any] = {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "ws",
        "root_path": "",
        "path": scenario.path,
        "raw_path": scenario.path.encode(),
        "query_string": scenario.query,
        "headers": headers,
        "subprotocols": [],
        "extensions": {"websocket.http.response": {}},
    }

    def scope() -> dict[str, Any]:
        return {**template, "state": state.copy()}

    return scope


def make_receive(scenario: Scenario) -> Callable[[], Callable[[], Awaitable[dict[str, Any]]]]:
    """A factory of fresh ``receive``s.

    HTTP: the request body once, then a disconnect. (SSE uses a ``StreamClient``.)
    WebSocket: the connect, the client's text frames one by one, then a 1000 close.
    """
    if scenario.kind == "websocket":
        return make_websocket_receive(scenario)
    request = {"type": "http.request", "body": scenario.body, "more_body": False}
    disconnect = {"type": "http.disconnect"}

    def factory() -> Callable[[], Awaitable[dict[str, Any]]]:
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return disconnect
            sent = True
            return request

        return receive

    return factory


class StreamClient:
    """The client of one SSE response, as uvicorn presents it to the app.

    ``receive`` gives the request once, then waits until the response is complete
    and says the client left (uvicorn's ``http.disconnect`` after the last body).
    ``send`` discards the messages but notes the last body.
    """

    __slots__ = ("done", "requested")

    _REQUEST: ClassVar[dict[str, Any]] = {"type": "http.request", "body": b"", "more_body": False}
    _DISCONNECT: ClassVar[dict[str, Any]] = {"type": "http.disconnect"}

    def __init__(self) -> None:
        self.requested = False
        self.done: asyncio.Future[None] | None = None

    async def receive(self) -> dict[str, Any]:
        if not self.requested:
            self.requested = True
            return self._REQUEST
        if self.done is None:
            self.done = asyncio.get_running_loop().create_future()
        if not self.done.done():
            await self.done
        return self._DISCONNECT

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            if self.done is None:
                self.done = asyncio.get_running_loop().create_future()
            if not self.done.done():
                self.done.set_result(None)


def websocket_messages(scenario: Scenario) -> list[dict[str, Any]]:
    return [
        {"type": "websocket.connect"},
        *({"type": "websocket.receive", "text": m.decode()} for m in scenario.messages),
        {"type": "websocket.disconnect", "code": 1000, "reason": ""},
    ]


def make_websocket_receive(
    scenario: Scenario,
) -> Callable[[], Callable[[], Awaitable[dict[str, Any]]]]:
    messages = websocket_messages(scenario)
    last = len(messages) - 1

    def factory() -> Callable[[], Awaitable[dict[str, Any]]]:
        i = -1

        async def receive() -> dict[str, Any]:
            nonlocal i
            if i < last:
                i += 1
            return messages[i]

        return receive

    return factory


async def discard(message: dict[str, Any]) -> None:
    pass


@contextlib.asynccontextmanager
async def lifespan(app: ASGIApp) -> Any:
    """Run the app's ASGI lifespan start-up, yield its state, then shut it down."""
    state: dict[str, Any] = {}
    to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": state}
    task = asyncio.ensure_future(app(scope, to_app.get, from_app.put))

    async def expect(kind: str) -> None:
        getter = asyncio.ensure_future(from_app.get())
        await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
        if not getter.done():
            getter.cancel()
            task.result()  # raises the app's own error
            raise RuntimeError(f"the app's lifespan ended without {kind}")
        message = getter.result()
        if message["type"] != f"lifespan.{kind}.complete":
            raise RuntimeError(f"lifespan {kind} failed: {message}")

    await to_app.put({"type": "lifespan.startup"})
    await expect("startup")
    try:
        yield state
    finally:
        await to_app.put({"type": "lifespan.shutdown"})
        await expect("shutdown")
        await task


@dataclass
class Target:
    """One (framework, scenario): what to call, and the timings gathered."""

    framework: Framework
    scenario: Scenario
    app: ASGIApp
    scope: Callable[[], dict[str, Any]]
    receive: Callable[[], Callable[[], Awaitable[dict[str, Any]]]]
    n: int = 0
    samples: list[float] = field(default_factory=list)

    @property
    def group(self) -> str:
        """The scenario this target is timed with (a companion's is the one it accompanies)."""
        companion = COMPANION_BY_KEY.get(self.scenario.key)
        return companion.of if companion is not None else self.scenario.key

    async def call(self, send: Any = discard) -> None:
        if self.scenario.kind == "sse":
            client = StreamClient()

            async def both(message: dict[str, Any]) -> None:
                await client.send(message)
                await send(message)

            await self.app(self.scope(), client.receive, both)
        else:
            await self.app(self.scope(), self.receive(), send)

    async def batch(self, n: int) -> float:
        """Serve ``n`` calls; the mean seconds per request (message, event)."""
        app, scope, receive = self.app, self.scope, self.receive
        if self.scenario.kind == "sse":
            start = time.perf_counter()
            for _ in range(n):
                client = StreamClient()
                await app(scope(), client.receive, client.send)
        else:
            start = time.perf_counter()
            for _ in range(n):
                await app(scope(), receive(), discard)
        return (time.perf_counter() - start) / (n * self.scenario.units)


async def check(target: Target) -> None:
    """Serve the scenario once and assert the status, content type and body.

    For the WebSocket echo: the handshake is accepted, each message is answered
    before the next one is received, and the replies are the expected ones. For
    SSE: the events' names and data.
    """
    if target.scenario.kind == "websocket":
        await check_websocket(target)
        return
    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await target.call(send)
    where = f"{target.framework.title}, {target.scenario.title}"
    start = [m for m in messages if m["type"] == "http.response.start"]
    assert len(start) == 1, f"{where}: {messages}"
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    headers = {k.decode().lower(): v.decode() for k, v in start[0].get("headers", [])}
    verify_response(where, target.scenario, start[0]["status"], headers.get("content-type"), body)


def verify_response(
    where: str, scenario: Scenario, status: int, content_type: str | None, body: bytes
) -> None:
    """Assert one complete HTTP response (status, content type, body) against the scenario."""
    assert status == scenario.status, f"{where}: status {status}: {body[:300]!r}"
    content_type = content_type or ""
    assert content_type.split(";")[0].strip() == scenario.content_type, (
        f"{where}: content-type {content_type!r}"
    )
    if scenario.kind == "sse":
        events = parse_events(body)
        names = {name for name, _ in events}
        assert names == {scenario.event}, f"{where}: event names {names}"
        data = [json.loads(d) for _, d in events]
        assert data == scenario.expected, f"{where}: events {body[:300]!r}"
    elif isinstance(scenario.expected, bytes):
        assert body == scenario.expected, f"{where}: body {body!r}"
    else:
        assert json.loads(body) == scenario.expected, f"{where}: body {body!r}"


def parse_events(body: bytes) -> list[tuple[str, str]]:
    """The (event name, data) of each event of a text/event-stream body."""
    events = []
    text = body.decode().replace("\r\n", "\n").replace("\r", "\n")
    for block in text.split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            field_name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field_name == "event":
                name = value
            elif field_name == "data":
                data.append(value)
        if data:
            events.append((name, "\n".join(data)))
    return events


async def check_websocket(target: Target) -> None:
    where = f"{target.framework.title}, {target.scenario.title}"
    incoming = websocket_messages(target.scenario)
    sent: list[dict[str, Any]] = []
    received = 0

    async def receive() -> dict[str, Any]:
        nonlocal received
        replies = [m for m in sent if m["type"] == "websocket.send"]
        # A round trip: every message so far was answered before the next one comes.
        assert len(replies) == max(0, received - 1), f"{where}: {received} in, {len(replies)} out"
        if received == 1:
            assert sent and sent[0]["type"] == "websocket.accept", f"{where}: {sent}"
        message = incoming[min(received, len(incoming) - 1)]
        received += 1
        return message

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await target.app(target.scope(), receive, send)
    assert sent and sent[0]["type"] == "websocket.accept", f"{where}: {sent[:2]}"
    replies = [m for m in sent[1:] if m["type"] == "websocket.send"]
    closes = [m for m in sent[1:] if m["type"] != "websocket.send"]
    assert all(m["type"] == "websocket.close" for m in closes), f"{where}: {closes}"
    assert all(m["type"] == "websocket.send" for m in sent[1 : len(replies) + 1]), where
    data = [json.loads(m.get("text") or m.get("bytes")) for m in replies]
    assert data == target.scenario.expected, f"{where}: replies {data[:3]}"


@contextlib.asynccontextmanager
async def started(frameworks: list[Framework]) -> Any:
    """Build and start every framework's app; yield them by key."""
    async with contextlib.AsyncExitStack() as stack:
        apps: dict[str, tuple[ASGIApp, dict[str, Any]]] = {}
        for fw in frameworks:
            app = fw.make()
            state = await stack.enter_async_context(lifespan(app))
            apps[fw.key] = (app, state)
        yield apps


def make_target(
    apps: dict[str, tuple[ASGIApp, dict[str, Any]]], fw: Framework, scenario: Scenario
) -> Target:
    app, state = apps[fw.key]
    return Target(fw, scenario, app, make_scope(scenario, state), make_receive(scenario))


def targets_for(
    apps: dict[str, tuple[ASGIApp, dict[str, Any]]],
    frameworks: list[Framework],
    scenarios: list[Scenario],
) -> list[Target]:
    """Every (scenario, framework), then the companions of the scenarios and frameworks given."""
    targets = [make_target(apps, fw, scenario) for scenario in scenarios for fw in frameworks]
    scenario_keys = {s.key for s in scenarios}
    for companion in COMPANIONS:
        fw = FRAMEWORK_BY_KEY[companion.framework]
        if companion.of in scenario_keys and fw in frameworks:
            targets.append(make_target(apps, fw, companion.scenario))
    return targets


async def check_all(framework_keys: list[str], scenario_keys: list[str] | None = None) -> None:
    """Start each framework's app and check its response to every scenario and companion."""
    frameworks = [FRAMEWORK_BY_KEY[k] for k in framework_keys]
    scenarios = [SCENARIO_BY_KEY[k] for k in scenario_keys] if scenario_keys else SCENARIOS
    async with started(frameworks) as apps:
        for target in targets_for(apps, frameworks, scenarios):
            await check(target)


def rotated(items: list[Target], by: int) -> Iterator[Target]:
    by %= len(items)
    yield from items[by:] + items[:by]


async def measure(
    frameworks: list[Framework], scenarios: list[Scenario], rounds: int, batch_time: float
) -> list[Target]:
    async with started(frameworks) as apps:
        targets = targets_for(apps, frameworks, scenarios)
        for target in targets:
            await check(target)
        # Warm up, then size each batch to take about batch_time.
        for target in targets:
            units = target.scenario.units
            await target.batch(max(1, 50 // units))
            per_call = await target.batch(max(2, 200 // units)) * units
            target.n = max(20 if units == 1 else 3, int(batch_time / per_call))
        by_scenario = {s.key: [t for t in targets if t.group == s.key] for s in scenarios}
        total = rounds * len(targets)
        done = 0
        for r in range(rounds):
            for group in by_scenario.values():
                for target in rotated(group, r):
                    gc.collect()
                    target.samples.append(await target.batch(target.n))
                    done += 1
            print(f"\rround {r + 1}/{rounds} ({done}/{total} batches)", end="", file=sys.stderr)
        print(file=sys.stderr)
    return targets


# -- reporting -------------------------------------------------------------------


def version(dist: str) -> str:
    if dist == "bocadillo":  # the package imported (this checkout), not an installed one
        import bocadillo

        return bocadillo.__version__
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def describe_machine(pinned: int | None, loop: str) -> str:
    dists = ["bocadillo", "starlette", "fastapi", "litestar", "pydantic", "orjson"]
    versions = ", ".join(f"{d} {version(d)}" for d in dists)
    cpu = f"pinned to CPU {pinned}" if pinned is not None else "not pinned"
    return (
        f"{datetime.date.today().isoformat()}, {os.cpu_count()} CPUs ({cpu}), "
        f"Python {platform.python_version()}, {loop} loop; {versions}"
    )


def table(targets: list[Target], frameworks: list[Framework], scenarios: list[Scenario]) -> str:
    medians = {
        (t.framework.key, t.scenario.key): statistics.median(t.samples) * 1e6 for t in targets
    }
    header = "| scenario | " + " | ".join(f.title for f in frameworks) + " |"
    lines = [header, "| --- |" + " ---: |" * len(frameworks)]
    for scenario in scenarios:
        base = medians.get(("starlette", scenario.key))
        cells = []
        for fw in frameworks:
            us = medians[(fw.key, scenario.key)]
            cell = f"{us:.1f}" if us < 100 else f"{us:.0f}"
            if base is not None:
                cell += f" ({base / us:.2f}x)"
            cells.append(cell)
        lines.append(f"| {scenario.title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def spread(targets: list[Target], frameworks: list[Framework], scenarios: list[Scenario]) -> str:
    """The interquartile range of each cell, as a share of its median."""
    lines = ["| IQR / median | " + " | ".join(f.title for f in frameworks) + " |"]
    lines.append("| --- |" + " ---: |" * len(frameworks))
    by_key = {(t.framework.key, t.scenario.key): t for t in targets}
    for scenario in scenarios:
        cells = []
        for fw in frameworks:
            cells.append(iqr_share(by_key[(fw.key, scenario.key)].samples))
        lines.append(f"| {scenario.title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def iqr_share(samples: list[float]) -> str:
    """The interquartile range as a share of the median ("-" under four samples)."""
    if len(samples) < 4:
        return "-"
    q1, _, q3 = statistics.quantiles(samples, n=4)
    return f"{(q3 - q1) / statistics.median(samples) * 100:.1f}%"


def goals(targets: list[Target]) -> str:
    """The issue's targets, each checked against this run's medians."""
    med = {(t.framework.key, t.scenario.key): statistics.median(t.samples) for t in targets}
    lines: list[str] = []

    def ratio(fast: str, slow: str, key: str) -> float | None:
        if (fast, key) in med and (slow, key) in med:
            return med[(slow, key)] / med[(fast, key)]
        return None

    for scenario in SCENARIOS:
        vs_starlette = ratio("bocadillo", "starlette", scenario.key)
        if vs_starlette is None:
            continue
        line = f"{scenario.title}: {vs_starlette:.2f}x Starlette"
        line += " (met)" if vs_starlette >= 2 else " (missed)"
        floor = ratio("raw", "starlette", scenario.key)
        if floor is not None and vs_starlette < 2:
            line += f"; the raw-ASGI floor itself is {floor:.2f}x Starlette"
            over_floor = ratio("raw", "bocadillo", scenario.key)
            if over_floor is not None:
                line += f", and Bocadillo takes {over_floor:.2f}x the floor's time"
        tuned = ("starlette", "list-tuned")
        if scenario.key == "list" and tuned in med:
            line += f"; {med[tuned] / med[('bocadillo', 'list')]:.2f}x the tuned Starlette"
        lines.append(line)
    for key in ("params", "post"):
        for other, goal in (("fastapi", 5.0), ("litestar", 2.5)):
            r = ratio("bocadillo", other, key)
            if r is not None:
                verdict = "met" if r >= goal else "missed"
                name = FRAMEWORK_BY_KEY[other].title
                title = SCENARIO_BY_KEY[key].title
                lines.append(f"{title}: {r:.2f}x {name} ({verdict}, goal {goal:g}x)")
    floor_post = ratio("raw", "bocadillo", "post")
    if floor_post is not None:
        verdict = "met" if floor_post <= 1.5 else "missed"
        lines.append(f"POST: {floor_post:.2f}x the raw-ASGI floor ({verdict}, goal at most 1.5x)")
    return "\n".join(lines)


def companions(targets: list[Target]) -> str:
    """Each companion's median beside its scenario's, and the ratio scenario / companion."""
    by_key = {(t.framework.key, t.scenario.key): t for t in targets}
    lines: list[str] = []
    verdicts: list[str] = []
    shown: set[tuple[str, str]] = set()
    for companion in COMPANIONS:
        fw = FRAMEWORK_BY_KEY[companion.framework]
        scenario = SCENARIO_BY_KEY[companion.of]
        main = by_key.get((fw.key, scenario.key))
        alone = by_key.get((fw.key, companion.scenario.key))
        if main is None or alone is None:
            continue
        main_us = statistics.median(main.samples) * 1e6
        alone_us = statistics.median(alone.samples) * 1e6
        if (fw.key, scenario.key) not in shown:
            shown.add((fw.key, scenario.key))
            lines.append(f"{fw.title} companions of {scenario.title!r} (µs per request, median)")
            lines.append(f"  {scenario.title:<38} {main_us:6.2f}  IQR {iqr_share(main.samples)}")
        ratio = main_us / alone_us
        lines.append(
            f"  {companion.scenario.title:<38} {alone_us:6.2f}  IQR {iqr_share(alone.samples)}"
            f"  ({scenario.title} / this: {ratio:.2f}x)"
        )
        if companion.target is not None:
            verdict = "within" if ratio <= companion.target else "OVER"
            verdicts.append(
                f"{fw.title}: {scenario.title} / {companion.scenario.title} = {ratio:.2f}x "
                f"({verdict} the {companion.target:g}x target)"
            )
    return "\n".join([*lines, "", *verdicts]).strip()


def telemetry_cost(targets: list[Target], scenarios: list[Scenario]) -> str:
    """What telemetry on adds to each scenario, in µs per request (message, event):
    between the medians, and between the fastest batches (the least disturbed)."""
    med = {(t.framework.key, t.scenario.key): statistics.median(t.samples) * 1e6 for t in targets}
    low = {(t.framework.key, t.scenario.key): min(t.samples) * 1e6 for t in targets}
    lines = []
    for scenario in scenarios:
        key_off, key_on = ("bocadillo", scenario.key), ("bocadillo-telemetry", scenario.key)
        if key_off not in med or key_on not in med:
            continue
        off, on = med[key_off], med[key_on]
        lines.append(
            f"  {scenario.title:<50} off {off:7.2f}  on {on:7.2f}  +{on - off:6.2f} µs "
            f"({on / off:.2f}x); fastest batches +{low[key_on] - low[key_off]:6.2f} µs"
        )
    if not lines:
        return ""
    title = "Telemetry on (traces + metrics + access log, exported nowhere), per " + "unit:"
    return "\n".join([title, *lines])


# -- entry points ------------------------------------------------------------------


def pin(cpu: int | None) -> int | None:
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    chosen = allowed[-1] if cpu is None else cpu
    os.sched_setaffinity(0, {chosen})
    return chosen


def new_loop(name: str) -> asyncio.AbstractEventLoop:
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def available(keys: list[str]) -> list[Framework]:
    frameworks = []
    for key in keys:
        fw = FRAMEWORK_BY_KEY[key]
        if fw.dist in ("fastapi", "litestar") and version(fw.dist) == "?":
            print(
                f"skipping {fw.title}: not installed (pip install -e '.[bench]')", file=sys.stderr
            )
            continue
        frameworks.append(fw)
    return frameworks


async def profile(framework: Framework, scenario: Scenario, seconds: float) -> None:
    async with started([framework]) as apps:
        target = make_target(apps, framework, scenario)
        await check(target)
        units = scenario.units
        per_call = await target.batch(max(2, 500 // units)) * units
        n = max(100 if units == 1 else 3, int(seconds / per_call))
        profiler = cProfile.Profile()
        profiler.enable()
        await target.batch(n)
        profiler.disable()
    print(f"{framework.title}, {scenario.title}: {n} requests under cProfile")
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(30)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a ~30 s smoke run")
    parser.add_argument("--rounds", type=int, help="rounds (default 15, quick 5)")
    parser.add_argument(
        "--batch-time", type=float, help="seconds per batch (default 0.4, quick 0.1)"
    )
    parser.add_argument(
        "--frameworks",
        default=",".join(k for k in FRAMEWORK_BY_KEY if k != "bocadillo-telemetry"),
        help="comma-separated, from: " + ", ".join(FRAMEWORK_BY_KEY),
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIO_BY_KEY),
        help="comma-separated, from: " + ", ".join(SCENARIO_BY_KEY),
    )
    parser.add_argument("--cpu", type=int, help="the CPU to pin to (default: the last one)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to one CPU")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--spread", action="store_true", help="also print each cell's IQR")
    parser.add_argument(
        "--telemetry",
        action="store_true",
        help="also time Bocadillo with telemetry on (traces, metrics, access log; "
        "the otel extra), and print what it adds per request",
    )
    parser.add_argument(
        "--profile",
        metavar="FRAMEWORK:SCENARIO",
        help="cProfile one scenario (or companion: "
        + ", ".join(f"{c.framework}:{c.scenario.key}" for c in COMPANIONS)
        + ") instead",
    )
    args = parser.parse_args(argv)

    pinned = None if args.no_pin else pin(args.cpu)
    if args.loop == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            args.loop = "asyncio"
    loop = new_loop(args.loop)

    if args.profile:
        fw_key, _, sc_key = args.profile.partition(":")
        if fw_key == "bocadillo-telemetry":
            access_log_to_devnull()
        companion = COMPANION_BY_KEY.get(sc_key)
        scenario = companion.scenario if companion else SCENARIO_BY_KEY[sc_key]
        task = profile(FRAMEWORK_BY_KEY[fw_key], scenario, 3.0)
        loop.run_until_complete(task)
        return

    rounds = args.rounds or (5 if args.quick else 15)
    batch_time = args.batch_time or (0.1 if args.quick else 0.4)
    keys = args.frameworks.split(",")
    if args.telemetry and "bocadillo-telemetry" not in keys:
        keys.insert(
            keys.index("bocadillo") + 1 if "bocadillo" in keys else len(keys), "bocadillo-telemetry"
        )
    frameworks = available(keys)
    if args.telemetry:
        access_log_to_devnull()
    scenarios = [SCENARIO_BY_KEY[k] for k in args.scenarios.split(",")]
    started_at = time.perf_counter()
    targets = loop.run_until_complete(measure(frameworks, scenarios, rounds, batch_time))
    elapsed = time.perf_counter() - started_at

    print(
        f"µs per request (per message, per event where the row says), median of {rounds} "
        "rounds (x Starlette: higher is faster)\n"
    )
    print(table(targets, frameworks, scenarios))
    if args.spread:
        print()
        print(spread(targets, frameworks, scenarios))
    print(f"\n{describe_machine(pinned, args.loop)}; {elapsed:.0f} s")
    report = companions(targets)
    if report:
        print()
        print(report)
    report = telemetry_cost(targets, scenarios)
    if report:
        print()
        print(report)
    report = goals(targets)
    if report:
        print("\nTargets (ratios in this run):")
        print(report)


if __name__ == "__main__":
    main()
