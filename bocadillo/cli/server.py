"""The HTTP/1.1 protocols ``bocadillo run`` serves with: uvicorn's, with limits on a request's head.

uvicorn 0.54 as it comes puts no limit on the size of a request's header
fields with httptools (h11 has one, answered 400), none on their number, and
no timeout until the first request of a connection has been answered: a
client can open connections and send nothing, or a header a byte every few
seconds, for as long as it likes (slowloris). The protocols here add, for
every request of a connection (a WebSocket handshake included):

- ``max_header_size``: the request target plus the names and values of the
  header fields, in bytes (16 KiB). More is answered ``431``.
- ``max_headers``: the number of header fields (100). More is answered ``431``.
- ``header_timeout``: the seconds the header fields have to arrive in full
  (10), counted from the connection being made for its first request, and
  from the request's first byte for the next ones (uvicorn's keep-alive
  timeout covers the wait in between). Past it, a request of which something
  came is answered ``408``; a connection on which nothing came is closed.

Each refusal is an RFC 9457 ``application/problem+json`` answer with
``Connection: close``, after which the connection is closed. A refusal that
concerns a request pipelined behind one still being answered waits for that
answer, so the responses stay in order; the header timeout does not run while
the server is busy answering an earlier request of the connection.

With httptools, sizes and counts are taken in the parser's callbacks; the bytes
of a head still incomplete after a read are bounded too
(``HeaderLimits.raw_bound``: the limit plus the separators of ``max_headers``
lines and some slack), since the parser holds a field until it is complete. With h11, h11's own
``max_incomplete_event_size`` is set to that bound, and the exact checks run on
each ``Request`` event. Each connection has one timer for the header timeout,
re-armed (at most once per ``header_timeout``) only while it is needed.

``server_protocol()`` gives what ``uvicorn.run(http=...)`` and
``uvicorn.Config(http=...)`` take: a ``functools.partial`` of a class defined
here, so it pickles by reference into ``--workers`` and ``--reload`` processes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import re
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

import h11
import orjson
from uvicorn.protocols.http.h11_impl import H11Protocol

from bocadillo.errors import PROBLEM_MEDIA_TYPE, status_phrase
from bocadillo.runtime.sse import EVENT_STREAM, SERVER_STOPPING

try:
    import httptools
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - uvicorn[standard] installs it
    HAVE_HTTPTOOLS = False
else:
    HAVE_HTTPTOOLS = True

if TYPE_CHECKING:
    from uvicorn.config import Config
    from uvicorn.server import ServerState

__all__ = [
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_MAX_HEADERS",
    "DEFAULT_MAX_HEADER_SIZE",
    "HTTPImplementation",
    "HeaderLimits",
    "server_protocol",
]

DEFAULT_MAX_HEADER_SIZE = 16 * 1024  # bytes: the request target, header names and values
DEFAULT_MAX_HEADERS = 100  # header fields in one request
DEFAULT_HEADER_TIMEOUT = 10.0  # seconds for a request's header fields to arrive

HTTPImplementation = Literal["auto", "httptools", "h11"]

# What a head may hold beyond what max_header_size counts: "METHOD SP" and
# " HTTP/1.1" CRLF, ": " and CRLF on each line, the final CRLF, some whitespace.
_SLACK = 256
_SEPARATORS = 4  # ": " and CRLF, per header line

_logger = logging.getLogger("uvicorn.error")

# The phase of the request a connection is on.
_IDLE = 0  # between requests of a kept-alive connection (uvicorn's keep-alive timer runs)
_BODY = 1  # the head is complete (httptools: until the next request begins)
_WAIT = 2  # a new connection on which nothing came yet: a head is awaited
_HEAD = 3  # a request began, its head is awaited


@dataclasses.dataclass(frozen=True)
class HeaderLimits:
    """The limits on each request's head; see the module's docstring."""

    max_header_size: int = DEFAULT_MAX_HEADER_SIZE
    max_headers: int = DEFAULT_MAX_HEADERS
    header_timeout: float = DEFAULT_HEADER_TIMEOUT

    def __post_init__(self) -> None:
        if self.max_header_size < 1 or self.max_headers < 1 or not self.header_timeout > 0:
            raise ValueError(f"every limit must be positive: {self}")

    @property
    def raw_bound(self) -> int:
        """The bytes an incomplete head may hold before it is refused."""
        return self.max_header_size + _SEPARATORS * self.max_headers + _SLACK


def server_protocol(
    http: HTTPImplementation = "auto", limits: HeaderLimits | None = None
) -> type[asyncio.Protocol]:
    """The protocol for ``uvicorn.run(http=...)`` (or ``LiveServer(app, http=...)``).

    ``http="auto"`` takes httptools when it is installed, else h11, as uvicorn
    does; ``http="httptools"`` raises ``ImportError`` when it is not
    installed. The result is a picklable ``functools.partial`` of the protocol
    class (uvicorn only calls it), typed as the class uvicorn's signature asks
    for.
    """
    cls: type[asyncio.Protocol]
    if http == "h11" or (http == "auto" and not HAVE_HTTPTOOLS):
        cls = H11LimitsProtocol
    elif HAVE_HTTPTOOLS:
        cls = HttpToolsLimitsProtocol
    else:
        raise ImportError("httptools is not installed (pip install httptools)")
    return cast("type[asyncio.Protocol]", functools.partial(cls, limits=limits or HeaderLimits()))


def _status_line(status: int) -> bytes:
    return f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode()


class _Cycle(Protocol):
    """What the limits read of uvicorn's ``RequestResponseCycle`` (httptools' and h11's)."""

    response_started: bool
    response_complete: bool
    scope: Any
    message_event: asyncio.Event


def _end_event_stream(cycle: _Cycle | None) -> None:
    """At shutdown, tell an event stream in progress that its client left.

    uvicorn waits for every response to finish before it runs the app's
    shutdown, and an event stream only finishes when its client leaves: without
    this, one open stream holds a restart for the whole graceful timeout. The
    stream's watcher, woken by the event, reads the flag and ends the stream
    with its last chunk (the generator's ``finally`` and the providers'
    teardown run); a browser's ``EventSource`` then reconnects, to a new
    server, with its ``Last-Event-ID``.
    """
    if cycle is not None and not cycle.response_complete and cycle.scope.get(EVENT_STREAM):
        cycle.scope[SERVER_STOPPING] = True
        cycle.message_event.set()


class HeadLimitsMixin:
    """The state and the timer shared by both protocols.

    Listed after uvicorn's protocol class among the bases; the attributes it
    declares are uvicorn's. ``_start_limits`` is called by ``__init__``,
    ``_arm`` by ``connection_made``, ``_disarm`` wherever the connection stops
    being this protocol's (lost, or upgraded to a WebSocket).
    """

    # Slots: uvicorn's protocols already have some 30 attributes, and more in the
    # instance dict would stop it sharing its keys (slower attribute access).
    __slots__ = ("_deadline", "_phase", "_refusal", "_timeout", "_timer")

    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    server_state: ServerState
    client: tuple[str, int] | None

    def _cycle(self) -> _Cycle | None:
        """uvicorn's ``cycle``: the last request's (None before the first)."""
        raise NotImplementedError

    def _start_limits(self, limits: HeaderLimits) -> None:
        self._timeout = limits.header_timeout
        self._phase = _WAIT
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._refusal: tuple[int, str] | None = None  # once set, what comes in is ignored

    def _awaiting_head(self) -> bool:
        return self._phase >= _WAIT

    def _arm(self) -> None:
        """Start the clock of a new connection's first head."""
        self._deadline = self.loop.time() + self._timeout
        self._timer = self.loop.call_later(self._timeout, self._check_head)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _head_begins(self) -> None:
        """A request's first byte came: on a kept-alive connection, start its clock."""
        if self._phase == _IDLE:
            self._deadline = self.loop.time() + self._timeout
            if self._timer is None:
                self._timer = self.loop.call_later(self._timeout, self._check_head)
        self._phase = _HEAD

    def _busy(self) -> bool:
        """An earlier request of the connection is still being answered."""
        cycle = self._cycle()
        return cycle is not None and not cycle.response_complete

    def _check_head(self) -> None:
        """The timer: refuse a late head, else re-arm for when it would be late."""
        self._timer = None
        if not self._awaiting_head() or self.transport.is_closing():
            return  # re-armed by the next request's first byte
        now = self.loop.time()
        if self._busy():
            # The server does not read a pipelined request while it answers the one
            # before; the head's clock starts again when that answer is sent.
            delay = self._timeout
        elif now < self._deadline:
            delay = self._deadline - now
        elif self._phase == _HEAD:
            detail = f"The request's header fields did not arrive within {self._timeout:g} s."
            self._refuse(408, detail)
            return
        else:
            _logger.debug("%sNo request came within %g s: closed.", self._prefix(), self._timeout)
            self._disarm()
            self.transport.close()
            return
        self._timer = self.loop.call_later(delay, self._check_head)

    def _response_sent(self) -> None:
        """After uvicorn's ``on_response_complete``: a refusal's turn, or a head's clock."""
        if self._refusal is not None:
            if not self._busy():
                self._write_refusal(*self._refusal)
        elif self._awaiting_head():
            self._deadline = self.loop.time() + self._timeout

    def _refuse(self, status: int, detail: str, *, log: bool = True) -> None:
        """Answer ``status`` and close, after the answers to the requests before it."""
        if self._refusal is not None or self.transport.is_closing():
            return
        if log:
            _logger.warning("%s%d %s: %s", self._prefix(), status, status_phrase(status), detail)
        cycle = self._cycle()
        if cycle is not None and not cycle.response_complete:
            if self._awaiting_head():  # a pipelined request: answer it in its turn
                self._refusal = (status, detail)
                return
            if cycle.response_started:  # the current request: no room for another answer
                self._refusal = (status, detail)
                self.transport.close()
                return
        self._write_refusal(status, detail)

    def _write_refusal(self, status: int, detail: str) -> None:
        self._refusal = (status, detail)
        self._disarm()
        if self.transport.is_closing():
            return
        body = orjson.dumps(
            {
                "type": "about:blank",
                "title": status_phrase(status),
                "status": status,
                "detail": detail,
            }
        )
        content = [_status_line(status)]
        for name, value in self.server_state.default_headers:
            content += [name, b": ", value, b"\r\n"]
        content += [
            b"content-type: ",
            PROBLEM_MEDIA_TYPE.encode(),
            b"\r\ncontent-length: ",
            str(len(body)).encode(),
            b"\r\nconnection: close\r\n\r\n",
            body,
        ]
        self.transport.write(b"".join(content))
        self.transport.close()

    def _prefix(self) -> str:
        return f"{self.client[0]}:{self.client[1]} - " if self.client else ""


_FOLDED = re.compile(rb"\n[ \t]")
_FOLDED_DETAIL = "A header field is folded onto the next line (obs-fold)."
_BOTH_LENGTHS = "The request has both Content-Length and Transfer-Encoding."
_CHUNKED_HTTP_1_0 = "An HTTP/1.0 request has a Transfer-Encoding."
_NO_HOST = "An HTTP/1.1 request has no Host header."


def _too_large(limit: int) -> str:
    return f"The request target and header fields are larger than {limit} bytes."


def _too_many(limit: int) -> str:
    return f"The request has more than {limit} header fields."


# -- httptools ---------------------------------------------------------------------

if HAVE_HTTPTOOLS:

    class _HeadRefused(Exception):
        """Raised in a parser callback; httptools wraps it in ``HttpParserCallbackError``."""

    class HttpToolsLimitsProtocol(HttpToolsProtocol, HeadLimitsMixin):
        """uvicorn's httptools protocol with the limits on each request's head."""

        __slots__ = (
            "_count",
            "_heads",
            "_max_count",
            "_max_size",
            "_over",
            "_raw",
            "_raw_bound",
            "_size",
        )

        def __init__(
            self,
            config: Config,
            server_state: ServerState,
            app_state: dict[str, Any],
            _loop: asyncio.AbstractEventLoop | None = None,
            *,
            limits: HeaderLimits,
        ) -> None:
            super().__init__(config, server_state, app_state, _loop)
            self._start_limits(limits)
            self._max_size = limits.max_header_size
            self._max_count = limits.max_headers
            self._raw_bound = limits.raw_bound
            self._size = 0  # the target, names and values of the current head
            self._count = 0  # its header fields
            self._raw = 0  # the bytes of the current head, while it is incomplete
            self._heads = 0  # heads completed on this connection
            self._over: tuple[int, str] | None = None  # why a callback refused the head

        def _cycle(self) -> _Cycle | None:
            return self.cycle

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._refusal is not None:
                return  # refused: closing, or closing after the answers before the refusal
            self._unset_keepalive_if_required()
            phase, heads, cycle = self._phase, self._heads, self.cycle
            if phase == _BODY and cycle is not None and not cycle.more_body:
                phase = _IDLE  # the last request was read in full: what comes is a head
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserUpgrade:
                if self._should_upgrade():
                    self.handle_websocket_upgrade()
                else:
                    self._unsupported_upgrade_warning()
                return
            except httptools.HttpParserError:
                if self._over is not None:
                    self._refuse(*self._over)
                else:
                    self._refuse(400, "Invalid HTTP request received.")
                return
            if self._phase == _HEAD and phase != _BODY and heads == self._heads:
                # All of this read is part of a head that is still incomplete, which the
                # parser holds in memory until each field is complete: bound it. (A read
                # that also ended a head or a body is not counted; the next ones are.)
                self._raw += len(data)
                if self._raw > self._raw_bound:
                    self._refuse(431, _too_large(self._max_size))

        def _reject_head(self, detail: str, status: int = 431) -> None:
            self._over = (status, detail)
            raise _HeadRefused(detail)

        # The callbacks run for every request: they inline what they add (and, for
        # on_url and on_header, uvicorn's own lines) rather than call helpers.

        def on_message_begin(self) -> None:
            HttpToolsProtocol.on_message_begin(self)
            if self._heads:  # a kept-alive connection: this head's clock starts now
                self._deadline = self.loop.time() + self._timeout
                if self._timer is None:
                    self._timer = self.loop.call_later(self._timeout, self._check_head)
            self._phase = _HEAD
            self._size = self._count = 0

        def on_url(self, url: bytes) -> None:
            self._size += len(url)
            if self._size > self._max_size:
                self._reject_head(_too_large(self._max_size))
            self.url += url

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count += 1
            self._size += len(name) + len(value)
            if self._count > self._max_count:
                self._reject_head(_too_many(self._max_count))
            if self._size > self._max_size:
                self._reject_head(_too_large(self._max_size))
            name = name.lower()
            if name == b"expect" and value.lower() == b"100-continue":
                self.expect_100_continue = True
            self.headers.append((name, value))

        def on_headers_complete(self) -> None:
            version = self.parser.get_http_version()
            if version == "1.1":
                for name, _ in self.headers:
                    if name == b"host":
                        break
                else:
                    self._reject_head(_NO_HOST, 400)  # RFC 9112 section 3.2
            elif any(name == b"transfer-encoding" for name, _ in self.headers):
                self._reject_head(_CHUNKED_HTTP_1_0, 400)  # RFC 9112 section 6.1
            self._phase = _BODY  # until the next request begins
            self._raw = 0
            self._heads += 1
            HttpToolsProtocol.on_headers_complete(self)

        def on_response_complete(self) -> None:
            HttpToolsProtocol.on_response_complete(self)
            if self._refusal is not None or self._phase == _HEAD:
                self._response_sent()

        def handle_websocket_upgrade(self) -> None:
            self._disarm()
            super().handle_websocket_upgrade()

        def shutdown(self) -> None:
            cycle = self.cycle
            HttpToolsProtocol.shutdown(self)
            _end_event_stream(cycle)


# -- h11 ---------------------------------------------------------------------------


class _LimitedConnection(h11.Connection):
    """An ``h11.Connection`` that checks each ``Request``'s head against the limits
    and refuses the framings httptools refuses.

    ``refusal`` is the status and detail of the last error, for the protocol's
    ``send_400_response``: h11 hints 431 for a head over its incomplete-event
    size, which is set to ``raw_bound``, and this class for a complete head
    over the limits (431) or with an ambiguous framing (400; see ``_framing``).
    """

    def __init__(self, limits: HeaderLimits) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=limits.raw_bound)
        self._max_size = limits.max_header_size
        self._max_count = limits.max_headers
        self.refusal: tuple[int, str] | None = None

    def next_event(self) -> Any:
        if self.their_state is h11.IDLE:
            # A head is awaited: h11 would unfold a line folded onto the next (obs-fold).
            head = self.trailing_data[0]
            end = head.find(b"\n\r\n") + 1 or head.find(b"\n\n") + 1
            if end and _FOLDED.search(head, 0, end):
                self.refusal = (400, _FOLDED_DETAIL)
                raise h11.RemoteProtocolError(_FOLDED_DETAIL, error_status_hint=400)
        try:
            event = super().next_event()
        except h11.RemoteProtocolError as exc:
            if exc.error_status_hint == 431:
                self.refusal = (431, _too_large(self._max_size))
            raise
        if type(event) is h11.Request:
            headers = event.headers
            if len(headers) > self._max_count:
                self.refusal = (431, _too_many(self._max_count))
            elif len(event.target) + sum(len(n) + len(v) for n, v in headers) > self._max_size:
                self.refusal = (431, _too_large(self._max_size))
            else:
                detail = _framing(event)
                if detail is None:
                    return event
                self.refusal = (400, detail)
                raise h11.RemoteProtocolError(detail, error_status_hint=400)
            raise h11.RemoteProtocolError(self.refusal[1], error_status_hint=431)
        return event


def _framing(request: h11.Request) -> str | None:
    """Why ``request``'s body framing is ambiguous (RFC 9112 section 6.1), if it is.

    h11 frames a request that has both ``Content-Length`` and
    ``Transfer-Encoding`` by the latter, and an HTTP/1.0 request by its
    ``Transfer-Encoding``: a proxy in front that reads either differently sees
    another request in the body (request smuggling). httptools refuses both.
    """
    names = [name for name, _ in request.headers]
    if b"transfer-encoding" not in names:
        return None
    if b"content-length" in names:
        return _BOTH_LENGTHS
    if request.http_version == b"1.0":
        return _CHUNKED_HTTP_1_0
    return None


class H11LimitsProtocol(H11Protocol, HeadLimitsMixin):
    """uvicorn's h11 protocol with the limits on each request's head.

    A head is awaited while h11 waits for a ``Request`` (``their_state`` is
    ``IDLE``): on a new connection, and from a request's first byte on a
    kept-alive one.
    """

    conn: _LimitedConnection

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: HeaderLimits,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.conn = _LimitedConnection(limits)
        self._start_limits(limits)

    def _cycle(self) -> _Cycle | None:
        return self.cycle

    def _awaiting_head(self) -> bool:
        return self._phase >= _WAIT and self.conn.their_state is h11.IDLE

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None:
            return  # refused: closing
        if self._phase == _WAIT:
            self._phase = _HEAD
        elif self._phase == _IDLE and self.conn.their_state is h11.IDLE:
            self._head_begins()
        super().data_received(data)

    def shutdown(self) -> None:
        cycle = self.cycle
        super().shutdown()
        _end_event_stream(cycle)

    def send_400_response(self, msg: str) -> None:
        refusal, self.conn.refusal = self.conn.refusal, None
        if refusal is None:  # uvicorn has logged it
            self._refuse(400, msg, log=False)
        else:
            self._refuse(*refusal)

    def on_response_complete(self) -> None:
        self._phase = _IDLE  # before a pipelined request, which super() reads
        super().on_response_complete()
        self._response_sent()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._disarm()
        super().handle_websocket_upgrade(event)
