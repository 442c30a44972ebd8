"""An app's documents as they were at a git revision (``bocadillo diff --base REV``).

The revision's files are extracted (``git archive``) into a temporary folder, and a
child process builds the app's documents there with the running Bocadillo: the
contract is read from the code at that revision, by today's framework, and the old
modules never meet the new ones in one interpreter.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import bocadillo
from bocadillo.cli.loader import APP_ERROR, CLIError

__all__ = ["documents_at_revision"]

BUILD = """
import json, sys
from bocadillo.cli.loader import compiled_app
app = compiled_app(sys.argv[1], sys.argv[2], documents=True)
json.dump({"openapi": app.openapi(), "asyncapi": app.asyncapi()}, sys.stdout)
"""


def _git(args: list[str], cwd: str) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except OSError as exc:
        raise CLIError(f"could not run git: {exc.strerror or exc}") from None
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines() or ["git failed"]
        raise CLIError(f"git {args[0]}: {lines[-1]}")
    return done.stdout


def documents_at_revision(revision: str, target: str, *, app_dir: str = ".") -> dict[str, Any]:
    """The OpenAPI and AsyncAPI documents of ``target`` (``MODULE:APP``) at ``revision``.

    ``app_dir`` is resolved inside the repository holding it. A revision git does not
    know is a usage error (exit code 2); an app that fails to load at that revision
    exits with code 1.
    """
    if revision.startswith("-"):
        raise CLIError(f"{revision!r} is not a git revision")
    here = os.path.abspath(app_dir)
    root = _git(["rev-parse", "--show-toplevel"], here).decode().strip()
    archive = _git(["archive", "--format=tar", revision], root)
    with tempfile.TemporaryDirectory(prefix="bocadillo-base-") as folder:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
        old_dir = str(Path(folder, os.path.relpath(here, root)))
        package_parent = str(Path(bocadillo.__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [package_parent, *filter(None, [env.get("PYTHONPATH")])]
        )
        done = subprocess.run(
            [sys.executable, "-c", BUILD, target, old_dir],
            capture_output=True,
            check=False,
            env=env,
            cwd=os.getcwd(),
        )
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines() or ["no output"]
        raise CLIError(f"{target} at {revision} could not be loaded: {lines[-1]}", APP_ERROR)
    documents: dict[str, Any] = json.loads(done.stdout)
    return documents
