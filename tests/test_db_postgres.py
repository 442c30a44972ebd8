"""The database layer on a real PostgreSQL (tests/postgres_server.py, started by the tests).

- The error mapping of ``bocadillo.sqlalchemy.Database`` against what PostgreSQL itself
  raises: a unique violation and a foreign-key violation are ``409`` problems, a
  serialization failure under ``SERIALIZABLE`` and a connection the server terminated
  (``pg_terminate_backend``) are ``503`` problems with ``Retry-After``; never a ``500``,
  never the driver's text, and the app keeps serving after each.
- Several workers, one truth: ``bocadillo run examples.todos.app:app --workers 2`` on
  one PostgreSQL database; a write through one worker is read through the other (which
  worker holds a connection is read from ``/proc``), and two workers starting at once on
  a fresh database both apply the migrations without racing.
"""

from __future__ import annotations

import asyncio
import http.client
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from postgres_server import PostgresServer, sql
from sqlalchemy import ForeignKey, String, select, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from todos_server import TodosServer, request, worker_of

from bocadillo import App
from bocadillo.sqlalchemy import Database
from bocadillo.testing import create_client

pytest_plugins = ["postgres_server"]  # postgres_db: a fresh database on a PostgreSQL server

WAIT = 30.0  # the longest any step waits for another thread, in seconds
PROBLEM_JSON = "application/problem+json"


class Base(DeclarativeBase):
    pass


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    points: Mapped[int] = mapped_column(default=0)


class Player(Base):
    __tablename__ = "players"
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))


class Steps:
    """Threading events a handler and the test hand each other (the handlers run in the
    test client's event loop thread, the test in its own)."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.go = threading.Event()
        self.backend: int | None = None

    async def pause(self) -> None:
        import anyio.to_thread

        self.reached.set()
        assert await anyio.to_thread.run_sync(self.go.wait, WAIT)


def make_app(steps: Steps) -> App:
    app = App(plugins=[Database("sqlite+aiosqlite:///unused.db")])  # DATABASE_URL wins

    @app.post("/teams", status_code=201)
    async def add_team(name: str, session: AsyncSession) -> dict[str, Any]:
        team = Team(name=name)
        session.add(team)
        await session.flush()
        return {"id": team.id, "name": team.name}

    @app.post("/players", status_code=201)
    async def add_player(team_id: int, session: AsyncSession) -> dict[str, Any]:
        player = Player(team_id=team_id)
        session.add(player)
        await session.flush()
        return {"id": player.id, "team_id": player.team_id}

    @app.post("/teams/{id}/score")
    async def score(id: int, session: AsyncSession, wait: bool = False) -> dict[str, Any]:
        """Read the team's points, (wait), then write them plus one: SERIALIZABLE."""
        await session.connection(execution_options={"isolation_level": "SERIALIZABLE"})
        points = (await session.execute(select(Team.points).where(Team.id == id))).scalar_one()
        if wait:
            await steps.pause()
        team = await session.get_one(Team, id)
        team.points = points + 1
        await session.flush()
        return {"id": id, "points": team.points}

    @app.get("/backend")
    async def backend(session: AsyncSession, wait: bool = False) -> dict[str, Any]:
        """The pid of this request's PostgreSQL backend, (wait), then another statement."""
        steps.backend = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        if wait:
            await steps.pause()
        await session.execute(text("SELECT 1"))
        return {"backend": steps.backend}

    return app


@pytest.fixture
def steps() -> Steps:
    return Steps()


@pytest.fixture
def client(postgres_db: str, steps: Steps, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    async def create_tables() -> None:
        engine = create_async_engine(postgres_db)
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        await engine.dispose()

    asyncio.run(create_tables())
    monkeypatch.setenv("DATABASE_URL", postgres_db)
    with create_client(make_app(steps)) as client:
        yield client


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    for driver_word in ("asyncpg", "psycopg", "sqlalchemy", "SQL", "violates", "DETAIL"):
        assert driver_word not in response.text, response.text
    return body


def in_thread(call: Any) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    return thread, result


def test_a_unique_violation_is_a_409_problem(client: Any) -> None:
    assert client.post("/teams?name=owls").status_code == 201
    assert_problem(client.post("/teams?name=owls"), 409)
    assert client.post("/teams?name=larks").status_code == 201  # the app keeps serving


def test_a_foreign_key_violation_is_a_409_problem(client: Any) -> None:
    team = client.post("/teams?name=owls").json()
    assert_problem(client.post("/players?team_id=999"), 409)
    assert client.post(f"/players?team_id={team['id']}").status_code == 201


def test_a_serialization_failure_is_a_503_problem_with_retry_after(
    client: Any, steps: Steps
) -> None:
    team = client.post("/teams?name=owls").json()
    # The first transaction reads the points, then waits; the second reads and writes
    # them and commits; the first then writes what it read: PostgreSQL refuses (40001).
    first, result = in_thread(lambda: client.post(f"/teams/{team['id']}/score?wait=true"))
    assert steps.reached.wait(WAIT)
    assert client.post(f"/teams/{team['id']}/score").json() == {"id": team["id"], "points": 1}
    steps.go.set()
    first.join(WAIT)
    response = result[0]
    assert_problem(response, 503)
    assert int(response.headers["retry-after"]) >= 1
    # Retried, as Retry-After says, it succeeds.
    assert client.post(f"/teams/{team['id']}/score").json() == {"id": team["id"], "points": 2}


def test_a_lost_connection_is_a_503_problem_with_retry_after(
    client: Any, steps: Steps, postgres_server: PostgresServer
) -> None:
    first, result = in_thread(lambda: client.get("/backend?wait=true"))
    assert steps.reached.wait(WAIT)
    assert steps.backend is not None
    sql(postgres_server.port, f"SELECT pg_terminate_backend({steps.backend})")
    steps.go.set()
    first.join(WAIT)
    response = result[0]
    assert_problem(response, 503)
    assert int(response.headers["retry-after"]) >= 1
    # The pool drops the dead connection: the next request gets a live one.
    assert client.get("/backend").status_code == 200


# -- several workers, one truth ------------------------------------------------------


def connections_on_two_workers(
    server: TodosServer,
) -> tuple[http.client.HTTPConnection, http.client.HTTPConnection, set[int]]:
    """Keep-alive connections until two are served by different workers."""
    pids = server.worker_pids()
    assert len(pids) >= 2, f"not two worker processes: {pids}\n{server.log()}"
    by_worker: dict[int, http.client.HTTPConnection] = {}
    spare: list[http.client.HTTPConnection] = []
    deadline = time.monotonic() + WAIT
    while len(by_worker) < 2:
        if time.monotonic() > deadline:
            pytest.fail(f"every connection went to one worker: {list(by_worker)}")
        connection = server.connect()
        status, _ = request(connection, "GET", "/todos?limit=1")
        assert status == 200
        pid = worker_of(connection, server.port, pids)
        if pid in by_worker:
            spare.append(connection)
        else:
            by_worker[pid] = connection
    for connection in spare:
        connection.close()
    (one, first), (other, second) = by_worker.items()
    return first, second, {one, other}


@pytest.mark.slow
def test_two_workers_serve_one_list(postgres_db: str, tmp_path: Path) -> None:
    # A fresh database: both workers apply the migrations at start-up, at the same time.
    with TodosServer(tmp_path, postgres_db, workers=2) as server:
        first, second, workers = connections_on_two_workers(server)
        try:
            assert len(workers) == 2
            status, made = request(
                first, "POST", "/todos", {"title": "Buy bread", "tags": ["shop"]}
            )
            assert status == 201, made
            status, page = request(second, "GET", "/todos")
            assert status == 200
            assert [todo["title"] for todo in page["items"]] == ["Buy bread"]
            assert request(second, "GET", f"/todos/{made['id']}") == (200, made)
            status, patched = request(second, "PATCH", f"/todos/{made['id']}", {"done": True})
            assert status == 200 and patched["done"] is True
            assert request(first, "GET", f"/todos/{made['id']}") == (200, patched)
            status, note = request(first, "POST", f"/todos/{made['id']}/notes", {"text": "Rye"})
            assert status == 201, note
            assert request(second, "GET", f"/todos/{made['id']}/notes") == (200, [note])
            assert request(second, "DELETE", f"/todos/{made['id']}") == (204, None)
            assert request(first, "GET", f"/todos/{made['id']}")[0] == 404
            # Both connections are still on the workers they started on.
            pids = server.worker_pids()
            assert {worker_of(first, server.port, pids), worker_of(second, server.port, pids)} == (
                workers
            )
        finally:
            first.close()
            second.close()
        assert "Traceback" not in server.log(), server.log()
