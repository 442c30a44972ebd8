"""Load test: the todos example under wrk, then a check that no acknowledged write was lost.

``bocadillo run examples.todos.app:app`` (its defaults: one process, keep-alive
5 s, at most 1000 connections, the access log on) serves on a free 127.0.0.1
port. Each wave runs ``wrk`` for a fixed time with a Lua script making, on
every connection at once: ``POST /todos`` (three requests in four), ``GET
/todos/{id}`` of a to-do that thread was just told was created, and one
request in a hundred ``GET /todos?limit=10`` (which scans the whole store, so
it gets slower as the store grows). Once ``--writes`` of a thread's writes
were acknowledged, it reads them back, each in turn, until the time is up:
every wave stores as much (give or take the writes in flight), so their memory
can be compared. wrk writes
every answer it gets to a file per thread. After the wave:

- every acknowledged write (a ``201`` and its id) is in the store, under the
  title it was sent with; the store has no other to-do but those wrk sent and
  did not wait for when its time was up (at most one a connection); no title
  is stored twice;
- every read of an acknowledged to-do found it (no ``404``);
- no answer was an error (4xx or 5xx), and wrk saw no socket error;
- then every to-do is deleted (pipelined ``DELETE``), so each wave starts from
  an empty store, and the server's memory (``VmRSS``) is read.

The memory after each wave should come back to the same level: a leak shows as
growth from one wave to the next.

    apt-get install wrk
    .venv/bin/python bench/load_todos.py      # 3 waves of 20 s, 2 wrk threads, 64 connections
    .venv/bin/python bench/load_todos.py --duration 5 --waves 2 --writes 1500

It prints the figures of each wave and exits with 1 if a check failed.
``tests/test_load.py`` runs it for two waves of 5 s, 32 connections, 1500 writes a thread.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = "examples.todos.app:app"
STARTED = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")
WRITES = 10_000  # a wrk thread's writes in a wave, so that every wave stores as much

# Every answer goes to one file per wrk thread, a line per answer:
#   "201 <id> <title>"   a to-do created (an acknowledged write)
#   "200 <id> <title>"   a to-do read back
#   "list <status>"      a page of the list
#   "<status> -"         anything else (an error)
WRK_SCRIPT = r"""
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local out, wave, cap, n, reads, last_id
local acked = {}
local json_headers = { ["Content-Type"] = "application/json" }

function init(args)
  wave = args[1]
  out = assert(io.open(args[2] .. "/thread-" .. tid .. ".txt", "w"))
  out:setvbuf("line")
  cap = tonumber(args[3])
  n, reads = 0, 0
end

function request()
  n = n + 1
  local writes_done = cap > 0 and #acked >= cap
  if n % 100 == 0 then
    return wrk.format("GET", "/todos?limit=10")
  elseif writes_done then
    -- enough writes acknowledged: read them back, each in turn
    reads = reads + 1
    return wrk.format("GET", "/todos/" .. acked[(reads % #acked) + 1])
  elseif n % 4 == 0 and last_id then
    return wrk.format("GET", "/todos/" .. last_id)
  end
  local title = "load w" .. wave .. " t" .. tid .. " n" .. n
  return wrk.format("POST", "/todos", json_headers, '{"title":"' .. title .. '","tags":["load"]}')
end

function response(status, headers, body)
  if body:sub(1, 9) == '{"items":' then
    out:write("list ", status, "\n")
  elseif status == 201 or status == 200 then
    local id = body:match('"id":(%d+)') or "?"
    local title = body:match('"title":"([^"]*)"') or "?"
    if status == 201 then
      last_id = id
      acked[#acked + 1] = id
    end
    out:write(status, " ", id, " ", title, "\n")
  else
    out:write(status, " -\n")
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d connect=%d read=%d write=%d timeout=%d status=%d " ..
    "p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


# -- the server -------------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log_path: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss(self) -> int:
        """The server's resident memory, in bytes."""
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS line")

    def log(self) -> str:
        with open(self.log_path, errors="replace") as log:
            return log.read()


@contextlib.contextmanager
def serve_todos(directory: str, *options: str) -> Iterator[Server]:
    """``bocadillo run examples.todos.app:app --port 0 OPTIONS``, killed on the way out."""
    log_path = os.path.join(directory, "server.log")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bocadillo", "run", APP, "--port", "0", *options],
            cwd=REPO,
            # A database of its own in `directory`, unless DATABASE_URL names one.
            env={"DATABASE_URL": f"sqlite+aiosqlite:///{directory}/todos.db", **os.environ},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            with open(log_path, errors="replace") as text:
                match = STARTED.search(text.read())
            if match:
                break
            if process.poll() is not None or time.monotonic() > deadline:
                with open(log_path, errors="replace") as text:
                    raise RuntimeError(f"the server did not start:\n{text.read()}")
            time.sleep(0.05)
        yield Server(process, int(match.group(1)), log_path)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


# -- after a wave: reading, checking, deleting ----------------------------------------


def stored_todos(port: int) -> list[dict[str, object]]:
    """Every to-do in the store, by pages of 100 in id order."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    todos: list[dict[str, object]] = []
    try:
        while True:
            connection.request("GET", f"/todos?limit=100&offset={len(todos)}&sort=id")
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"GET /todos answered {response.status}: {body!r}")
            page = json.loads(body)
            todos += page["items"]
            if not page["items"] or len(todos) >= page["total"]:
                return todos
    finally:
        connection.close()


async def _pipelined(port: int, requests: list[bytes], connections: int, depth: int) -> list[int]:
    """Send ``requests`` over ``connections`` connections, ``depth`` at a time on each;
    the statuses of the answers."""
    statuses: list[int] = []

    async def worker(share: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for start in range(0, len(share), depth):
                batch = share[start : start + depth]
                writer.write(b"".join(batch))
                for _ in batch:
                    head = await reader.readuntil(b"\r\n\r\n")
                    statuses.append(int(head.split(b" ", 2)[1]))
                    length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
                    if length:
                        await reader.readexactly(int(length.group(1)))
        finally:
            writer.close()

    shares = [requests[i::connections] for i in range(connections)]
    await asyncio.wait_for(asyncio.gather(*(worker(s) for s in shares if s)), 120)
    return statuses


def delete_all(port: int, ids: list[int]) -> collections.Counter[int]:
    """``DELETE /todos/{id}`` for each id, pipelined; how many of each status."""
    requests = [f"DELETE /todos/{i} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode() for i in ids]
    return collections.Counter(asyncio.run(_pipelined(port, requests, 4, 64)))


@dataclass
class Wave:
    """What one wave did and what the checks found."""

    number: int
    seconds: float
    requests: int = 0  # as wrk counted them
    answers: int = 0  # as the script recorded them
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)
    acknowledged: int = 0  # 201s
    found: int = 0  # acknowledged writes found in the store, with their titles
    unacknowledged: int = 0  # stored, but wrk had stopped waiting for the answer
    read_back: int = 0  # GET /todos/{id} after a 201: found
    latency_ms: dict[str, float] = field(default_factory=dict)
    socket_errors: dict[str, int] = field(default_factory=dict)
    rss_peak: int = 0
    rss_after: int = 0  # once every to-do was deleted
    problems: list[str] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def check_wave(wave: Wave, directory: str, port: int, connections: int) -> None:
    """Read the per-thread files and the store; note every problem in ``wave.problems``."""
    acked: dict[int, str] = {}
    read_back: list[tuple[int, str]] = []
    for name in sorted(os.listdir(directory)):
        if not name.startswith("thread-"):
            continue
        with open(os.path.join(directory, name)) as lines:
            for line in lines:
                kind, _, rest = line.rstrip("\n").partition(" ")
                wave.answers += 1
                if kind == "list":
                    wave.statuses[f"list {rest}"] += 1
                    continue
                wave.statuses[kind] += 1
                if kind in ("200", "201"):
                    raw_id, _, title = rest.partition(" ")
                    if kind == "201":
                        if int(raw_id) in acked:
                            wave.problems.append(f"id {raw_id} acknowledged twice")
                        acked[int(raw_id)] = title
                    else:
                        read_back.append((int(raw_id), title))
    wave.acknowledged = len(acked)
    if wave.answers != wave.requests:
        wave.problems.append(f"wrk counted {wave.requests} answers, the script {wave.answers}")
    errors = {s: n for s, n in wave.statuses.items() if not s.endswith(("200", "201"))}
    if errors:
        wave.problems.append(f"error answers: {errors}")
    if any(wave.socket_errors.values()):
        wave.problems.append(f"socket errors: {wave.socket_errors}")
    for todo_id, title in read_back:
        if acked.get(todo_id) != title:
            wave.problems.append(f"read back {todo_id} {title!r}, not an acknowledged write")
            break
    wave.read_back = len(read_back)

    stored = {int(str(todo["id"])): str(todo["title"]) for todo in stored_todos(port)}
    titles = collections.Counter(stored.values())
    twice = [title for title, n in titles.items() if n > 1]
    if twice:
        wave.problems.append(f"{len(twice)} titles stored more than once, e.g. {twice[0]!r}")
    lost = [i for i, title in acked.items() if stored.get(i) != title]
    wave.found = len(acked) - len(lost)
    if lost:
        wave.problems.append(f"{len(lost)} acknowledged writes not found, e.g. id {lost[0]}")
    extra = {i: title for i, title in stored.items() if i not in acked}
    wave.unacknowledged = len(extra)
    foreign = [t for t in extra.values() if not t.startswith(f"load w{wave.number} ")]
    if foreign:
        wave.problems.append(f"to-dos nobody sent: {foreign[:3]}")
    if len(extra) > connections:
        wave.problems.append(
            f"{len(extra)} unacknowledged to-dos stored, more than the {connections} "
            "requests that can be in flight when wrk stops"
        )
    deleted = delete_all(port, list(stored))
    if deleted != collections.Counter({204: len(stored)}):
        wave.problems.append(f"deleting answered {dict(deleted)}")
    if stored_todos(port):
        wave.problems.append("to-dos left after deleting them all")


def run_wave(
    server: Server,
    number: int,
    seconds: int,
    threads: int,
    connections: int,
    writes: int,
    wrk: str,
) -> Wave:
    wave = Wave(number, seconds)
    with tempfile.TemporaryDirectory(prefix="load-todos-") as directory:
        script = os.path.join(directory, "todos.lua")
        with open(script, "w") as file:
            file.write(WRK_SCRIPT)
        command = [
            wrk,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "-s",
            script,
            f"http://127.0.0.1:{server.port}",
            "--",
            str(number),
            directory,
            str(writes),
        ]
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            deadline = time.monotonic() + seconds + 30
            while process.poll() is None:
                wave.rss_peak = max(wave.rss_peak, server.rss())
                if time.monotonic() > deadline:
                    raise RuntimeError(f"wrk did not end within {seconds + 30} s")
                time.sleep(0.1)
        finally:
            if process.poll() is None:
                process.kill()
            output = process.communicate(timeout=10)[0]
        result = re.search(r"^RESULT (.*)$", output, re.M)
        if process.returncode != 0 or result is None:
            raise RuntimeError(f"wrk failed ({process.returncode}):\n{output}")
        figures = {k: int(v) for k, v in (item.split("=") for item in result.group(1).split())}
        wave.requests = figures["requests"]
        wave.seconds = figures["duration_us"] / 1e6
        wave.socket_errors = {
            k: figures[k] for k in ("connect", "read", "write", "timeout") if figures[k]
        }
        wave.latency_ms = {p: figures[f"{p}_us"] / 1000 for p in ("p50", "p90", "p99", "max")}
        check_wave(wave, directory, server.port, connections)
    wave.rss_after = server.rss()
    return wave


@dataclass
class Report:
    rss_start: int
    waves: list[Wave]
    server_log: str

    @property
    def problems(self) -> list[str]:
        found = [f"wave {w.number}: {p}" for w in self.waves for p in w.problems]
        if "Traceback" in self.server_log:
            found.append("the server logged a traceback")
        return found


def run(
    *,
    seconds: int = 20,
    waves: int = 3,
    threads: int = 2,
    connections: int = 64,
    writes: int = WRITES,
) -> Report:
    """Serve the todos app, load it ``waves`` times, and check each wave.

    Each wrk thread sends ``writes`` writes (0: no limit), then only reads.
    """
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    with (
        tempfile.TemporaryDirectory(prefix="load-todos-server-") as directory,
        serve_todos(directory) as server,
    ):
        # A few requests first, so that the start is not counted as growth.
        warm = delete_all(server.port, list(range(1, 201)))
        if set(warm) != {404}:
            raise RuntimeError(f"warming up: {dict(warm)}")
        rss_start = server.rss()
        done = [
            run_wave(server, number, seconds, threads, connections, writes, wrk)
            for number in range(1, waves + 1)
        ]
        return Report(rss_start, done, server.log())


def print_report(report: Report) -> None:
    mib = 1024 * 1024
    print(f"server RSS after start-up: {report.rss_start / mib:.1f} MiB")
    print(
        f"{'wave':>4} {'seconds':>7} {'requests':>9} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'max ms':>7} {'acked':>7} {'found':>7} {'unacked':>7} {'read back':>9} "
        f"{'peak MiB':>8} {'after MiB':>9}"
    )
    for w in report.waves:
        print(
            f"{w.number:>4} {w.seconds:>7.1f} {w.requests:>9} {w.rps:>8.0f} "
            f"{w.latency_ms['p50']:>7.2f} {w.latency_ms['p99']:>7.2f} {w.latency_ms['max']:>7.1f} "
            f"{w.acknowledged:>7} {w.found:>7} {w.unacknowledged:>7} {w.read_back:>9} "
            f"{w.rss_peak / mib:>8.1f} {w.rss_after / mib:>9.1f}"
        )
    for w in report.waves:
        print(f"wave {w.number} answers: {dict(sorted(w.statuses.items()))}")
    if report.problems:
        print("PROBLEMS:")
        for problem in report.problems:
            print(f"  {problem}")
    else:
        print("every acknowledged write was found; no error answer, no socket error")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=20, help="seconds a wave (default 20)")
    parser.add_argument("--waves", type=int, default=3, help="waves of load (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument(
        "--writes",
        type=int,
        default=WRITES,
        help=(
            f"acknowledged writes a wrk thread makes, then it only reads "
            f"(default {WRITES}; 0: no limit)"
        ),
    )
    args = parser.parse_args()
    try:
        report = run(
            seconds=args.duration,
            waves=args.waves,
            threads=args.threads,
            connections=args.connections,
            writes=args.writes,
        )
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_report(report)
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
