"""A real ``redis-server`` for the tests of the Redis broadcast backend.

Use it from a test file with ``pytest_plugins = ["redis_server"]``, or import the
fixture (``from redis_server import redis_url  # noqa: F401``). Both can meet in
one session, so pytest does not rewrite this module's asserts: PYTEST_DONT_REWRITE.

``redis_url`` (session scope) starts ``redis-server`` on a free 127.0.0.1 port,
with no persistence and a temporary working directory, waits until it answers
``PING``, yields ``redis://127.0.0.1:<port>/0`` and stops the server at the end
of the session. It never uses the default port 6379, so a system Redis is left
alone. Without ``redis-server`` on ``PATH`` the tests that use it are skipped
with the way to install it (CI's ``.ci/run`` installs Debian's package).

``redis_db`` (function scope) is the same URL, with the database flushed before
the test; ``redis_cli`` sends one command to that server with a raw socket (no
client library) and returns the reply, for checking what the server sees
(``redis_cli("PUBSUB", "NUMSUB", "feed")``) or publishing as another program
would (``redis_cli("PUBLISH", "feed", b"...")``).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

SKIP_MESSAGE = (
    "redis-server is not installed: apt-get install redis-server (CI's .ci/run installs it)"
)
START_TIMEOUT = 15.0  # seconds for redis-server to answer PING
ATTEMPTS = 3  # a free port can be taken between finding it and redis-server binding it


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _encode(*args: str | bytes | int) -> bytes:
    """One command in RESP: an array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class _Reader:
    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = b""

    def _fill(self) -> None:
        chunk = self._sock.recv(65536)
        if not chunk:
            raise ConnectionError("redis-server closed the connection")
        self._buffer += chunk

    def line(self) -> bytes:
        while b"\r\n" not in self._buffer:
            self._fill()
        line, _, self._buffer = self._buffer.partition(b"\r\n")
        return line

    def exactly(self, size: int) -> bytes:
        while len(self._buffer) < size + 2:
            self._fill()
        data, self._buffer = self._buffer[:size], self._buffer[size + 2 :]
        return data

    def reply(self) -> object:
        """One RESP2 reply: str for a status, int, bytes or None, list; an error raises."""
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(f"redis-server answered an error: {rest.decode()}")
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else self.exactly(size)
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self.reply() for _ in range(count)]
        raise RuntimeError(f"not a RESP reply: {line!r}")


def redis_command(url: str, *args: str | bytes | int, timeout: float = 5.0) -> object:
    """Send one command to the server at ``url`` on a fresh connection; return the reply."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port or 6379), timeout=timeout) as sock:
        database = parts.path.strip("/")
        if database and database != "0":
            sock.sendall(_encode("SELECT", database))
            _Reader(sock).reply()
        sock.sendall(_encode(*args))
        return _Reader(sock).reply()


def _answers_ping(port: int) -> bool:
    try:
        return redis_command(f"redis://127.0.0.1:{port}/0", "PING", timeout=1.0) == "PONG"
    except (OSError, RuntimeError):
        return False


class RedisServer:
    """``redis-server`` on ``port``, in its own process group, logging to ``directory``."""

    def __init__(self, executable: str, directory: Path, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.log_path = directory / "redis.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    executable,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(directory),
                    "--daemonize",
                    "no",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until_ready(self, timeout: float) -> bool:
        """True once it answers PING; False if it exited (the port was taken, say)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            if _answers_ping(self.port):
                return True
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"redis-server did not answer PING within {timeout} s:\n{self.log()}")

    def stop(self) -> None:
        """Terminate, then kill if it is still there after 5 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://127.0.0.1:<port>/0`` of a redis-server started for this test session."""
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.skip(SKIP_MESSAGE)
    directory = tmp_path_factory.mktemp("redis")
    server: RedisServer | None = None
    for _ in range(ATTEMPTS):
        server = RedisServer(executable, directory, free_port())
        if server.wait_until_ready(START_TIMEOUT):
            break
    else:
        assert server is not None
        pytest.fail(f"redis-server did not start after {ATTEMPTS} attempts:\n{server.log()}")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_db(redis_url: str) -> str:
    """The session's Redis URL, with its database flushed before the test."""
    assert redis_command(redis_url, "FLUSHDB") == "OK"
    return redis_url


@pytest.fixture
def redis_cli(redis_url: str) -> Callable[..., object]:
    """``redis_cli(*args)``: send one command to the session's Redis; its reply."""

    def command(*args: str | bytes | int) -> object:
        return redis_command(redis_url, *args)

    return command
