"""The todos example on its database: what survives a restart, the constraint a client can
break (a 409 that leaves no trace), the migrations and the command that applies them.

Each test has a fresh SQLite database (conftest.py sets DATABASE_URL)."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from bocadillo.testing import create_client
from tests.todos_server import TodosServer

ROOT = Path(__file__).resolve().parent.parent


def _request(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_todo_survives_a_restart_of_the_server(tmp_path: Path, database_url: str) -> None:
    with TodosServer(tmp_path, database_url, name="first") as server:
        base = f"http://127.0.0.1:{server.port}"
        status, created = _request(f"{base}/todos", "POST", {"title": "Buy bread", "tags": ["a"]})
        assert status == 201
        assert _request(f"{base}/todos/{created['id']}/notes", "POST", {"text": "Rye"})[0] == 201
    with TodosServer(tmp_path, database_url, name="second") as server:  # the same database
        base = f"http://127.0.0.1:{server.port}"
        assert _request(f"{base}/todos/{created['id']}") == (200, created)
        status, notes = _request(f"{base}/todos/{created['id']}/notes")
        assert (status, [note["text"] for note in notes]) == (200, ["Rye"])
    assert Path(str(make_url(database_url).database)).exists()


def test_by_default_the_database_is_data_todos_db_at_the_repository_root(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from examples.todos.database import db

    monkeypatch.delenv("DATABASE_URL")
    url = db.url()
    assert (url.drivername, url.database) == ("sqlite+aiosqlite", str(ROOT / "data" / "todos.db"))
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://app@db.example/todos")
    assert db.url().drivername == "postgresql+asyncpg"


def test_a_tag_given_twice_is_a_409_that_leaves_no_trace(database_url: str) -> None:
    from examples.todos.app import app

    with create_client(app) as client:
        refused = client.post("/todos", json={"title": "Buy bread", "tags": ["food", "food"]})
        assert refused.status_code == 409
        assert refused.headers["content-type"] == "application/problem+json"
        assert "UNIQUE" not in refused.text and "todo_tags" not in refused.text
        assert client.get("/todos").json()["total"] == 0

        created = client.post("/todos", json={"title": "Buy bread", "tags": ["food"]}).json()
        replaced = client.put(f"/todos/{created['id']}", json={"title": "x", "tags": ["a", "a"]})
        assert replaced.status_code == 409
        patched = client.patch(f"/todos/{created['id']}", json={"tags": ["b", "b"]})
        assert patched.status_code == 409
        # Rolled back: the title written before the tags is not kept either.
        assert client.get(f"/todos/{created['id']}").json() == created


def test_deleting_a_todo_deletes_its_notes(database_url: str) -> None:
    from examples.todos.app import app

    with create_client(app) as client:
        client.post("/todos", json={"title": "Buy bread", "tags": ["a"]})
        client.post("/todos/1/notes", json={"text": "Rye"})
        assert client.delete("/todos/1").status_code == 204
    path = make_url(database_url).database
    with sqlite3.connect(str(path)) as connection:
        for table in ("todos", "todo_tags", "notes"):
            assert connection.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)


def test_the_migrate_command_creates_the_schema_and_the_models_match_it(
    database_url: str,
) -> None:
    migrate = subprocess.run(
        [sys.executable, "-m", "examples.todos.migrate"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr
    assert "at head" in migrate.stdout
    alembic = [sys.executable, "-m", "alembic", "-c", "examples/todos/alembic.ini"]
    # `alembic check`: the tables of tables.py need no migration that is not written.
    check = subprocess.run(
        [*alembic, "check"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    current = subprocess.run(
        [*alembic, "current"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert "(head)" in current.stdout, current.stdout + current.stderr


def test_upgrades_started_together_run_one_after_the_other(database_url: str) -> None:
    from examples.todos.database import db, upgrade

    async def upgrade_together() -> None:
        engines = [db.create_engine() for _ in range(3)]
        try:
            await asyncio.gather(*(upgrade(engine) for engine in engines))
        finally:
            for engine in engines:
                await engine.dispose()

    asyncio.run(upgrade_together())
    path = make_url(database_url).database
    with sqlite3.connect(str(path)) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [
            ("0001",)
        ]


def test_tests_never_touch_the_developers_database() -> None:
    assert os.environ["DATABASE_URL"] != ""
    assert "data/todos.db" not in os.environ["DATABASE_URL"]
