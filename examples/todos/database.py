"""The example's database: SQLite in ``data/todos.db`` at the repository root unless
``DATABASE_URL`` says otherwise (``postgresql+asyncpg://user:password@host/todos``),
and the schema brought up to date by Alembic when the app starts."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bocadillo.sqlalchemy import Database, begin_write

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "data"  # the repository's data/ folder (git-ignored)

db = Database(f"sqlite+aiosqlite:///{DATA / 'todos.db'}", env="DATABASE_URL")

# Any number that no other part of the app uses as a PostgreSQL advisory lock.
_MIGRATION_LOCK = 2_207_001


def alembic_config() -> Config:
    """The Alembic configuration of ``alembic.ini`` (migrations in ``migrations/``)."""
    return Config(str(HERE / "alembic.ini"))


async def lock_schema(connection: AsyncConnection) -> None:
    """Begin ``connection``'s transaction holding the one lock that migrations take, so
    that workers starting together upgrade one after the other (the later ones find
    nothing to do): PostgreSQL's advisory lock, SQLite's write lock."""
    if connection.dialect.name == "postgresql":
        lock = text("SELECT pg_advisory_xact_lock(:key)")
        await connection.execute(lock, {"key": _MIGRATION_LOCK})
    else:
        await begin_write(connection)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` in one transaction, under the lock."""

    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.connect() as connection:
        await lock_schema(connection)
        await connection.run_sync(run)
        await connection.commit()
