"""The FastAPI app's code on Bocadillo, for ``bench/db.py --bocadillo-app bocadillo_todos:app``.

The same tables, queries and response shapes as ``fastapi_todos.py`` (the ORM rows,
their tags loaded with them), with the database from ``bocadillo.sqlalchemy`` as the
guide sets it up: ``App(plugins=[Database(...)])``, a session per request in a
transaction that commits when the handler succeeds. ``bench/db.py`` times the real
example (``examples.todos.app:app``) by default; this app puts the two frameworks
around the very same SQLAlchemy code.

    DATABASE_URL=sqlite+aiosqlite:///todos.db bocadillo run bocadillo_todos:app --app-dir bench/apps
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi_todos import Base, Todo, TodoIn, TodoPage, TodoRow
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bocadillo import App, HTTPError, Query
from bocadillo.sqlalchemy import Database

db = Database("sqlite+aiosqlite:///todos-bocadillo.db", env="DATABASE_URL")
app = App(title="Todos", plugins=[db])


@app.on_startup
async def create_tables() -> None:
    engine = db.create_engine()
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await engine.dispose()


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
    await session.flush()  # the id; the plugin commits when the handler returns
    return Todo.model_validate(row, from_attributes=True)
