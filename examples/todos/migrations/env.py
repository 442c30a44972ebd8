"""Alembic's environment for the todos example: the app's URL and tables, async-aware.

From the app (``database.upgrade``), Alembic gets a connection already holding the
migration lock; from the ``alembic`` command, this makes the engine and takes the lock.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from examples.todos.database import db, lock_schema
from examples.todos.tables import Base

target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # ALTER TABLE on SQLite: copy and move
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_with_own_engine() -> None:
    engine = db.create_engine()
    try:
        async with engine.connect() as connection:
            await lock_schema(connection)
            await connection.run_sync(run_migrations)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=db.url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    given = context.config.attributes.get("connection")
    if given is None:
        asyncio.run(run_with_own_engine())
    else:
        run_migrations(given)
