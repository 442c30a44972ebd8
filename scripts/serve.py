"""Serve the example todos API on http://127.0.0.1:8000, with ``bocadillo run``
(uvicorn with the production defaults and limits of docs/cli.md).

    python3 scripts/serve.py [--port 8000] [--reload]

Creates or reuses .venv and installs what it needs first.
"""

from __future__ import annotations

import os
import sys

from _venv import ROOT, ensure

if __name__ == "__main__":
    python = ensure("sqlalchemy")  # the todos example runs on SQLAlchemy
    args = [
        str(python),
        "-m",
        "bocadillo",
        "run",
        "examples.todos.app:app",
        "--app-dir",
        str(ROOT),
        "--host",
        "127.0.0.1",
        "--port",
        "8000",
        *sys.argv[1:],
    ]
    os.chdir(ROOT)
    os.execv(args[0], args)
