"""Hostile input for the property tests of ``test_hostile_input.py``: a raw ASGI caller
that runs in a test client's event loop, the strategies (bodies, content types, query
strings, path segments, headers, WebSocket frames) and the checks every answer must
pass.

Everything a real server could hand an app is fair game: a raw path is ASCII (the
server percent-decodes it into ``path``, as uvicorn does), header names are tokens and
values are visible ASCII, spaces and obs-text (no leading or trailing whitespace).
A query string and a body are any bytes.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import string
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote, unquote

import anyio
from hypothesis import strategies as st

from bocadillo.testing import Client

PROBLEM_JSON = "application/problem+json"
TIMEOUT = 10.0  # seconds any one request may take before the test calls it a hang
TRACEBACK_MARKERS = (b"Traceback (most recent call last)", b'File "/', b"site-packages")

Headers = list[tuple[bytes, bytes]]


# -- calling the app -------------------------------------------------------------------


@dataclasses.dataclass
class RawResponse:
    """What the app sent back; ``status`` is None when it sent nothing (the client left)."""

    status: int | None
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: str) -> str | None:
        key = name.lower().encode()
        values = [v for k, v in self.headers if k.lower() == key]
        return values[0].decode("latin-1") if values else None


@dataclasses.dataclass
class WebSocketTranscript:
    """A handshake and what followed: accepted or refused (with its response, if any),
    the messages the app sent, and the close code."""

    accepted: bool
    refusal: RawResponse | None
    sent: list[dict[str, Any]]
    close_code: int | None


def make_scope(
    kind: str, method: str, raw_path: bytes, query: bytes, headers: Headers, extension: bool = True
) -> dict[str, Any]:
    """The scope a server builds for a request line ``method raw_path?query``."""
    scope: dict[str, Any] = {
        "type": kind,
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "http" if kind == "http" else "ws",
        "path": unquote(raw_path.decode("ascii")),  # uvicorn's decoding
        "raw_path": raw_path,
        "root_path": "",
        "query_string": query,
        "headers": headers,
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    if kind == "http":
        scope["method"] = method
    else:
        scope["subprotocols"] = []
        # A server that can answer a refused handshake with an HTTP response says so.
        scope["extensions"] = {"websocket.http.response": {}} if extension else {}
    return scope


class Caller:
    """Sends exact scopes and bytes to an app in the event loop of a ``Client`` whose
    ``with`` block (the app's lifespan) is open, so app providers and running jobs
    live in one loop."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.app = client.app

    def call(self, function: Callable[..., Any], *args: Any) -> Any:
        portal = self.client.portal
        assert portal is not None, "the client's with block is not open"
        return portal.call(function, *args)

    def http(
        self,
        method: str,
        raw_path: bytes,
        *,
        query: bytes = b"",
        headers: Headers | None = None,
        chunks: Sequence[bytes] = (b"",),
        leave: bool = False,
    ) -> RawResponse:
        """One request; with ``leave``, the client goes before the body's end."""
        if headers is None:
            headers = [(b"host", b"testserver")]
        scope = make_scope("http", method, raw_path, query, headers)
        result: RawResponse = self.call(self._http, scope, list(chunks), leave)
        return result

    async def _http(self, scope: dict[str, Any], chunks: list[bytes], leave: bool) -> RawResponse:
        incoming = [
            {"type": "http.request", "body": chunk, "more_body": leave or i < len(chunks) - 1}
            for i, chunk in enumerate(chunks)
        ]
        finished = anyio.Event()
        start: dict[str, Any] = {}
        body: list[bytes] = []

        async def receive() -> dict[str, Any]:
            if incoming:
                return incoming.pop(0)
            if leave:
                return {"type": "http.disconnect"}
            # The whole request was sent: the client waits for the whole answer (or a
            # while, for a stream that does not end), then goes.
            with anyio.move_on_after(TIMEOUT / 4):
                await finished.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                assert not start, "a second http.response.start"
                start.update(message)
            elif message["type"] == "http.response.body":
                assert start, "a body before http.response.start"
                body.append(message.get("body", b""))
                if not message.get("more_body", False):
                    finished.set()

        with anyio.fail_after(TIMEOUT):
            await self.app(scope, receive, send)
        if not start:
            return RawResponse(None, [], b"")
        return RawResponse(start["status"], list(start.get("headers", [])), b"".join(body))

    def websocket(
        self,
        raw_path: bytes,
        *,
        query: bytes = b"",
        headers: Headers | None = None,
        frames: Sequence[dict[str, Any]] = (),
        extension: bool = True,
    ) -> WebSocketTranscript:
        if headers is None:
            headers = [(b"host", b"testserver")]
        scope = make_scope("websocket", "GET", raw_path, query, headers, extension)
        result: WebSocketTranscript = self.call(self._websocket, scope, list(frames))
        return result

    async def _websocket(
        self, scope: dict[str, Any], frames: list[dict[str, Any]]
    ) -> WebSocketTranscript:
        incoming: list[dict[str, Any]] = [{"type": "websocket.connect"}, *frames]
        sent: list[dict[str, Any]] = []
        refusal: dict[str, Any] = {}
        refusal_body: list[bytes] = []
        accepted = False
        close_code: int | None = None

        async def receive() -> dict[str, Any]:
            # The handshake, then the frames in order (the app answers each before it
            # asks for the next), then the client leaves.
            if incoming:
                return incoming.pop(0)
            return {"type": "websocket.disconnect", "code": 1000}

        async def send(message: dict[str, Any]) -> None:
            nonlocal accepted, close_code
            kind = message["type"]
            if kind == "websocket.accept":
                accepted = True
            elif kind == "websocket.close":
                close_code = message.get("code", 1000)
            elif kind == "websocket.http.response.start":
                refusal.update(message)
            elif kind == "websocket.http.response.body":
                refusal_body.append(message.get("body", b""))
            else:
                sent.append(message)

        with anyio.fail_after(TIMEOUT):
            await self.app(scope, receive, send)
        response = None
        if refusal:
            response = RawResponse(
                refusal["status"], list(refusal.get("headers", [])), b"".join(refusal_body)
            )
        return WebSocketTranscript(accepted, response, sent, close_code)


# -- the checks ------------------------------------------------------------------------


def check_answer(method: str, response: RawResponse, context: str = "") -> None:
    """No 5xx; every 4xx a problem+json whose ``status`` is the response's; no traceback;
    a redirect stays on this site."""
    where = f"{context}\n{response.status} {response.headers!r}\n{response.body[:2000]!r}"
    if response.status is None:
        return  # the client left before an answer; nothing was sent
    assert response.status < 500, where
    for name, value in response.headers:
        # What a server would refuse to send (or would send as a second header).
        assert name and all(chr(c) in TCHAR for c in name), where
        assert not any(c in value for c in b"\r\n\x00"), where
    for marker in TRACEBACK_MARKERS:
        assert marker not in response.body, where
    if 400 <= response.status < 500:
        content_type = response.header("content-type")
        assert content_type == PROBLEM_JSON, where
        if method == "HEAD":
            assert response.body == b"", where
            return
        try:
            problem = json.loads(response.body)
        except ValueError:
            raise AssertionError(f"a 4xx whose body is not JSON: {where}") from None
        assert isinstance(problem, dict), where
        assert isinstance(problem.get("type"), str), where
        assert isinstance(problem.get("title"), str) and problem["title"], where
        assert problem.get("status") == response.status, where
    if 300 <= response.status < 400:
        location = response.header("location")
        assert location is not None, where
        # Our own path (or URL): never a scheme-relative //host or another site.
        assert location.startswith("/") and not location.startswith("//"), where
        assert "\\" not in location, where


def mostly(
    benign: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    """``benign`` seven times in ten, else ``hostile`` (drawn only when chosen)."""
    return st.integers(0, 9).flatmap(lambda i: hostile if i in (2, 5, 8) else benign)


# -- methods ---------------------------------------------------------------------------

DECLARABLE = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
STRANGE_METHODS = ["TRACE", "CONNECT", "PROPFIND", "BREW", "get", "M-SEARCH", "X" * 200]


def methods(declared: Sequence[str]) -> st.SearchStrategy[str]:
    """Mostly the route's own methods, then the others (and some no router knows)."""
    own = sorted(set(declared) | ({"HEAD"} if "GET" in declared else set()))
    others = [m for m in DECLARABLE if m not in own] + STRANGE_METHODS
    if not own:
        return st.sampled_from(others)
    # About four in five requests use one of the route's methods (3 and 6 are not the
    # bounds hypothesis favours, so the share holds in a short run).
    return st.tuples(st.integers(0, 9), st.sampled_from(own), st.sampled_from(others)).map(
        lambda t: t[2] if t[0] in (3, 6) else t[1]
    )


# -- JSON text, including what JSON forbids ----------------------------------------------

HUGE_DIGITS = "9" * 5000
NUMBER_TOKENS = [
    "NaN", "-NaN", "nan", "Infinity", "-Infinity", "inf", "1e999", "-1e999", "1e-999",
    "1E400", HUGE_DIGITS, "-" + HUGE_DIGITS, "0." + HUGE_DIGITS, "1" + "0" * 400 + ".5",
    "9007199254740993", "18446744073709551616", "-9223372036854775809", "0x10", "01", "+1",
    ".5", "1.", "1e", "-", "--1", "1_000", "-0", "0e0", "1.7976931348623157e309",
]  # fmt: skip
STRING_TOKENS = [
    r'"\ud800"', r'"\udfff\ud800"', r'"\u0000"', r'"\u00"', r'"\x41"', "'single'",
    '"tab\there"', '"line\nbreak"', '"\x00"', '"\x7f"', '"é"', '"\U0001f600"', '"\\"',
    '"unterminated', '"' + "x" * 5000 + '"', '"' + "é" * 2000 + '"', '""', '" "',
]  # fmt: skip
OTHER_TOKENS = ["true", "false", "null", "True", "None", "undefined", "tru", "nul", "{}", "[]"]
KEYS = ["title", "done", "tags", "text", "label", "steps", "name", "type", "id", "", "__proto__"]


@functools.cache
def json_scalars() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(NUMBER_TOKENS + STRING_TOKENS + OTHER_TOKENS),
        st.integers().map(str),
        st.floats(allow_nan=False, allow_infinity=False).map(repr),
        st.text(max_size=20).map(lambda s: json.dumps(s, ensure_ascii=False)),
    )


def _array(items: list[str]) -> str:
    return "[" + ",".join(items) + "]"


def _object(members: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f"{json.dumps(key)}:{value}" for key, value in members) + "}"


@functools.cache
def json_texts() -> st.SearchStrategy[str]:
    """JSON-like text, values and keys drawn from the tokens above (duplicate keys
    come naturally: there are few of them)."""
    return st.recursive(
        json_scalars(),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4).map(_array),
            st.lists(st.tuples(st.sampled_from(KEYS) | st.text(max_size=8), inner), max_size=5).map(
                _object
            ),
        ),
        max_leaves=8,
    )


@functools.cache
def deep_nesting() -> st.SearchStrategy[str]:
    depth = st.sampled_from([64, 128, 255, 256, 257, 1000, 10_000, 100_000])
    return st.one_of(
        depth.map(lambda n: "[" * n + "]" * n),
        depth.map(lambda n: '{"a":' * n + "1" + "}" * n),
        depth.map(lambda n: '{"title":' + "[" * n + "]" * n + "}"),
        depth.map(lambda n: '{"tags":[' + '{"x":' * n + "0" + "}" * n + "]}"),
        depth.map(lambda n: "[" * n),  # never closed
    )


def with_hostile_member(valid: dict[str, Any], key: str, value: str) -> str:
    """``valid`` as JSON text with ``key`` set to the raw text ``value`` (kept as
    well as replaced, sometimes: a duplicate key)."""
    members = [(k, json.dumps(v)) for k, v in valid.items() if k != key]
    return _object([*members, (key, value)])


def json_bodies(valid: st.SearchStrategy[dict[str, Any]] | None) -> st.SearchStrategy[bytes]:
    """Bodies whose text is JSON-ish: wrong shapes, forbidden numbers and strings,
    deep nesting, truncation, trailing garbage, duplicate keys; and, when the route
    has a body type, a valid body with one member made hostile."""
    texts = [json_texts(), deep_nesting()]
    if valid is not None:
        texts.append(
            st.tuples(valid, st.sampled_from(KEYS), json_texts() | deep_nesting()).map(
                lambda t: with_hostile_member(*t)
            )
        )
        texts.append(  # the same member twice: the last one hostile
            st.tuples(valid, json_scalars()).map(
                lambda t: json.dumps(t[0])[:-1] + ("," if t[0] else "") + f'"title":{t[1]}}}'
            )
        )
    text = st.one_of(*texts)
    return st.one_of(
        text.map(lambda s: s.encode("utf-8", "surrogatepass")),
        st.tuples(text, st.integers(0, 200)).map(lambda t: t[0][: t[1]].encode()),  # truncated
        text.map(lambda s: (s + " x").encode()),  # trailing garbage
        text.map(lambda s: (s + s).encode()),  # two documents
        text.map(lambda s: b"\xef\xbb\xbf" + s.encode()),  # a byte-order mark
        text.map(lambda s: s.encode("utf-16")),
        text.map(lambda s: ("/* c */" + s).encode()),
    )


INVALID_UTF8 = [
    b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
    b"\x80", b"\xc3", b"\xc3\x28", b"\xf0\x28\x8c\xbc",
]  # fmt: skip


def invalid_utf8(valid: st.SearchStrategy[dict[str, Any]] | None) -> st.SearchStrategy[bytes]:
    base = (valid if valid is not None else st.just({"title": "x"})).map(
        lambda v: json.dumps(v).encode()
    )
    return st.tuples(base, st.integers(0, 1000), st.sampled_from(INVALID_UTF8)).map(
        lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :]
    )


@functools.cache
def big_bodies() -> st.SearchStrategy[bytes]:
    """Around the default 1 MiB limit, and far past it (built, not drawn)."""
    return st.sampled_from(
        [
            b'{"title": "' + b"x" * 100_000 + b'"}',
            b'{"title": "' + b"x" * (1024 * 1024 - 14) + b'"}',  # exactly 1 MiB
            b'{"title": "' + b"x" * (1024 * 1024) + b'"}',  # just over
            b"[" + b"1," * 600_000 + b"1]",
            b'{"text": "' + b"\\u0000" * 80_000 + b'"}',
        ]
    )


def bodies(valid: st.SearchStrategy[dict[str, Any]] | None) -> st.SearchStrategy[bytes]:
    return st.one_of(
        json_bodies(valid),
        invalid_utf8(valid),
        st.binary(max_size=300),
        st.just(b""),
        st.sampled_from([b" ", b"\n", b"\x00", b"null", b"{}", b"[]", b"0", b'""', b"a=1&b=2"]),
        big_bodies(),
        (valid if valid is not None else st.just({})).map(lambda v: json.dumps(v).encode()),
    )


CONTENT_TYPES = [
    None, "application/json", "application/json; charset=utf-8",
    "application/json; charset=latin-1", "application/json; charset=utf-16",
    "application/json; charset=\"", "application/json;;;", "application/json; =", "text/plain",
    "text/json", "application/problem+json", "application/merge-patch+json",
    "application/vnd.api+json", "multipart/form-data", "multipart/form-data; boundary=",
    "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "*/*",
    "application/*", "application", "/", ";", "", "APPLICATION/JSON",
    "application/json, text/plain", "application/json\tx", "application/octet-stream", "image/png",
]  # fmt: skip


@functools.cache
def content_types() -> st.SearchStrategy[list[str]]:
    """Zero, one or two Content-Type headers; half the time the right one, so that the
    body itself is read."""
    one = st.sampled_from(CONTENT_TYPES) | header_values()
    return st.one_of(
        st.just(["application/json"]),
        st.just(["application/json"]),
        one.map(lambda v: [] if v is None else [v]),
        st.lists(one.filter(lambda v: v is not None), min_size=2, max_size=2),
    )


def _lengths(size: int, lie: str) -> list[str]:
    """The Content-Length headers for a body of ``size`` bytes: the truth, none, or a lie."""
    return {
        "true": [str(size)],
        "none": [],  # chunked
        "shorter": [str(max(size - 1, 0))],
        "longer": [str(size + 1)],
        "far longer": [str(size * 1000 + 5)],
        "twice": [str(size), str(size)],
        "two lengths": [str(size), str(size + 1)],
    }.get(lie, [lie])


@functools.cache
def content_length_lies() -> st.SearchStrategy[str]:
    """How a request states its body's length: truly (or not at all: chunked), or with a
    lie: shorter, longer, twice, not a number."""
    return st.one_of(
        st.sampled_from(["true", "true", "none"]),
        st.sampled_from(
            [
                *["shorter", "longer", "far longer", "twice", "two lengths", "0", "-1", "abc"],
                *["1e3", "+5", " 5", "0x10", HUGE_DIGITS, "99999999999999999999", ""],
            ]
        ),
    )


def split(body: bytes, cuts: list[int]) -> list[bytes]:
    """``body`` in pieces at ``cuts`` (empty pieces kept: a server may send them)."""
    points = sorted(min(c, len(body)) for c in cuts)
    pieces, last = [], 0
    for point in points:
        pieces.append(body[last:point])
        last = point
    pieces.append(body[last:])
    return pieces


@dataclasses.dataclass
class Body:
    headers: Headers
    chunks: list[bytes]
    leave: bool = False  # the client goes before the body's end

    def __repr__(self) -> str:
        shown = b"".join(self.chunks)
        text = repr(shown[:200]) + (f"... ({len(shown)} bytes)" if len(shown) > 200 else "")
        left = ", then the client leaves" if self.leave else ""
        return f"Body(headers={self.headers!r}, {len(self.chunks)} chunks, {text}{left})"


def request_bodies(valid: st.SearchStrategy[dict[str, Any]] | None) -> st.SearchStrategy[Body]:
    """A body with its Content-Type and Content-Length headers, sent in one to four
    chunks; sometimes the client leaves before the last one."""

    def build(parts: tuple[bytes, list[str], str, list[float], bool]) -> Body:
        body, types, lie, cuts, leave = parts
        headers: Headers = [(b"content-type", v.encode("latin-1")) for v in types]
        headers += [(b"content-length", v.encode()) for v in _lengths(len(body), lie)]
        return Body(headers, split(body, [int(c * len(body)) for c in cuts]), leave)

    return st.tuples(
        bodies(valid),
        content_types(),
        content_length_lies(),
        st.lists(st.floats(0, 1), max_size=3),
        mostly(st.just(False), st.just(True)),
    ).map(build)


# -- headers ---------------------------------------------------------------------------

TCHAR = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
VISIBLE = "".join(chr(c) for c in range(0x21, 0x7F))
OBS_TEXT = "".join(chr(c) for c in range(0x80, 0x100))


@functools.cache
def header_names() -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(TCHAR), min_size=1, max_size=30)


@functools.cache
def header_values() -> st.SearchStrategy[str]:
    """A field value as HTTP allows it: visible characters, obs-text, inner spaces/tabs."""
    inner = st.text(st.sampled_from(VISIBLE + OBS_TEXT + " \t"), max_size=60)
    edge = st.sampled_from(VISIBLE + OBS_TEXT)
    return st.one_of(
        st.just(""),
        edge,
        st.tuples(edge, inner, edge).map("".join),
        st.sampled_from(["x" * 10_000, "é" * 100, "\x80\xff", "a\tb", '"', "=", ",", ";"]),
    )


HOSTS = [
    "", "evil.example", "testserver:99999", "testserver:-1", "testserver:abc", "testserver:",
    ":80", "[::1]", "[::1", "::1", "[::1]:80", "[zz]", "1.2.3.4", "999.999.999.999",
    "testserver:80:80", "user@testserver", "testserver/path", "testserver?x", "test server",
    "a" * 300, ("a" * 63 + ".") * 5, "xn--", "-bad-.example", "testserver.", "..", "%74estserver",
    "TESTSERVER", "testserver\t", "é.example", "localhost:0",
]  # fmt: skip

ACCEPTS = [
    "*/*", "application/json", "application/problem+json", "text/html", "text/event-stream",
    "application/json;q=0", "*/*;q=nan", "*/*;q=-1", "*/*;q=1e999", "text/*, */*;q=0.1",
    ";;;,,,", "application/json;q=" + "9" * 500, "image/png",
]  # fmt: skip

AUTHORIZATIONS = [
    "Bearer", "Bearer ", "Bearer  token", "bearer x", "Basic", "Basic !!!", "Basic Og==",
    "Basic " + "A" * 5000, "Basic w6k=", "Digest username=", "Token", "x" * 5000,
    "Bearer a b c", "Basic YTpiOmM=",
]  # fmt: skip

LAST_EVENT_IDS = [
    "", "0", "1", "-1", "abc", "1e3", "1.5", " 1", "+1", "0x10", HUGE_DIGITS, "9" * 30,
    "1" * 19, "NaN", "Infinity", "\u0663", "1\t", "null", "true",
]  # fmt: skip

SPECIAL_HEADERS: dict[str, list[str]] = {
    "accept": ACCEPTS,
    "authorization": AUTHORIZATIONS,
    "last-event-id": LAST_EVENT_IDS,
    "cookie": ["a", "=", "a=b; a=c", ";;", "session=" + "x" * 5000, 'a="b', "a=\x80"],
    "origin": ["http://localhost:5173", "null", "http://evil.example", "*", "", "x" * 500],
    "access-control-request-method": ["GET", "POST", "DELETE", "FOO", "", "GET, POST"],
    "access-control-request-headers": ["content-type", "x-evil", ",", "content-type, x"],
    "accept-encoding": ["gzip", "gzip;q=0", "br, gzip;q=nan", "*", "identity;q=0", ",,,"],
    "content-encoding": ["gzip", "br", "identity", "x"],
    "transfer-encoding": ["chunked", "gzip, chunked", "identity", "x"],
    "expect": ["100-continue", "x"],
    "range": ["bytes=0-0", "bytes=9-1", "bytes=-0", "bytes=0-0," * 200, "bytes=x", "lines=1-2"],
    "if-none-match": ['"x"', "*", "W/", '"' * 3],
    "if-modified-since": ["yesterday", "Thu, 01 Jan 1970 00:00:00 GMT", "0", "9" * 40],
    "if-range": ["x", "Thu, 01 Jan 1970 00:00:00 GMT"],
    "upgrade": ["websocket", "h2c", "x"],
    "x-forwarded-proto": ["https", "gopher"],
    "x-forwarded-for": ["1.2.3.4", "x"],
}


@functools.cache
def special_headers() -> st.SearchStrategy[tuple[str, str]]:
    return st.sampled_from(sorted(SPECIAL_HEADERS)).flatmap(
        lambda name: st.tuples(
            st.just(name), st.sampled_from(SPECIAL_HEADERS[name]) | header_values()
        )
    )


@functools.cache
def host_headers() -> st.SearchStrategy[list[str]]:
    """The Host headers of a request: the right one, none, a hostile one, or two."""
    host = st.sampled_from(HOSTS) | header_values()
    return st.one_of(
        st.just(["testserver"]),
        st.just(["testserver"]),
        st.just(["testserver"]),
        st.just([]),
        host.map(lambda h: [h]),
        st.lists(host | st.just("testserver"), min_size=2, max_size=3),
    )


@functools.cache
def preflights() -> st.SearchStrategy[list[tuple[str, str]]]:
    """What a browser sends before a cross-origin request (answered by the CORS layer,
    not a route), with any origin, method and headers."""
    return st.tuples(
        st.sampled_from(SPECIAL_HEADERS["origin"]) | header_values(),
        st.sampled_from(SPECIAL_HEADERS["access-control-request-method"]) | header_values(),
        st.none() | st.sampled_from(SPECIAL_HEADERS["access-control-request-headers"]),
    ).map(
        lambda t: (
            [("origin", t[0]), ("access-control-request-method", t[1])]
            + ([("access-control-request-headers", t[2])] if t[2] is not None else [])
        )
    )


@functools.cache
def ranges() -> st.SearchStrategy[list[tuple[str, str]]]:
    """A Range header (and sometimes If-Range), for the routes that serve files."""
    spec = st.one_of(
        st.sampled_from(SPECIAL_HEADERS["range"]),
        st.tuples(st.integers(-5, 10**6), st.integers(-5, 10**6)).map(
            lambda t: f"bytes={t[0]}-{t[1]}"
        ),
        st.integers(0, 10**6).map(lambda n: f"bytes=-{n}"),
        st.integers(0, 10**6).map(lambda n: f"bytes={n}-"),
        header_values(),
    )
    return st.tuples(spec, st.none() | st.sampled_from(SPECIAL_HEADERS["if-range"])).map(
        lambda t: [("range", t[0])] + ([("if-range", t[1])] if t[1] is not None else [])
    )


@functools.cache
def header_lists() -> st.SearchStrategy[Headers]:
    """A request's headers: Host (hostile or not), a CORS preflight's, a Range, known
    headers with hostile values, random ones, any of them repeated, in any order."""

    def build(parts: tuple[list[str], list[tuple[str, str]], ...]) -> Headers:
        hosts, preflight, byte_range, special, other, randoms = parts
        pairs = [("host", h) for h in hosts] + preflight + byte_range + special + other
        randoms.shuffle(pairs)
        return [(name.lower().encode(), value.encode("latin-1")) for name, value in pairs]

    return st.tuples(
        host_headers(),
        mostly(st.just([]), preflights()),
        mostly(st.just([]), ranges()),
        st.lists(special_headers(), max_size=4),
        st.lists(st.tuples(header_names(), header_values()), max_size=4),
        st.randoms(use_true_random=False),
    ).map(build)


# -- query strings ---------------------------------------------------------------------

QUERY_VALUES = [
    "", "abc", "1e999", "-1e999", "NaN", "inf", "-0", "0", "1", "-1", "101", HUGE_DIGITS,
    "9" * 30, "1.5", "true", "false", "null", "%zz", "%ff", "%c3%28", "%00", "%", "%2", "%%",
    "\x00", "\x01\x1f", "\x7f", "%E2%80%AE", "x" * 10_000, "+", "%2B", "a%26b%3Dc", "[]",
    "id", "-id", "title", "name", "%ED%A0%80", "é", "\xff",
]  # fmt: skip

QUERY_BYTES = st.binary(max_size=40)


def _query_item(key: bytes, value: bytes | None) -> bytes:
    return key if value is None else key + b"=" + value


@functools.cache
def query_values() -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.sampled_from(QUERY_VALUES).map(lambda v: v.encode("utf-8", "surrogatepass")),
        st.text(max_size=20).map(lambda v: quote(v).encode()),
        st.text(max_size=20).map(lambda v: v.encode("utf-8", "surrogatepass")),
        QUERY_BYTES,
    )


def query_strings(keys: Sequence[str]) -> st.SearchStrategy[bytes]:
    """Query strings over the route's own keys and others: repeated keys, keys with no
    value, hostile values and percent-encodings, raw bytes, odd separators."""
    key = st.one_of(
        st.sampled_from(list(keys) or ["x"]).map(str.encode),
        st.sampled_from(list(keys) or ["x"]).map(str.encode),
        st.sampled_from([*keys, "x", "", "limit", "id", "%zz", "a[b]", "\x00"]).map(str.encode),
        QUERY_BYTES,
    )
    item = st.tuples(key, st.none() | query_values()).map(lambda t: _query_item(*t))
    separator = st.sampled_from([b"&", b"&", b"&", b";", b"&&", b"&=&"])
    return st.one_of(
        st.lists(st.tuples(item, separator), max_size=6).map(
            lambda items: b"".join(i + s for i, s in items)
        ),
        QUERY_BYTES,
        st.sampled_from([b"", b"&", b"=", b"==", b"?", b"#", b"a=1#b", b"&" * 5000]),
        st.sampled_from(list(keys) or ["x"]).map(lambda k: (k + "=1&").encode() * 2000),
    )


# -- path segments ---------------------------------------------------------------------

SEGMENTS = [
    "", ".", "..", "...", "%2e%2e", "%2E%2E", "%2F", "%2f", "..%2F..%2Fetc%2Fpasswd",
    "a%2Fb", "%5C", "..%5C..", "%00", "%ff", "%c3%28", "%zz", "%", "%25", "1", "0", "-1",
    "+1", "01", "1.0", "1e3", "1e999", "NaN", "inf", "0x1", "\u0663", "\uff11", HUGE_DIGITS,
    "9" * 20, "-" + HUGE_DIGITS, "%E2%80%AE", "%F0%9F%98%80", "x" * 5000, "%20", "%09", ";x",
    "lobby", "LOBBY", "-", "a" * 33, "con", "~", "%7e", "index.html", "chat.css", "%0d%0a",
]  # fmt: skip

SAFE = string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@"


@functools.cache
def path_segments() -> st.SearchStrategy[str]:
    """One raw path segment (ASCII, as a server receives it): hostile literals, random
    text percent-encoded, raw characters a segment may hold."""
    return st.one_of(
        st.sampled_from([quote(s, safe=SAFE + "%") for s in SEGMENTS]),  # unicode encoded
        st.text(max_size=30).map(lambda s: quote(s, safe="")),
        st.text(st.sampled_from(SAFE + "%"), max_size=30),
        st.binary(max_size=10).map(lambda b: "".join(f"%{c:02X}" for c in b)),
    )


def fill_path(template: str, values: dict[str, str]) -> bytes:
    """``/todos/{id}`` with ``id`` set to a raw segment; ``{rest:path}`` takes any
    number of them."""
    path = template
    for name, value in values.items():
        path = path.replace("{" + name + "}", value).replace("{" + name + ":path}", value)
    return path.encode("ascii")


def raw_paths(
    template: str, names: Sequence[str], benign: dict[str, str]
) -> st.SearchStrategy[bytes]:
    """The route's path with hostile segments in its placeholders (one or all), or extra
    segments and slashes around them."""
    if not names:
        return st.just(template.encode())
    hostile = st.fixed_dictionaries({name: path_segments() for name in names})
    several = st.lists(path_segments(), min_size=1, max_size=4).map("/".join)
    one = st.sampled_from(list(names)).flatmap(
        lambda n: (path_segments() | several).map(lambda v: {**benign, n: v})
    )
    filled = (hostile | one).map(lambda values: fill_path(template, values))
    return st.one_of(
        filled,
        filled,
        filled,
        filled.map(lambda p: p + b"/"),
        filled.map(lambda p: p.replace(b"/", b"//", 1)),
        filled.map(lambda p: p + b"/%2e%2e/%2e%2e"),
    )


# -- WebSocket frames ------------------------------------------------------------------


def websocket_frames(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """One frame: hostile text (JSON-ish, deep, huge), raw bytes, or a valid message."""
    text = st.one_of(
        json_texts(),
        deep_nesting(),
        valid.map(json.dumps),
        st.sampled_from(
            ["", " ", "x" * 70_000, '{"type": "say", "text": "' + "x" * 2_000_000 + '"}']
        ),
    )
    return st.one_of(
        text.map(lambda t: {"type": "websocket.receive", "text": t}),
        st.binary(max_size=100).map(lambda b: {"type": "websocket.receive", "bytes": b}),
        valid.map(lambda v: {"type": "websocket.receive", "bytes": json.dumps(v).encode()}),
    )
