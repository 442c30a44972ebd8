"""A prototype RSGI entry for Bocadillo apps, measured by ``bench/rsgi.py`` and not adopted.

granian's own interface (``--interface rsgi``) skips ASGI's message dicts. This
entry was built from the same plans, not as a second framework: each RSGI
request becomes the ASGI scope the plans take and goes through
``bocadillo.http.dispatch.serve`` as an ASGI request would; the server side
changes. The body is read straight from the protocol, a response known in full
(every plan's common case) is answered with one ``protocol.response_bytes``
call, and a streamed one (an event stream, a file) goes out through
``protocol.response_stream``. WebSockets are adapted the same way, and the
lifespan runs in ``__rsgi_init__``/``__rsgi_del__``, which granian calls around
serving.

It is not in ``bocadillo/`` because it does not pay (see "RSGI" in
bench/README.md): the plans need an ASGI scope, and building it in Python from
RSGI's scope costs more than granian's ASGI saves, except on request bodies; and
granian 2.8's RSGI ``close()`` sends no close code, so a WebSocket's 1007, 1008,
1009 and 1011 would reach the client as 1005. ``tests/test_rsgi.py`` checks it
against granian's ASGI interface, request for request.

    granian --interface rsgi --factory rsgi_entry:bocadillo_rsgi_app  # from bench/
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from starlette.types import Message

from bocadillo.http.dispatch import DispatchedApp, serve

__all__ = ["RSGIApp", "bocadillo_rsgi_app", "rsgi_del", "rsgi_entry", "rsgi_init"]

# A body up to this size (declared by Content-Length) is read in one call;
# larger or chunked bodies are read chunk by chunk, so body limits bound memory.
ONE_READ_LIMIT = 65536


def address(text: str) -> tuple[str, int] | None:
    """``"host:port"`` (RSGI's ``client``/``server``) as ASGI's ``(host, port)``."""
    known = ADDRESSES.get(text)
    if known is None:
        host, _, port = text.rpartition(":")
        known = (host.strip("[]"), int(port)) if port.isdigit() else ()
        if len(ADDRESSES) < 1024:
            ADDRESSES[text] = known
    return known or None


ADDRESSES: dict[str, tuple[str, int] | tuple[()]] = {}


def asgi_scope(scope: Any, kind: str, state: dict[str, Any] | None) -> dict[str, Any]:
    """The ASGI scope of an RSGI ``scope``: what the plans read."""
    path: str = scope.path
    asgi_scope = {
        "type": kind,
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": scope.http_version,
        "scheme": scope.scheme,
        "method": scope.method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": scope.query_string.encode("latin-1"),
        "root_path": "",
        "headers": [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in scope.headers.items()
        ],
        "client": address(scope.client),
        "server": address(scope.server),
    }
    if state:
        asgi_scope["state"] = state.copy()
    return asgi_scope


class HTTPExchange:
    """``receive`` and ``send`` of one HTTP request over an RSGI protocol."""

    __slots__ = ("answered", "chunks", "headers", "protocol", "read", "scope", "status", "stream")

    def __init__(self, scope: Any, protocol: Any) -> None:
        self.scope = scope
        self.protocol = protocol
        self.chunks: Any = None
        self.read = False  # the whole body was received
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self.stream: Any = None
        self.answered = False

    async def receive(self) -> Message:
        if not self.read:
            if self.chunks is None:
                headers = self.scope.headers
                length = headers.get("content-length")
                if "transfer-encoding" not in headers and (
                    length is None or (length.isdigit() and int(length) <= ONE_READ_LIMIT)
                ):
                    self.read = True
                    body = await self.protocol()
                    return {"type": "http.request", "body": body, "more_body": False}
                self.chunks = self.protocol.__aiter__()
            try:
                chunk = await self.chunks.__anext__()
            except StopAsyncIteration:
                self.read = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.request", "body": bytes(chunk), "more_body": True}
        await self.protocol.client_disconnect()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.body":
            body = message.get("body", b"")
            stream = self.stream
            if stream is None:
                if self.answered:
                    return
                if not message.get("more_body", False):
                    # The common case: the whole response in one call.
                    self.answered = True
                    self.protocol.response_bytes(self.status, self.headers, body)
                    return
                stream = self.stream = self.protocol.response_stream(self.status, self.headers)
                self.answered = True
            if body:
                try:
                    await stream.send_bytes(body)
                except RuntimeError as exc:  # RSGIProtocolClosed: the client left
                    raise OSError("The client disconnected.") from exc
        elif kind == "http.response.start":
            self.status = message["status"]
            self.headers = [
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in message.get("headers", ())
            ]


async def http(app: DispatchedApp, scope: Any, protocol: Any) -> None:
    exchange = HTTPExchange(scope, protocol)
    lifespan = LIFESPANS.get(id(app))
    try:
        await serve(
            app,
            asgi_scope(scope, "http", lifespan and lifespan.state),
            exchange.receive,
            exchange.send,
        )
    finally:
        if not exchange.answered:
            if exchange.status:  # a start without its body
                protocol.response_bytes(exchange.status, exchange.headers, b"")
            else:
                protocol.response_empty(500, [])


class WebSocketExchange:
    """``receive`` and ``send`` of one WebSocket over an RSGI protocol."""

    __slots__ = ("closed", "connected", "protocol", "transport")

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol
        self.transport: Any = None
        self.connected = False
        self.closed = False

    async def receive(self) -> Message:
        if not self.connected:
            self.connected = True
            return {"type": "websocket.connect"}
        if self.transport is None or self.closed:
            return {"type": "websocket.disconnect", "code": 1006}
        try:
            message = await self.transport.receive()
        except RuntimeError:  # RSGIProtocolClosed
            self.closed = True
            return {"type": "websocket.disconnect", "code": 1006}
        kind = int(message.kind)
        if kind == 0:  # close: RSGI does not give the code
            self.closed = True
            return {"type": "websocket.disconnect", "code": 1005}
        if kind == 1:
            return {"type": "websocket.receive", "bytes": message.data}
        return {"type": "websocket.receive", "text": message.data}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "websocket.send":
            if self.transport is None or self.closed:
                raise OSError("The WebSocket is closed.")
            try:
                text = message.get("text")
                if text is not None:
                    await self.transport.send_str(text)
                else:
                    await self.transport.send_bytes(message.get("bytes") or b"")
            except RuntimeError as exc:  # RSGIProtocolClosed
                self.closed = True
                raise OSError("The WebSocket is closed.") from exc
        elif kind == "websocket.accept":
            self.transport = await self.protocol.accept()
        elif kind == "websocket.close" and not self.closed:
            self.closed = True
            self.protocol.close(message.get("code", 1000))


async def websocket(app: DispatchedApp, scope: Any, protocol: Any) -> None:
    exchange = WebSocketExchange(protocol)
    lifespan = LIFESPANS.get(id(app))
    try:
        await serve(
            app,
            asgi_scope(scope, "websocket", lifespan and lifespan.state),
            exchange.receive,
            exchange.send,
        )
    finally:
        if not exchange.closed:
            protocol.close(1000 if exchange.transport is not None else 1011)


async def rsgi_entry(app: DispatchedApp, scope: Any, protocol: Any) -> None:
    """``App.__rsgi__``: granian's RSGI call, for an HTTP request or a WebSocket."""
    if scope.proto == "http":
        await http(app, scope, protocol)
    else:
        await websocket(app, scope, protocol)


class Lifespan:
    """The app's ASGI lifespan, run as a task on granian's loop."""

    def __init__(self, app: DispatchedApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.started: asyncio.Future[None] | None = None
        self.stopped: asyncio.Future[None] | None = None
        self.task: asyncio.Task[None] | None = None

    async def receive(self) -> Message:
        return await self.inbox.get()

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            assert self.started is not None
            self.started.set_result(None)
        elif kind == "lifespan.startup.failed":
            assert self.started is not None
            self.started.set_exception(RuntimeError(message.get("message", "")))
        elif kind.startswith("lifespan.shutdown"):
            assert self.stopped is not None
            if kind == "lifespan.shutdown.failed":
                self.stopped.set_exception(RuntimeError(message.get("message", "")))
            else:
                self.stopped.set_result(None)

    async def run(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "state": self.state,
        }
        try:
            await serve(self.app, scope, self.receive, self.send)
        except BaseException:
            if self.started is not None and not self.started.done():
                raise
        finally:
            for future in (self.started, self.stopped):
                if future is not None and not future.done():
                    future.cancel()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.started = loop.create_future()
        self.stopped = loop.create_future()
        self.inbox.put_nowait({"type": "lifespan.startup"})
        self.task = loop.create_task(self.run())
        loop.run_until_complete(self.started)

    def stop(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self.task is not None and self.stopped is not None
        if self.task.done():
            return
        self.inbox.put_nowait({"type": "lifespan.shutdown"})
        loop.run_until_complete(self.task)
        if self.stopped.done() and not self.stopped.cancelled():
            self.stopped.result()  # a failed shutdown raises here


# The lifespan of each app that granian serves, by the app's id.
LIFESPANS: dict[int, Lifespan] = {}


def rsgi_init(app: DispatchedApp, loop: asyncio.AbstractEventLoop) -> None:
    """``App.__rsgi_init__``: granian calls it before serving; the app starts."""
    lifespan = LIFESPANS[id(app)] = Lifespan(app)
    lifespan.start(loop)


def rsgi_del(app: DispatchedApp, loop: asyncio.AbstractEventLoop) -> None:
    """``App.__rsgi_del__``: granian calls it after serving; the app stops."""
    lifespan = LIFESPANS.pop(id(app), None)
    if lifespan is not None:
        lifespan.stop(loop)


class RSGIApp:
    """An app served through this entry: granian finds ``__rsgi__``,
    ``__rsgi_init__`` and ``__rsgi_del__`` on it (``__call__`` stays ASGI)."""

    def __init__(self, app: DispatchedApp) -> None:
        self.app = app
        # Instance attributes, so that granian's call goes straight to the entry.
        self.__rsgi__ = functools.partial(rsgi_entry, app)
        self.__rsgi_init__ = functools.partial(rsgi_init, app)
        self.__rsgi_del__ = functools.partial(rsgi_del, app)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await serve(self.app, scope, receive, send)


def bocadillo_rsgi_app() -> RSGIApp:
    """``bench/inprocess.py``'s Bocadillo app, with the RSGI entry (a granian factory)."""
    from inprocess import bocadillo_app

    app = bocadillo_app()
    return RSGIApp(app)  # type: ignore[arg-type]


RAW_BODY = b"Hello, world!"
RAW_HEADERS = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"13")]
RAW_RSGI_HEADERS = [(name.decode(), value.decode()) for name, value in RAW_HEADERS]


class RawPlaintext:
    """The floor of both interfaces: "Hello, world!" as text, by hand, under ASGI
    (``__call__``) and RSGI (``__rsgi__``); what granian itself costs per request."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        await send({"type": "http.response.start", "status": 200, "headers": RAW_HEADERS})
        await send({"type": "http.response.body", "body": RAW_BODY})

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        protocol.response_bytes(200, RAW_RSGI_HEADERS, RAW_BODY)


def raw_plaintext() -> RawPlaintext:
    """A granian factory: the raw app of both interfaces."""
    return RawPlaintext()
