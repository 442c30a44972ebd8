"""bocadillo.sqlalchemy: the engine and session providers, transactions, the error mapping,
SQLite's settings, on a real SQLite file in a temporary folder."""

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
from pydantic import BaseModel
from sqlalchemy import CheckConstraint, ForeignKey, String, select, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bocadillo import App, WebSocket
from bocadillo.sqlalchemy import Database, begin_write
from bocadillo.testing import create_client

Problem = Callable[[httpx2.Response, int], dict[str, Any]]


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30), unique=True)
    stock: Mapped[int] = mapped_column(CheckConstraint("stock >= 0"), default=0)


class Part(Base):
    __tablename__ = "parts"
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))


class ItemIn(BaseModel):
    name: str
    stock: int = 0


class ItemOut(ItemIn):
    id: int


def make_app(db: Database) -> App:
    app = App(plugins=[db])

    @app.on_startup
    async def create_tables() -> None:
        engine = db.create_engine()
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        await engine.dispose()

    @app.post("/items", status_code=201)
    async def add(item: ItemIn, session: AsyncSession) -> ItemOut:
        row = Item(name=item.name, stock=item.stock)
        session.add(row)
        await session.flush()
        return ItemOut(id=row.id, name=row.name, stock=row.stock)

    @app.get("/items/{id}")
    async def get(id: int, session: AsyncSession) -> ItemOut:
        row = await session.get_one(Item, id)
        return ItemOut(id=row.id, name=row.name, stock=row.stock)

    @app.get("/items")
    async def names(session: AsyncSession) -> list[str]:
        return list(await session.scalars(select(Item.name).order_by(Item.id)))

    @app.post("/items/{id}/parts", status_code=201)
    async def add_part(id: int, session: AsyncSession) -> int:
        part = Part(item_id=id)
        session.add(part)
        await session.flush()
        return part.id

    @app.post("/fail-after-write")
    async def fail(session: AsyncSession) -> None:
        session.add(Item(name="never"))
        await session.flush()
        raise ValueError("after the write")

    @app.post("/rename/{id}")
    async def rename(id: int, name: str, session: AsyncSession) -> ItemOut:
        await begin_write(session)
        row = await session.get_one(Item, id)
        row.name = name
        return ItemOut(id=row.id, name=row.name, stock=row.stock)

    @app.get("/pragmas")
    async def pragmas(session: AsyncSession) -> dict[str, Any]:
        values = {}
        for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous"):
            values[name] = (await session.execute(text(f"PRAGMA {name}"))).scalar_one()
        return values

    @app.websocket("/ws/items")
    async def ws_items(ws: WebSocket[ItemIn, ItemOut], session: AsyncSession) -> None:
        async for message in ws:
            row = Item(name=message.name)
            session.add(row)
            await session.flush()
            await ws.send(ItemOut(id=row.id, name=row.name, stock=row.stock))

    @app.sse("/sse/items")
    async def sse_items(session: AsyncSession) -> AsyncIterator[ItemOut]:
        for row in await session.scalars(select(Item).order_by(Item.id)):
            yield ItemOut(id=row.id, name=row.name, stock=row.stock)

    return app


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path}/data/test.db"
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return url


def test_commits_on_success_and_rolls_back_when_the_handler_raised(database_url: str) -> None:
    with create_client(make_app(Database(database_url))) as client:
        created = client.post("/items", json={"name": "tea", "stock": 3})
        assert created.status_code == 201
        assert created.json() == {"name": "tea", "stock": 3, "id": 1}
        assert client.post("/fail-after-write").status_code == 500
        assert client.get("/items").json() == ["tea"]


def test_data_survives_a_restart_and_the_folder_is_created(
    database_url: str, tmp_path: Path
) -> None:
    assert not (tmp_path / "data").exists()
    with create_client(make_app(Database(database_url))) as client:
        client.post("/items", json={"name": "tea"})
    assert (tmp_path / "data" / "test.db").exists()
    with create_client(make_app(Database(database_url))) as client:
        assert client.get("/items").json() == ["tea"]


def test_the_environment_variable_wins_and_is_read_at_start_up(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(Database(database_url))  # made before the variable is set
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/other/env.db")
    with create_client(app) as client:
        client.post("/items", json={"name": "tea"})
    assert (tmp_path / "other" / "env.db").exists()
    assert not (tmp_path / "data").exists()


def test_sqlite_connections_use_wal_foreign_keys_a_busy_timeout_and_full_sync(
    database_url: str,
) -> None:
    with create_client(make_app(Database(database_url, busy_timeout=2500))) as client:
        assert client.get("/pragmas").json() == {
            "journal_mode": "wal",
            "foreign_keys": 1,
            "busy_timeout": 2500,
            "synchronous": 2,  # FULL
        }


def test_client_caused_database_errors_are_problems(database_url: str, problem: Problem) -> None:
    with create_client(make_app(Database(database_url))) as client:
        client.post("/items", json={"name": "tea"})
        unique = problem(client.post("/items", json={"name": "tea"}), 409)
        assert "UNIQUE" not in unique["detail"] and "sqlite" not in unique["detail"].lower()
        problem(client.post("/items", json={"name": "cake", "stock": -1}), 409)  # check
        problem(client.post("/items/99/parts"), 409)  # foreign key
        problem(client.get("/items/99"), 404)  # get_one: NoResultFound
        assert client.get("/items").json() == ["tea"]  # refused writes leave no trace


def test_the_session_provider_documents_409_and_503(database_url: str) -> None:
    with create_client(make_app(Database(database_url))) as client:
        responses = client.get("/openapi.json").json()["paths"]["/items"]["post"]["responses"]
    assert {"409", "503"} <= set(responses)


def test_a_locked_database_is_a_503_with_retry_after(database_url: str, problem: Problem) -> None:
    app = make_app(Database(database_url, busy_timeout=50, retry_after=2))
    with create_client(app) as client:
        client.post("/items", json={"name": "tea"})

        async def hold_the_write_lock() -> None:
            engine = Database(database_url).create_engine()
            async with engine.connect() as connection:
                await begin_write_on(connection)
                # While this transaction holds the lock, another writer waits 50 ms, then gives up.
                response = await asyncio.to_thread(client.post, "/rename/1?name=cake")
                body = problem(response, 503)
                assert response.headers["retry-after"] == "2"
                assert "locked" not in body["detail"]
            await engine.dispose()

        asyncio.run(hold_the_write_lock())
        assert client.post("/rename/1?name=cake").json()["name"] == "cake"


async def begin_write_on(connection: Any) -> None:
    await connection.execute(text("UPDATE items SET stock = stock WHERE id = 1"))


def test_other_database_errors_are_500s_without_the_drivers_text(
    database_url: str, problem: Problem
) -> None:
    app = make_app(Database(database_url))

    @app.get("/broken")
    async def broken(session: AsyncSession) -> int:
        return int((await session.execute(text("SELECT * FROM secret_table"))).scalar_one())

    with create_client(app) as client:
        body = problem(client.get("/broken"), 500)
    assert "secret_table" not in str(body)


def test_lost_connections_and_serialization_failures_are_503s(
    database_url: str, problem: Problem
) -> None:
    class SerializationFailure(Exception):
        sqlstate = "40001"

    app = make_app(Database(database_url))

    @app.get("/serialization")
    async def serialization(session: AsyncSession) -> None:
        raise OperationalError("SELECT 1", {}, SerializationFailure("could not serialize"))

    @app.get("/lost")
    async def lost(session: AsyncSession) -> None:
        raise DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True)

    @app.get("/pool-empty")
    async def pool_empty(session: AsyncSession) -> None:
        raise PoolTimeout("QueuePool limit reached")

    with create_client(app) as client:
        for path in ("/serialization", "/lost", "/pool-empty"):
            response = client.get(path)
            problem(response, 503)
            assert response.headers["retry-after"] == "1"


def test_websocket_and_sse_routes_get_a_connection_scoped_session(database_url: str) -> None:
    with create_client(make_app(Database(database_url))) as client:
        with client.websocket_connect("/ws/items") as ws:
            ws.send_json({"name": "a"})
            assert ws.receive_json()["id"] == 1
            ws.send_json({"name": "b"})
            assert ws.receive_json()["id"] == 2
        # Committed when the connection ended well.
        names = [event.data.name for event in client.stream_events("/sse/items")]
        assert names == ["a", "b"]


def test_provider_names_are_configurable_and_the_engine_can_be_overridden(
    database_url: str, tmp_path: Path
) -> None:
    db = Database(database_url, engine="db_engine", session="db")
    app = App(plugins=[db])
    other = Database(f"sqlite+aiosqlite:///{tmp_path}/override.db")

    @app.get("/one")
    async def one(db: AsyncSession) -> int:
        return int((await db.execute(text("SELECT 1"))).scalar_one())

    @app.get("/engine")
    async def engine_url(db_engine: AsyncEngine) -> str:
        return str(db_engine.url.database)

    async def override_engine() -> AsyncIterator[AsyncEngine]:
        engine = other.create_engine()
        yield engine
        await engine.dispose()

    with create_client(app, overrides={"db_engine": override_engine}) as client:
        assert client.get("/one").json() == 1
        assert client.get("/engine").json().endswith("override.db")


def test_provider_names_must_be_identifiers() -> None:
    from bocadillo import ConfigurationError

    with pytest.raises(ConfigurationError, match="different identifiers"):
        Database("sqlite+aiosqlite://", engine="db", session="db")
