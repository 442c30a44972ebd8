"""The test client's side of a server-sent events stream: ``client.stream_events``.

The app runs in the test client's event loop as it would behind a server: it
gets the request, its sends wait until the test reads them (a test that stops
reading is a slow reader), and leaving the ``with`` block (or the loop) tells
it the client disconnected, then waits for the handler to stop.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import re
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic

import orjson
from typing_extensions import TypeVar

if TYPE_CHECKING:
    from starlette.testclient import TestClient

    from bocadillo.runtime.sse import EventKind

__all__ = ["EventStream", "ServerSentEvent"]

_LINE = re.compile(r"\r\n|\r|\n")

T = TypeVar("T", default=Any)


@dataclasses.dataclass(frozen=True, slots=True)
class ServerSentEvent(Generic[T]):
    """One event as the client received it.

    ``data`` is a value of the type the route declares for ``event``
    (validated), else the decoded JSON, else the text. ``text`` is the raw
    ``data:`` content. Its static type is ``T``: the ``data_type`` given to
    ``client.stream_events``, ``Any`` without one.
    """

    event: str
    data: T
    text: str
    id: str | None = None
    retry: int | None = None


class EventStream(Generic[T]):
    """An open SSE response in a test: iterate it for events, leave it to disconnect.

    ::

        with client.stream_events("/jobs/1/events", max_events=3) as stream:
            assert stream.status_code == 200
            events = list(stream)

    Iteration ends when the app ends the stream, after ``max_events`` events, or
    after ``timeout`` seconds, whichever comes first. On leaving, the app hears
    that the client left; it must stop within ``close_timeout`` seconds, or
    leaving raises ``AssertionError``. An error the app raised is raised here.
    """

    def __init__(
        self,
        client: TestClient,
        path: str,
        *,
        params: Any = None,
        headers: Mapping[str, str] | None = None,
        max_events: int | None = None,
        timeout: float = 10.0,
        close_timeout: float = 5.0,
        data_type: type[T] | None = None,
    ) -> None:
        self._client = client
        self.data_type = data_type
        self._request = client.build_request(
            "GET", path, params=params, headers={"accept": "text/event-stream", **(headers or {})}
        )
        self.max_events = max_events
        self.timeout = timeout
        self.close_timeout = close_timeout
        self.status_code = 0
        self.headers: dict[str, str] = {}
        self.events: list[ServerSentEvent[T]] = []  # every event received so far
        self._stack = contextlib.ExitStack()
        self._kinds: dict[str, EventKind] = {}
        self._buffer = ""
        self._pending: dict[str, Any] = {}
        self._data: list[str] = []
        self._ended = False
        self._open = False

    # -- opening and closing -------------------------------------------------------

    def __enter__(self) -> EventStream[T]:
        import anyio

        client = self._client
        portal = client.portal
        if portal is None:
            portal = self._stack.enter_context(client._portal_factory())
        self._portal = portal
        request = self._request
        url = request.url
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": url.scheme,
            "path": url.path,
            "raw_path": url.raw_path.split(b"?", 1)[0],
            "root_path": "",
            "query_string": url.query,
            "headers": [(k.lower().encode(), v.encode()) for k, v in request.headers.multi_items()],
            "client": ("testclient", 50000),
            "server": (url.host, url.port or 80),
            "extensions": {},
            "state": dict(client.app_state),
        }
        self._kinds = _declared_kinds(client.app, url.path)
        self._started = portal.call(anyio.Event)
        self._disconnected = portal.call(anyio.Event)
        self._finished = portal.call(anyio.Event)
        self._chunks_tx, self._chunks_rx = portal.call(_rendezvous)
        self._crash: BaseException | None = None
        self._task = portal.start_task_soon(self._run, scope)
        self._open = True
        if not portal.call(_wait, self._started, self.timeout):
            self._close()
            raise AssertionError(f"the app sent no response to GET {url.path} in {self.timeout} s")
        if self._crash is not None and not self.status_code:
            self._close()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        self._close(raise_errors=exc_type is None)

    def _close(self, *, raise_errors: bool = True) -> None:
        if not self._open:
            return
        self._open = False
        portal = self._portal
        try:
            portal.call(self._disconnected.set)
            portal.call(self._chunks_rx.aclose)  # a send waiting for the reader gives up
            stopped = portal.call(_wait, self._finished, self.close_timeout)
            if not stopped:
                self._task.cancel()
                if raise_errors:
                    raise AssertionError(
                        f"the handler of GET {self._request.url.path} did not stop within "
                        f"{self.close_timeout} s of the client leaving"
                    )
            with contextlib.suppress(BaseException):
                self._task.result(timeout=self.close_timeout)
        finally:
            self._stack.close()
        if raise_errors and self._crash is not None:
            raise self._crash

    # -- the app's side ------------------------------------------------------------

    async def _run(self, scope: dict[str, Any]) -> None:
        import anyio

        sent_request = False

        async def receive() -> dict[str, Any]:
            nonlocal sent_request
            if not sent_request:
                sent_request = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await self._disconnected.wait()
            return {"type": "http.disconnect"}

        async def send(message: Mapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.status_code = message["status"]
                self.headers = {
                    k.decode("latin-1"): v.decode("latin-1") for k, v in message.get("headers", [])
                }
                self._started.set()
            elif message["type"] == "http.response.body":
                body = bytes(message.get("body", b""))
                if body and not self._disconnected.is_set():
                    # The test left without reading: the body goes nowhere, as over a socket.
                    with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                        await self._chunks_tx.send(body)
                if not message.get("more_body", False):
                    await self._chunks_tx.aclose()

        try:
            await self._client.app(scope, receive, send)
        except Exception as exc:
            self._crash = exc
        finally:
            await self._chunks_tx.aclose()
            self._started.set()
            self._finished.set()

    # -- reading -------------------------------------------------------------------

    def __iter__(self) -> Iterator[ServerSentEvent[T]]:
        if not self._open and not self._ended:
            with self:
                yield from self._events()
            return
        yield from self._events()

    def _events(self) -> Iterator[ServerSentEvent[T]]:
        if self._crash is not None and not self.status_code:
            raise self._crash
        content_type = self.headers.get("content-type", "")
        if not content_type.startswith("text/event-stream"):
            body = b"".join(self._drain())
            raise AssertionError(
                f"GET {self._request.url.path} answered {self.status_code} {content_type!r}, "
                f"not an event stream: {body[:500]!r}"
            )
        deadline = time.monotonic() + self.timeout
        count = 0
        while self.max_events is None or count < self.max_events:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._ended:
                return
            chunk = self._portal.call(_next_chunk, self._chunks_rx, remaining)
            if chunk is None:
                self._ended = True
                return
            if not chunk:
                continue  # the time is up
            for event in self._parse(chunk.decode("utf-8")):
                self.events.append(event)
                count += 1
                yield event
                if self.max_events is not None and count >= self.max_events:
                    return

    def _drain(self) -> Iterator[bytes]:
        while True:
            chunk = self._portal.call(_next_chunk, self._chunks_rx, self.timeout)
            if not chunk:
                return
            yield chunk

    def _parse(self, text: str) -> Iterator[ServerSentEvent[T]]:
        """Events completed by ``text`` (the WHATWG rules, as a browser reads them)."""
        self._buffer += text
        *lines, self._buffer = _LINE.split(self._buffer)
        for line in lines:
            if not line:
                if self._data:
                    yield self._event()
                self._pending = {}
                self._data = []
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "data":
                self._data.append(value)
            elif field in ("event", "id"):
                self._pending[field] = value
            elif field == "retry" and value.isdigit():
                self._pending["retry"] = int(value)

    def _event(self) -> ServerSentEvent[T]:
        name = self._pending.get("event") or "message"
        text = "\n".join(self._data)
        kind = self._kinds.get(name)
        data: Any
        if kind is not None and kind.adapter is not None:
            from bocadillo.schemas.protocol import MalformedInput, SchemaValidationError

            try:
                data = kind.adapter.validate_json(text.encode())
            except (MalformedInput, SchemaValidationError) as exc:
                raise AssertionError(
                    f"event {name!r} does not hold a valid {kind.annotation!r}: {exc}; "
                    f"data: {text[:500]!r}"
                ) from None
        elif kind is not None:
            data = text
        else:
            try:
                data = orjson.loads(text)
            except orjson.JSONDecodeError:
                data = text
        expected = self.data_type
        if expected is not None and isinstance(expected, type) and not isinstance(data, expected):
            raise AssertionError(
                f"event {name!r} holds a {type(data).__name__}, not a {expected.__name__}: "
                f"data: {text[:500]!r}"
            )
        return ServerSentEvent(
            event=name,
            data=data,
            text=text,
            id=self._pending.get("id"),
            retry=self._pending.get("retry"),
        )


def _declared_kinds(app: Any, path: str) -> dict[str, EventKind]:
    """The event types of the SSE route at ``path``, when ``app`` is a Bocadillo app."""
    from bocadillo.app import App
    from bocadillo.runtime.sse import SSEPlan

    if not isinstance(app, App):
        return {}
    entry, _ = app.check().match(path)
    plan = entry.methods.get("GET") if entry is not None else None
    if not isinstance(plan, SSEPlan):
        return {}
    return {kind.name: kind for kind in plan.kinds}


async def _rendezvous() -> Any:
    import anyio

    # No buffer: the app's send waits until the test reads, as with a slow reader.
    return anyio.create_memory_object_stream[bytes](0)


async def _wait(event: Any, seconds: float) -> bool:
    import anyio

    with anyio.move_on_after(seconds):
        await event.wait()
        return True
    return False


async def _next_chunk(stream: Any, seconds: float) -> bytes | None:
    """The next chunk of the body: None at its end, ``b""`` after ``seconds``."""
    import anyio

    with anyio.move_on_after(seconds if math.isfinite(seconds) else None):
        try:
            chunk: bytes = await stream.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            return None
        return chunk
    return b""
