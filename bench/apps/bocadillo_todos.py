"""A stand-in for the todos example on SQLAlchemy 2 async, for ``bench/db.py --bocadillo-app``.

The same three operations and tables as ``fastapi_todos.py``, written with Bocadillo's
providers: an app-scoped engine, a request-scoped session that commits when the
handler succeeds and rolls back when it raises. ``bench/db.py`` serves the real
example (``examples.todos.app:app``) by default; this app is for comparing the
two, or for running the benchmark where the example is not on a database.

    DATABASE_URL=sqlite+aiosqlite:///todos.db bocadillo run bocadillo_todos:app --app-dir bench/apps
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi_todos import Todo, TodoIn, TodoPage, TodoRow
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as make_engine

from bocadillo import App, HTTPError, Query

DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///todos-bocadillo.db")

app = App(title="Todos")


@app.provider(scope="app")
async def engine() -> AsyncIterator[AsyncEngine]:
    engine = make_engine(DATABASE_URL)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def pragmas(dbapi_connection: Any, record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

    async with engine.begin() as conn:
        await conn.run_sync(TodoRow.metadata.create_all)
    yield engine
    await engine.dispose()


@app.provider(scope="app")
async def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@app.provider
async def session(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessions() as session, session.begin():
        yield session


@app.get("/todos")
async def list_todos(
    session: AsyncSession,
    limit: int = Query(20, ge=1, le=100),
    offset: int = Query(0, ge=0),
) -> TodoPage:
    total = await session.scalar(select(func.count()).select_from(TodoRow))
    rows = await session.scalars(select(TodoRow).order_by(TodoRow.id).offset(offset).limit(limit))
    items = [Todo.model_validate(row, from_attributes=True) for row in rows]
    return TodoPage(items=items, total=total or 0, limit=limit, offset=offset)


@app.get("/todos/{id}", raises={404: "There is no to-do with that id."})
async def get_todo(id: int, session: AsyncSession) -> Todo:
    row = await session.get(TodoRow, id)
    if row is None:
        raise HTTPError(404, detail=f"There is no to-do with id {id}.")
    return Todo.model_validate(row, from_attributes=True)


@app.post("/todos", status_code=201)
async def create_todo(todo: TodoIn, session: AsyncSession) -> Todo:
    row = TodoRow(**todo.model_dump(), created_at=datetime.now(UTC))
    session.add(row)
    await session.flush()
    return Todo.model_validate(row, from_attributes=True)
