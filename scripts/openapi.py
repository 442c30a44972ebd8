"""Regenerate the committed API documents: openapi/<name>.json for every example,
and openapi/<name>.asyncapi.json for every example with WebSocket or SSE routes.

    python3 scripts/openapi.py

An example is a folder examples/<name>/ whose app.py has an ``app``; its
documents are what ``python -m bocadillo openapi examples.<name>.app:app`` and
``python -m bocadillo asyncapi examples.<name>.app:app`` print. An AsyncAPI
document left for an example that no longer has WebSocket routes is deleted.
tests/test_openapi_documents.py fails until this has been run after a change.
Creates or reuses .venv and installs what it needs first.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

from _venv import ROOT, VENV, ensure


def regenerate() -> int:
    from bocadillo import App, ConfigurationError
    from bocadillo.cli.documents import document_bytes
    from bocadillo.cli.loader import CLIError, load_app

    sys.path.insert(0, str(ROOT))
    for app_py in sorted((ROOT / "examples").glob("*/app.py")):
        name = app_py.parent.name
        module = importlib.import_module(f"examples.{name}.app")
        if not isinstance(getattr(module, "app", None), App):
            continue
        try:
            app = load_app(f"{module.__name__}:app")
            documents = {f"{name}.json": app.openapi()}
            asyncapi = app.asyncapi()
        except CLIError as exc:
            print(f"examples/{name}: {exc}", file=sys.stderr)
            return exc.code
        except ConfigurationError as exc:
            print(f"examples/{name}: misconfigured: {exc}", file=sys.stderr)
            return 1
        async_target = ROOT / "openapi" / f"{name}.asyncapi.json"
        if asyncapi["channels"]:
            documents[async_target.name] = asyncapi
        elif async_target.exists():
            async_target.unlink()
            print(f"{async_target.relative_to(ROOT)}: deleted (no WebSocket routes)")
        for filename, document in documents.items():
            data = document_bytes(document)
            target = ROOT / "openapi" / filename
            status = "unchanged" if target.exists() and target.read_bytes() == data else "written"
            target.write_bytes(data)
            print(f"{target.relative_to(ROOT)}: {status}")
    return 0


if __name__ == "__main__":
    python = ensure("sqlalchemy")  # the todos example runs on SQLAlchemy
    if Path(sys.prefix).resolve() != VENV.resolve():
        # Run again with the venv's python, which has bocadillo installed.
        os.execv(str(python), [str(python), __file__, *sys.argv[1:]])
    sys.exit(regenerate())
