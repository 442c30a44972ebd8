"""Where the to-dos live: SQLAlchemy 2 tables (typed ORM models), portable between
SQLite and PostgreSQL. Schema changes go through Alembic (``migrations/``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A moment in UTC: stored without a zone (SQLite has none), read back aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class TodoRow(Base):
    """A to-do. ``sqlite_autoincrement``: an id is never given twice, as on PostgreSQL."""

    __tablename__ = "todos"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    done: Mapped[bool] = mapped_column(default=False, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TagRow(Base):
    """A to-do's tag, at its place in the list. A to-do has a tag at most once: a tag
    sent twice breaks the unique constraint, and the client gets a ``409``."""

    __tablename__ = "todo_tags"
    __table_args__ = (UniqueConstraint("todo_id", "name", name="uq_todo_tags_todo_id_name"),)

    todo_id: Mapped[int] = mapped_column(
        ForeignKey("todos.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30), index=True)


class NoteRow(Base):
    """A note on a to-do, deleted with it."""

    __tablename__ = "notes"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    todo_id: Mapped[int] = mapped_column(ForeignKey("todos.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(String(500))
