"""``bocadillo run --server granian`` in a subprocess, for the tests that run a real server.

The security tests start their servers in process with uvicorn (``LiveServer``);
granian runs its workers in processes of its own, so its server is the
command itself, on a free port, until it answers.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WORKER = re.compile(r"Spawning worker-1 with PID: (\d+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class GranianServer:
    """A running ``bocadillo run --server granian``: its port, its process and its log."""

    port: int
    process: subprocess.Popen[bytes]
    out: Path
    err: Path

    def log(self) -> str:
        return self.err.read_text() + self.out.read_text()

    def worker_pid(self) -> int:
        """The pid of the (first) worker, the process that serves."""
        match = WORKER.search(self.out.read_text())
        assert match, self.log()
        return int(match.group(1))

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as a process manager stops it; its exit code."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            raise


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET /__ready__ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return sock.recv(16).startswith(b"HTTP/1.1")
    except OSError:
        return False


@contextlib.contextmanager
def granian_run(target: str, app_dir: Path, directory: Path, *args: str) -> Iterator[GranianServer]:
    """``bocadillo run TARGET --server granian ARGS`` until it answers; stopped after."""
    port = free_port()
    out, err = directory / "granian.out", directory / "granian.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "bocadillo", "run", target, "--server", "granian"),
                *("--app-dir", str(app_dir), "--port", str(port), *args),
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"},
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    server = GranianServer(port, process, out, err)
    try:
        deadline = time.monotonic() + 60
        while not _answers(port):
            if process.poll() is not None:
                pytest.fail(f"granian exited with {process.returncode}:\n{server.log()}")
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.stop()
