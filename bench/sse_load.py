"""Server-sent events under load: one uvicorn worker, one job, N clients following it.

    .venv/bin/python bench/sse_load.py            # 1000 clients, a 20-step job (~8 s)
    .venv/bin/python bench/sse_load.py --quick    # 100 clients, a 10-step job (~2 s)
    .venv/bin/python bench/sse_load.py --waves 3  # 1000 clients, three times over
    .venv/bin/python bench/sse_load.py --json     # the figures as one JSON object

It serves the jobs example (``examples/jobs``) with one uvicorn worker on a free
127.0.0.1 port (uvloop and httptools when installed, no access log), creates a
job, and opens ``--clients`` connections to ``GET /jobs/{id}/events`` at once,
from asyncio sockets in this process. Every client must receive every event:
``progress`` with ids 1..steps in order, then ``finished``, then the end of the
stream. With two CPUs or more the server runs on one and this process on
another.

It reports the server's resident memory (``VmRSS``) before the clients connect,
at its peak while they stream (sampled every 100 ms) and after they have left;
the server's CPU time (user + system) per delivered event; and how long each
live event took to reach every client (from the first client that got it to
the last). With ``--waves N`` the clients come N times, a new job each time,
and the memory is read after each wave: it should come back to the same level.
It exits 0 if every client got every event (and the server logged no
traceback), 1 if not, 2 when the run goes past ``--timeout`` seconds (the
server is killed then).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import importlib.metadata
import importlib.util
import json
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE = 4096


@dataclasses.dataclass
class Settings:
    clients: int = 1000
    steps: int = 20
    step_seconds: float = 0.3
    timeout: float = 120.0
    pin: bool = True
    waves: int = 1  # one after the other: does the memory come back, does it grow?


@dataclasses.dataclass
class Client:
    """What one SSE client received: (event, id, data) and when, and how it ended."""

    events: list[tuple[str, str | None, Any]] = dataclasses.field(default_factory=list)
    times: list[float] = dataclasses.field(default_factory=list)
    connected_at: float = 0.0
    ended: bool = False  # the server ended the stream (the last chunk arrived)
    error: str | None = None


# -- the server ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def server_command(port: int, backlog: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "examples.jobs.app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        "--backlog",
        str(backlog),
        "--loop",
        "uvloop" if installed("uvloop") else "asyncio",
        "--http",
        "httptools" if installed("httptools") else "h11",
    ]


def rss_kib(pid: int) -> int:
    """The resident memory of process ``pid``, in KiB (``VmRSS``)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> tuple[float, float]:
    """The CPU time process ``pid`` has used so far: (user, system)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS  # utime, stime


def raise_open_files_limit(needed: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE to ``needed`` (the server inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return soft
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise SystemExit(
            f"{needed} open files are needed and the hard limit is {hard}; raise it (ulimit -Hn)"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return needed


def cpus_for(pin: bool) -> tuple[set[int] | None, set[int] | None]:
    """(server's CPUs, this process's CPUs): one each when there are two or more."""
    available = sorted(os.sched_getaffinity(0))
    if not pin or len(available) < 2:
        return None, None
    return {available[0]}, {available[1]}


async def wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if process.poll() is not None:
                raise RuntimeError("uvicorn exited before serving") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not serve within {seconds} s") from None
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# -- the clients --------------------------------------------------------------------


async def post_json(port: int, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    """One POST over a fresh connection: (status, decoded JSON body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = json.dumps(body).encode()
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
        + data
    )
    response = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, payload = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(payload)


def parse_event(block: bytes) -> tuple[str, str | None, Any] | None:
    """One event block (its lines, without the blank line): (event, id, JSON data);
    None for a comment (a keep-alive)."""
    name, event_id, data = "message", None, []
    for line in block.decode().split("\n"):
        if not line or line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "id":
            event_id = value
        elif field == "data":
            data.append(value)
    if not data:
        return None
    return name, event_id, json.loads("\n".join(data))


async def follow(port: int, path: str, client: Client) -> None:
    """Read one event stream to its end (HTTP/1.1, chunked, as uvicorn sends it)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as exc:
        client.error = f"connect: {exc!r}"
        return
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        client.connected_at = time.monotonic()
        status = int(head.split(None, 2)[1])
        if status != 200 or b"transfer-encoding: chunked" not in head.lower():
            client.error = f"answered {head[:200]!r}"
            return
        buffer = b""
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                client.ended = True
                return
            buffer += (await reader.readexactly(size + 2))[:-2]
            *blocks, buffer = buffer.split(b"\n\n")
            now = time.monotonic()
            for block in blocks:
                event = parse_event(block)
                if event is not None:
                    client.events.append(event)
                    client.times.append(now)
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        client.error = repr(exc)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def expected_events(job_id: int, steps: int) -> list[tuple[str, str | None, Any]]:
    progress = [
        ("progress", str(step), {"job_id": job_id, "step": step, "steps": steps})
        for step in range(1, steps + 1)
    ]
    return [*progress, ("finished", str(steps + 1), {"job_id": job_id, "steps": steps})]


# -- the run ------------------------------------------------------------------------


async def sample_rss(pid: int, peak: list[int], done: asyncio.Event) -> None:
    while not done.is_set():
        with contextlib.suppress(OSError, RuntimeError):
            peak[0] = max(peak[0], rss_kib(pid))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 0.1)


@dataclasses.dataclass
class Wave:
    """One job and every client following it."""

    events_per_client: int
    complete: int  # clients that got every event, in order, and the end of the stream
    delivered: int
    errors: list[str]
    wall: float
    connect: float  # when the last client had its response headers
    spreads: list[float]  # per live event: first client to get it, to the last


async def wave(settings: Settings, port: int, number: int) -> Wave:
    status, job = await post_json(
        port, "/jobs", {"label": f"wave {number}", "steps": settings.steps}
    )
    assert status == 201, job
    path = f"/jobs/{job['id']}/events"
    clients = [Client() for _ in range(settings.clients)]
    started = time.monotonic()
    await asyncio.gather(*(follow(port, path, client) for client in clients))
    wall = time.monotonic() - started

    expected = expected_events(job["id"], settings.steps)
    complete = sum(c.ended and c.events == expected for c in clients)
    # Fan-out, over the events sent once every client was connected.
    last_connect = max(c.connected_at for c in clients)
    spreads = []
    if complete == len(clients):
        for n in range(len(expected)):
            times = [c.times[n] for c in clients]
            if min(times) > last_connect:
                spreads.append(max(times) - min(times))
    return Wave(
        events_per_client=len(expected),
        complete=complete,
        delivered=sum(len(c.events) for c in clients),
        errors=sorted({c.error for c in clients if c.error}),
        wall=wall,
        connect=last_connect - started,
        spreads=spreads,
    )


async def load(settings: Settings, port: int, pid: int) -> dict[str, Any]:
    # A first request, so that the app has started (and made its runner) before measuring.
    status, job = await post_json(port, "/jobs", {"label": "warm-up", "steps": 1})
    assert status == 201, job
    rss_before = rss_kib(pid)
    peak = [rss_before]
    done = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(pid, peak, done))
    waves, rss_after, user, system = [], [], 0.0, 0.0
    for number in range(1, settings.waves + 1):
        user_before, system_before = cpu_seconds(pid)
        waves.append(await wave(settings, port, number))
        user_after, system_after = cpu_seconds(pid)
        user += user_after - user_before
        system += system_after - system_before
        await asyncio.sleep(0.5)  # let the server let go of the connections
        rss_after.append(rss_kib(pid))
    done.set()
    await sampler

    delivered = sum(w.delivered for w in waves)
    cpu = user + system
    spreads = [spread for w in waves for spread in w.spreads]
    return {
        "clients": settings.clients,
        "waves": settings.waves,
        "events_per_client": waves[0].events_per_client,
        "all_delivered": all(w.complete == settings.clients for w in waves),
        "complete_clients": sum(w.complete for w in waves),
        "delivered_events": delivered,
        "errors": sorted({e for w in waves for e in w.errors})[:5],
        "steps": settings.steps,
        "step_seconds": settings.step_seconds,
        "wall_seconds": [round(w.wall, 3) for w in waves],
        "connect_seconds": [round(w.connect, 3) for w in waves],
        "rss_before_mib": round(rss_before / 1024, 1),
        "rss_peak_mib": round(peak[0] / 1024, 1),
        "rss_after_mib": [round(kib / 1024, 1) for kib in rss_after],
        "rss_per_connection_kib": round((peak[0] - rss_before) / settings.clients, 1),
        "server_cpu_seconds": round(cpu, 3),
        "server_cpu_user_seconds": round(user, 3),
        "server_cpu_system_seconds": round(system, 3),
        "cpu_per_event_us": round(cpu / delivered * 1e6, 2) if delivered else None,
        "live_events": len(spreads),
        "fanout_median_ms": round(statistics.median(spreads) * 1000, 1) if spreads else None,
        "fanout_max_ms": round(max(spreads) * 1000, 1) if spreads else None,
    }


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in ("bocadillo", "uvicorn", "uvloop", "httptools", "starlette", "pydantic"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[package] = importlib.metadata.version(package)
    return found


def machine() -> str:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        model = next(
            (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
            model,
        )
    return f"{model}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}"


def run(settings: Settings) -> dict[str, Any]:
    """Serve, load, measure, and stop the server; raise TimeoutError past the timeout."""
    raise_open_files_limit(settings.clients + 256)
    server_cpus, own_cpus = cpus_for(settings.pin)
    port = free_port()
    env = {**os.environ, "JOBS_STEP_SECONDS": str(settings.step_seconds)}
    backlog = max(2048, settings.clients)
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            server_command(port, backlog), cwd=ROOT, env=env, stdout=log, stderr=log
        )
        try:
            if server_cpus is not None and own_cpus is not None:
                os.sched_setaffinity(process.pid, server_cpus)
                os.sched_setaffinity(0, own_cpus)

            async def main() -> dict[str, Any]:
                await wait_for_port(port, process, 20)
                return await load(settings, port, process.pid)

            result = asyncio.run(asyncio.wait_for(main(), settings.timeout))
        except BaseException:
            stop(process)
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-3000:])
            raise
        stop(process)
        log.seek(0)
        server_log = log.read().decode(errors="replace")
    result["server_errors"] = "Traceback" in server_log
    result["pinned"] = (
        None
        if server_cpus is None or own_cpus is None
        else {"server": sorted(server_cpus), "load": sorted(own_cpus)}
    )
    result["machine"] = machine()
    result["versions"] = versions()
    return result


def seconds(values: list[float]) -> str:
    return " / ".join(f"{value} s" for value in values)


def report(result: dict[str, Any]) -> str:
    r = result
    lines = [
        f"machine: {r['machine']}",
        "versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items()),
        "CPUs: "
        + (
            f"server on {r['pinned']['server']}, load generator on {r['pinned']['load']}"
            if r["pinned"]
            else "not pinned"
        ),
        f"clients: {r['clients']}, following one job of {r['steps']} steps at "
        f"{r['step_seconds']} s" + (f", {r['waves']} times over" if r["waves"] > 1 else ""),
        f"events per client: {r['events_per_client']}",
        f"all delivered: {'yes' if r['all_delivered'] else 'NO'} "
        f"({r['complete_clients']}/{r['clients'] * r['waves']} clients complete, "
        f"{r['delivered_events']} events delivered)",
        f"wall time: {seconds(r['wall_seconds'])} (every client connected after "
        f"{seconds(r['connect_seconds'])})",
        f"server RSS: {r['rss_before_mib']} MiB before, {r['rss_peak_mib']} MiB at the peak, "
        f"{' / '.join(map(str, r['rss_after_mib']))} MiB after; "
        f"{r['rss_per_connection_kib']} KiB per connection",
        f"server CPU: {r['server_cpu_seconds']} s (user {r['server_cpu_user_seconds']} s, "
        f"system {r['server_cpu_system_seconds']} s), "
        f"{r['cpu_per_event_us']} µs per delivered event",
        f"fan-out of the {r['live_events']} live events (first client to last): "
        f"median {r['fanout_median_ms']} ms, max {r['fanout_max_ms']} ms",
    ]
    if r["errors"]:
        lines.append(f"client errors: {r['errors']}")
    if r["server_errors"]:
        lines.append("the server logged a traceback")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=None, help="default 1000 (100 quick)")
    parser.add_argument(
        "--steps",
        type=int,
        choices=range(1, 21),
        default=None,
        metavar="1..20",
        help="the job's steps; default 20 (10 quick)",
    )
    parser.add_argument("--step-seconds", type=float, default=None, help="default 0.3 (0.1 quick)")
    parser.add_argument("--timeout", type=float, default=120.0, help="kill everything after")
    parser.add_argument("--quick", action="store_true", help="100 clients, a 10-step job")
    parser.add_argument(
        "--waves", type=int, default=1, help="run the clients this many times, one job each"
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin to CPUs")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    quick = Settings(clients=100, steps=10, step_seconds=0.1)
    base = quick if args.quick else Settings()
    settings = Settings(
        clients=args.clients or base.clients,
        steps=args.steps or base.steps,
        step_seconds=args.step_seconds or base.step_seconds,
        timeout=args.timeout,
        pin=not args.no_pin,
        waves=max(args.waves, 1),
    )
    # A last resort, should the event loop itself be stuck: the alarm raises
    # TimeoutError wherever the program is, and run() then kills the server.
    signal.signal(signal.SIGALRM, _out_of_time)
    signal.alarm(int(settings.timeout) + 15)
    try:
        result = run(settings)
    except TimeoutError:
        print(f"sse_load: not done after {settings.timeout} s; stopped", file=sys.stderr)
        return 2
    finally:
        signal.alarm(0)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0 if result["all_delivered"] and not result["server_errors"] else 1


def _out_of_time(signum: int, frame: Any) -> None:
    raise TimeoutError("the hard timeout went off")


if __name__ == "__main__":
    sys.exit(main())
