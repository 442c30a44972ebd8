"""The todos example on PostgreSQL: its behaviour tests and its contract test, again.

The same tests as tests/test_examples.py (every one that drives the example through
its ``client``) and the 409 test of tests/test_example_todos_db.py, collected here a
second time with ``DATABASE_URL`` set to a fresh database on a real PostgreSQL
(tests/postgres_server.py) instead of a fresh SQLite file: one behaviour, whichever
database is behind it. Then the example's contract test (every phase, the stateful
one following the document's links) against PostgreSQL, and the migrations of three
engines started together, which PostgreSQL serializes with its advisory lock.
Skipped, with the way to install it, where there is no PostgreSQL.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator

import pytest
import test_example_todos_db
import test_examples
from alembic.script import ScriptDirectory
from postgres_server import PostgresServer, database_name, fetch
from starlette.testclient import TestClient

from bocadillo.testing import contract_test
from examples.todos.app import app as todos_app

pytest_plugins = ["postgres_server"]  # postgres_db: a fresh database on a PostgreSQL server

# Every test of tests/test_examples.py that drives the todos example through ``client``.
for _name, _test in vars(test_examples).items():
    if _name.startswith("test_") and "client" in inspect.signature(_test).parameters:
        globals()[_name] = _test

test_a_tag_given_twice_is_a_409_that_leaves_no_trace = (
    test_example_todos_db.test_a_tag_given_twice_is_a_409_that_leaves_no_trace
)


@pytest.fixture(autouse=True)
def database_url(postgres_db: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """``DATABASE_URL``: a fresh PostgreSQL database for each test (this module's tests
    only; the rest of the suite keeps its fresh SQLite file)."""
    monkeypatch.setenv("DATABASE_URL", postgres_db)
    return postgres_db


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    """The todos example's client (as in tests/test_examples.py), on PostgreSQL."""
    with TestClient(todos_app) as test_client:
        yield test_client


def test_every_todos_behaviour_test_runs_here_too() -> None:
    names = {name for name in globals() if name.startswith("test_")}
    assert {"test_create_returns_the_stored_todo", "test_notes_are_added_and_listed_per_todo"} < (
        names
    )
    assert len(names) >= 12


def test_the_example_is_served_from_postgresql(
    database_url: str, postgres_server: PostgresServer
) -> None:
    from examples.todos.app import app
    from examples.todos.database import db

    assert db.url().get_backend_name() == "postgresql"
    with TestClient(app) as served:
        assert served.post("/todos", json={"title": "Buy bread"}).status_code == 201
    # What the example wrote is in PostgreSQL (read without the example).
    rows = fetch(
        postgres_server.port, "SELECT title FROM todos", database=database_name(database_url)
    )
    assert rows == [("Buy bread",)]


test_todos_keeps_its_contract_on_postgresql = contract_test(todos_app, max_examples=25, seed=2025)


def test_upgrades_started_together_run_one_after_the_other(
    database_url: str, postgres_server: PostgresServer
) -> None:
    from examples.todos.database import alembic_config, db, upgrade

    async def upgrade_together() -> None:
        engines = [db.create_engine() for _ in range(3)]
        try:
            await asyncio.gather(*(upgrade(engine) for engine in engines))
        finally:
            for engine in engines:
                await engine.dispose()

    asyncio.run(upgrade_together())
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    rows = fetch(
        postgres_server.port,
        "SELECT version_num FROM alembic_version",
        database=database_name(database_url),
    )
    assert rows == [(head,)]


def test_values_postgresql_cannot_hold_are_4xx_or_match_nothing(client: TestClient) -> None:
    """Found by the contract test on PostgreSQL: an id past its INTEGER, an offset past
    its BIGINT, a NUL in a text were 500s there (fine on SQLite)."""
    created = client.post("/todos", json={"title": "Buy bread", "tags": ["food"]}).json()
    for path in ("/todos/3000000000", "/todos/99999999999999999999999/notes"):
        assert client.get(path).status_code == 404, path
    assert client.post("/todos/3000000000/notes", json={"text": "x"}).status_code == 404
    page = client.get("/todos", params={"offset": 10**30}).json()
    assert (page["items"], page["total"], page["offset"]) == ([], 1, 10**30)
    for params in ({"q": "a\x00b"}, {"tag": "fo\x00od"}):
        response = client.get("/todos", params=params)
        assert response.status_code == 200 and response.json()["total"] == 0, params
    refused = client.post("/todos", json={"title": "a\x00b"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == ["body", "title"]
    changed = client.put(f"/todos/{created['id']}", json={"title": "\x00"})
    assert changed.status_code == 422
    assert client.get("/todos").json()["items"] == [created]
