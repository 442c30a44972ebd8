"""Socket benchmark: the in-process apps under uvicorn, loaded with wrk.

Each framework's app from ``inprocess.py`` is served by uvicorn (one worker,
uvloop, httptools, no access log) pinned to CPU 0, on a free 127.0.0.1 port.
``wrk -t1 -c50`` pinned to CPU 1 loads each HTTP scenario's request in turn,
the frameworks interleaved and their order rotating from round to round. The
table shows requests per second and the server's CPU time per request
(utime + stime from ``/proc/<pid>/stat``, before and after, divided by the
requests wrk counted), each with its ratio to Starlette.

    apt-get install wrk
    .venv/bin/python bench/over_socket.py            # 4 s a cell, 3 rounds: ~7 minutes
    .venv/bin/python bench/over_socket.py --quick    # 2 s a cell, 1 round: ~1.2 minutes

Every response is checked once (status, content type, body) with a plain HTTP
request before wrk loads it. A hard timeout (``--timeout``) ends the run, and
every child started (servers, wrk) is killed on the way out.
"""

import argparse
import datetime
import http.client
import importlib.util
import os
import platform
import re
import shutil
import signal
import socket
import statistics
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


def load_inprocess() -> ModuleType:
    """``bench/inprocess.py``, imported by path (bench is not a package)."""
    name = "bench_inprocess"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, os.path.join(_HERE, "inprocess.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


if __name__ != "socket":  # not when standing in for the standard library (above)
    inprocess = load_inprocess()


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
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s"]
    if script_path is not None:
        command += ["-s", script_path]
    return [*command, url]


@dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    errors: str = ""  # socket errors and non-2xx/3xx responses, if any


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
    return WrkResult(
        int(match.group(1)), float(match.group(2)) * scale, float(rps.group(1)), "; ".join(errors)
    )


# -- servers -------------------------------------------------------------------------


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


def server_command(framework_key: str, port: int) -> list[str]:
    fw = inprocess.FRAMEWORK_BY_KEY[framework_key]
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        f"inprocess:{fw.make.__name__}",
        "--app-dir",
        _HERE,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
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

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


CHILDREN: list[subprocess.Popen[bytes]] = []


def start_server(framework_key: str, cpu: int | None, ready_timeout: float = 30.0) -> Server:
    """Start uvicorn with the framework's app and wait until it accepts connections."""
    port = free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the server)
    process = subprocess.Popen(
        server_command(framework_key, port),
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=pinned_to(cpu),
    )
    CHILDREN.append(process)
    server = Server(inprocess.FRAMEWORK_BY_KEY[framework_key], process, port, log)
    deadline = time.monotonic() + ready_timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{framework_key}: uvicorn exited:\n{server_log(server)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{framework_key}: uvicorn not up after {ready_timeout} s"
                ) from None
            time.sleep(0.05)


def server_log(server: Server) -> str:
    server.log.seek(0)
    return server.log.read().decode(errors="replace")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def stop_all() -> None:
    for process in CHILDREN:
        stop(process)
    CHILDREN.clear()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # after the command: state is field 3, utime 14 and stime 15 (1-based)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    status, content_type, body = fetch(server.port, scenario)
    where = f"{server.framework.title} over a socket, {scenario.title}"
    inprocess.verify_response(where, scenario, status, content_type, body)


@dataclass
class Cell:
    framework: Any
    scenario: Any
    rps: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


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


# -- reporting -------------------------------------------------------------------------------


def table(cells: dict[tuple[str, str], Cell], frameworks: list[Any], scenarios: list[Any]) -> str:
    header = "| scenario | " + " | ".join(f.title for f in frameworks) + " |"
    lines = [
        "Requests per second (x Starlette: higher is faster)",
        "",
        header,
        "| --- |" + " ---: |" * len(frameworks),
    ]
    for scenario in scenarios:
        base = cells.get(("starlette", scenario.key))
        base_rps = statistics.median(base.rps) if base else None
        row = []
        for fw in frameworks:
            rps = statistics.median(cells[(fw.key, scenario.key)].rps)
            row.append(f"{rps:,.0f}" + (f" ({rps / base_rps:.2f}x)" if base_rps else ""))
        lines.append(f"| {scenario.title} | " + " | ".join(row) + " |")
    lines += [
        "",
        "Server CPU µs per request (x Starlette: higher is cheaper)",
        "",
        header,
        "| --- |" + " ---: |" * len(frameworks),
    ]
    for scenario in scenarios:
        base = cells.get(("starlette", scenario.key))
        base_cpu = statistics.median(base.cpu_us) if base else None
        row = []
        for fw in frameworks:
            us = statistics.median(cells[(fw.key, scenario.key)].cpu_us)
            row.append(f"{us:.1f}" + (f" ({base_cpu / us:.2f}x)" if base_cpu else ""))
        lines.append(f"| {scenario.title} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def describe_machine() -> str:
    dists = ["bocadillo", "starlette", "fastapi", "litestar", "pydantic", "uvicorn", "uvloop"]
    dists.append("httptools")
    versions = ", ".join(f"{d} {inprocess.version(d)}" for d in dists)
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    wrk_version = (wrk.stdout + wrk.stderr).strip().splitlines()[0:1]
    return (
        f"{datetime.date.today().isoformat()}, {os.cpu_count()} CPUs (server on CPU "
        f"{SERVER_CPU}, wrk on CPU {LOAD_CPU}), Linux {platform.release()}, Python "
        f"{platform.python_version()}; {versions}; {' '.join(wrk_version)}"
    )


# -- entry point -----------------------------------------------------------------------------------


class Timeout(Exception):
    pass


def on_alarm(signum: int, frame: Any) -> None:
    raise Timeout


def on_term(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def run(args: argparse.Namespace) -> int:
    frameworks = inprocess.available(args.frameworks.split(","))
    by_key = {s.key: s for s in http_scenarios()}
    scenarios = [by_key[k] for k in args.scenarios.split(",")]
    pin = not args.no_pin and hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2
    server_cpu = SERVER_CPU if pin else None
    load_cpu = LOAD_CPU if pin else None
    started_at = time.perf_counter()

    scripts: dict[str, str | None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in scenarios:
            text = lua_script(scenario)
            if text is None:
                scripts[scenario.key] = None
            else:
                path = os.path.join(tmp, f"{scenario.key}.lua")
                with open(path, "w") as f:
                    f.write(text)
                scripts[scenario.key] = path

        servers = {fw.key: start_server(fw.key, server_cpu) for fw in frameworks}
        for fw in frameworks:
            for scenario in scenarios:
                check_over_socket(servers[fw.key], scenario)
        cells = {(fw.key, s.key): Cell(fw, s) for s in scenarios for fw in frameworks}
        if args.warmup:
            for scenario in scenarios:
                for fw in frameworks:
                    load(servers[fw.key], scenario, args.warmup, scripts[scenario.key], load_cpu)
        total = args.rounds * len(cells)
        done = 0
        for r in range(args.rounds):
            for scenario in scenarios:
                order = frameworks[r % len(frameworks) :] + frameworks[: r % len(frameworks)]
                for fw in order:
                    server = servers[fw.key]
                    result, cpu_us = load(
                        server, scenario, args.duration, scripts[scenario.key], load_cpu
                    )
                    cell = cells[(fw.key, scenario.key)]
                    cell.rps.append(result.rps)
                    cell.cpu_us.append(cpu_us)
                    if result.errors:
                        cell.errors.append(result.errors)
                    if server.process.poll() is not None:
                        raise RuntimeError(f"{fw.title}: the server died:\n{server_log(server)}")
                    done += 1
                    progress = f"\rround {r + 1}/{args.rounds} ({done}/{total} cells)"
                    print(progress, end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        for server in servers.values():
            log = server_log(server).strip()
            if "Traceback" in log:
                print(f"{server.framework.title} logged an error:\n{log}", file=sys.stderr)
    elapsed = time.perf_counter() - started_at

    print()
    print(f"wrk -t1 -c50 -d{args.duration}s, median of {args.rounds} round(s)\n")
    print(table(cells, frameworks, scenarios))
    for cell in cells.values():
        for errors in sorted(set(cell.errors)):
            print(f"\n{cell.framework.title}, {cell.scenario.title}: {errors}")
    print(f"\n{describe_machine()}; {elapsed:.0f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 s a cell, 1 round, no warm-up")
    parser.add_argument("--duration", type=int, help="seconds of wrk per cell (default 4)")
    parser.add_argument("--rounds", type=int, help="rounds (default 3, quick 1)")
    parser.add_argument("--warmup", type=int, help="seconds of wrk per cell first (default 1)")
    parser.add_argument("--timeout", type=float, default=900, help="hard limit, seconds")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and wrk")
    parser.add_argument(
        "--frameworks",
        default=",".join(inprocess.FRAMEWORK_BY_KEY),
        help="comma-separated, from: " + ", ".join(inprocess.FRAMEWORK_BY_KEY),
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(s.key for s in http_scenarios()),
        help="comma-separated, from: " + ", ".join(s.key for s in http_scenarios()),
    )
    args = parser.parse_args(argv)
    args.duration = args.duration or (2 if args.quick else 4)
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
