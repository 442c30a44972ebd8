"""``bocadillo run examples.todos.app:app`` as a real process, on a database the test names.

Shared by tests/test_db_postgres.py (several workers) and tests/test_durability.py (SIGKILL).
Not a test module: import what you need (``from todos_server import TodosServer``).

- ``TodosServer(directory, database_url, workers=1)`` starts the example on a free
  127.0.0.1 port, in its own process group, with ``DATABASE_URL`` set;
  ``wait_until_started()`` waits until every worker finished its start-up (migrations
  applied); ``kill()`` sends SIGKILL to the whole group (no shutdown, no goodbye);
  ``stop()`` is Ctrl-C, then SIGKILL to whatever is left. Always stopped by the fixture
  or the ``with`` block that made it.
- ``worker_of(connection, server_port)``: the pid of the process holding the server side
  of a client's TCP connection, read from ``/proc/net/tcp`` and ``/proc/<pid>/fd`` (the
  accepted socket lives in the one worker that accepted it).
- ``request(connection, method, path, body)``: one request on a kept-alive
  ``http.client.HTTPConnection``; the status and the decoded JSON body.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP = "examples.todos.app:app"
STARTED = "Application startup complete"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class TodosServer:
    """``bocadillo run examples.todos.app:app`` on a free port with ``DATABASE_URL`` set."""

    def __init__(
        self, directory: Path, database_url: str, *, workers: int = 1, name: str = "todos"
    ) -> None:
        self.port = free_port()
        self.workers = workers
        self._out = directory / f"{name}.out"
        self._err = directory / f"{name}.err"
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.pop("WEB_CONCURRENCY", None)
        command = [sys.executable, "-m", "bocadillo", "run", APP, "--port", str(self.port)]
        if workers > 1:
            command += ["--workers", str(workers)]
        with self._out.open("wb") as out, self._err.open("wb") as err:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )

    def __enter__(self) -> TodosServer:
        try:
            self.wait_until_started()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def log(self) -> str:
        return self._err.read_text(errors="replace") + self._out.read_text(errors="replace")

    def wait_until_started(self, timeout: float = 90.0) -> None:
        """Until every worker has finished its start-up (its migrations applied)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited with {self.process.returncode}:\n{self.log()}")
            # uvicorn logs the start-up before it binds its socket when it has one worker.
            if self.log().count(STARTED) >= self.workers and self._accepts():
                return
            time.sleep(0.05)
        pytest.fail(f"{self.workers} worker(s) did not start within {timeout} s:\n{self.log()}")

    def _accepts(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1.0).close()
        except OSError:
            return False
        return True

    def connect(self, timeout: float = 30.0) -> http.client.HTTPConnection:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        connection.connect()
        return connection

    def worker_pids(self) -> set[int]:
        """The pids of the server's processes other than the one ``bocadillo run`` started."""
        pids = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[3]) == self.process.pid:  # field 5 (pgrp) after pid and comm
                    pids.add(int(stat.parent.name))
        pids.discard(self.process.pid)
        return pids

    def kill(self) -> None:
        """SIGKILL to every process of the server: no shutdown, no flushing, no goodbye."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Ctrl-C (SIGINT to the main process), then SIGKILL to whatever is left of the group."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        self.kill()


def _socket_inode(server_port: int, client_port: int) -> str | None:
    """The inode of the server side of 127.0.0.1:client_port -> 127.0.0.1:server_port."""
    local = f"0100007F:{server_port:04X}"
    remote = f"0100007F:{client_port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[2] == remote:
            return fields[9]
    return None


def worker_of(connection: http.client.HTTPConnection, server_port: int, pids: set[int]) -> int:
    """Which of ``pids`` holds the server side of ``connection`` (an accepted socket lives in
    the one worker that accepted it). The connection must have been answered once (so the
    worker has accepted it)."""
    assert connection.sock is not None
    client_port = connection.sock.getsockname()[1]
    inode = _socket_inode(server_port, client_port)
    assert inode is not None and inode != "0", "no server side for this connection"
    target = f"socket:[{inode}]"
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == target:
                        return pid
    pytest.fail(f"no worker among {sorted(pids)} holds {target}")


def request(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    body: Any = None,
) -> tuple[int, Any]:
    """One request on a kept-alive connection: the status and the JSON body (None if empty)."""
    headers = {}
    content = None
    if body is not None:
        content = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    connection.request(method, path, body=content, headers=headers)
    response = connection.getresponse()
    data = response.read()
    return response.status, json.loads(data) if data else None
