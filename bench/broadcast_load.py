"""Broadcast under load: the feed example on two workers, Redis between them, N followers.

    .venv/bin/python bench/broadcast_load.py              # 1000 followers, 200 posts at 50/s
    .venv/bin/python bench/broadcast_load.py --quick      # 100 followers, 50 posts at 50/s
    .venv/bin/python bench/broadcast_load.py --max-rate   # every post sent at once: its ceiling
    .venv/bin/python bench/broadcast_load.py --json       # the figures as one JSON object

It starts ``redis-server`` on a free 127.0.0.1 port (no persistence; exit 2 with
an install hint if there is none) and serves the feed example
(``examples/feed``) with ``bocadillo run --workers 2`` and
``BOCADILLO_BROADCAST=redis://...``. Then it opens ``--subscribers`` connections
from asyncio sockets in this process. Each asks ``GET /health`` first (which
names the worker that answered) and then, on the same connection,
``GET /posts/events``; a connection that landed on a worker that already has
its half is closed and opened again, so the followers are spread evenly over
the workers. Once every stream has started, probe posts are published every
0.2 s until every follower has received one: then every follower is known to
be subscribed, on both workers. Then ``--posts`` posts are sent, pipelined on
a connection of their own, at ``--rate`` posts a second on a fixed schedule
whatever the answers (or all at once with ``--max-rate``); the worker that has
that connection publishes them in order.

Every follower must receive every post, in order; the run reports any loss
(the feed's channel drops a slow follower's oldest posts past 100 queued).
It measures the delivered messages per second (deliveries over the time from
the first publication to the last delivery), the latency of each delivery
(the time it was read here minus the post's ``published_at``, both
``time.time()`` on this machine), each worker's resident memory (``VmRSS``:
idle, with the followers connected, and at its peak, sampled every 100 ms) and
CPU time, and the CPU time of redis-server and of this process while the
posts go out. With two CPUs or more, the server's workers and redis-server run
on the first and this process on the second.

It exits 0 if every follower got every post in order (and the server logged no
traceback), 1 if not, 2 when redis-server is missing or the run goes past
``--timeout`` seconds (everything it started is stopped then).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import orjson

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MEASURED = "m "  # the text of a measured post: "m 17"
PROBE = "probe "
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.IGNORECASE)
INSTALL_HINT = (
    "broadcast_load: redis-server is not installed; install it "
    "(Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) and run again"
)


@dataclasses.dataclass
class Settings:
    subscribers: int = 1000
    posts: int = 200
    rate: float = 50.0
    max_rate: bool = False
    workers: int = 2
    timeout: float = 180.0
    pin: bool = True
    idle: float = 10.0  # stop waiting for deliveries after this long without one


# -- processes ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_kib(pid: int) -> int:
    """The resident memory of process ``pid``, in KiB (``VmRSS``)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) process ``pid`` has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


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
    """(the server's CPUs, this process's CPUs): one each when there are two or more."""
    available = sorted(os.sched_getaffinity(0))
    if not pin or len(available) < 2:
        return None, None
    return {available[0]}, {available[1]}


def pinned_to(cpus: set[int] | None) -> Any:
    """A ``preexec_fn`` that pins the child (and so every process it starts) to ``cpus``."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def redis_command(redis_server: str, port: int) -> list[str]:
    return [
        redis_server,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
    ]


def server_command(settings: Settings, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bocadillo",
        "run",
        "examples.feed.app:app",
        "--port",
        str(port),
        "--workers",
        str(settings.workers),
        "--log-level",
        "warning",
        # Each worker answers 503 past 1000 connections by default; with the followers
        # spread evenly that is not reached, and this keeps a skewed spread from hitting it.
        "--limit-concurrency",
        str(max(1000, settings.subscribers + 100)),
    ]


def stop(process: subprocess.Popen[bytes], seconds: float = 15) -> None:
    """SIGTERM, then SIGKILL to the process group (the workers too) if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # a worker left behind by its supervisor


async def wait_for_redis(port: int, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"PING\r\n")
            answer = await asyncio.wait_for(reader.readline(), 2)
            writer.close()
            if answer.startswith(b"+PONG"):
                return
        except (OSError, TimeoutError):
            pass
        if process.poll() is not None:
            raise RuntimeError("redis-server exited before serving")
        if time.monotonic() > deadline:
            raise RuntimeError(f"redis-server did not answer within {seconds} s")
        await asyncio.sleep(0.05)


# -- HTTP over one connection -------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection for plain requests (the publisher, /health)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes | None = None
    ) -> tuple[int, dict[str, Any]]:
        """(status, decoded JSON); reconnects once if the server closed the idle connection."""
        for attempt in (1, 2):
            await self.open()
            self.send(method, path, body)
            try:
                return await self.response()
            except (OSError, asyncio.IncompleteReadError):
                await self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def open(self) -> None:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    def send(self, method: str, path: str, body: bytes | None = None) -> None:
        """Write a request (without waiting for the answers to those before it)."""
        assert self.writer is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + (body or b""))

    async def response(self) -> tuple[int, dict[str, Any]]:
        """The next answer on the connection: (status, decoded JSON)."""
        assert self.reader is not None
        answer = await self.reader.readuntil(b"\r\n\r\n")
        length = CONTENT_LENGTH.search(answer)
        payload = await self.reader.readexactly(int(length.group(1)) if length else 0)
        return int(answer.split(None, 2)[1]), orjson.loads(payload) if payload else {}

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


# -- the followers --------------------------------------------------------------------


@dataclasses.dataclass
class Tally:
    """What every follower has received so far, for the waits of the run."""

    posts: int  # measured posts each follower must get
    probed: int = 0  # followers that received a probe
    complete: int = 0  # followers that received every measured post
    deliveries: int = 0  # measured posts received, all followers
    last_delivery: float = 0.0  # time.time()
    probed_all: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    completed_all: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    followers: int = 0


class Follower(asyncio.Protocol):
    """One connection: ``GET /health``, then ``GET /posts/events`` read as it streams.

    The stream is parsed here, in ``data_received``: the chunked framing, the
    events, and the JSON of each event's data, to get the post's sequence number
    (its text, ``m 17``) and ``published_at``.
    """

    def __init__(self, tally: Tally) -> None:
        loop = asyncio.get_running_loop()
        self.tally = tally
        self.transport: asyncio.Transport | None = None
        self.state = "health"
        self.buffer = bytearray()
        self.text = b""  # the stream's bytes not yet ending an event
        self.health: asyncio.Future[tuple[int, dict[str, Any]]] = loop.create_future()
        self.started: asyncio.Future[int] = loop.create_future()
        self.worker = 0
        self.sequence: list[int] = []  # the measured posts received, by number
        self.latencies: list[float] = []  # seconds, one per measured post received
        self.probes = 0
        self.ended = False
        self.closing = False
        self.error: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closing and self.error is None:
            self.error = f"connection lost: {exc!r}" if exc else "the server closed the stream"
        for future in (self.health, self.started):
            if future.done():
                continue
            if self.closing:
                future.cancel()  # closed here: nobody waits for it
            else:
                future.set_exception(ConnectionError(self.error or "closed"))

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        try:
            if self.state == "health":
                self._health()
            if self.state == "head":
                self._head()
            if self.state == "stream":
                self._stream()
        except Exception as exc:  # a malformed answer: this follower fails, the run goes on
            self.error = f"unreadable: {exc!r}"
            self.close()

    def _health(self) -> None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end])
        length_match = CONTENT_LENGTH.search(head)
        length = int(length_match.group(1)) if length_match else 0
        if len(self.buffer) < end + 4 + length:
            return
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        self.state = "idle"
        self.health.set_result((int(head.split(None, 2)[1]), orjson.loads(body)))

    def follow(self, port: int) -> None:
        assert self.transport is not None
        self.state = "head"
        self.transport.write(
            f"GET /posts/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )

    def _head(self) -> None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end])
        del self.buffer[: end + 4]
        status = int(head.split(None, 2)[1])
        if status != 200 or b"transfer-encoding: chunked" not in head.lower():
            self.error = f"answered {head[:200]!r}"
            self.started.set_result(status)
            self.close()
            return
        self.state = "stream"
        self.started.set_result(status)

    def _stream(self) -> None:
        buffer = self.buffer
        position = 0
        pieces = [self.text]
        while True:
            line_end = buffer.find(b"\r\n", position)
            if line_end < 0:
                break
            size = int(bytes(buffer[position:line_end]).split(b";")[0], 16)
            if size == 0:
                self.ended = True
                position = len(buffer)
                break
            start = line_end + 2
            if len(buffer) < start + size + 2:
                break
            pieces.append(bytes(buffer[start : start + size]))
            position = start + size + 2
        del buffer[:position]
        *blocks, self.text = b"".join(pieces).split(b"\n\n")
        if blocks:
            self._events(blocks)
        if self.ended and not self.closing:
            self.error = "the server ended the stream"

    def _events(self, blocks: list[bytes]) -> None:
        now = time.time()
        tally = self.tally
        for block in blocks:
            at = block.find(b"data: ")
            if at < 0:
                continue  # a comment (keep-alive)
            line_end = block.find(b"\n", at)
            post = orjson.loads(block[at + 6 : line_end if line_end >= 0 else len(block)])
            text: str = post["text"]
            if text.startswith(MEASURED):
                self.sequence.append(int(text[len(MEASURED) :]))
                self.latencies.append(now - post["published_at"])
                tally.deliveries += 1
                tally.last_delivery = now
                if len(self.sequence) == tally.posts:
                    tally.complete += 1
                    if tally.complete == tally.followers:
                        tally.completed_all.set()
            elif text.startswith(PROBE):
                self.probes += 1
                if self.probes == 1:
                    tally.probed += 1
                    if tally.probed == tally.followers:
                        tally.probed_all.set()


async def connect(
    port: int, tally: Tally, workers: set[int], split: dict[int, int], quota: int, attempts: int
) -> Follower:
    """A follower on a worker that has fewer than ``quota`` followers (within ``attempts``)."""
    loop = asyncio.get_running_loop()
    for attempt in range(attempts):
        _, follower = await loop.create_connection(lambda: Follower(tally), "127.0.0.1", port)
        assert follower.transport is not None
        follower.transport.write(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        status, health = await asyncio.wait_for(follower.health, 30)
        if status != 200:
            raise RuntimeError(f"GET /health answered {status}: {health}")
        worker = int(health["worker"])
        workers.add(worker)
        if split.get(worker, 0) >= quota and attempt < attempts - 1:
            follower.close()  # this worker has its share: try again
            continue
        split[worker] = split.get(worker, 0) + 1
        follower.worker = worker
        follower.follow(port)
        await asyncio.wait_for(follower.started, 30)
        return follower
    raise AssertionError("unreachable")


# -- the run ------------------------------------------------------------------------


def percentile(ordered: list[float], fraction: float) -> float:
    """The nearest-rank percentile of a sorted list."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> float | None:
    return None if math.isnan(seconds) else round(seconds * 1000, 1)


async def sample_rss(pids: list[int], peak: dict[int, int], done: asyncio.Event) -> None:
    while not done.is_set():
        for pid in pids:
            with contextlib.suppress(OSError, RuntimeError):
                peak[pid] = max(peak.get(pid, 0), rss_kib(pid))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 0.1)


async def find_workers(port: int, count: int, seconds: float) -> list[int]:
    """The process ids of the ``count`` workers, from ``/health`` on fresh connections."""
    found: set[int] = set()
    deadline = time.monotonic() + seconds
    while len(found) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(found)} of {count} workers answered within {seconds} s")
        connection = Connection(port)
        try:
            status, health = await connection.request("GET", "/health")
            if status == 200:
                found.add(int(health["worker"]))
        except OSError:
            await asyncio.sleep(0.05)
        finally:
            await connection.close()
    return sorted(found)


async def wait_until_ready(port: int, server: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if server.poll() is not None:
                raise RuntimeError("bocadillo run exited before serving") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"bocadillo run did not serve within {seconds} s") from None
            await asyncio.sleep(0.05)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return


async def publish(connection: Connection, text: str) -> dict[str, Any]:
    body = orjson.dumps({"author": "bench", "text": text})
    status, post = await connection.request("POST", "/posts", body)
    if status != 202:
        raise RuntimeError(f"POST /posts answered {status}: {post}")
    return post


async def load(
    settings: Settings, port: int, server: subprocess.Popen[bytes], redis_pid: int
) -> dict[str, Any]:
    await wait_until_ready(port, server, 30)
    workers = await find_workers(port, settings.workers, 30)
    rss_idle = {pid: rss_kib(pid) for pid in workers}
    peak = dict(rss_idle)
    sampling = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(workers, peak, sampling))

    # The followers, spread evenly over the workers.
    tally = Tally(posts=settings.posts, followers=settings.subscribers)
    split: dict[int, int] = {}
    seen_workers = set(workers)
    quota = math.ceil(settings.subscribers / settings.workers)
    gate = asyncio.Semaphore(100)  # connections being opened at once

    async def one() -> Follower:
        async with gate:
            return await connect(port, tally, seen_workers, split, quota, attempts=50)

    started = time.monotonic()
    followers = await asyncio.gather(*(one() for _ in range(settings.subscribers)))
    connect_seconds = time.monotonic() - started
    refused = [f.error for f in followers if f.error]
    if refused:
        raise RuntimeError(f"{len(refused)} streams did not start: {refused[:3]}")

    # Every follower is subscribed once it has received a probe.
    publisher = Connection(port)
    probes = 0
    started = time.monotonic()
    while not tally.probed_all.is_set():
        if time.monotonic() - started > 30:
            raise RuntimeError(
                f"only {tally.probed} of {settings.subscribers} followers subscribed"
            )
        probes += 1
        await publish(publisher, f"{PROBE}{probes}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(tally.probed_all.wait(), 0.2)
    subscribe_seconds = time.monotonic() - started
    await asyncio.sleep(0.5)  # the last probes drain
    rss_subscribed = {pid: rss_kib(pid) for pid in workers}

    # The measured posts, pipelined on one connection of their own: each is sent at its
    # time whatever the answers to the others (all at once with --max-rate), and one
    # worker publishes them in order.
    cpu_before = {pid: cpu_seconds(pid) for pid in [*workers, redis_pid]}
    own_before = own_cpu_seconds()
    await publisher.close()
    publisher = Connection(port)
    await publisher.open()
    loop = asyncio.get_running_loop()
    sent_at: list[float] = []

    async def send_posts() -> None:
        schedule = loop.time()
        for number in range(settings.posts):
            if not settings.max_rate:
                delay = schedule + number / settings.rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            body = orjson.dumps({"author": "bench", "text": f"{MEASURED}{number}"})
            sent_at.append(time.time())
            publisher.send("POST", "/posts", body)

    sending = asyncio.create_task(send_posts())
    answer_times: list[float] = []
    published_at: list[float] = []
    for number in range(settings.posts):
        status, post = await publisher.response()
        if status != 202:
            raise RuntimeError(f"POST /posts answered {status}: {post}")
        answer_times.append(time.time() - sent_at[number])
        published_at.append(post["published_at"])
    await sending
    first_publish = sent_at[0]
    publish_seconds = time.time() - first_publish  # to the last answer

    # Wait for the deliveries: all of them, or until none came for `idle` seconds.
    while not tally.completed_all.is_set():
        quiet_since = max(tally.last_delivery, first_publish + publish_seconds)
        if time.time() - quiet_since > settings.idle:
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(tally.completed_all.wait(), 0.2)
    cpu_after = {pid: cpu_seconds(pid) for pid in [*workers, redis_pid]}
    own_cpu = own_cpu_seconds() - own_before
    delivery_seconds = tally.last_delivery - first_publish if tally.deliveries else math.nan
    rss_streamed = {pid: rss_kib(pid) for pid in workers}
    await publisher.close()
    for follower in followers:
        follower.close()
    sampling.set()
    await sampler

    # The figures.
    expected = list(range(settings.posts))
    in_order = sum(f.sequence == expected for f in followers)
    missing = sum(len(set(expected) - set(f.sequence)) for f in followers)
    disordered = sum(
        any(b <= a for a, b in zip(f.sequence, f.sequence[1:], strict=False)) for f in followers
    )
    latencies = sorted(lat for f in followers for lat in f.latencies)
    by_worker = {}
    for pid in workers:
        mine = [f for f in followers if f.worker == pid]
        own = sorted(lat for f in mine for lat in f.latencies)
        by_worker[str(pid)] = {
            "followers": len(mine),
            "rss_idle_mib": round(rss_idle[pid] / 1024, 1),
            "rss_subscribed_mib": round(rss_subscribed[pid] / 1024, 1),
            "rss_peak_mib": round(peak[pid] / 1024, 1),
            "rss_after_posts_mib": round(rss_streamed[pid] / 1024, 1),
            "cpu_seconds": round(cpu_after[pid] - cpu_before[pid], 2),
            "deliveries": sum(len(f.sequence) for f in mine),
            "latency_p50_ms": ms(percentile(own, 0.5)),
            "latency_p99_ms": ms(percentile(own, 0.99)),
        }
    workers_cpu = sum(cpu_after[pid] - cpu_before[pid] for pid in workers)
    redis_cpu = cpu_after[redis_pid] - cpu_before[redis_pid]
    answers = sorted(answer_times)
    return {
        "subscribers": settings.subscribers,
        "workers": settings.workers,
        "posts": settings.posts,
        "rate": None if settings.max_rate else settings.rate,
        "max_rate": settings.max_rate,
        "all_delivered": in_order == settings.subscribers,
        "followers_complete": in_order,
        "deliveries": tally.deliveries,
        "expected_deliveries": settings.subscribers * settings.posts,
        "missing_deliveries": missing,
        "followers_out_of_order": disordered,
        "followers_with_errors": sum(f.error is not None for f in followers),
        "errors": sorted({f.error for f in followers if f.error})[:5],
        "connect_seconds": round(connect_seconds, 2),
        "subscribe_seconds": round(subscribe_seconds, 2),
        "probes": probes,
        "publish_seconds": round(publish_seconds, 3),
        "published_per_second": round(
            (settings.posts - 1) / max(published_at[-1] - published_at[0], 1e-9), 1
        ),
        "post_answer_p50_ms": ms(percentile(answers, 0.5)),
        "post_answer_p99_ms": ms(percentile(answers, 0.99)),
        "delivery_seconds": None if math.isnan(delivery_seconds) else round(delivery_seconds, 3),
        "delivered_per_second": (
            None if math.isnan(delivery_seconds) else round(tally.deliveries / delivery_seconds)
        ),
        "latency_p50_ms": ms(percentile(latencies, 0.5)),
        "latency_p99_ms": ms(percentile(latencies, 0.99)),
        "latency_max_ms": ms(latencies[-1] if latencies else math.nan),
        "by_worker": by_worker,
        "workers_cpu_seconds": round(workers_cpu, 2),
        "workers_cpu_per_delivery_us": (
            round(workers_cpu / tally.deliveries * 1e6, 1) if tally.deliveries else None
        ),
        "redis_cpu_seconds": round(redis_cpu, 3),
        "redis_cpu_percent": (
            None
            if math.isnan(delivery_seconds)
            else round(100 * redis_cpu / max(delivery_seconds, publish_seconds), 1)
        ),
        "load_generator_cpu_seconds": round(own_cpu, 2),
    }


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in ("bocadillo", "uvicorn", "uvloop", "httptools", "redis", "pydantic"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[package] = importlib.metadata.version(package)
    return found


def redis_version(redis_server: str) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            [redis_server, "--version"], capture_output=True, text=True, timeout=10
        ).stdout
        match = re.search(r"v=(\S+)", out)
        if match:
            return match.group(1)
    return "?"


def machine() -> str:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        model = next(
            (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
            model,
        )
    return f"{model}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}"


def run(settings: Settings, redis_server: str) -> dict[str, Any]:
    """Start redis-server and the server, load, measure, stop both; raise TimeoutError
    past the timeout."""
    raise_open_files_limit(settings.subscribers + 512)
    server_cpus, own_cpus = cpus_for(settings.pin)
    redis_port, port = free_port(), free_port()
    env = {**os.environ, "BOCADILLO_BROADCAST": f"redis://127.0.0.1:{redis_port}/0"}
    env.pop("FEED_STREAM_SECONDS", None)  # the streams last until the followers leave
    env.pop("WEB_CONCURRENCY", None)
    with (
        tempfile.TemporaryDirectory() as workdir,
        tempfile.TemporaryFile() as redis_log,
        tempfile.TemporaryFile() as log,
    ):
        redis = subprocess.Popen(
            redis_command(redis_server, redis_port),
            cwd=workdir,
            stdout=redis_log,
            stderr=redis_log,
            preexec_fn=pinned_to(server_cpus),
            start_new_session=True,
        )
        server: subprocess.Popen[bytes] | None = None
        try:
            asyncio.run(wait_for_redis(redis_port, redis, 10))
            server = subprocess.Popen(
                server_command(settings, port),
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=log,
                preexec_fn=pinned_to(server_cpus),
                start_new_session=True,
            )
            if own_cpus is not None:
                os.sched_setaffinity(0, own_cpus)
            running = server
            result = asyncio.run(
                asyncio.wait_for(load(settings, port, running, redis.pid), settings.timeout)
            )
        except BaseException:
            if server is not None:
                stop(server)
            stop(redis)
            for name, file in (("server", log), ("redis-server", redis_log)):
                file.seek(0)
                text = file.read().decode(errors="replace")[-3000:]
                if text:
                    sys.stderr.write(f"--- {name} log ---\n{text}\n")
            raise
        stop(server)
        stop(redis)
        log.seek(0)
        server_log = log.read().decode(errors="replace")
    result["server_errors"] = "Traceback" in server_log
    if result["server_errors"]:
        result["server_log"] = server_log[-3000:]
    result["pinned"] = (
        None
        if server_cpus is None or own_cpus is None
        else {"server_and_redis": sorted(server_cpus), "load": sorted(own_cpus)}
    )
    result["machine"] = machine()
    result["versions"] = {**versions(), "redis-server": redis_version(redis_server)}
    result["loop"] = "uvloop" if installed("uvloop") else "asyncio"
    return result


def report(result: dict[str, Any]) -> str:
    r = result
    pace = "all at once" if r["max_rate"] else f"at {r['rate']:g}/s"
    lines = [
        f"machine: {r['machine']}",
        "versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items()),
        "CPUs: "
        + (
            f"workers and redis-server on {r['pinned']['server_and_redis']}, "
            f"load generator on {r['pinned']['load']}"
            if r["pinned"]
            else "not pinned"
        ),
        f"{r['subscribers']} followers over {r['workers']} workers "
        f"({', '.join(str(w['followers']) for w in r['by_worker'].values())}), "
        f"connected in {r['connect_seconds']} s, all subscribed after {r['subscribe_seconds']} s "
        f"({r['probes']} probes)",
        f"{r['posts']} posts sent {pace}, published at {r['published_per_second']}/s, all "
        f"answered after {r['publish_seconds']} s; each POST answered in p50 "
        f"{r['post_answer_p50_ms']} ms, p99 {r['post_answer_p99_ms']} ms",
        f"all delivered in order: {'yes' if r['all_delivered'] else 'NO'} "
        f"({r['followers_complete']}/{r['subscribers']} followers complete, "
        f"{r['deliveries']}/{r['expected_deliveries']} deliveries, "
        f"{r['missing_deliveries']} missing, {r['followers_out_of_order']} followers out of "
        "order)",
        f"delivered: {r['delivered_per_second']} messages/s "
        f"({r['deliveries']} in {r['delivery_seconds']} s, first publication to last delivery)",
        f"latency (publication to reception): p50 {r['latency_p50_ms']} ms, "
        f"p99 {r['latency_p99_ms']} ms, max {r['latency_max_ms']} ms",
    ]
    for pid, w in r["by_worker"].items():
        lines.append(
            f"worker {pid}: {w['followers']} followers, RSS {w['rss_idle_mib']} MiB idle, "
            f"{w['rss_subscribed_mib']} MiB subscribed, {w['rss_peak_mib']} MiB at the peak; "
            f"CPU {w['cpu_seconds']} s; latency p50 {w['latency_p50_ms']} ms, "
            f"p99 {w['latency_p99_ms']} ms"
        )
    lines += [
        f"workers' CPU: {r['workers_cpu_seconds']} s, {r['workers_cpu_per_delivery_us']} µs "
        "per delivery",
        f"redis-server CPU: {r['redis_cpu_seconds']} s ({r['redis_cpu_percent']}% of one CPU)",
        f"load generator CPU: {r['load_generator_cpu_seconds']} s",
    ]
    if r["errors"]:
        lines.append(f"follower errors ({r['followers_with_errors']}): {r['errors']}")
    if r["server_errors"]:
        lines.append("the server logged a traceback:\n" + r["server_log"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=None, help="default 1000 (100 quick)")
    parser.add_argument("--posts", type=int, default=None, help="default 200 (50 quick)")
    parser.add_argument("--rate", type=float, default=50.0, help="posts a second (default 50)")
    parser.add_argument(
        "--max-rate", action="store_true", help="send every post at once (pipelined)"
    )
    parser.add_argument("--workers", type=int, default=2, help="server workers (default 2)")
    parser.add_argument("--timeout", type=float, default=180.0, help="stop everything after")
    parser.add_argument("--quick", action="store_true", help="100 followers, 50 posts")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to CPUs")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.workers < 1:
        parser.error("--rate and --workers must be positive")
    base = Settings(subscribers=100, posts=50) if args.quick else Settings()
    settings = Settings(
        subscribers=args.subscribers or base.subscribers,
        posts=args.posts or base.posts,
        rate=args.rate,
        max_rate=args.max_rate,
        workers=args.workers,
        timeout=args.timeout,
        pin=not args.no_pin,
    )
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    # A last resort, should the event loop itself be stuck: the alarm raises
    # TimeoutError wherever the program is, and run() then stops the servers.
    signal.signal(signal.SIGALRM, _out_of_time)
    signal.alarm(int(settings.timeout) + 30)
    try:
        result = run(settings, redis_server)
    except TimeoutError:
        print(f"broadcast_load: not done after {settings.timeout} s; stopped", file=sys.stderr)
        return 2
    finally:
        signal.alarm(0)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0 if result["all_delivered"] and not result["server_errors"] else 1


def _out_of_time(signum: int, frame: Any) -> None:
    raise TimeoutError("the hard timeout went off")


if __name__ == "__main__":
    if installed("uvloop"):  # the load generator parses every event: the faster loop
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    sys.exit(main())
