"""The to-do example's list, read and create, written as FastAPI's SQL tutorial writes an app.

The same three operations as ``examples/todos`` (``GET /todos``, ``GET /todos/{id}``,
``POST /todos``), with the same response shapes, on SQLAlchemy 2 async the way
FastAPI's "SQL (Relational) Databases" tutorial does it: a module-level engine, a
session dependency with ``yield``, ``Annotated[..., Depends(...)]``, the tables
created in the lifespan, ``session.commit()`` and ``session.refresh()`` in the
handler, and ORM objects returned through ``response_model``.

    DATABASE_URL=sqlite+aiosqlite:///todos.db uvicorn fastapi_todos:app --app-dir bench/apps

``bench/db.py`` serves it beside ``bocadillo run examples.todos.app:app``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy import (
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    event,
    func,
    select,
)
from sqlalchemy.ext.associationproxy import AssociationProxy, association_proxy
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.ext.orderinglist import ordering_list
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///todos-fastapi.db")

engine = create_async_engine(DATABASE_URL)
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)

if engine.dialect.name == "sqlite":
    # The storage settings of the Bocadillo example (not in the tutorial), so that both
    # apps ask the disk for the same work: write-ahead log, synced at each commit.
    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_connection, connection_record):  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()


# The example's tables (examples/todos/tables.py): a to-do, and its tags in order.


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class TagRow(Base):
    __tablename__ = "todo_tags"
    __table_args__ = (UniqueConstraint("todo_id", "name", name="uq_todo_tags_todo_id_name"),)

    todo_id: Mapped[int] = mapped_column(
        ForeignKey("todos.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30), index=True)


class TodoRow(Base):
    __tablename__ = "todos"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    done: Mapped[bool] = mapped_column(default=False, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The tags, loaded with the to-do (SQLAlchemy's advice for asyncio: no lazy loads),
    # as a list of names; ordering_list numbers their positions.
    tag_rows: Mapped[list[TagRow]] = relationship(
        order_by=TagRow.position,
        collection_class=ordering_list("position"),
        cascade="all, delete-orphan",
        lazy="selectin",
    )
    tags: AssociationProxy[list[str]] = association_proxy(
        "tag_rows", "name", creator=lambda name: TagRow(name=name)
    )


Title = Annotated[str, Field(min_length=1, max_length=100)]
Tag = Annotated[str, Field(min_length=1, max_length=30, pattern=r"^[a-z0-9-]+$")]


class TodoIn(BaseModel):
    title: Title
    done: bool = False
    tags: list[Tag] = Field(default_factory=list, max_length=10)


class Todo(TodoIn):
    id: int
    created_at: datetime


class TodoPage(BaseModel):
    items: list[Todo]
    total: int
    limit: int
    offset: int


async def get_session() -> AsyncIterator[AsyncSession]:
    async with SessionLocal() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield
    await engine.dispose()


app = FastAPI(title="Todos", lifespan=lifespan)


@app.get("/todos", response_model=TodoPage)
async def list_todos(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, object]:
    total = await session.scalar(select(func.count()).select_from(TodoRow))
    result = await session.scalars(select(TodoRow).order_by(TodoRow.id).offset(offset).limit(limit))
    return {"items": result.all(), "total": total, "limit": limit, "offset": offset}


@app.get("/todos/{todo_id}", response_model=Todo)
async def read_todo(todo_id: int, session: SessionDep) -> TodoRow:
    todo = await session.get(TodoRow, todo_id)
    if not todo:
        raise HTTPException(status_code=404, detail="Todo not found")
    return todo


@app.post("/todos", status_code=201, response_model=Todo)
async def create_todo(todo: TodoIn, session: SessionDep) -> TodoRow:
    db_todo = TodoRow(**todo.model_dump(), created_at=datetime.now(UTC))
    session.add(db_todo)
    await session.commit()
    await session.refresh(db_todo)
    return db_todo
