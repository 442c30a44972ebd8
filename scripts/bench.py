"""Run the benchmarks against Starlette, FastAPI and Litestar (see bench/README.md).

    python3 scripts/bench.py [--quick] [options]     # in-process (bench/inprocess.py)
    python3 scripts/bench.py socket [options]        # over a socket, uvicorn and wrk
    python3 scripts/bench.py sse [options]           # SSE under load (examples/jobs)
    python3 scripts/bench.py db [options]            # the todos example on SQLite and PostgreSQL

Creates or reuses .venv and installs the project with its bench extra first (and, for
db, the postgres extra: SQLAlchemy, aiosqlite, Alembic, asyncpg).
"""

from __future__ import annotations

import sys

from _venv import ROOT, ensure, run

SCRIPTS = {
    "inprocess": "inprocess.py",
    "socket": "over_socket.py",
    "sse": "sse_load.py",
    "db": "db.py",
}
EXTRAS = {"db": "bench,postgres"}

if __name__ == "__main__":
    args = sys.argv[1:]
    name = "inprocess"
    if args and args[0] in SCRIPTS:
        name = args.pop(0)
    script = SCRIPTS[name]
    python = ensure(EXTRAS.get(name, "bench"))
    sys.exit(run(python, ROOT / "bench" / script, *args))
