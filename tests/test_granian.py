"""``bocadillo run --server granian`` and ``bocadillo dev --server granian``, end to end.

Each test runs the command (a subprocess, granian's workers under it) on a free
127.0.0.1 port and talks to it over a socket: HTTP, WebSockets, event streams
and the lifespan are served; the options granian cannot honour are refused or
warned of; the WebSocket limits that granian lacks are strict xfails (the
table of docs/security.md). The head limits, the framing refusals and the
faults run against granian in ``test_server_limits.py`` and ``test_faults.py``.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from granian_live import ROOT, GranianServer, free_port, granian_run
from test_server_limits import (
    RUN_APP,
    Conn,
    assert_serving,
    close_code,
    frame_head,
    open_websocket,
    request,
    rss_kib,
)

pytest.importorskip("granian", reason="granian is not installed (the granian extra)")

LIFESPAN_APP = (
    RUN_APP
    + """
from collections.abc import AsyncIterator
from pathlib import Path

from pydantic import BaseModel


class Tick(BaseModel):
    n: int


@app.sse("/ticks")
async def ticks(count: int = 3) -> AsyncIterator[Tick]:
    for n in range(count):
        yield Tick(n=n)


@app.on_startup
async def started() -> None:
    (Path(__file__).parent / "lifespan.log").open("a").write("startup\\n")


@app.on_shutdown
async def stopped() -> None:
    (Path(__file__).parent / "lifespan.log").open("a").write("shutdown\\n")
"""
)


def write_app(directory: Path, source: str = RUN_APP) -> Path:
    (directory / "limited_app.py").write_text(source)
    return directory


def run(directory: Path, *args: str) -> contextlib.AbstractContextManager[GranianServer]:
    return granian_run("limited_app:app", directory, directory, *args)


def command(directory: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``bocadillo run limited_app:app --server granian ARGS`` that is expected to exit."""
    return subprocess.run(
        [
            *(sys.executable, "-m", "bocadillo", "run", "limited_app:app", "--server", "granian"),
            *("--app-dir", str(directory), *args),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def get(port: int, path: str) -> tuple[int, bytes]:
    with Conn(port) as conn:
        conn.send(request(path))
        response = conn.response()
    return response.status, response.body


def test_http_websockets_event_streams_and_the_lifespan(tmp_path: Path) -> None:
    write_app(tmp_path, LIFESPAN_APP)
    with run(tmp_path) as server:
        assert get(server.port, "/hello") == (200, b'{"hello":"world"}')
        with open_websocket(server.port, "/files") as conn:
            conn.send(frame_head(5, opcode=0x2) + b"x" * 5)
            while len(conn.buffer) < 3:
                assert conn._fill()
            assert conn.buffer == bytes([0x81, 1]) + b"5"
        with Conn(server.port) as conn:
            conn.send(request("/ticks?count=3", [("Accept", "text/event-stream")]))
            response = conn.response()
            assert response.status == 200
            assert response.headers["content-type"].startswith("text/event-stream")
        banner = server.err.read_text().splitlines()[0]
        assert banner.startswith(f"Bocadillo · Limited 0.1.0 · http://127.0.0.1:{server.port}")
        assert server.stop() == -signal.SIGTERM  # as uvicorn: stopped, then by the signal
    assert (tmp_path / "lifespan.log").read_text() == "startup\nshutdown\n"


def test_the_banner_is_uvicorns(tmp_path: Path) -> None:
    write_app(tmp_path)
    with run(tmp_path) as server:
        assert get(server.port, "/hello")[0] == 200
        assert server.stop() == -signal.SIGTERM  # as uvicorn: stopped, then by the signal
        lines = server.err.read_text().splitlines()
    base = f"http://127.0.0.1:{server.port}"
    assert lines[0] == (
        f"Bocadillo · Limited 0.1.0 · {base} · docs {base}/docs · channels {base}/docs/channels"
    )


def test_workers(tmp_path: Path) -> None:
    write_app(tmp_path)
    with run(tmp_path, "--workers", "2") as server:
        for _ in range(4):
            assert get(server.port, "/hello")[0] == 200
        deadline = time.monotonic() + 30
        while "Started worker-2" not in server.log():
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.1)


def test_dev_reloads_on_change(tmp_path: Path) -> None:
    write_app(tmp_path)
    port = free_port()
    out = (tmp_path / "dev.out").open("wb")
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "bocadillo", "dev", "limited_app:app", "--server", "granian"),
            *("--app-dir", str(tmp_path), "--port", str(port)),
        ],
        cwd=ROOT,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = GranianServer(port, process, tmp_path / "dev.out", tmp_path / "dev.out")
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError, AssertionError):
                if get(port, "/hello")[0] == 200:
                    break
            assert process.poll() is None and time.monotonic() < deadline, server.log()
            time.sleep(0.2)
        write_app(tmp_path, RUN_APP.replace('{"hello": "world"}', '{"hello": "again"}'))
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError, AssertionError):
                if get(port, "/hello") == (200, b'{"hello":"again"}'):
                    break
            assert process.poll() is None and time.monotonic() < deadline, server.log()
            time.sleep(0.2)
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.stop()
        out.close()


def test_a_mistake_in_the_app_is_one_line_before_granian_starts(tmp_path: Path) -> None:
    write_app(tmp_path, RUN_APP + "\n@app.get('/broken')\nasync def broken(x) -> str:\n    ...\n")
    result = command(tmp_path, "--port", str(free_port()))
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    assert "granian" not in result.stdout.lower()


def test_a_port_taken_exits_with_3(tmp_path: Path) -> None:
    write_app(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = command(tmp_path, "--port", str(taken.getsockname()[1]))
    assert result.returncode == 3, result
    assert "cannot listen" in result.stderr


def test_a_failed_start_up_exits_with_3(tmp_path: Path) -> None:
    write_app(
        tmp_path,
        RUN_APP + "\n@app.on_startup\nasync def fail() -> None:\n    raise RuntimeError('no')\n",
    )
    result = command(tmp_path, "--port", str(free_port()))
    assert result.returncode == 3, result


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--http", "h11"), "--http chooses uvicorn's parser: granian has its own"),
        (("--max-headers", "10"), "--max-headers 10: granian's limit is 100 header fields"),
        (
            ("--ws-max-size", "65536"),
            "--ws-max-size 65536 is below the max_message_size of WebSocket route /files",
        ),
    ],
)
def test_what_granian_cannot_do_is_refused(
    tmp_path: Path, flags: tuple[str, ...], message: str
) -> None:
    write_app(tmp_path)
    result = command(tmp_path, "--port", str(free_port()), *flags)
    assert result.returncode == 2, result
    assert message in result.stderr
    assert "Starting granian" not in result.stdout


def test_what_granian_ignores_is_warned_of(tmp_path: Path) -> None:
    write_app(tmp_path)
    flags = ("--ws-max-size", "300000", "--ws-ping-interval", "5", "--timeout-keep-alive", "7")
    with run(tmp_path, *flags) as server:
        assert_serving(server.port)
    err = server.err.read_text()
    assert (
        "warning: granian cannot honour --ws-max-size, --ws-ping-interval: it has no limit "
        "of its own on a WebSocket message and sends no pings"
    ) in err
    assert (
        "warning: granian cannot honour --timeout-keep-alive: an idle connection is closed "
        "by --header-timeout (10 s)"
    ) in err


def test_the_guarantees_granian_lacks_are_warned_of_at_start_up(tmp_path: Path) -> None:
    write_app(tmp_path)  # an app with WebSocket routes
    with run(tmp_path) as server:
        assert_serving(server.port)
    err = server.err.read_text()
    assert "warning: under granian, the server's own refusals (400, 431) have no problem" in err
    assert "warning: under granian, a WebSocket frame is buffered (up to 16 MiB)" in err


def test_an_app_without_websockets_is_not_warned_of_them(tmp_path: Path) -> None:
    write_app(tmp_path, "from bocadillo import App\napp = App()\n")
    with run(tmp_path) as server:
        pass
    err = server.err.read_text()
    assert "warning: under granian, the server's own refusals" in err
    assert "WebSocket frame is buffered" not in err


def test_the_routes_limit_on_a_websocket_message_holds(tmp_path: Path) -> None:
    write_app(tmp_path)
    with run(tmp_path) as server:
        with open_websocket(server.port, "/echo") as conn:  # over the route's 64 KiB
            conn.send(frame_head(100_000) + b"x" * 100_000)
            assert close_code(conn) == 1009
        with open_websocket(server.port, "/files") as conn:  # within the route's 256 KiB
            conn.send(frame_head(200_000, opcode=0x2) + b"x" * 200_000)
            while len(conn.buffer) < 8:
                assert conn._fill()
            assert conn.buffer == bytes([0x81, 6]) + b"200000"
        assert_serving(server.port)


@pytest.mark.xfail(
    strict=True,
    reason="granian has no limit of its own on a WebSocket message: it buffers a frame "
    "up to 16 MiB (a message up to 64 MiB) before the app sees it",
)
def test_a_frame_over_every_route_limit_is_closed_from_its_head(tmp_path: Path) -> None:
    write_app(tmp_path)
    with run(tmp_path) as server, open_websocket(server.port, "/echo") as conn:
        conn.send(frame_head(10_000_000) + b"x" * 1024)
        assert close_code(conn) == 1009


@pytest.mark.xfail(
    strict=True,
    reason="granian buffers what a frame claims, up to 16 MiB, before the app can refuse it",
)
def test_websocket_frames_that_claim_megabytes_do_not_grow_the_server(tmp_path: Path) -> None:
    write_app(tmp_path)
    with run(tmp_path) as server:
        pid = server.worker_pid()
        assert_serving(server.port)
        before = rss_kib(pid)
        conns = [open_websocket(server.port, "/files") for _ in range(40)]
        try:
            for conn in conns:
                with contextlib.suppress(OSError):
                    conn.send(frame_head(15_000_000, opcode=0x2) + b"x" * 1_000_000)
            time.sleep(0.5)
            during = rss_kib(pid)
        finally:
            for conn in conns:
                conn.sock.close()
    assert during - before < 16 * 1024, (before, during)


@pytest.mark.xfail(strict=True, reason="granian sends no WebSocket pings")
def test_a_frame_left_half_sent_is_closed_by_the_ping_timeout(tmp_path: Path) -> None:
    write_app(tmp_path)
    pings = ("--ws-ping-interval", "0.5", "--ws-ping-timeout", "0.5")
    with run(tmp_path, *pings) as server, open_websocket(server.port, "/echo") as conn:
        conn.send(frame_head(60_000) + b"x" * 1000)
        assert close_code(conn) == 1011


def test_an_http_1_0_request_without_host_and_an_http_1_1_one(tmp_path: Path) -> None:
    write_app(tmp_path)
    with run(tmp_path) as server:
        with Conn(server.port) as conn:
            conn.send(b"GET /hello HTTP/1.0\r\n\r\n")
            assert conn.response().status == 200
        with Conn(server.port) as conn:
            conn.send(b"GET /hello HTTP/1.1\r\n\r\n")
            response = conn.response()
            assert response.status == 400
            assert response.headers["connection"] == "close"
            assert json.loads(response.body)["detail"] == "An HTTP/1.1 request has no Host header."
