"""Bocadillo on granian: the prototype RSGI entry (bench/rsgi_entry.py) against ASGI.

The same app (``bench/inprocess.py``'s Bocadillo app) is served twice by
granian, one worker each: ``--interface rsgi`` through the prototype entry on
one port, ``--interface asgi`` on another, both pinned to CPU 0; wrk runs on
CPU 1. Each round runs every scenario against both servers (the order
alternating from round to round), so a change in the machine's load hits both
alike. The table shows, per interface, the median requests/s and server CPU
µs per request over the rounds, with their spread (min-max).

    .venv/bin/python bench/rsgi.py               # 5 rounds of 5 s per cell, ~4 min
    .venv/bin/python bench/rsgi.py --quick       # 2 rounds of 2 s
    .venv/bin/python bench/rsgi.py --callgrind   # instructions per request instead
    .venv/bin/python bench/rsgi.py --callgrind --raw   # the same, for a hand-written app

``--callgrind`` runs each server under valgrind (callgrind, instrumentation
off until the warm-up is over) and reports instructions per request over a
keep-alive wrk run, which the load of a shared machine does not move. The
figures and the verdict (not adopted) are in bench/README.md, "RSGI".
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = sys.executable
GRANIAN = str(Path(PYTHON).with_name("granian"))

# (key, title, method, path, body)
SCENARIOS = [
    ("plaintext", "plaintext", "GET", "/plaintext", None),
    ("json", "small JSON", "GET", "/json", None),
    ("params", "int path + 2 query params", "GET", "/items/42?limit=10&q=abc", None),
    (
        "post",
        "POST with a validated body",
        "POST",
        "/items",
        json.dumps({"name": "widget", "price": 9.5, "quantity": 3, "tags": ["a", "b"]}),
    ),
]
INTERFACES = ("rsgi", "asgi")
# granian factories: the same app, with the prototype RSGI entry (bench/rsgi_entry.py) or not.
TARGETS = {"rsgi": "rsgi_entry:bocadillo_rsgi_app", "asgi": "inprocess:bocadillo_app"}
RAW = "rsgi_entry:raw_plaintext"  # --raw: a hand-written app of both interfaces


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def group_stats(group: int) -> dict[int, list[str]]:
    """The ``/proc/PID/stat`` fields (after the name) of the processes of session ``group``."""
    stats = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == group:  # pgrp
            stats[int(stat.parent.name)] = fields
    return stats


def cpu_seconds(group: int) -> float:
    """The CPU time (user + system) used so far by the processes of session ``group``."""
    ticks = sum(int(f[11]) + int(f[12]) for f in group_stats(group).values())  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def callgrind_control(group: int, *options: str) -> None:
    """``callgrind_control`` on this server's processes only (not other callgrind runs)."""
    for pid in group_stats(group):
        subprocess.run(["callgrind_control", *options, str(pid)], capture_output=True)


@contextlib.contextmanager
def server(
    interface: str, port: int, callgrind: Path | None = None, target: str | None = None
) -> Iterator[int]:
    """granian serving the bench app on ``port``, one worker, pinned to CPU 0."""
    command = [
        "taskset", "-c", "0", GRANIAN, "--interface", interface, "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--log-level", "warning",
        target or TARGETS[interface],
    ]  # fmt: skip
    if callgrind is not None:
        # granian's worker is a child process: trace children, instrument later.
        command = [
            "taskset", "-c", "0", "valgrind", "-q", "--tool=callgrind", "--trace-children=yes",
            "--instr-atstart=no", f"--callgrind-out-file={callgrind}.%p", *command[3:],
        ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{BENCH}"}
    proc = subprocess.Popen(command, cwd=BENCH, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + (120 if callgrind else 20)
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/plaintext", timeout=5).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"granian ({interface}) did not start") from None
                time.sleep(0.2)
        yield proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wrk_script(method: str, body: str | None) -> str:
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines.append(f"wrk.body = {json.dumps(body)}")
        lines.append('wrk.headers["Content-Type"] = "application/json"')
    return "\n".join(lines) + "\n"


def wrk(port: int, path: str, script: str, seconds: float, connections: int) -> tuple[float, int]:
    """Requests/s and requests that wrk (on CPU 1) gets from ``path``; any non-2xx
    fails the run."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script)
    try:
        out = subprocess.run(
            ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s",
             "-s", file.name, f"http://127.0.0.1:{port}{path}"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(file.name)
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk reported errors:\n{out}")
    rate = requests = None
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            rate = float(line.split()[1])
        elif " requests in " in line:
            requests = int(line.split()[0])
    if rate is not None and requests is not None:
        return rate, requests
    raise RuntimeError(f"no Requests/sec in wrk's output:\n{out}")


def throughput(rounds: int, seconds: float, connections: int) -> None:
    ports = {interface: free_port() for interface in INTERFACES}
    figures: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}  # server CPU µs per request
    with server("rsgi", ports["rsgi"]) as rsgi, server("asgi", ports["asgi"]) as asgi:
        groups = {"rsgi": rsgi, "asgi": asgi}
        for _key, _, method, path, body in SCENARIOS:  # warm-up
            for interface in INTERFACES:
                wrk(ports[interface], path, wrk_script(method, body), 1, connections)
        for n in range(rounds):
            order = INTERFACES if n % 2 == 0 else INTERFACES[::-1]
            for key, _, method, path, body in SCENARIOS:
                for interface in order:
                    before = cpu_seconds(groups[interface])
                    rate, requests = wrk(
                        ports[interface], path, wrk_script(method, body), seconds, connections
                    )
                    used = cpu_seconds(groups[interface]) - before
                    figures.setdefault((key, interface), []).append(rate)
                    cpu.setdefault((key, interface), []).append(used / requests * 1e6)
            print(f"round {n + 1}/{rounds} done", file=sys.stderr)
    print(f"\n{rounds} rounds of {seconds:g} s, wrk -t1 -c{connections}; median (min-max) req/s\n")
    print("| scenario | RSGI req/s | ASGI req/s | RSGI / ASGI | server CPU µs/req RSGI | ASGI |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for key, title, *_ in SCENARIOS:
        cells = []
        for interface in INTERFACES:
            rates = figures[(key, interface)]
            cells.append(f"{statistics.median(rates):,.0f} ({min(rates):,.0f}-{max(rates):,.0f})")
        ratio = statistics.median(figures[(key, "rsgi")]) / statistics.median(
            figures[(key, "asgi")]
        )
        for interface in INTERFACES:
            used = cpu[(key, interface)]
            cells.append(f"{statistics.median(used):.1f} ({min(used):.1f}-{max(used):.1f})")
        print(f"| {title} | {cells[0]} | {cells[1]} | {ratio:.2f}x | {cells[2]} | {cells[3]} |")


def callgrind_instructions(seconds: float, raw: bool) -> None:
    """Instructions per request in the server, RSGI against ASGI, under callgrind;
    with ``raw``, of the hand-written plaintext app instead of Bocadillo's."""
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("--callgrind needs valgrind (callgrind_control) on PATH")
    print("| scenario | RSGI instr/request | ASGI instr/request | RSGI / ASGI |")
    print("| --- | ---: | ---: | ---: |")
    for _key, title, method, path, body in SCENARIOS[:1] if raw else SCENARIOS:
        counts = {}
        for interface in INTERFACES:
            port = free_port()
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "cg"
                target = RAW if raw else None
                with server(interface, port, callgrind=out, target=target) as group:
                    script = wrk_script(method, body)
                    wrk(port, path, script, 2, 4)  # warm-up
                    callgrind_control(group, "--instr=on")
                    _, done = wrk(port, path, script, seconds, 4)  # keep-alive, as above
                    callgrind_control(group, "--instr=off")
                    callgrind_control(group, "--dump")
                    time.sleep(1)
                total = 0  # the dumps' totals: every process, only the instrumented part
                for file in Path(tmp).glob("cg.*"):
                    for line in file.read_text(errors="replace").splitlines():
                        if line.startswith("totals:"):
                            total += int(line.split()[1])
                counts[interface] = total / done
        ratio = counts["rsgi"] / counts["asgi"]
        print(
            f"| {title} | {counts['rsgi']:,.0f} | {counts['asgi']:,.0f} | {ratio:.2f}x |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="2 rounds of 2 s")
    parser.add_argument("--callgrind", action="store_true")
    parser.add_argument("--raw", action="store_true", help="with --callgrind: granian's floor")
    args = parser.parse_args()
    if args.callgrind:
        callgrind_instructions(args.seconds, args.raw)
        return
    if args.quick:
        args.rounds, args.seconds = 2, 2
    throughput(args.rounds, args.seconds, args.connections)


if __name__ == "__main__":
    main()
