"""Database benchmark: the todos example under ``bocadillo run`` and FastAPI, SQLite and PostgreSQL.

The Bocadillo side is the real example, ``bocadillo run examples.todos.app:app`` (one
process, httptools, ``--log-level warning``). The FastAPI side is
``bench/apps/fastapi_todos.py``, the same three operations written as FastAPI's SQL
tutorial writes them, under ``uvicorn`` (one worker, uvloop, httptools, no access log).
Each app gets its own fresh database, seeded through its own API with the same rows:
a fresh SQLite file each, then a fresh database each on a PostgreSQL server started for
the run (``initdb`` in a temporary folder, a free port, as the ``postgres`` user when root).

For each backend, the two servers run side by side pinned to CPU 0, and ``wrk -t1 -c50``
pinned to CPU 1 loads one (operation, framework) at a time: ``GET /todos?limit=20`` (a
page of 20 and the count), ``GET /todos/{id}``, ``POST /todos``. Operations run in that
order, each with a warm-up then its rounds, the frameworks' order rotating from round to
round; creating runs last, so the list and the reads see only the seeded rows. The
tables show requests per second (wrk's figure) and the server's CPU per request
(utime + stime of the server process, from ``/proc/<pid>/stat``, divided by the requests
wrk counted; on SQLite that includes the database, which runs in the server's threads),
with the ratio Bocadillo / FastAPI; on PostgreSQL also the database server's CPU per
request (every process of the cluster).

    apt-get install wrk
    .venv/bin/python bench/db.py            # 4 s a cell, 3 rounds, 1 s warm-ups: ~4 minutes
    .venv/bin/python bench/db.py --quick    # 2 s a cell, 1 round: ~1 minute
    .venv/bin/python bench/db.py --check    # start, seed and check the apps on SQLite; no wrk
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import http.client
import importlib.util
import json
import os
import platform
import pwd
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

_HERE = Path(__file__).resolve().parent
REPO = _HERE.parent
APPS = _HERE / "apps"
SERVER_CPU = 0
LOAD_CPU = 1
DATABASE_CPU = 1  # PostgreSQL beside wrk, so that the app server has its core to itself
FRAMEWORKS = {"bocadillo": "Bocadillo", "fastapi": "FastAPI"}
BACKENDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
NOT_STORED = (
    "{}: the rows were not stored in DATABASE_URL's {} database "
    "(does the app read DATABASE_URL? is examples/todos on a database yet?)"
)
CREATE_BODY = {"title": "Write the benchmark", "tags": ["bench", "db"]}


def load_socket_bench() -> ModuleType:
    """``bench/over_socket.py`` (wrk, /proc and process helpers), imported by path."""
    name = "bench_socket"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, _HERE / "over_socket.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


sock = load_socket_bench()


# -- the operations ------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    key: str
    title: str
    method: str
    path: str
    status: int
    body: bytes = b""

    def lua(self) -> str | None:
        if self.method == "GET":
            return None
        return (
            f"wrk.method = {sock.lua_string(self.method.encode())}\n"
            f"wrk.body = {sock.lua_string(self.body)}\n"
            f'wrk.headers["Content-Type"] = "application/json"\n'
        )


def operations(seed: int) -> list[Operation]:
    return [
        Operation("list", "list a page of 20", "GET", "/todos?limit=20", 200),
        Operation("read", "read one", "GET", f"/todos/{max(1, seed // 2)}", 200),
        Operation("create", "create one", "POST", "/todos", 201, json.dumps(CREATE_BODY).encode()),
    ]


def seed_rows(count: int) -> Iterator[dict[str, Any]]:
    """The rows every database gets, in order (ids 1 to ``count``)."""
    for n in range(1, count + 1):
        yield {"title": f"To-do number {n}", "done": n % 3 == 0, "tags": ["seed", f"t{n % 7}"]}


def request(port: int, method: str, path: str, body: bytes = b"") -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Content-Type": "application/json"} if body else {}
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("content-type") or "", response.read()
    finally:
        connection.close()


def seed(port: int, count: int) -> None:
    """POST the seed rows through the app's own API, on one kept-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for n, row in enumerate(seed_rows(count), start=1):
            body = json.dumps(row).encode()
            connection.request("POST", "/todos", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            answer = response.read()
            if response.status != 201 or json.loads(answer)["id"] != n:
                raise RuntimeError(f"seeding row {n}: {response.status} {answer[:300]!r}")
    finally:
        connection.close()


def sqlite_tables(path: Path) -> int:
    """How many tables the SQLite file at ``path`` holds (0 if there is no such file)."""
    if not path.exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return int(
            db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        )


def comparable(value: Any) -> Any:
    """The answer without what differs between two apps given the same rows: the time
    each row was created."""
    if isinstance(value, dict):
        return {k: "<time>" if k == "created_at" else comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


def check(ports: dict[str, int], ops: list[Operation], seeded: int) -> None:
    """Each operation answers the same status, content type and JSON on every app."""
    for op in ops:
        answers = {}
        for key, port in ports.items():
            status, content_type, body = request(port, op.method, op.path, op.body)
            where = f"{FRAMEWORKS[key]}, {op.method} {op.path}"
            if status != op.status:
                raise RuntimeError(f"{where}: {status}, expected {op.status}: {body[:300]!r}")
            if content_type.split(";")[0].strip() != "application/json":
                raise RuntimeError(f"{where}: content type {content_type!r}")
            document = json.loads(body)
            if op.key == "list" and (document["total"] != seeded or len(document["items"]) != 20):
                raise RuntimeError(f"{where}: not the seeded page: {body[:300]!r}")
            if "created_at" in (document["items"][0] if op.key == "list" else document):
                datetime.datetime.fromisoformat(
                    (document["items"][0] if op.key == "list" else document)["created_at"]
                )
            answers[key] = comparable(document)
        first, *others = answers.items()
        for key, answer in others:
            if answer != first[1]:
                raise RuntimeError(
                    f"{op.method} {op.path}: {FRAMEWORKS[key]} answers {answer!r}, "
                    f"{FRAMEWORKS[first[0]]} {first[1]!r}"
                )


# -- servers -------------------------------------------------------------------------


BOCADILLO_APP = "examples.todos.app:app"
STAND_IN = "bocadillo_todos:app"  # bench/apps/bocadillo_todos.py


def server_command(framework: str, port: int, bocadillo_app: str = BOCADILLO_APP) -> list[str]:
    if framework == "bocadillo":
        app_dir = APPS if bocadillo_app.split(":")[0] == STAND_IN.split(":")[0] else REPO
        return [
            sys.executable, "-m", "bocadillo", "run", bocadillo_app, "--app-dir", str(app_dir),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
            "--http", "httptools", "--log-level", "warning",
        ]  # fmt: skip
    return [
        sys.executable, "-m", "uvicorn", "fastapi_todos:app", "--app-dir", str(APPS),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


@dataclass
class Server:
    framework: str
    process: subprocess.Popen[bytes]
    port: int
    log: Any

    def output(self) -> str:
        self.log.seek(0)
        return str(self.log.read().decode(errors="replace"))


def start_server(
    framework: str, database_url: str, cpu: int | None, bocadillo_app: str, timeout: float = 60
) -> Server:
    """Start the app on a free port with ``DATABASE_URL``; wait until it answers."""
    port = sock.free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the server)
    env = dict(os.environ, DATABASE_URL=database_url, PYTHONPATH=str(REPO))
    process = subprocess.Popen(
        server_command(framework, port, bocadillo_app),
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=sock.pinned_to(cpu),
    )
    sock.CHILDREN.append(process)
    server = Server(framework, process, port, log)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{FRAMEWORKS[framework]} exited:\n{server.output()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{FRAMEWORKS[framework]} not up after {timeout} s") from None
            time.sleep(0.05)


class Postgres:
    """A PostgreSQL cluster in a temporary folder on a free port, with its default settings
    (``fsync`` on: a create waits for its commit to reach the disk, as in production)."""

    def __init__(self, cpu: int | None) -> None:
        binaries = shutil.which("initdb")
        if binaries is None:
            candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
            if not candidates:
                raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql")
            binaries = str(candidates[-1])
        self.bin = Path(binaries).parent
        self.directory = Path(tempfile.mkdtemp(prefix="bocadillo-dbbench-"))
        self.user: dict[str, Any] = {}
        if os.geteuid() == 0:  # initdb refuses root: run as the postgres user
            account = pwd.getpwnam("postgres")
            os.chown(self.directory, account.pw_uid, account.pw_gid)
            self.user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        self.cpu = cpu
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.directory / "postgres.log").open("ab")
        data = self.directory / "data"
        subprocess.run(
            [self.bin / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync",
             "--encoding=UTF8", "--locale=C"],
            stdout=log, stderr=subprocess.STDOUT, check=True, cwd=self.directory, **self.user,
        )  # fmt: skip
        self.port = sock.free_port()
        self.process = subprocess.Popen(
            [self.bin / "postgres", "-D", data, "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.directory}"],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.directory, start_new_session=True,
            preexec_fn=sock.pinned_to(self.cpu), **self.user,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                self.sql("SELECT 1")
                return
            except Exception:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"postgres did not start:\n{self.log()}") from None
                time.sleep(0.1)

    def log(self) -> str:
        return (self.directory / "postgres.log").read_text(errors="replace")

    def sql(self, statement: str, database: str = "postgres") -> Any:
        """Run one statement on a fresh connection; its first value."""
        import asyncpg

        async def run() -> Any:
            connection = await asyncpg.connect(
                host="127.0.0.1", port=self.port, user="postgres", database=database, timeout=5
            )
            try:
                return await connection.fetchval(statement)
            finally:
                await connection.close()

        return asyncio.run(run())

    def tables(self, database: str) -> int:
        """How many tables ``database`` holds in its public schema."""
        query = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        return int(self.sql(query, database))

    def database(self, name: str) -> str:
        self.sql(f'CREATE DATABASE "{name}"')
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"

    def cpu_seconds(self) -> float:
        """CPU time of the cluster: the postmaster's own and its reaped children's
        (utime, stime, cutime, cstime), plus every live child's (a backend that exits
        between two readings moves its time from the second sum to the first)."""
        assert self.process is not None
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(entry) == self.process.pid:
                total += sum(int(v) for v in fields[11:15])
            elif int(fields[1]) == self.process.pid:
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # a fast shutdown
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        shutil.rmtree(self.directory, ignore_errors=True)


# -- loading ---------------------------------------------------------------------------


@dataclass
class Cell:
    rps: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    db_cpu_us: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def load(
    server: Server, op: Operation, seconds: int, script: str | None, args: argparse.Namespace,
    postgres: Postgres | None, cpu: int | None,
) -> tuple[Any, float, float | None]:  # fmt: skip
    """One wrk run: (wrk's result, server CPU µs per request, database CPU µs per request)."""
    url = f"http://127.0.0.1:{server.port}{op.path}"
    before = sock.cpu_seconds(server.process.pid)
    db_before = postgres.cpu_seconds() if postgres else 0.0
    command = sock.wrk_command(url, seconds, script, args.connections)
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=sock.pinned_to(cpu)
    )
    sock.CHILDREN.append(process)
    try:
        output, _ = process.communicate(timeout=seconds + 30)
    finally:
        sock.stop(process)
        sock.CHILDREN.remove(process)
    after = sock.cpu_seconds(server.process.pid)
    db_after = postgres.cpu_seconds() if postgres else 0.0
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{output.decode()}")
    result = sock.parse_wrk(output.decode(errors="replace"))
    requests = max(1, result.requests)
    db_us = (db_after - db_before) / requests * 1e6 if postgres else None
    return result, (after - before) / requests * 1e6, db_us


def run_backend(
    backend: str, args: argparse.Namespace, tmp: Path, cells: dict[tuple[str, str, str], Cell]
) -> None:
    pin = args.pin
    postgres = None
    urls: dict[str, str] = {}
    try:
        if backend == "sqlite":
            for fw in args.frameworks:
                urls[fw] = f"sqlite+aiosqlite:///{tmp / f'{fw}.db'}"
        else:
            postgres = Postgres(DATABASE_CPU if pin else None)
            postgres.start()
            for fw in args.frameworks:
                urls[fw] = postgres.database(f"bench_{fw}")
        servers = {
            fw: start_server(fw, urls[fw], SERVER_CPU if pin else None, args.bocadillo_app)
            for fw in urls
        }
        for fw, server in servers.items():
            seed(server.port, args.seed)
            stored = (
                sqlite_tables(tmp / f"{fw}.db")
                if postgres is None
                else postgres.tables(f"bench_{fw}")
            )
            if not stored:
                raise RuntimeError(NOT_STORED.format(FRAMEWORKS[fw], BACKENDS[backend]))
        ops = operations(args.seed)
        check({fw: s.port for fw, s in servers.items()}, ops, args.seed)
        scripts: dict[str, str | None] = {}
        for op in ops:
            text = op.lua()
            scripts[op.key] = None
            if text is not None:
                path = tmp / f"{op.key}.lua"
                path.write_text(text)
                scripts[op.key] = str(path)
        load_cpu = LOAD_CPU if pin else None
        for op in ops:
            if args.warmup:
                for fw in args.frameworks:
                    warm, _, _ = load(
                        servers[fw], op, args.warmup, scripts[op.key], args, None, load_cpu
                    )
                    if warm.errors:
                        cells.setdefault((backend, op.key, fw), Cell()).errors.append(
                            f"in the warm-up, {warm.errors}"
                        )
            for r in range(args.rounds):
                order = args.frameworks[r % len(args.frameworks) :]
                order += args.frameworks[: r % len(args.frameworks)]
                for fw in order:
                    result, cpu_us, db_us = load(
                        servers[fw], op, args.duration, scripts[op.key], args, postgres, load_cpu
                    )
                    cell = cells.setdefault((backend, op.key, fw), Cell())
                    cell.rps.append(result.rps)
                    cell.cpu_us.append(cpu_us)
                    if db_us is not None:
                        cell.db_cpu_us.append(db_us)
                    if result.errors:
                        cell.errors.append(result.errors)
                    if servers[fw].process.poll() is not None:
                        raise RuntimeError(f"{FRAMEWORKS[fw]} died:\n{servers[fw].output()}")
                    print(".", end="", file=sys.stderr, flush=True)
        for server in servers.values():
            if "Traceback" in server.output():
                print(f"\n{FRAMEWORKS[server.framework]} logged an error:\n{server.output()}")
    finally:
        sock.stop_all()
        if postgres is not None:
            postgres.stop()


# -- reporting -------------------------------------------------------------------------------


def table(cells: dict[tuple[str, str, str], Cell], args: argparse.Namespace) -> str:
    ops = operations(args.seed)
    names = [FRAMEWORKS[fw] for fw in args.frameworks]
    ratio = len(args.frameworks) == 2 and args.frameworks[0] == "bocadillo"
    header = "| operation | " + " | ".join(names) + (" | Bocadillo / FastAPI |" if ratio else " |")
    rule = "| --- |" + " ---: |" * (len(names) + ratio)

    def section(title: str, metric: str, fmt: str, backends: list[str]) -> list[str]:
        lines = [title, "", header, rule]
        for backend in backends:
            for op in ops:
                values = [
                    statistics.median(getattr(cells[(backend, op.key, fw)], metric))
                    for fw in args.frameworks
                ]
                row = [format(v, fmt) for v in values]
                if ratio:
                    row.append(f"{values[0] / values[1]:.2f}x")
                lines.append(f"| {op.title}, {BACKENDS[backend]} | " + " | ".join(row) + " |")
        return [*lines, ""]

    lines = section(
        "Requests per second (the ratio: above 1 is faster)", "rps", ",.0f", args.backends
    )
    lines += section(
        "Server CPU µs per request (the ratio: below 1 is cheaper)", "cpu_us", ".0f", args.backends
    )
    if "postgresql" in args.backends:
        lines += section(
            "PostgreSQL's CPU µs per request (every process of the cluster)",
            "db_cpu_us",
            ".0f",
            ["postgresql"],
        )
    return "\n".join(lines).rstrip()


def describe_machine() -> str:
    dists = ["bocadillo", "fastapi", "starlette", "pydantic", "sqlalchemy", "aiosqlite", "asyncpg"]
    dists += ["uvicorn", "uvloop", "httptools"]
    versions = ", ".join(f"{d} {sock.inprocess.version(d)}" for d in dists)
    postgres = shutil.which("postgres")
    pg_version = ""
    if postgres:
        out = subprocess.run([postgres, "--version"], capture_output=True, text=True, check=False)
        pg_version = "; " + out.stdout.strip()
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    wrk_version = " ".join((wrk.stdout + wrk.stderr).strip().splitlines()[0:1])
    return (
        f"{datetime.date.today().isoformat()}, {os.cpu_count()} CPUs (servers on CPU "
        f"{SERVER_CPU}, wrk and PostgreSQL on CPU {LOAD_CPU}), Linux {platform.release()}, "
        f"Python {platform.python_version()}; {versions}{pg_version}; {wrk_version}"
    )


def load_average() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


# -- entry point -----------------------------------------------------------------------------------


def check_only(args: argparse.Namespace) -> int:
    """Start both apps on fresh SQLite files, seed them and check the three operations."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            servers = {
                fw: start_server(
                    fw, f"sqlite+aiosqlite:///{Path(tmp) / f'{fw}.db'}", None, args.bocadillo_app
                )
                for fw in args.frameworks
            }
            for fw, server in servers.items():
                seed(server.port, args.seed)
                if not sqlite_tables(Path(tmp) / f"{fw}.db"):
                    raise RuntimeError(NOT_STORED.format(FRAMEWORKS[fw], "SQLite"))
            check({fw: s.port for fw, s in servers.items()}, operations(args.seed), args.seed)
        finally:
            sock.stop_all()
    print(f"{', '.join(FRAMEWORKS[fw] for fw in args.frameworks)}: list, read and create answer")
    return 0


def run(args: argparse.Namespace) -> int:
    started_at = time.perf_counter()
    load_before = load_average()
    cells: dict[tuple[str, str, str], Cell] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends:
            run_backend(backend, args, Path(tmp), cells)
    print(file=sys.stderr)
    elapsed = time.perf_counter() - started_at
    print(
        f"\nwrk -t1 -c{args.connections} -d{args.duration}s, median of {args.rounds} round(s); "
        f"{args.seed} rows seeded\n"
    )
    print(table(cells, args))
    for (backend, op, fw), cell in cells.items():
        for errors in sorted(set(cell.errors)):
            print(f"\n{FRAMEWORKS[fw]}, {op}, {BACKENDS[backend]}: {errors}")
    print(f"\nload average (1, 5, 15 min): {load_before} at the start, {load_average()} at the end")
    print(f"{describe_machine()}; {elapsed:.0f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 s a cell, 1 round, no warm-up")
    parser.add_argument("--check", action="store_true", help="only start, seed and check (SQLite)")
    parser.add_argument("--duration", type=int, help="seconds of wrk per cell (default 4)")
    parser.add_argument("--rounds", type=int, help="rounds (default 3, quick 1)")
    parser.add_argument("--warmup", type=int, help="seconds of wrk per cell first (default 1)")
    parser.add_argument("--connections", type=int, default=50, help="wrk's connections (50)")
    parser.add_argument("--seed", type=int, default=1000, help="rows in each database (1000)")
    parser.add_argument("--timeout", type=float, default=900, help="hard limit, seconds")
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers and wrk")
    parser.add_argument("--backends", default="sqlite,postgresql", help="sqlite, postgresql")
    parser.add_argument("--frameworks", default="bocadillo,fastapi", help="bocadillo, fastapi")
    parser.add_argument(
        "--bocadillo-app",
        default=BOCADILLO_APP,
        help=f"the Bocadillo side (default {BOCADILLO_APP}; {STAND_IN} is bench/apps' stand-in)",
    )
    args = parser.parse_args(argv)
    args.duration = args.duration or (2 if args.quick else 4)
    args.rounds = args.rounds or (1 if args.quick else 3)
    if args.warmup is None:
        args.warmup = 0 if args.quick else 1
    args.backends = [b for b in args.backends.split(",") if b]
    args.frameworks = [f for f in args.frameworks.split(",") if f]
    unknown = set(args.backends) - set(BACKENDS) | set(args.frameworks) - set(FRAMEWORKS)
    if unknown or args.seed < 20:
        parser.error(f"unknown: {', '.join(sorted(unknown))}" if unknown else "--seed: at least 20")
    args.pin = not args.no_pin and hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2

    signal.signal(signal.SIGALRM, sock.on_alarm)
    signal.signal(signal.SIGTERM, sock.on_term)
    signal.setitimer(signal.ITIMER_REAL, args.timeout)
    try:
        if args.check:
            return check_only(args)
        if shutil.which("wrk") is None:
            print("wrk is not installed. Install it with: apt-get install wrk", file=sys.stderr)
            return 2
        return run(args)
    except sock.Timeout:
        print(f"\ntimed out after {args.timeout:g} s; stopping every child", file=sys.stderr)
        return 2
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sock.stop_all()


if __name__ == "__main__":
    sys.exit(main())
