"""The limits on each request's head (``bocadillo/cli/server.py``), on a real uvicorn.

Every test talks to the server through a raw socket on 127.0.0.1, as an
attacker (or a broken client) would: the size and number of header fields,
the time they take to arrive, and that nothing else changes (bodies,
pipelining, WebSockets). Both parsers are tested, httptools (the default) and
h11, and granian (``bocadillo run --server granian``, a subprocess: what it
cannot guarantee is a strict xfail, listed in ``GRANIAN_GAPS``), and then the
``bocadillo run`` command itself, with its flags.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from granian_live import GranianServer, granian_run
from pydantic import BaseModel

from bocadillo import App, WebSocket
from bocadillo.cli.server import HeaderLimits, HTTPImplementation, server_protocol
from bocadillo.testing import LiveServer

TIMEOUT = 0.5  # the header timeout of the servers here
KEEP_ALIVE = 2  # their keep-alive timeout
WAIT = 5.0  # the longest any answer may take (the machine is shared and slow)
PROBLEM_JSON = "application/problem+json"
MAX_SIZE = 16384  # the defaults the servers here keep
MAX_COUNT = 100


# -- the app and the servers -------------------------------------------------------------


class Item(BaseModel):
    name: str
    size: int


def make_app() -> App:
    app = App(title="Limits")

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    @app.post("/items")
    async def create_item(item: Item) -> Item:
        return item

    @app.get("/slow")
    async def slow(seconds: float) -> str:
        await anyio.sleep(seconds)
        return "slept"

    @app.websocket("/echo")
    async def echo(ws: WebSocket[str, str]) -> None:
        async for message in ws:
            await ws.send(message)

    return app


GRANIAN_APP = f"""
import sys
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from test_server_limits import make_app
app = make_app()
"""

# What granian (hyper underneath) does otherwise, test by test: each is a strict
# xfail of the granian case, and a row of the table in docs/security.md.
NO_PROBLEM = "granian answers its own refusals (400, 431) with an empty body, not problem+json"
GRANIAN_GAPS = {
    "test_a_20_kib_header_is_refused_with_431": NO_PROBLEM,
    "test_one_byte_over_the_size_is_refused": (
        "granian bounds the whole head by its read buffer (the limit plus separators), "
        "not the target, names and values"
    ),
    "test_a_long_target_counts": NO_PROBLEM,
    "test_a_head_that_never_ends_is_refused_before_the_timeout": NO_PROBLEM,
    "test_a_second_head_that_never_ends_is_refused": NO_PROBLEM,
    "test_a_websocket_handshake_over_the_size_is_refused": NO_PROBLEM,
    "test_101_headers_are_refused_with_431": NO_PROBLEM,
    "test_a_websocket_handshake_with_too_many_headers_is_refused": NO_PROBLEM,
    "test_a_header_dripped_a_byte_at_a_time_gets_408": (
        "granian closes a late head without an answer, never 408"
    ),
    "test_the_second_request_of_a_kept_alive_connection_is_timed_too": (
        "granian closes a late head without an answer, never 408"
    ),
    "test_an_idle_kept_alive_connection_is_closed_by_the_keep_alive_timeout": (
        "granian has no keep-alive timeout: an idle connection is closed by the header timeout"
    ),
    "test_a_pipelined_refusal_waits_for_the_answer_before_it": NO_PROBLEM,
    "test_an_invalid_request_is_a_problem_too": NO_PROBLEM,
    **{
        f"test_an_ambiguous_framing_is_refused_and_the_connection_closed[granian-{framing}]": (
            "granian frames a request with both Content-Length and Transfer-Encoding by the "
            "latter and closes the connection after it (RFC 9112 section 6.3): nothing is "
            "smuggled, but the request is served, not refused"
        )
        for framing in ("content-length and chunked", "transfer-encoding with a tab")
    },
    **{
        f"test_an_ambiguous_framing_is_refused_and_the_connection_closed[granian-{framing}]": (
            NO_PROBLEM
        )
        for framing in (
            "transfer-encoding folded",
            "transfer-encoding folded, no length",
            "any folded header",
            "chunked http/1.0",
            "two lengths",
        )
    },
}


@pytest.fixture(scope="module", params=["httptools", "h11", "granian"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer | GranianServer]:
    if request.param == "granian":
        pytest.importorskip("granian", reason="granian is not installed (the granian extra)")
        directory = tmp_path_factory.mktemp("granian")
        (directory / "limits_app.py").write_text(GRANIAN_APP)
        with granian_run(
            "limits_app:app", directory, directory, "--header-timeout", str(TIMEOUT)
        ) as granian:
            yield granian
        return
    protocol = server_protocol(request.param, HeaderLimits(header_timeout=TIMEOUT))
    with LiveServer(make_app(), http=protocol, timeout_keep_alive=KEEP_ALIVE) as live:
        yield live


@pytest.fixture(autouse=True)
def granian_gaps(request: pytest.FixtureRequest) -> None:
    """The granian case of a test in ``GRANIAN_GAPS`` is expected to fail, strictly."""
    callspec = getattr(request.node, "callspec", None)
    reason = GRANIAN_GAPS.get(request.node.name) or GRANIAN_GAPS.get(request.node.originalname)
    if reason and callspec is not None and callspec.params.get("server") == "granian":
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


# -- a raw HTTP/1.1 client ---------------------------------------------------------------


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def problem(self) -> dict[str, object]:
        assert self.headers["content-type"] == PROBLEM_JSON
        problem: dict[str, object] = json.loads(self.body)
        assert problem["status"] == self.status
        return problem


class Conn:
    """One connection: send bytes, read responses, see whether the server closed it."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.buffer = b""

    def __enter__(self) -> Conn:
        return self

    def __exit__(self, *args: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)  # socket.timeout after WAIT: the test fails
        self.buffer += chunk
        return bool(chunk)

    def response(self) -> Response:
        while b"\r\n\r\n" not in self.buffer:
            assert self._fill(), f"closed without a complete response: {self.buffer!r}"
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            assert self._fill(), "closed in the middle of a body"
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return Response(int(status_line.split()[1]), headers, body)

    def closed(self) -> bool:
        """Whether the server closes the connection (within WAIT) with nothing more sent."""
        try:
            while self._fill():
                pass
        except ConnectionResetError:
            pass
        return self.buffer == b""


def request(
    path: str = "/hello",
    headers: list[tuple[str, str]] | None = None,
    *,
    method: str = "GET",
    body: bytes = b"",
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers or []]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def head_size(path: str, headers: list[tuple[str, str]]) -> int:
    """What the limit counts: the target, and each header's name and value (Host too)."""
    all_headers = [("Host", "127.0.0.1"), *headers]
    return len(path) + sum(len(name) + len(value) for name, value in all_headers)


def numbered(n: int) -> list[tuple[str, str]]:
    return [(f"X-Header-{i}", "1") for i in range(n)]


def assert_serving(server: LiveServer | int) -> None:
    """A normal request on a new connection is answered at once."""
    started = time.monotonic()
    with Conn(server if isinstance(server, int) else server.port) as conn:
        conn.send(request())
        response = conn.response()
    assert response.status == 200
    assert json.loads(response.body) == {"hello": "world"}
    assert time.monotonic() - started < 3  # not after some timeout


def refused(conn: Conn, status: int) -> dict[str, object]:
    """The response is ``status``, as problem+json, and then the connection is closed."""
    response = conn.response()
    assert response.status == status
    assert response.headers["connection"] == "close"
    problem = response.problem()
    assert conn.closed()
    return problem


def drip(conn: Conn, data: bytes, every: float = 0.05) -> float:
    """Send ``data`` a byte every ``every`` s until the server answers; the seconds it took."""
    started = time.monotonic()
    conn.sock.settimeout(every)
    try:
        for byte in data:
            assert time.monotonic() - started < WAIT, "the server let the client drip on"
            try:
                conn.send(bytes([byte]))
                conn._fill()  # the answer, or the end of the connection
                break
            except TimeoutError:
                continue  # nothing yet: the next byte
            except OSError:  # the connection is gone
                break
    finally:
        conn.sock.settimeout(WAIT)
    return time.monotonic() - started


# -- what still works ----------------------------------------------------------------------


def test_a_normal_request_and_keep_alive(server: LiveServer) -> None:
    with Conn(server.port) as conn:
        for _ in range(3):
            conn.send(request())
            response = conn.response()
            assert response.status == 200
            assert json.loads(response.body) == {"hello": "world"}


def test_a_post_with_a_body(server: LiveServer) -> None:
    body = json.dumps({"name": "x" * 50_000, "size": 3}).encode()  # bodies are not counted
    with Conn(server.port) as conn:
        conn.send(request("/items", method="POST", body=body))
        response = conn.response()
    assert response.status == 200
    assert json.loads(response.body) == {"name": "x" * 50_000, "size": 3}


def test_a_body_that_arrives_slowly_is_not_a_late_head(server: LiveServer) -> None:
    body = json.dumps({"name": "slow", "size": 1}).encode()
    data = request("/items", method="POST", body=body)
    head, _ = data.split(b"\r\n\r\n")
    with Conn(server.port) as conn:
        conn.send(head + b"\r\n\r\n")
        time.sleep(TIMEOUT * 2)
        conn.send(body)
        assert conn.response().status == 200


def test_a_pipelined_pair(server: LiveServer) -> None:
    body = json.dumps({"name": "b", "size": 2}).encode()
    with Conn(server.port) as conn:
        conn.send(request() + request("/items", method="POST", body=body))
        first, second = conn.response(), conn.response()
    assert (first.status, json.loads(first.body)) == (200, {"hello": "world"})
    assert (second.status, json.loads(second.body)) == (200, {"name": "b", "size": 2})


def test_the_limits_are_inclusive(server: LiveServer) -> None:
    fields = numbered(MAX_COUNT - 2)  # and X-Pad and Host: 100 header fields
    padding = MAX_SIZE - head_size("/hello", [*fields, ("X-Pad", "")])
    headers = [*fields, ("X-Pad", "p" * padding)]
    assert head_size("/hello", headers) == MAX_SIZE
    with Conn(server.port) as conn:
        conn.send(request("/hello", headers))
        assert conn.response().status == 200


def websocket_handshake(path: str = "/echo", headers: list[tuple[str, str]] | None = None) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    upgrade = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", "13"),
    ]
    return request(path, [*upgrade, *(headers or [])])


def text_frame(text: str) -> bytes:
    """A masked text frame, as a client sends it (short payloads only)."""
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + masked


def test_a_websocket_outlives_the_header_timeout(server: LiveServer) -> None:
    with Conn(server.port) as conn:
        conn.send(websocket_handshake())
        assert conn.response().status == 101
        time.sleep(TIMEOUT * 3)  # the timer of the handshake's head is gone with it
        conn.send(text_frame("still here"))
        while len(conn.buffer) < 2 + len("still here"):
            assert conn._fill()
    assert conn.buffer == bytes([0x81, len("still here")]) + b"still here"


# -- the size of the head --------------------------------------------------------------------


def test_a_20_kib_header_is_refused_with_431(server: LiveServer) -> None:
    with Conn(server.port) as conn:
        conn.send(request("/hello", [("X-Big", "b" * 20 * 1024)]))
        problem = refused(conn, 431)
    assert problem["title"] == "Request Header Fields Too Large"
    assert problem["detail"] == (
        "The request target and header fields are larger than 16384 bytes."
    )
    assert_serving(server)


def test_one_byte_over_the_size_is_refused(server: LiveServer) -> None:
    headers = [("X-Pad", "p" * (MAX_SIZE + 1 - head_size("/hello", [("X-Pad", "")])))]
    assert head_size("/hello", headers) == MAX_SIZE + 1
    with Conn(server.port) as conn:
        conn.send(request("/hello", headers))
        refused(conn, 431)
    assert_serving(server)


def test_a_long_target_counts(server: LiveServer) -> None:
    with Conn(server.port) as conn:
        conn.send(request("/hello?q=" + "x" * MAX_SIZE))
        refused(conn, 431)
    assert_serving(server)


def test_a_head_that_never_ends_is_refused_before_the_timeout(server: LiveServer) -> None:
    # No end of line, ever: the parser would hold the field until it is complete.
    with Conn(server.port) as conn:
        conn.send(b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: ")
        with contextlib.suppress(OSError):  # the server may close while we send
            for _ in range(40):
                conn.send(b"e" * 1024)
        refused(conn, 431)  # not 408: it did not wait for the timeout
    assert_serving(server)


def test_a_second_head_that_never_ends_is_refused(server: LiveServer) -> None:
    with Conn(server.port) as conn:
        conn.send(request())
        assert conn.response().status == 200
        conn.send(b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: ")
        with contextlib.suppress(OSError):
            for _ in range(40):
                conn.send(b"e" * 1024)
        refused(conn, 431)
    assert_serving(server)


def test_a_websocket_handshake_over_the_size_is_refused(server: LiveServer) -> None:
    with Conn(server.port) as conn:
        conn.send(websocket_handshake(headers=[("X-Big", "b" * MAX_SIZE)]))
        refused(conn, 431)
    assert_serving(server)


# -- the number of header fields --------------------------------------------------------------


def test_101_headers_are_refused_with_431(server: LiveServer) -> None:
    with Conn(server.port) as conn:
        conn.send(request("/hello", numbered(MAX_COUNT)))  # and Host
        problem = refused(conn, 431)
    assert problem["detail"] == "The request has more than 100 header fields."
    assert_serving(server)


def test_100_headers_pass(server: LiveServer) -> None:
    with Conn(server.port) as conn:
        conn.send(request("/hello", numbered(MAX_COUNT - 1)))
        assert conn.response().status == 200


def test_a_websocket_handshake_with_too_many_headers_is_refused(server: LiveServer) -> None:
    with Conn(server.port) as conn:
        conn.send(websocket_handshake(headers=numbered(MAX_COUNT)))
        refused(conn, 431)
    assert_serving(server)


# -- the time the head takes ---------------------------------------------------------------


def test_a_connection_that_sends_nothing_is_closed(server: LiveServer) -> None:
    with Conn(server.port) as conn:
        started = time.monotonic()
        assert conn.closed()  # no bytes: no response to a request that never was
        elapsed = time.monotonic() - started
    assert TIMEOUT * 0.8 <= elapsed < WAIT
    assert_serving(server)


def test_a_header_dripped_a_byte_at_a_time_gets_408(server: LiveServer) -> None:
    with Conn(server.port) as conn:
        elapsed = drip(conn, request("/hello", [("X-Slow", "s" * 1000)]))
        problem = refused(conn, 408)
    assert TIMEOUT * 0.5 <= elapsed < WAIT  # the clock started when the connection was made
    assert problem["title"] == "Request Timeout"
    assert problem["detail"] == "The request's header fields did not arrive within 0.5 s."
    assert_serving(server)


def test_the_second_request_of_a_kept_alive_connection_is_timed_too(server: LiveServer) -> None:
    with Conn(server.port) as conn:
        conn.send(request())
        assert conn.response().status == 200
        time.sleep(TIMEOUT * 1.5)  # idle: the keep-alive timeout's business, not this one's
        elapsed = drip(conn, request("/hello", [("X-Slow", "s" * 1000)]))
        refused(conn, 408)
    assert TIMEOUT * 0.8 <= elapsed < WAIT
    assert_serving(server)


def test_an_idle_kept_alive_connection_is_closed_by_the_keep_alive_timeout(
    server: LiveServer,
) -> None:
    with Conn(server.port) as conn:
        conn.send(request())
        assert conn.response().status == 200
        started = time.monotonic()
        assert conn.closed()
    assert KEEP_ALIVE * 0.8 <= time.monotonic() - started < WAIT


def test_idle_connections_do_not_hold_the_server(server: LiveServer) -> None:
    idle = [Conn(server.port) for _ in range(20)]
    try:
        assert_serving(server)  # while they wait
        assert all(conn.closed() for conn in idle)
    finally:
        for conn in idle:
            conn.sock.close()
    assert_serving(server)


# -- pipelining ------------------------------------------------------------------------


def test_a_pipelined_refusal_waits_for_the_answer_before_it(server: LiveServer) -> None:
    with Conn(server.port) as conn:
        conn.send(request("/slow?seconds=0.3") + request("/hello", numbered(MAX_COUNT)))
        first = conn.response()
        assert (first.status, first.body) == (200, b'"slept"')
        refused(conn, 431)
    assert_serving(server)


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_a_pipelined_head_is_not_late_while_the_answer_before_it_is_made(
    http: HTTPImplementation,
) -> None:
    timeout = 2.0  # a longer one here: the client needs time to send the rest
    protocol = server_protocol(http, HeaderLimits(header_timeout=timeout))
    second = request("/hello")
    with LiveServer(make_app(), http=protocol) as server, Conn(server.port) as conn:
        # The second head starts while the first request takes longer than the timeout.
        conn.send(request(f"/slow?seconds={timeout * 1.25}") + second[:10])
        first = conn.response()
        assert (first.status, first.body) == (200, b'"slept"')
        conn.send(second[10:])
        assert conn.response().status == 200


def test_an_invalid_request_is_a_problem_too(server: LiveServer) -> None:
    with Conn(server.port) as conn:
        conn.send(b"GET /hello HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n")  # no colon
        problem = refused(conn, 400)
    assert problem["title"] == "Bad Request"
    assert_serving(server)


# -- framing: what a proxy in front could read differently (RFC 9112) ------------------

SMUGGLED = b"GET /hello/SMUGGLED HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
CHUNKED_END = b"0\r\n\r\n"

FRAMINGS = {
    "content-length and chunked": (
        b"POST /items HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + CHUNKED_END + SMUGGLED
    ),
    "transfer-encoding folded": (
        b"POST /items HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding:\r\n chunked\r\n\r\n" + CHUNKED_END + SMUGGLED
    ),
    "transfer-encoding folded, no length": (
        b"POST /items HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Transfer-Encoding:\r\n\tchunked\r\n\r\n" + CHUNKED_END + SMUGGLED
    ),
    "transfer-encoding with a tab": (
        b"POST /items HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding:\tchunked\r\n\r\n" + CHUNKED_END + SMUGGLED
    ),
    "any folded header": b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\r\n b\r\n\r\n",
    "chunked http/1.0": (
        b"POST /items HTTP/1.0\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        + CHUNKED_END
        + SMUGGLED
    ),
    "two lengths": (
        b"POST /items HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n"
        b"Content-Length: 7\r\n\r\n{}" + SMUGGLED
    ),
    "http/1.1 without host": b"GET /hello HTTP/1.1\r\n\r\n",
}


@pytest.mark.parametrize("framing", FRAMINGS)
def test_an_ambiguous_framing_is_refused_and_the_connection_closed(
    server: LiveServer, framing: str
) -> None:
    with Conn(server.port) as conn:
        conn.send(FRAMINGS[framing])
        problem = refused(conn, 400)  # and nothing more: the smuggled request is not served
    assert problem["title"] == "Bad Request"
    assert_serving(server)


def test_an_http_1_0_request_without_host_is_served(server: LiveServer) -> None:
    with Conn(server.port) as conn:
        conn.send(b"GET /hello HTTP/1.0\r\n\r\n")
        response = conn.response()
    assert (response.status, json.loads(response.body)) == (200, {"hello": "world"})


def test_a_chunked_body_alone_is_served(server: LiveServer) -> None:
    body = b'{"name": "c", "size": 1}'
    chunked = f"{len(body):x}\r\n".encode() + body + b"\r\n" + CHUNKED_END
    with Conn(server.port) as conn:
        conn.send(
            b"POST /items HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + chunked + request()
        )
        first, second = conn.response(), conn.response()
    assert (first.status, json.loads(first.body)) == (200, {"name": "c", "size": 1})
    assert second.status == 200


# -- bocadillo run -----------------------------------------------------------------------

BOCADILLO = Path(sys.executable).parent / "bocadillo"
ROOT = Path(__file__).resolve().parent.parent

RUN_APP = """
from bocadillo import App, WebSocket

app = App(title="Limited")


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


@app.websocket("/echo")  # max_message_size: 64 KiB, the default
async def echo(ws: WebSocket[str, str]) -> None:
    async for message in ws:
        await ws.send(message)


@app.websocket("/files", max_message_size=256 * 1024)
async def files(ws: WebSocket[bytes, str]) -> None:
    async for data in ws:
        await ws.send(str(len(data)))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def bocadillo_run(tmp_path: Path, *args: str) -> Iterator[int]:
    """``bocadillo run limited_app:app ARGS`` on a free port, until it answers; the port."""
    (tmp_path / "limited_app.py").write_text(textwrap.dedent(RUN_APP))
    port = free_port()
    err = tmp_path / "server.err"
    with err.open("wb") as stderr:
        process = subprocess.Popen(
            [
                *(str(BOCADILLO), "run", "limited_app:app", "--app-dir", str(tmp_path)),
                *("--port", str(port), "--log-level", "warning", *args),
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"exited with {process.returncode}:\n{err.read_text()}")
            try:
                with Conn(port) as conn:
                    conn.send(request())
                    assert conn.response().status == 200
                break
            except OSError:
                assert time.monotonic() < deadline, err.read_text()
                time.sleep(0.1)
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def check_flags(port: int) -> None:
    """The limits of ``--max-header-size 1024 --max-headers 10 --header-timeout 0.5``."""
    with Conn(port) as conn:
        conn.send(request("/hello", numbered(9)))  # and Host: 10
        assert conn.response().status == 200
        conn.send(request("/hello", numbered(10)))
        assert refused(conn, 431)["detail"] == "The request has more than 10 header fields."
    with Conn(port) as conn:
        conn.send(request("/hello", [("X-Big", "b" * 1024)]))
        detail = refused(conn, 431)["detail"]
        assert detail == "The request target and header fields are larger than 1024 bytes."
    with Conn(port) as conn:
        elapsed = drip(conn, request("/hello", [("X-Slow", "s" * 200)]))
        refused(conn, 408)
        assert TIMEOUT * 0.5 <= elapsed < WAIT
    with Conn(port) as conn:
        assert conn.closed()
    assert_serving(port)


LIMIT_FLAGS = ("--max-header-size", "1024", "--max-headers", "10", "--header-timeout", "0.5")


def test_bocadillo_run_with_the_flags(tmp_path: Path) -> None:
    with bocadillo_run(tmp_path, *LIMIT_FLAGS) as port:
        check_flags(port)
    log = (tmp_path / "server.err").read_text()
    assert "431 Request Header Fields Too Large: The request has more than 10" in log
    assert "Traceback" not in log


def test_bocadillo_run_workers_get_the_limits(tmp_path: Path) -> None:
    # Each worker process unpickles the protocol and its limits; h11 here.
    with bocadillo_run(tmp_path, *LIMIT_FLAGS, "--workers", "2", "--http", "h11") as port:
        for _ in range(3):  # whichever worker takes the connection
            check_flags(port)
    assert "Traceback" not in (tmp_path / "server.err").read_text()


def test_bocadillo_run_keeps_the_defaults(tmp_path: Path) -> None:
    with bocadillo_run(tmp_path) as port:
        with Conn(port) as conn:
            conn.send(request("/hello", numbered(MAX_COUNT - 1)))
            assert conn.response().status == 200
            conn.send(request("/hello", numbered(MAX_COUNT)))
            refused(conn, 431)
        with Conn(port) as conn:
            conn.send(request("/hello", [("X-Big", "b" * 20 * 1024)]))
            refused(conn, 431)


# -- WebSocket frames under bocadillo run -------------------------------------------------


def frame_head(length: int, opcode: int = 0x1) -> bytes:
    """The head of a final frame of ``length`` bytes, masked with a key of zeros (so the
    payload goes as it is)."""
    return bytes([0x80 | opcode, 0x80 | 127]) + length.to_bytes(8, "big") + bytes(4)


def close_code(conn: Conn) -> int:
    """The code of the close frame the server sends (unmasked, after the 101's body)."""
    while len(conn.buffer) < 4:
        assert conn._fill(), f"closed without a close frame: {conn.buffer!r}"
    assert conn.buffer[0] == 0x88, conn.buffer[:40]
    return int.from_bytes(conn.buffer[2:4], "big")


def open_websocket(port: int, path: str) -> Conn:
    conn = Conn(port)
    conn.send(websocket_handshake(path))
    assert conn.response().status == 101
    return conn


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def server_pid(port: int) -> int:
    """The pid of the process listening on ``port`` (bocadillo run without workers)."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":  # listening
            inode = fields[9]
    assert inode is not None
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        with contextlib.suppress(OSError):
            if os.readlink(fd) == f"socket:[{inode}]":
                return int(fd.parts[2])
    raise AssertionError("no process holds the socket")


def test_bocadillo_run_bounds_websocket_messages_by_the_largest_route_limit(
    tmp_path: Path,
) -> None:
    with bocadillo_run(tmp_path) as port:
        # Over the largest route's limit (256 KiB): closed as soon as the frame's head
        # says so, with nothing of it buffered.
        with open_websocket(port, "/echo") as conn:
            conn.send(frame_head(10_000_000) + b"x" * 1024)
            assert close_code(conn) == 1009
        # Between the routes' limits: the server takes it, the route closes it.
        with open_websocket(port, "/echo") as conn:
            conn.send(frame_head(100_000) + b"x" * 100_000)
            assert close_code(conn) == 1009
        # Within the largest: served.
        with open_websocket(port, "/files") as conn:
            conn.send(frame_head(200_000, opcode=0x2) + b"x" * 200_000)
            while len(conn.buffer) < 8:
                assert conn._fill()
            assert conn.buffer == bytes([0x81, 6]) + b"200000"
        assert_serving(port)


def test_websocket_frames_that_claim_megabytes_do_not_grow_the_server(tmp_path: Path) -> None:
    with bocadillo_run(tmp_path) as port:
        pid = server_pid(port)
        assert_serving(port)
        before = rss_kib(pid)
        conns = [open_websocket(port, "/files") for _ in range(40)]
        try:
            for conn in conns:
                with contextlib.suppress(OSError):  # closed by the server mid-send
                    conn.send(frame_head(15_000_000, opcode=0x2) + b"x" * 1_000_000)
            during = rss_kib(pid)
        finally:
            for conn in conns:
                conn.sock.close()
        assert_serving(port)
        after = rss_kib(pid)
    # 40 MB sent: none of it may stay in the server (what grows is sockets' bookkeeping).
    assert during - before < 16 * 1024, (before, during)
    assert after - before < 16 * 1024, (before, after)


def test_a_frame_left_half_sent_is_closed_by_the_ping_timeout(tmp_path: Path) -> None:
    pings = ("--ws-ping-interval", "0.5", "--ws-ping-timeout", "0.5")
    with bocadillo_run(tmp_path, *pings) as port:
        with open_websocket(port, "/echo") as conn:
            conn.send(frame_head(60_000) + b"x" * 1000)  # under the limit, never finished
            while conn.buffer[:1] != b"\x88":  # the server's pings come first
                assert conn._fill(), "closed without a close frame"
                if conn.buffer[:1] == b"\x89":  # a ping: skip it (it has no answer)
                    conn.buffer = conn.buffer[2 + conn.buffer[1] :]
            assert close_code(conn) == 1011
        assert_serving(port)


def test_ws_max_size_below_a_route_limit_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bocadillo.cli.main import main

    (tmp_path / "limited_app.py").write_text(textwrap.dedent(RUN_APP))
    argv = ["run", "limited_app:app", "--app-dir", str(tmp_path), "--ws-max-size", "65536"]
    assert main(argv) != 0
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(
            "--ws-max-size 65536 is below the max_message_size of WebSocket route /files "
            "(262144 bytes): raise it, or lower the route's limit"
        )
    )


def test_invalid_utf8_in_a_text_frame_is_one_quiet_line(tmp_path: Path) -> None:
    with bocadillo_run(tmp_path, "--log-level", "info") as port:
        for _ in range(3):
            with open_websocket(port, "/echo") as conn:
                conn.send(bytes([0x81, 0x82]) + bytes(4) + b"\xff\xfe")
                assert close_code(conn) == 1007
        assert_serving(port)
    log = (tmp_path / "server.err").read_text()
    assert log.count("Invalid UTF-8 in a WebSocket text frame: closed with 1007.") == 3
    assert "Traceback" not in log and "ERROR" not in log
