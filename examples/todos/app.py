"""A to-do list API: create, list (with paging and filters), read, update, delete.

The to-dos live in a database (``database.py``): SQLite in ``data/todos.db`` by
default, PostgreSQL when ``DATABASE_URL`` says so. Each handler names ``session``
to receive an ``AsyncSession`` in a transaction of its own, committed when the
handler succeeds and rolled back when it raises (``bocadillo.sqlalchemy``).

Serve it with ``python3 scripts/serve.py`` (or ``bocadillo run examples.todos.app:app``)
and try::

    curl -i -X POST localhost:8000/todos -H 'content-type: application/json' \\
         -d '{"title": "Buy bread"}'
    curl -i 'localhost:8000/todos?done=false&limit=10'
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bocadillo import CORS, App, Query

from . import queries
from .database import db, upgrade
from .models import Todo, TodoIn, TodoPage, TodoPatch
from .notes import router as notes_router
from .tables import TagRow, TodoRow

app = App(
    title="Todos",
    version="1.0.0",
    description="A to-do list API: the signature of each handler is its contract.",
    # A front end served from localhost:5173 (a Vite dev server, say) may call the API.
    cors=CORS(allow_origins=["http://localhost:5173"], allow_headers=["content-type"]),
    gzip=True,  # pages of to-dos compress well; small answers are sent as they are
    plugins=[db],  # the engine and session providers, database errors as problems
)
app.include_router(notes_router)  # notes on a to-do, declared with typesystem (notes.py)

NO_SUCH_TODO = {404: "There is no to-do with that id."}


@app.provider(scope="app", autouse=True)
async def schema(engine: AsyncEngine) -> AsyncIterator[None]:
    """At start-up, bring the schema up to date (Alembic's migrations, under a lock)."""
    await upgrade(engine)
    yield


@app.get("/todos", tags=["todos"])
async def list_todos(
    session: AsyncSession,
    limit: int = Query(20, ge=1, le=100, description="How many to-dos to return."),
    offset: int = Query(0, ge=0, description="How many matching to-dos to skip."),
    done: bool | None = Query(None, description="Only done (true) or open (false) to-dos."),
    tag: list[str] = Query([], description="Only to-dos with every one of these tags."),
    q: str | None = Query(None, max_length=100, description="Text the title contains."),
    sort: Literal["id", "-id", "title"] = "id",
) -> TodoPage:
    """List to-dos, filtered and one page at a time."""
    where: list[ColumnElement[bool]] = []
    if done is not None:
        where.append(TodoRow.done == done)
    if tag:
        # To-dos with every one of the tags: as many of them as there are distinct tags.
        wanted = set(tag)
        having_all = (
            select(TagRow.todo_id)
            .where(TagRow.name.in_(wanted))
            .group_by(TagRow.todo_id)
            .having(func.count() == len(wanted))
        )
        where.append(TodoRow.id.in_(having_all))
    if q is not None:
        where.append(TodoRow.title.icontains(q, autoescape=True))
    statement = select(TodoRow).where(*where)
    if sort == "-id":
        statement = statement.order_by(TodoRow.id.desc())
    elif sort == "title":
        statement = statement.order_by(TodoRow.title, TodoRow.id)  # ties: oldest first
    else:
        statement = statement.order_by(TodoRow.id)
    rows = list(await session.scalars(statement.limit(limit).offset(offset)))
    total = await session.scalar(select(func.count()).select_from(TodoRow).where(*where))
    tags = await queries.tags_of(session, [row.id for row in rows])
    return TodoPage(
        items=[queries.as_todo(row, tags[row.id]) for row in rows],
        total=total or 0,
        limit=limit,
        offset=offset,
    )


@app.post("/todos", status_code=201, tags=["todos"])
async def create_todo(todo: TodoIn, session: AsyncSession) -> Todo:
    """Create a to-do.

    A to-do has each tag once: a tag given twice is a `409`.
    """
    return await queries.add(session, todo)


@app.get("/todos/{id}", tags=["todos"], raises=NO_SUCH_TODO)
async def get_todo(id: int, session: AsyncSession) -> Todo:
    """Read one to-do."""
    return await queries.get(session, id)


@app.put("/todos/{id}", tags=["todos"], raises=NO_SUCH_TODO)
async def replace_todo(id: int, todo: TodoIn, session: AsyncSession) -> Todo:
    """Replace a to-do's title, state and tags."""
    return await queries.change(session, id, title=todo.title, done=todo.done, tags=todo.tags)


@app.patch("/todos/{id}", tags=["todos"], raises=NO_SUCH_TODO)
async def update_todo(id: int, patch: TodoPatch, session: AsyncSession) -> Todo:
    """Change some fields of a to-do."""
    return await queries.change(session, id, title=patch.title, done=patch.done, tags=patch.tags)


@app.delete("/todos/{id}", tags=["todos"], raises=NO_SUCH_TODO)
async def delete_todo(id: int, session: AsyncSession) -> None:
    """Delete a to-do.

    Its notes go with it.
    """
    await queries.remove(session, id)
