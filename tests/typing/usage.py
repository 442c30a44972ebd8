"""What users touch, checked by a static type checker: ``mypy --strict tests/typing``
(a step of ``scripts/test.py``, and tests/test_typing.py).

Nothing here runs as a test: the file only has to type-check. ``assert_type``
fails the check when the type a checker infers is not the one written, and
the last line's ``type: ignore`` must be needed (``warn_unused_ignores``), which
proves the checker reads the package's own types (``py.typed``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Literal, assert_type

from pydantic import BaseModel
from starlette.datastructures import URL, Address, Headers, QueryParams

from bocadillo import (
    App,
    Body,
    Channel,
    ClientDisconnect,
    ErrorFormat,
    Event,
    FileResponse,
    HTMLResponse,
    HTTPBearer,
    HTTPError,
    JSONResponse,
    Lazy,
    PlainTextResponse,
    Redirect,
    RedirectResponse,
    Request,
    Response,
    Router,
    StreamingResponse,
    Subscription,
    Telemetry,
    WebSocket,
    attachment,
    provider,
    useprovider,
)
from bocadillo.testing import Client, EventStream, ServerSentEvent, create_client


class Todo(BaseModel):
    id: int
    title: str


class Say(BaseModel):
    text: str


class Said(BaseModel):
    name: str
    text: str


class Tick(BaseModel):
    n: int


app = App(title="Typed", openapi_version="3.2.0")
router = Router(prefix="/api")


# -- decorated handlers and providers keep their type ---------------------------


@app.get("/todos/{id}", status_code=200, tags=["todos"])
async def get_todo(id: int) -> Todo:
    return Todo(id=id, title="Buy bread")


@router.post("/todos", status_code=201)
async def add_todo(todo: Todo) -> Todo:
    return todo


@provider
async def clock() -> float:
    return 0.0


@provider(scope="app")
async def settings() -> AsyncIterator[dict[str, str]]:
    yield {"name": "typed"}


@app.provider
def greeting() -> str:
    return "hello"


@app.provider(scope="app", name="limit")
def make_limit() -> int:
    return 10


assert_type(settings, Callable[[], AsyncIterator[dict[str, str]]])
assert_type(greeting, Callable[[], str])
assert_type(make_limit, Callable[[], int])


# -- server-sent events: Event[T] -------------------------------------------------


@app.sse("/ticks", keepalive=None, headers={"cache-control": "no-store"})
async def ticks() -> AsyncIterator[Event[Tick] | Tick]:
    event = Event(Tick(n=1), id=1, retry=5000)
    assert_type(event, Event[Tick])
    assert_type(event.data, Tick)
    yield event
    yield Tick(n=2)


assert_type(ticks, Callable[[], AsyncIterator[Event[Tick] | Tick]])


# -- WebSockets: WebSocket[In, Out] -----------------------------------------------


@app.websocket("/rooms/{room}", invalid_message="reply")
async def room(ws: WebSocket[Say, Said], room: str) -> None:
    assert_type(ws.scope["path"], Any)
    assert_type(ws.headers, Headers)
    assert_type(ws.query_params, QueryParams)
    assert_type(ws.client, Address | None)
    first = await ws.receive()
    assert_type(first, Say)
    await ws.send(Said(name=room, text=first.text))
    async for message in ws:
        assert_type(message, Say)
        await ws.send(Said(name=room, text=message.text))


@app.websocket("/lobby", auto_accept=False, caught_close_codes=(1000, 1001))
async def lobby(ws: WebSocket[Say, Said]) -> None:
    assert_type(ws.url, URL)
    if ws.url.query:
        assert_type(await ws.reject(403, "No queries.", headers={"x-why": "query"}), None)
        return
    async with ws as accepted:  # accepts; closes with 1000 (1011 on an error)
        assert_type(accepted, WebSocket[Say, Said])
        async for message in accepted:
            await accepted.send(Said(name="lobby", text=message.text))


@app.websocket("/everyone", caught_close_codes="all")
async def everyone(ws: WebSocket[str, str]) -> None:
    async with ws:
        await ws.send(str(ws.url))


async def call_the_handlers(ws: WebSocket[Say, Said]) -> None:
    # Each decorator returns the function it was given, signature and all.
    assert_type(await get_todo(id=1), Todo)
    assert_type(await clock(), float)
    assert_type(await add_todo(Todo(id=1, title="Buy bread")), Todo)
    assert_type(await room(ws, room="lobby"), None)


# -- channels: Channel[T] ---------------------------------------------------------

feed = app.channel("feed", Said)
assert_type(feed, Channel[Said])
assert_type(feed.topic("lobby"), Channel[Said])


async def relay(feed: Channel[Said]) -> Said:
    await feed.publish(Said(name="ada", text="Hello!"))
    async with feed.subscribe() as subscription:
        assert_type(subscription, Subscription[Said])
        assert_type(await subscription.get(), Said)
        async for said in subscription:
            assert_type(said, Said)
            return said
    raise LookupError


# -- responses: all of them are bocadillo.Response -------------------------------


@app.get("/page")
async def page(kind: str) -> Response:
    if kind == "json":
        return JSONResponse({"id": 1}, status_code=201)
    if kind == "html":
        return HTMLResponse("<h1>Hello</h1>")
    if kind == "text":
        return PlainTextResponse("pong")
    if kind == "redirect":
        return Redirect("/todos", permanent=True)
    if kind == "see-other":
        return RedirectResponse("/todos", status_code=303)
    return StreamingResponse(iter([b"a", b"b"]), media_type="text/plain")


# -- the test client --------------------------------------------------------------


def use_the_client() -> None:
    with create_client(app) as client:
        assert_type(client, Client)
        stream = client.stream_events("/ticks", max_events=1)
        assert_type(stream, EventStream)
        for event in stream:
            assert_type(event, ServerSentEvent)
            assert_type(event.event, str)
        typed = client.stream_events("/ticks", max_events=1, data_type=Tick)
        assert_type(typed, EventStream[Tick])
        for tick in typed:
            assert_type(tick, ServerSentEvent[Tick])
            assert_type(tick.data, Tick)


# -- envelopes, other auth schemes, error formats ----------------------------------


@app.post("/users")
async def register(
    user: Annotated[Say, Body(embed=True)], token: Annotated[str, HTTPBearer(scheme="Token")]
) -> Said:
    return Said(name=token, text=user.text)


async def call_register() -> None:
    assert_type(await register(Say(text="hi"), "jwt"), Said)


class ErrorsBody(BaseModel):
    errors: dict[str, list[str]]


class ConduitErrors(ErrorFormat):
    def render(self, error: HTTPError) -> ErrorsBody:
        return ErrorsBody(errors={"body": [error.detail or error.title]})

    def schema(self) -> type[ErrorsBody]:
        return ErrorsBody


conduit = App(error_format=ConduitErrors())


# -- 0.18's providers, files and request streaming ---------------------------------


@provider(lazy=True)
async def report() -> dict[str, int]:
    return {"rows": 1}


@app.get("/report")
@useprovider("clock", greeting)
async def get_report(report: Lazy[dict[str, int]], request: Request) -> FileResponse:
    assert_type(await report, dict[str, int])
    try:
        async for chunk in request:
            assert_type(chunk, bytes)
    except ClientDisconnect as exc:
        assert_type(exc, ClientDisconnect)
    assert_type(attachment("report.csv"), dict[str, str])
    return FileResponse("report.csv", attachment="report.csv", media_type="text/csv")


async def call_get_report(report: Lazy[dict[str, int]], request: Request) -> None:
    assert_type(await get_report(report, request), FileResponse)


# -- telemetry --------------------------------------------------------------------

telemetry = Telemetry(provider_spans=True, access_log="json", request_id_header="X-Trace")
assert_type(telemetry.access_log, Literal["text", "json"] | None)
assert_type(telemetry.request_id_header, str | None)
traced = App(title="Traced", telemetry=telemetry)
also_traced = App(telemetry=True)
quiet = Telemetry(access_log=None, traces=False)


# -- the checker sees the package: this call is an error it reports ---------------

app.websocket("/wrong", invalid_message="ignore")  # type: ignore[arg-type]
