"""Bring the example's database schema up to date: ``python -m examples.todos.migrate``.

The app does it too when it starts; this is for a deployment that migrates first.
Reads ``DATABASE_URL`` like the app (default: SQLite in ``data/todos.db``). The same as
``alembic -c examples/todos/alembic.ini upgrade head``.
"""

from __future__ import annotations

import asyncio
import sys

from .database import db, upgrade


async def main(revision: str = "head") -> None:
    engine = db.create_engine()
    try:
        await upgrade(engine, revision)
    finally:
        await engine.dispose()
    print(f"{db.url().render_as_string(hide_password=True)}: at {revision}")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:2]))
