"""The to-dos' reads and writes, shared by app.py and notes.py: each takes the request's
session (one transaction, committed when the handler succeeds)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bocadillo import HTTPError

from .models import Todo, TodoIn
from .tables import TagRow, TodoRow

MAX_ID = 2**63 - 1  # the largest id a database's BIGINT holds


def no_such_todo(todo_id: int) -> HTTPError:
    return HTTPError(404, detail=f"There is no to-do with id {todo_id}.")


def known_id(todo_id: int) -> int:
    """``todo_id``, if a to-do could have it (one too large for the database has none)."""
    if not 0 < todo_id <= MAX_ID:
        raise no_such_todo(todo_id)
    return todo_id


async def tags_of(session: AsyncSession, ids: Sequence[int]) -> dict[int, list[str]]:
    """The tags of each to-do of ``ids``, in the order they were given."""
    tags: dict[int, list[str]] = {todo_id: [] for todo_id in ids}
    if ids:
        rows = await session.execute(
            select(TagRow.todo_id, TagRow.name)
            .where(TagRow.todo_id.in_(ids))
            .order_by(TagRow.todo_id, TagRow.position)
        )
        for todo_id, name in rows:
            tags[todo_id].append(name)
    return tags


def as_todo(row: TodoRow, tags: list[str]) -> Todo:
    return Todo(id=row.id, title=row.title, done=row.done, tags=tags, created_at=row.created_at)


async def set_tags(session: AsyncSession, todo_id: int, tags: Sequence[str]) -> None:
    """Replace a to-do's tags (a tag given twice breaks the unique constraint: a 409)."""
    await session.execute(delete(TagRow).where(TagRow.todo_id == todo_id))
    if tags:
        await session.execute(
            insert(TagRow),
            [{"todo_id": todo_id, "position": n, "name": name} for n, name in enumerate(tags)],
        )


async def add(session: AsyncSession, data: TodoIn) -> Todo:
    row = TodoRow(title=data.title, done=data.done, created_at=datetime.now(UTC))
    session.add(row)
    await session.flush()  # gives the row its id
    await set_tags(session, row.id, data.tags)
    return as_todo(row, list(data.tags))


async def get(session: AsyncSession, todo_id: int) -> Todo:
    known_id(todo_id)
    row = await session.get(TodoRow, todo_id)
    if row is None:
        raise no_such_todo(todo_id)
    return as_todo(row, (await tags_of(session, [todo_id]))[todo_id])


async def change(
    session: AsyncSession,
    todo_id: int,
    *,
    title: str | None = None,
    done: bool | None = None,
    tags: Sequence[str] | None = None,
) -> Todo:
    """Change the fields given, writing first (so that on SQLite the transaction holds
    the write lock before it reads: see docs/databases.md)."""
    known_id(todo_id)
    values: dict[str, object] = {}
    if title is not None:
        values["title"] = title
    if done is not None:
        values["done"] = done
    statement = update(TodoRow).where(TodoRow.id == todo_id).values(values or {"id": TodoRow.id})
    row = (await session.execute(statement.returning(TodoRow))).scalar_one_or_none()
    if row is None:
        raise no_such_todo(todo_id)
    if tags is not None:
        await set_tags(session, todo_id, tags)
        return as_todo(row, list(tags))
    return as_todo(row, (await tags_of(session, [todo_id]))[todo_id])


async def remove(session: AsyncSession, todo_id: int) -> None:
    """Delete a to-do; its tags and notes go with it (``ON DELETE CASCADE``)."""
    known_id(todo_id)
    deleted = await session.execute(
        delete(TodoRow).where(TodoRow.id == todo_id).returning(TodoRow.id)
    )
    if deleted.scalar_one_or_none() is None:
        raise no_such_todo(todo_id)
