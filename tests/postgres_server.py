"""A real PostgreSQL server for the tests of the database-backed examples.

Use it from a test file with ``pytest_plugins = ["postgres_server"]``, or import the
fixtures (``from postgres_server import postgres_url  # noqa: F401``). Both can meet
in one session, so pytest does not rewrite this module's asserts: PYTEST_DONT_REWRITE.

``postgres_url`` (session scope) runs ``initdb`` in a temporary folder and starts
``postgres`` on a free 127.0.0.1 port (its unix socket in that folder, never the
default port 5432, so a system PostgreSQL is left alone), waits until it accepts
connections, yields ``postgresql+asyncpg://postgres@127.0.0.1:<port>/postgres`` and
stops the server at the end of the session (a fast shutdown, then SIGKILL to its
process group if it is still there). ``postgres_db`` (function scope) is the URL of
a fresh, empty database made for the test with ``CREATE DATABASE``.

The binaries are found on ``PATH`` or under ``/usr/lib/postgresql/<version>/bin``
(where Debian's ``postgresql`` package puts them). ``initdb`` refuses to run as
root: as root, the server runs as the ``postgres`` user (which Debian's package
creates), in a folder that user owns. Without PostgreSQL (or without ``asyncpg``),
the tests that use it are skipped with the way to install it (CI's ``.ci/run``
installs Debian's package).

The server is tuned for tests (``fsync=off``): the tests kill the application
server, never PostgreSQL, and what PostgreSQL committed survives an application's
crash whatever ``fsync`` says; only a crash of the machine would need it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SKIP_MESSAGE = (
    "PostgreSQL is not installed (initdb and pg_ctl on PATH or under "
    "/usr/lib/postgresql/*/bin): apt-get install postgresql (CI's .ci/run installs it)"
)
START_TIMEOUT = 30.0  # seconds for postgres to accept connections
ATTEMPTS = 3  # a free port can be taken between finding it and postgres binding it
USER = "postgres"  # the database superuser, and the system user the server runs as when root


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def find_binaries() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``, or None."""
    candidates: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path is not None:
        candidates.append(Path(on_path).resolve().parent)
        candidates.append(Path(on_path).parent)

    def version(folder: Path) -> tuple[int, ...]:
        number = folder.parent.name
        return tuple(int(part) for part in number.split(".") if part.isdigit())

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    for folder in candidates:
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def url(port: int, database: str) -> str:
    """The SQLAlchemy URL of ``database`` on the test server."""
    return f"postgresql+asyncpg://{USER}@127.0.0.1:{port}/{database}"


def sql(port: int, *statements: str, database: str = "postgres", timeout: float = 10.0) -> None:
    """Run ``statements`` on a fresh connection (autocommit, as CREATE DATABASE needs)."""
    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(
            host="127.0.0.1", port=port, user=USER, database=database, timeout=timeout
        )
        try:
            for statement in statements:
                await connection.execute(statement, timeout=timeout)
        finally:
            await connection.close(timeout=timeout)

    asyncio.run(run())


def fetch(
    port: int, query: str, *, database: str = "postgres", timeout: float = 10.0
) -> list[tuple[object, ...]]:
    """The rows ``query`` returns, as tuples, read on a fresh connection."""
    import asyncpg

    async def run() -> list[tuple[object, ...]]:
        connection = await asyncpg.connect(
            host="127.0.0.1", port=port, user=USER, database=database, timeout=timeout
        )
        try:
            return [tuple(row) for row in await connection.fetch(query, timeout=timeout)]
        finally:
            await connection.close(timeout=timeout)

    return asyncio.run(run())


def database_name(url: str) -> str:
    """The database of a URL ``url()`` made."""
    return url.rsplit("/", 1)[1]


def _accepts_connections(port: int) -> bool:
    try:
        sql(port, "SELECT 1", timeout=2.0)
    except Exception:  # refused, still starting up ("the database system is starting up")
        return False
    return True


class PostgresServer:
    """A PostgreSQL cluster in a temporary folder, served by ``postgres`` on ``port``."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._as: dict[str, object] = {}
        account = None
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam(USER)
            except KeyError:
                pytest.skip(f"running as root and there is no {USER!r} user to run PostgreSQL as")
            self._as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        # Not pytest's tmp_path: as root, that is a folder only root may enter.
        self.directory = Path(tempfile.mkdtemp(prefix="bocadillo-postgres-"))
        if account is not None:
            os.chown(self.directory, account.pw_uid, account.pw_gid)
        self.data = self.directory / "data"
        self.log_path = self.directory / "postgres.log"
        self._names = itertools.count(1)

    def _run(self, *args: str) -> None:
        with self.log_path.open("ab") as log:
            subprocess.run(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
                cwd=self.directory,
                timeout=120,
                **self._as,  # type: ignore[arg-type]
            )

    def initdb(self) -> None:
        try:
            self._run(
                str(self.binaries / "initdb"),
                "-D",
                str(self.data),
                "-U",
                USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            pytest.fail(f"initdb failed ({error}):\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def start(self, port: int) -> None:
        self.port = port
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(self.binaries / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.directory}",
                    "-c",
                    "fsync=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=200",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                start_new_session=True,
                **self._as,  # type: ignore[arg-type]
            )

    def wait_until_ready(self, timeout: float) -> bool:
        """True once it accepts connections; False if it exited (the port was taken, say)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            if _accepts_connections(self.port):
                return True
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"postgres did not accept connections within {timeout} s:\n{self.log()}")

    @property
    def url(self) -> str:
        return url(self.port, "postgres")

    def create_database(self) -> str:
        """A fresh, empty database; its URL."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        sql(self.port, f'CREATE DATABASE "{name}"')
        return url(self.port, name)

    def stop(self) -> None:
        """A fast shutdown (SIGINT), then SIGKILL to the group if it is still there after 10 s."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGINT)
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(self.process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
            # Backends left behind by a killed postmaster exit on their own; make sure.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server started for this test session (``.url``, ``.create_database()``)."""
    binaries = find_binaries()
    if binaries is None:
        pytest.skip(SKIP_MESSAGE)
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        pytest.skip("asyncpg is not installed: pip install -e '.[dev]'")
    server = PostgresServer(binaries)
    try:
        server.initdb()
        for _ in range(ATTEMPTS):
            server.start(free_port())
            if server.wait_until_ready(START_TIMEOUT):
                break
        else:
            pytest.fail(f"postgres did not start after {ATTEMPTS} attempts:\n{server.log()}")
        yield server
    finally:
        server.stop()
        server.remove()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """``postgresql+asyncpg://postgres@127.0.0.1:<port>/postgres`` of the session's server."""
    return postgres_server.url


@pytest.fixture
def postgres_db(postgres_server: PostgresServer) -> str:
    """The URL of a fresh, empty database on the session's server, made for this test."""
    return postgres_server.create_database()
