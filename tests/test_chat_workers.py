"""The chat example across workers (issue #12): every room event goes through the
``chat`` channel, and each worker keeps its own replica of the rooms from it.

In-process (the in-memory broadcast), an event published on the channel as another
worker would publish it reaches this worker's members and its replica; and a member
that cannot keep up is closed with 1013 instead of holding up the others.

Over Redis (``@pytest.mark.slow``), ``bocadillo run --workers 2`` serves the example
with ``BOCADILLO_BROADCAST`` pointing at a ``redis-server`` started for the session:
members of one room land on both workers (``GET /health`` says which worker answered
and how many members it serves), see each other's joins, messages and departures, and
a name taken on one worker is refused on the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis_server import free_port, redis_command, redis_url  # noqa: F401

from bocadillo.testing import create_client

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 10.0  # seconds for any one message or answer; generous, the machine is shared


# -- in-process: another worker's events, and a slow member -------------------------------


def test_an_event_from_another_worker_reaches_this_workers_members_and_rooms() -> None:
    from examples.chat.app import app, events
    from examples.chat.models import Joined, Left, RoomEvent, Said

    def from_elsewhere(message: Joined | Said | Left) -> None:
        event = RoomEvent(room="lobby", member="elsewhere-1", message=message)
        assert client.portal is not None
        client.portal.call(events.publish, event)

    with create_client(app) as client, client.websocket_connect("/rooms/lobby") as ada:
        ada.send_json({"type": "join", "name": "ada"})
        assert ada.receive_json() == {"type": "joined", "name": "ada", "members": ["ada"]}

        from_elsewhere(Joined(name="bob", members=["ada", "bob"]))
        assert ada.receive_json() == {"type": "joined", "name": "bob", "members": ["ada", "bob"]}
        assert client.get("/rooms").json() == [{"name": "lobby", "members": 2}]
        health = client.get("/health").json()
        assert health == {"status": "ok", "worker": os.getpid(), "members": 1}  # bob: elsewhere
        with client.websocket_connect("/rooms/lobby") as bob_here:
            bob_here.send_json({"type": "join", "name": "bob"})
            assert bob_here.receive_json()["code"] == 4009
            bob_here.send_json({"type": "join", "name": "cy"})
            assert bob_here.receive_json()["members"] == ["ada", "bob", "cy"]
        assert ada.receive_json()["name"] == "cy"
        assert ada.receive_json() == {"type": "left", "name": "cy"}

        from_elsewhere(Said(name="bob", text="from the other worker"))
        assert ada.receive_json() == {
            "type": "said",
            "name": "bob",
            "text": "from the other worker",
        }
        from_elsewhere(Left(name="bob"))
        assert ada.receive_json() == {"type": "left", "name": "bob"}
        assert client.get("/rooms").json() == [{"name": "lobby", "members": 1}]


def test_a_member_too_slow_to_read_is_closed_with_1013_without_holding_up_the_room() -> None:
    from examples.chat.models import Said
    from examples.chat.rooms import OUTBOX_LIMIT, Member

    class StuckClient:
        """A WebSocket whose client reads nothing: the first send never finishes
        until ``unstick``."""

        def __init__(self) -> None:
            self.sent: list[Any] = []
            self.closed: tuple[int, str] | None = None
            self.sending = asyncio.Event()
            self.stuck = asyncio.Event()

        async def send(self, message: Any) -> None:
            self.sent.append(message)
            self.sending.set()
            await self.stuck.wait()

        async def close(self, code: int, reason: str) -> None:
            self.closed = (code, reason)

    async def scenario() -> None:
        member, ws = Member("lobby", name="ada"), StuckClient()
        member.start(ws)  # type: ignore[arg-type]
        member.deliver(Said(name="bob", text="0"))
        await asyncio.wait_for(ws.sending.wait(), TIMEOUT)
        started = time.monotonic()
        for n in range(1, OUTBOX_LIMIT + 2):
            member.deliver(Said(name="bob", text=str(n)))  # the room never waits for ada
        assert time.monotonic() - started < 1.0
        await asyncio.sleep(0.05)
        assert member.behind and ws.closed is None  # still inside the first send
        ws.stuck.set()
        await asyncio.wait_for(member.finish(), TIMEOUT)
        assert [m.text for m in ws.sent] == ["0"]  # the backlog was dropped, not sent
        assert ws.closed == (1013, "Too slow to keep up")

    asyncio.run(scenario())


# -- two workers over Redis ------------------------------------------------------------------


class ServedChat:
    """``bocadillo run examples.chat.app:app --workers 2`` in its own process group."""

    def __init__(self, directory: Path, broadcast: str) -> None:
        self.port = free_port()
        self.http = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}"
        self._log = directory / "server.log"
        command = [sys.executable, "-m", "bocadillo", "run", "examples.chat.app:app"]
        command += ["--port", str(self.port), "--workers", "2"]
        env = {**os.environ, "BOCADILLO_BROADCAST": broadcast, "PYTHONUNBUFFERED": "1"}
        with self._log.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self) -> str:
        return self._log.read_text(errors="replace")

    def get(self, path: str) -> Any:
        request = urllib.request.Request(self.http + path, headers={"Connection": "close"})
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            assert response.status == 200
            return json.loads(response.read())

    def wait_until_serving(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited with {self.process.returncode}:\n{self.log()}")
            with contextlib.suppress(OSError):
                self.get("/health")
                return
            time.sleep(0.05)
        pytest.fail(f"the server did not answer within {timeout} s:\n{self.log()}")

    def workers(self) -> dict[int, int]:
        """Worker pid -> how many members it serves: ``GET /health`` (a new connection
        each time) until both workers have answered."""
        seen: dict[int, int] = {}
        deadline = time.monotonic() + 30
        while len(seen) < 2:
            if time.monotonic() > deadline:
                pytest.fail(f"only the workers {seen} answered /health in 30 s:\n{self.log()}")
            health = self.get("/health")
            seen[health["worker"]] = health["members"]
        return seen

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def two_workers(redis_url: str, tmp_path: Path) -> Iterator[ServedChat]:  # noqa: F811
    served = ServedChat(tmp_path, redis_url)
    try:
        served.wait_until_serving()
        # Both workers follow the chat channel before anyone joins (a worker that
        # subscribes later would not know the members who joined before).
        deadline = time.monotonic() + 30
        while redis_command(redis_url, "PUBSUB", "NUMSUB", "chat") != [b"chat", 2]:
            if time.monotonic() > deadline or served.process.poll() is not None:
                pytest.fail(f"the two workers did not subscribe to 'chat':\n{served.log()}")
            time.sleep(0.05)
        yield served
    finally:
        served.stop()


def receive(ws: Any) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=TIMEOUT))
    return message


@pytest.mark.slow
def test_members_on_two_workers_share_the_room(two_workers: ServedChat) -> None:
    from websockets.exceptions import ConnectionClosedOK
    from websockets.sync.client import connect

    served = two_workers
    room = f"{served.ws}/rooms/lobby"
    members: dict[str, Any] = {}  # name -> its connection, in the order they joined
    worker_of: dict[str, int] = {}
    counts = served.workers()
    assert sorted(counts.values()) == [0, 0]

    def join(name: str, ws: Any) -> None:
        """``name`` joins; it and every member before it get the same ``joined``,
        with everyone in it; then find which worker serves it."""
        ws.send(json.dumps({"type": "join", "name": name}))
        joined = {"type": "joined", "name": name, "members": sorted([*members, name])}
        assert receive(ws) == joined
        for earlier, other in members.items():
            assert receive(other) == joined, f"{earlier} did not see {name} join"
        members[name] = ws
        now = served.workers()
        grown = [pid for pid in now if now[pid] == counts.get(pid, 0) + 1]
        assert len(grown) == 1 and sum(now.values()) == len(members), (counts, now)
        counts.update(now)
        worker_of[name] = grown[0]

    with contextlib.ExitStack() as stack:
        # At least 8 members, and until both workers serve some (at most 30 tries).
        n = 0
        while n < 8 or len(set(worker_of.values())) < 2:
            assert n < 30, f"30 connections, all to one worker: {worker_of}"
            join(f"m{n}", stack.enter_context(connect(room, open_timeout=TIMEOUT)))
            n += 1
        assert set(worker_of.values()) == set(counts)

        # A name taken on either worker is refused on whichever worker serves the
        # newcomer: one of the two refusals crosses workers.
        by_worker = {pid: next(m for m in members if worker_of[m] == pid) for pid in counts}
        with connect(room, open_timeout=TIMEOUT) as newcomer:
            for taken in by_worker.values():
                newcomer.send(json.dumps({"type": "join", "name": taken}))
                assert receive(newcomer) == {
                    "type": "error",
                    "code": 4009,
                    "detail": f"{taken} is taken in this room.",
                    "errors": [],
                }
            join("newcomer", newcomer)
            assert worker_of["newcomer"] in by_worker
            del members["newcomer"]
            newcomer.send(json.dumps({"type": "leave"}))
            assert receive(newcomer) == {"type": "left", "name": "newcomer"}
            with pytest.raises(ConnectionClosedOK) as closed:
                newcomer.recv(timeout=TIMEOUT)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
        for name, ws in members.items():
            assert receive(ws) == {"type": "left", "name": "newcomer"}, name

        assert all(served.get("/rooms") == [{"name": "lobby", "members": n}] for _ in range(6))

        # Everyone says 20 things at once; everyone hears all of it, each sender in order.
        says = 20
        for k in range(says):
            for name, ws in members.items():
                ws.send(json.dumps({"type": "say", "text": f"{name} {k}"}))
        for name, ws in members.items():
            heard: dict[str, list[str]] = {}
            for _ in range(says * len(members)):
                message = receive(ws)
                assert message["type"] == "said", (name, message)
                heard.setdefault(message["name"], []).append(message["text"])
            assert heard == {
                sender: [f"{sender} {k}" for k in range(says)] for sender in members
            }, name

    # Every connection closed: both workers forget everyone.
    deadline = time.monotonic() + TIMEOUT
    while served.get("/rooms") != [] or any(served.workers().values()):
        assert time.monotonic() < deadline, served.get("/rooms")
        time.sleep(0.05)
    assert all(served.get("/rooms") == [] for _ in range(6))
    log = served.log()
    assert "Traceback" not in log and "ERROR" not in log, log
