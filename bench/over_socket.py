"""Socket benchmark: the in-process apps under uvicorn and granian, loaded with wrk.

Each framework's app from ``inprocess.py`` is served by each server, one worker
pinned to CPU 0, on a free 127.0.0.1 port: uvicorn as its users run it (uvloop,
httptools, no access log) and granian (``--interface asgi``, uvloop, no access
log). ``wrk -t1 -c50 --latency`` pinned to CPU 1 loads each HTTP scenario's
request in turn, the frameworks interleaved and their order rotating from round
to round. The WebSocket echo and the event stream are loaded by this script's
own clients (``socket_clients.py``), on CPU 1 too. One more row serves the small
JSON GET with two workers. The tables show requests (messages, events) per
second, wrk's p99 latency and the server's CPU time per request (utime + stime
of the server and its worker processes, from ``/proc``), each with its ratio to
Starlette on uvicorn; the run ends with the verdicts of issue 26's targets.

    apt-get install wrk
    .venv/bin/python bench/over_socket.py            # 3 s a cell, 3 rounds: ~16 minutes
    .venv/bin/python bench/over_socket.py --quick    # 1 s a cell, 1 round: ~2 minutes

Every response is checked once (status, content type, body; every WebSocket
reply and every event, each time) before it is loaded. A hard timeout
(``--timeout``) ends the run, and every child started (servers, their workers,
wrk) is killed on the way out.
"""

import argparse
import contextlib
import datetime
import http.client
import importlib.util
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(_HERE)
SERVER_CPU = 0
LOAD_CPU = 1


def load_sibling(name: str, filename: str) -> ModuleType:
    """A module of ``bench/``, imported by path (bench is not a package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, os.path.join(_HERE, filename))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_inprocess() -> ModuleType:
    """``bench/inprocess.py``: the apps and the scenarios."""
    return load_sibling("bench_inprocess", "inprocess.py")


inprocess = load_inprocess()
clients = load_sibling("bench_socket_clients", "socket_clients.py")
report = load_sibling("bench_socket_report", "socket_report.py")


def http_scenarios() -> list[Any]:
    """The scenarios wrk can load: one request, one complete response."""
    return [s for s in inprocess.SCENARIOS if s.kind == "http"]


# -- requests ------------------------------------------------------------------------


def target_path(scenario: Any) -> str:
    """The request target: path and query string."""
    query = scenario.query.decode()
    return scenario.path + (f"?{query}" if query else "")


def request_headers(scenario: Any) -> dict[str, str]:
    """The headers a plain client sends for the scenario (beyond Host and Content-Length)."""
    return {k.decode(): v.decode() for k, v in scenario.headers}


def lua_string(data: bytes) -> str:
    """A Lua string literal for ``data``: every byte outside a safe set as a \\ddd escape."""
    safe = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-.,:{}[]")
    return '"' + "".join(chr(b) if b in safe else f"\\{b:03d}" for b in data) + '"'


def lua_script(scenario: Any) -> str | None:
    """The wrk script for a request that is not a plain GET (None for a plain GET)."""
    if scenario.method == "GET" and not scenario.body and not scenario.headers:
        return None
    lines = [f"wrk.method = {lua_string(scenario.method.encode())}"]
    if scenario.body:
        lines.append(f"wrk.body = {lua_string(scenario.body)}")
    for name, value in scenario.headers:
        lines.append(f"wrk.headers[{lua_string(name)}] = {lua_string(value)}")
    return "\n".join(lines) + "\n"


def wrk_command(
    url: str, seconds: int, script_path: str | None, connections: int = 50
) -> list[str]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "--latency"]
    if script_path is not None:
        command += ["-s", script_path]
    return [*command, url]


@dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    errors: str = ""  # socket errors and non-2xx/3xx responses, if any
    p99_ms: float | None = None  # from --latency's distribution


def parse_wrk(output: str) -> WrkResult:
    match = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    rps = re.search(r"Requests/sec:\s*([\d.]+)", output)
    if match is None or rps is None:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[match.group(3)]
    errors = []
    socket_errors = re.search(r"Socket errors: (.*)", output)
    if socket_errors:
        errors.append(f"socket errors: {socket_errors.group(1).strip()}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        errors.append(f"{non_2xx.group(1)} non-2xx/3xx responses")
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    p99_ms = None
    if p99 is not None:
        p99_ms = float(p99.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    return WrkResult(
        int(match.group(1)),
        float(match.group(2)) * scale,
        float(rps.group(1)),
        "; ".join(errors),
        p99_ms,
    )


# -- servers -------------------------------------------------------------------------

SERVERS = ("uvicorn", "granian")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned_to(cpu: int | None) -> Any:
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return None

    def pin() -> None:
        os.sched_setaffinity(0, {cpu})

    return pin


def server_command(
    framework_key: str, port: int, server: str = "uvicorn", workers: int = 1
) -> list[str]:
    """The command that serves the framework's app: uvicorn as its users run it, or
    granian's own CLI with its ASGI interface."""
    factory = f"inprocess:{inprocess.FRAMEWORK_BY_KEY[framework_key].make.__name__}"
    address = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    if server == "granian":
        return [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--factory",
            "--working-dir",
            _HERE,
            *address,
            "--loop",
            "uvloop",
            "--no-access-log",
            "--log-level",
            "warning",
            factory,
        ]
    if server != "uvicorn":
        raise ValueError(f"unknown server {server!r}: one of {', '.join(SERVERS)}")
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--app-dir",
        _HERE,
        *address,
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]


@dataclass
class Server:
    framework: Any
    process: subprocess.Popen[bytes]
    port: int
    log: Any
    name: str = "uvicorn"
    workers: int = 1

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def title(self) -> str:
        workers = f", {self.workers} workers" if self.workers > 1 else ""
        return f"{self.framework.title} on {self.name}{workers}"


CHILDREN: list[subprocess.Popen[bytes]] = []


def start_server(
    framework_key: str,
    cpu: int | None,
    ready_timeout: float = 30.0,
    server: str = "uvicorn",
    workers: int = 1,
) -> Server:
    """Start the server with the framework's app and wait until it answers."""
    port = free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the server)
    # The worktree's bocadillo, not an installed one (granian changes directory).
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": REPO + (os.pathsep + path if path else "")}
    process = subprocess.Popen(
        server_command(framework_key, port, server, workers),
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=pinned_to(cpu),
    )
    CHILDREN.append(process)
    fw = inprocess.FRAMEWORK_BY_KEY[framework_key]
    started = Server(fw, process, port, log, server, workers)
    deadline = time.monotonic() + ready_timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{started.title}: the server exited:\n{server_log(started)}")
        try:
            # Up once a request is answered: granian's main process accepts
            # connections before its worker has started the app.
            fetch(port, http_scenarios()[0], timeout=2.0)
            return started
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{started.title}: not up after {ready_timeout} s") from None
            time.sleep(0.05)


def server_log(server: Server) -> str:
    server.log.seek(0)
    return server.log.read().decode(errors="replace")


def descendants(pid: int) -> list[int]:
    """The process's children, their children, and so on (from /proc)."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as f:
                    children = [int(c) for c in f.read().split()]
            except OSError:
                continue
            found += children
            pending += children
    return found


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a child and every process under it (a server's workers)."""
    if process.poll() is None:
        below = descendants(process.pid)
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        for pid in below:
            with contextlib.suppress(OSError):  # gone already, as it should be
                os.kill(pid, signal.SIGKILL)


def stop_all() -> None:
    for process in CHILDREN:
        stop(process)
    CHILDREN.clear()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and every process under it, from /proc/<pid>/stat."""
    total = 0
    for each in (pid, *descendants(pid)):
        try:
            with open(f"/proc/{each}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the command: state is field 3, utime 14 and stime 15 (1-based)
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


# -- checking and loading -----------------------------------------------------------------


def fetch(port: int, scenario: Any, timeout: float = 10.0) -> tuple[int, str | None, bytes]:
    """One plain HTTP request for the scenario: (status, content type, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(
            scenario.method,
            target_path(scenario),
            body=scenario.body or None,
            headers=request_headers(scenario),
        )
        response = connection.getresponse()
        return response.status, response.getheader("content-type"), response.read()
    finally:
        connection.close()


def check_over_socket(server: Server, scenario: Any) -> None:
    """One request (or conversation, or stream) of the scenario, checked."""
    where = f"{server.title} over a socket, {scenario.title}"
    if scenario.kind == "http":
        status, content_type, body = fetch(server.port, scenario)
        inprocess.verify_response(where, scenario, status, content_type, body)
    else:
        result, _ = load_stream(server, scenario, 0.0, 1, None)
        assert result.units >= scenario.units, f"{where}: {result}"


@dataclass
class Cell:
    framework: Any
    scenario: Any
    server: str = "uvicorn"
    workers: int = 1
    rps: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    client_busy: list[float] = field(default_factory=list)  # the stream client's CPU share


def load(server: Server, scenario: Any, seconds: int, script: str | None, cpu: int | None) -> Any:
    """Run wrk once against the server; (wrk's result, server CPU µs per request)."""
    url = server.url + target_path(scenario)
    before = cpu_seconds(server.process.pid)
    process = subprocess.Popen(
        wrk_command(url, seconds, script),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=pinned_to(cpu),
    )
    CHILDREN.append(process)
    try:
        output, _ = process.communicate(timeout=seconds + 30)
    finally:
        stop(process)
        CHILDREN.remove(process)
    after = cpu_seconds(server.process.pid)
    result = parse_wrk(output.decode(errors="replace"))
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{output.decode()}")
    cpu_us = (after - before) / max(1, result.requests) * 1e6
    return result, cpu_us


STREAM_CONNECTIONS = {"websocket": 64, "sse": 16}


def load_stream(
    server: Server, scenario: Any, seconds: float, connections: int | None, cpu: int | None
) -> Any:
    """The WebSocket echo or the event stream, over ``connections`` at once for
    ``seconds`` (this process on ``cpu``): (the result, server CPU µs per unit)."""
    connections = connections or STREAM_CONNECTIONS[scenario.kind]
    where = f"{server.title} over a socket, {scenario.title}"
    previous = os.sched_getaffinity(0) if cpu is not None else None
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    try:
        before = cpu_seconds(server.process.pid)
        client_before = time.process_time()
        if scenario.kind == "websocket":
            result = clients.websocket_load(server.port, scenario, seconds, connections, where)
        else:
            result = clients.sse_load(
                server.port, scenario, seconds, connections, where, inprocess.verify_response
            )
        result.client_cpu = time.process_time() - client_before
        after = cpu_seconds(server.process.pid)
    finally:
        if previous is not None:
            os.sched_setaffinity(0, previous)
    return result, (after - before) / max(1, result.units) * 1e6


# -- entry point -----------------------------------------------------------------------------------


def describe_machine(servers: list[str]) -> str:
    dists = ["bocadillo", "starlette", "fastapi", "litestar", "pydantic", *servers, "uvloop"]
    if "uvicorn" in servers:
        dists.append("httptools")
    versions = ", ".join(f"{d} {inprocess.version(d)}" for d in dists)
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    wrk_version = (wrk.stdout + wrk.stderr).strip().splitlines()[0:1]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{datetime.date.today().isoformat()}, {os.cpu_count()} CPUs (server on CPU "
        f"{SERVER_CPU}, wrk and the stream clients on CPU {LOAD_CPU}), Linux "
        f"{platform.release()}, Python {platform.python_version()}; {versions}; "
        f"{' '.join(wrk_version)}; load average at the end {load}"
    )


class Timeout(Exception):
    pass


def on_alarm(signum: int, frame: Any) -> None:
    raise Timeout


def on_term(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def write_scripts(tmp: str, scenarios: list[Any]) -> dict[str, str | None]:
    scripts: dict[str, str | None] = {}
    for scenario in scenarios:
        text = lua_script(scenario)
        if text is None:
            scripts[scenario.key] = None
        else:
            path = os.path.join(tmp, f"{scenario.key}.lua")
            with open(path, "w") as f:
                f.write(text)
            scripts[scenario.key] = path
    return scripts


def measure(
    cells: dict[tuple[Any, ...], Cell],
    key: tuple[Any, ...],
    server: Server,
    seconds: int,
    scripts: dict[str, str | None],
    load_cpu: int | None,
) -> None:
    """One load of one cell, its figures added to the cell."""
    cell = cells[key]
    scenario = cell.scenario
    if scenario.kind == "http":
        result, cpu_us = load(server, scenario, seconds, scripts[scenario.key], load_cpu)
        cell.rps.append(result.rps)
        if result.p99_ms is not None:
            cell.p99_ms.append(result.p99_ms)
        if result.errors:
            cell.errors.append(result.errors)
    else:
        stream, cpu_us = load_stream(server, scenario, seconds, None, load_cpu)
        cell.rps.append(stream.rate)
        cell.client_busy.append(stream.client_cpu / stream.seconds)
    cell.cpu_us.append(cpu_us)
    if server.process.poll() is not None:
        raise RuntimeError(f"{server.title}: the server died:\n{server_log(server)}")


def run(args: argparse.Namespace) -> int:
    frameworks = inprocess.available(args.frameworks.split(","))
    servers_wanted = args.servers.split(",")
    for name in servers_wanted:
        if name not in SERVERS:
            raise SystemExit(f"--servers: unknown server {name!r} (from: {', '.join(SERVERS)})")
    by_key = {s.key: s for s in inprocess.SCENARIOS}
    scenarios = [by_key[k] for k in args.scenarios.split(",")]
    pin = not args.no_pin and hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2
    server_cpu = SERVER_CPU if pin else None
    load_cpu = LOAD_CPU if pin else None
    started_at = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        scripts = write_scripts(tmp, scenarios)
        servers: dict[tuple[str, int, str], Server] = {}
        for name in servers_wanted:
            for fw in frameworks:
                servers[(name, 1, fw.key)] = start_server(fw.key, server_cpu, server=name)
        cells: dict[tuple[Any, ...], Cell] = {
            (name, 1, fw.key, s.key): Cell(fw, s, name)
            for s in scenarios
            for name in servers_wanted
            for fw in frameworks
        }
        # The row with two workers: unpinned (the machine's 2 cores, shared with the
        # load generator on CPU 1).
        workers_rows: list[tuple[Any, ...]] = []
        json_scenario = by_key["json"]
        if args.workers_row:
            for name in servers_wanted:
                for fw in frameworks:
                    if fw.key in ("starlette", "bocadillo"):
                        key = (name, 2, fw.key)
                        servers[key] = start_server(fw.key, None, server=name, workers=2)
                        cells[(*key, json_scenario.key)] = Cell(fw, json_scenario, name, 2)
                        workers_rows.append((*key, json_scenario.key))
        for key, server in servers.items():
            for scenario in scenarios if key[1] == 1 else [json_scenario]:
                check_over_socket(server, scenario)
        if args.warmup:
            for key in cells:
                measure(cells, key, servers[key[:3]], args.warmup, scripts, load_cpu)
            for cell in cells.values():
                for figures in (cell.rps, cell.cpu_us, cell.p99_ms, cell.errors, cell.client_busy):
                    figures.clear()
        total = args.rounds * len(cells)
        done = 0
        for r in range(args.rounds):
            for scenario in scenarios:
                for name in servers_wanted:
                    order = frameworks[r % len(frameworks) :] + frameworks[: r % len(frameworks)]
                    for fw in order:
                        key = (name, 1, fw.key, scenario.key)
                        measure(cells, key, servers[key[:3]], args.duration, scripts, load_cpu)
                        done += 1
                        progress = f"\rround {r + 1}/{args.rounds} ({done}/{total} cells)"
                        print(progress, end="", file=sys.stderr, flush=True)
            for key in workers_rows:
                measure(cells, key, servers[key[:3]], args.duration, scripts, load_cpu)
                done += 1
        print(file=sys.stderr)
        for server in servers.values():
            log = server_log(server).strip()
            if "Traceback" in log:
                print(f"{server.title} logged an error:\n{log}", file=sys.stderr)
    elapsed = time.perf_counter() - started_at

    http = [s for s in scenarios if s.kind == "http"]
    streams = [s for s in scenarios if s.kind != "http"]
    print()
    print(
        f"wrk -t1 -c50 -d{args.duration}s --latency; WebSocket: "
        f"{STREAM_CONNECTIONS['websocket']} connections, SSE: {STREAM_CONNECTIONS['sse']} "
        f"streams, {args.duration} s; median of {args.rounds} round(s); one worker pinned "
        "to one core, so requests/s are per core\n"
    )
    if http:
        print(report.http_tables(cells, frameworks, http, servers_wanted) + "\n")
    if streams:
        print(report.stream_tables(cells, frameworks, streams, servers_wanted) + "\n")
    if workers_rows:
        print(
            "Two workers (unpinned: this machine has 2 cores, and the load generator "
            "runs on one of them, so this is no scaling figure)\n"
        )
        print(report.workers_table(cells, workers_rows) + "\n")
    for cell in cells.values():
        for errors in sorted(set(cell.errors)):
            print(f"{cell.framework.title} on {cell.server}, {cell.scenario.title}: {errors}")
    print("Targets (issue 26; requests/s, this run):\n")
    for line in report.verdicts(cells, scenarios, servers_wanted):
        print(f"- {line}")
    print(f"\n{describe_machine(servers_wanted)}; {elapsed:.0f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 s a cell, 1 round, no warm-up")
    parser.add_argument("--duration", type=int, help="seconds of load per cell (default 3)")
    parser.add_argument("--rounds", type=int, help="rounds (default 3, quick 1)")
    parser.add_argument("--warmup", type=int, help="seconds of load per cell first (default 1)")
    parser.add_argument("--timeout", type=float, default=1800, help="hard limit, seconds")
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers and clients")
    parser.add_argument(
        "--servers",
        default=",".join(SERVERS),
        help="comma-separated, from: " + ", ".join(SERVERS),
    )
    parser.add_argument(
        "--no-workers-row",
        dest="workers_row",
        action="store_false",
        help="leave out the row with --workers 2",
    )
    parser.add_argument(
        "--frameworks",
        default=",".join(inprocess.FRAMEWORK_BY_KEY),
        help="comma-separated, from: " + ", ".join(inprocess.FRAMEWORK_BY_KEY),
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(s.key for s in inprocess.SCENARIOS),
        help="comma-separated, from: " + ", ".join(s.key for s in inprocess.SCENARIOS),
    )
    args = parser.parse_args(argv)
    args.duration = args.duration or (1 if args.quick else 3)
    args.rounds = args.rounds or (1 if args.quick else 3)
    if args.warmup is None:
        args.warmup = 0 if args.quick else 1

    if shutil.which("wrk") is None:
        print(
            "wrk is not installed. Install it with: apt-get install wrk "
            "(or build it from https://github.com/wg/wrk)",
            file=sys.stderr,
        )
        return 2

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.setitimer(signal.ITIMER_REAL, args.timeout)
    try:
        return run(args)
    except Timeout:
        print(f"\ntimed out after {args.timeout:g} s; stopping every child", file=sys.stderr)
        return 2
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        stop_all()


if __name__ == "__main__":
    sys.exit(main())
