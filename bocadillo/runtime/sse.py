"""Server-sent events: ``@app.sse`` routes, ``Event``, and their plans.

An SSE handler is an async generator whose return annotation names the events
it sends::

    @app.sse("/jobs/{id}/events")
    async def job_events(id: int) -> AsyncIterator[Progress | Done]:
        yield Progress(step=1, of=3)
        ...

Each yielded value becomes one event: ``event:`` is its type's event name,
``data:`` its JSON (a ``str`` is sent as text, one ``data:`` line per line).
``Event(value, id=..., retry=...)`` adds the other fields. A value of a type
the annotation does not name is never sent: the stream ends and the error is
raised (and logged) as a bug in the app.

The stream ends when the generator returns, or when the client leaves: the
generator is then closed at its current ``await`` or ``yield`` (its
``finally`` runs), and the route's providers are torn down. A generator
provider sees at its ``yield`` what ended the stream: nothing when the
generator ran to its end; ``ClientDisconnect`` when the stream was cut short
(the client left, or the server is stopping); ``SlowSubscriber``; or the
handler's error.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
from typing import Any, Generic, TypeVar

import anyio
from starlette.types import Receive, Scope, Send

from bocadillo.channels.channel import SlowSubscriber
from bocadillo.errors import RequestValidationError
from bocadillo.observe import CURRENT, Observation, StreamEnd
from bocadillo.runtime.body import ClientDisconnect
from bocadillo.runtime.endpoint import EndpointPlan, ResponseAlreadyStarted
from bocadillo.runtime.responses import loop_turns
from bocadillo.schemas.protocol import SchemaAdapter, SchemaValidationError

__all__ = [
    "DEFAULT_KEEPALIVE",
    "FIXED_HEADERS",
    "Event",
    "EventKind",
    "SSEPlan",
    "UndeclaredEvent",
]

logger = logging.getLogger("bocadillo")

# The scope key an event stream sets once its headers are sent, and the one the
# server protocols of `bocadillo run` (cli/server.py) set on it at shutdown: an open
# stream then ends instead of holding the shutdown for the graceful timeout.
EVENT_STREAM = "bocadillo.event_stream"
SERVER_STOPPING = "bocadillo.server_stopping"

T = TypeVar("T")

DEFAULT_KEEPALIVE = 15.0
KEEPALIVE_COMMENT = b": keep-alive\n\n"
_KEEPALIVE_MESSAGE = {"type": "http.response.body", "body": KEEPALIVE_COMMENT, "more_body": True}
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]
# What a route's headers= cannot set: the stream's media type and its framing.
FIXED_HEADERS = frozenset({"content-type", "content-length", "transfer-encoding"})
LAST_EVENT_ID = "last_event_id"  # the parameter that receives the Last-Event-ID header

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class Event(Generic[T]):
    """One event with its fields set explicitly: ``yield Event(tick, id="42", retry=5000)``.

    ``data`` is a value of one of the route's declared event types. ``id``
    becomes the client's last event ID (sent back as ``Last-Event-ID`` when it
    reconnects); ``retry`` tells the client how many milliseconds to wait
    before reconnecting; ``event`` must be the name of ``data``'s type (it is
    filled in when left out). Declare ``AsyncIterator[Event[Tick | Done]]`` (or
    mix ``Event[...]`` and bare types) so a type checker accepts the yields.
    """

    __slots__ = ("data", "event", "id", "retry")

    def __init__(
        self,
        data: T,
        *,
        id: str | int | None = None,
        event: str | None = None,
        retry: int | None = None,
    ) -> None:
        if id is not None:
            id = str(id)
            if "\n" in id or "\r" in id or "\0" in id:
                raise ValueError("an event id cannot hold a line break or a NUL character")
        if event is not None and (not event or "\n" in event or "\r" in event):
            raise ValueError("an event name is a non-empty string without line breaks")
        if retry is not None and (isinstance(retry, bool) or not isinstance(retry, int)):
            raise ValueError("retry is a whole number of milliseconds")
        if retry is not None and retry < 0:
            raise ValueError("retry cannot be negative")
        self.data = data
        self.id: str | None = id
        self.event = event
        self.retry = retry

    def __repr__(self) -> str:
        fields = [repr(self.data)]
        fields += [
            f"{name}={getattr(self, name)!r}"
            for name in ("id", "event", "retry")
            if getattr(self, name) is not None
        ]
        return f"Event({', '.join(fields)})"


class UndeclaredEvent(TypeError):
    """An SSE handler yielded a value its return annotation does not declare."""


@dataclasses.dataclass(slots=True)
class EventKind:
    """One event type a route sends: its name, its type, and how its data is written."""

    name: str
    annotation: Any
    adapter: SchemaAdapter | None  # None: a str, sent as text
    header: bytes = b""

    def __post_init__(self) -> None:
        self.header = b"event: " + self.name.encode() + b"\n"

    def data_lines(self, value: Any) -> bytes:
        if self.adapter is None:
            lines = _LINE_BREAK.split(value)
            return b"".join(b"data: " + line.encode() + b"\n" for line in lines)
        # JSON from the serializer never holds a raw line break: one data line.
        return b"data: " + self.adapter.dump_json(value) + b"\n"


class _Progress:
    """What the stream's two tasks share: when bytes last went out, whether the
    generator's side is in the middle of sending, and whether a send found the
    client gone."""

    __slots__ = ("gone", "last", "sending")

    def __init__(self, now: float) -> None:
        self.last = now
        self.sending = False
        self.gone = False


class SSEPlan(EndpointPlan):
    """Everything needed to serve one SSE route, decided at start-up.

    An HTTP GET plan whose response is the handler's stream of events.
    """

    # A client that leaves may cancel the stream's task: the providers' teardown
    # must still finish.
    shielded_teardown = True

    def __init__(
        self,
        *,
        kinds: list[EventKind],
        keepalive: float | None,
        headers: dict[str, str] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.kinds = kinds
        self.keepalive = keepalive
        # The route's own headers, as declared (the documents show them), and the
        # response's: the framework's, with the route's replacing or added.
        self.headers: dict[str, str] = dict(headers or {})
        own = {name.lower(): value for name, value in self.headers.items()}
        self.response_headers = [
            (name, value) for name, value in SSE_HEADERS if name.decode() not in own
        ] + [(name.encode("latin-1"), value.encode("latin-1")) for name, value in own.items()]
        self._by_class: dict[type, EventKind | None] = {
            kind.annotation: kind for kind in kinds if isinstance(kind.annotation, type)
        }

    def __repr__(self) -> str:
        return f"<SSEPlan {self.name}>"

    def kind_of(self, value: Any) -> EventKind | None:
        """The declared event type of ``value`` (its class, or the nearest declared base)."""
        cls = type(value)
        try:
            return self._by_class[cls]
        except KeyError:
            found = next(
                (self._by_class[base] for base in cls.__mro__[1:] if self._by_class.get(base)),
                None,
            )
            self._by_class[cls] = found
            return found

    def frame(self, item: Any) -> bytes:
        """The bytes of one event, or ``UndeclaredEvent``."""
        if type(item) is Event:
            kind = self.kind_of(item.data)
            if kind is None or (item.event is not None and item.event != kind.name):
                raise self._undeclared(item.data, item.event)
            frame = b"" if item.id is None else b"id: " + item.id.encode() + b"\n"
            frame += kind.header + self._data(kind, item.data)
            if item.retry is not None:
                frame += b"retry: %d\n" % item.retry
            return frame + b"\n"
        kind = self.kind_of(item)
        if kind is None:
            raise self._undeclared(item, None)
        return kind.header + self._data(kind, item) + b"\n"

    def _data(self, kind: EventKind, value: Any) -> bytes:
        try:
            return kind.data_lines(value)
        except SchemaValidationError as exc:
            raise UndeclaredEvent(
                f"{self.name} yielded a {type(value).__name__} that does not match the "
                f"{kind.name!r} event: {exc.errors}"
            ) from None

    def _undeclared(self, value: Any, name: str | None) -> UndeclaredEvent:
        declared = ", ".join(
            kind.name
            if kind.name == _type_name(kind.annotation)
            else f"{kind.name} ({_type_name(kind.annotation)})"
            for kind in self.kinds
        )
        what = f"a {type(value).__name__}" + (f" as event {name!r}" if name else "")
        return UndeclaredEvent(
            f"{self.name} yielded {what}, which is not one of the events it declares: "
            f"{declared}. Add the type to the return annotation."
        )

    # -- the request path ------------------------------------------------

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, path_params: dict[str, str] | None
    ) -> None:
        kwargs, errors, _, _ = self.parameters.read(scope, path_params)
        if errors:
            raise RequestValidationError(errors)
        request = None
        if self._needs_request:
            request = self._request(scope, receive, path_params, kwargs, None)
        session = self._session
        exits = None
        if session is not None:
            # Providers run before the first byte: their errors are problem responses.
            exits = await session.open(kwargs, request)
        # What ended the stream, which the providers see at their yield: None when
        # the generator ran to its end (they commit), else the error, the
        # SlowSubscriber, or a ClientDisconnect for a stream cut short.
        failure: BaseException | None = None
        observation = CURRENT.get()
        try:
            failure = await self._stream(self.endpoint(**kwargs), scope, receive, send, observation)
        except BaseException as exc:
            # Cancelled (the server gave up on the connection), or a send failed.
            failure = exc
            if observation is not None:
                observation.stream_ended(
                    "disconnect" if isinstance(exc, asyncio.CancelledError) else "error"
                )
            raise
        finally:
            if exits:
                assert session is not None
                await session.close(exits, failure)
        if failure is not None and not isinstance(failure, _NOT_BUGS):
            # The response is over; the app's error handling logs it (and a test
            # client raises it): a bug in the handler must not pass unseen.
            raise ResponseAlreadyStarted() from failure

    async def _stream(
        self,
        events: Any,
        scope: Scope,
        receive: Receive,
        send: Send,
        observation: Observation | None = None,
    ) -> BaseException | None:
        if observation is not None:
            observation.stream_started()
        await send({"type": "http.response.start", "status": 200, "headers": self.response_headers})
        scope[EVENT_STREAM] = True  # see SERVER_STOPPING
        if scope["method"] == "HEAD":
            await events.aclose()
            await send({"type": "http.response.body", "body": b""})
            if observation is not None:
                observation.stream_ended("complete")
            return None
        loop = asyncio.get_running_loop()
        progress = _Progress(loop.time())
        pump = loop.create_task(self._pump(events, send, progress, observation))
        left = loop.create_task(_client_left(receive, scope))
        keepalive = self.keepalive
        gone = False
        try:
            while True:
                timeout = None if keepalive is None else progress.last + keepalive - loop.time()
                if timeout is None or timeout > 0:
                    done, _ = await asyncio.wait(
                        (pump, left), timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                    )
                    if pump in done:
                        break
                    if left in done:
                        gone = left.result()  # False: the server is stopping
                        break
                    continue
                progress.last = loop.time()
                if not progress.sending:
                    try:
                        await send(_KEEPALIVE_MESSAGE)
                    except OSError:
                        gone = True
                        break
        finally:
            left.cancel()
            if not pump.done():
                pump.cancel()
            # Let the generator finish (its finally) even if this task is being cancelled.
            with anyio.CancelScope(shield=True):
                await asyncio.wait((pump, left))
        failure = None if pump.cancelled() else pump.result()
        if gone or progress.gone:
            if observation is not None:
                observation.stream_ended("disconnect")
            return ClientDisconnect("The client left while the events were streaming.")
        with contextlib.suppress(OSError):
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        if pump.cancelled():
            # The server is stopping: the stream ends, its generator cut short.
            failure = ClientDisconnect("The server ended the stream: it is shutting down.")
        if observation is not None:
            observation.stream_ended(_end_of(failure))
        return failure

    async def _pump(
        self, events: Any, send: Send, progress: _Progress, observation: Observation | None
    ) -> BaseException | None:
        """Send the generator's events, one at a time: the next is asked for only
        once the previous one went out, so a slow reader holds the generator back."""
        loop = asyncio.get_running_loop()
        frame = self.frame
        turns = loop_turns()
        try:
            async for item in events:
                try:
                    body = frame(item)
                except UndeclaredEvent as exc:
                    return exc
                progress.sending = True
                try:
                    await send({"type": "http.response.body", "body": body, "more_body": True})
                except OSError:  # the server says the client left
                    progress.gone = True
                    return None
                progress.sending = False
                progress.last = loop.time()
                if observation is not None:
                    data = item.data if type(item) is Event else item
                    kind = self.kind_of(data)
                    observation.event_sent(None if kind is None else kind.name, len(body))
                if next(turns):
                    await asyncio.sleep(0)
        except SlowSubscriber as exc:
            # The stream's subscription fell behind (overflow="disconnect"): end the
            # stream; the client reconnects, with Last-Event-ID where it can resume.
            logger.info("Ending the event stream of %s: %s", self.name, exc)
            return exc
        except Exception as exc:
            return exc
        finally:
            await events.aclose()
        return None


async def _client_left(receive: Receive, scope: Scope) -> bool:
    """True once the client left; False if the server is stopping (the stream then
    ends as if the generator had, with the response's last chunk)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return True
        if scope.get(SERVER_STOPPING):
            return False


# How a stream may end that is no bug in the app: nothing is logged as an error.
_NOT_BUGS = (ClientDisconnect, SlowSubscriber)


def _end_of(failure: BaseException | None) -> StreamEnd:
    """How a stream that the server ended ended, as telemetry names it."""
    if failure is None:
        return "complete"
    if isinstance(failure, SlowSubscriber):
        return "slow_subscriber"
    if isinstance(failure, ClientDisconnect):
        return "shutdown"  # the only ClientDisconnect that reaches here
    return "error"


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or repr(tp)
