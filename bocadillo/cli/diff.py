"""``bocadillo diff OLD NEW``: what changed between two versions of an API, and whether it breaks.

Each side is a document file (OpenAPI or AsyncAPI, JSON or YAML) or an app
(``MODULE:APP``, both its documents); ``--base REV MODULE:APP`` compares the app
at a git revision with the app as it is. The documents both
sides have are compared; the exit code is 1 when a change is at least as severe
as ``--fail-on`` (breaking, by default), 0 otherwise, 2 for a usage error (a side
that is neither a file nor an app, an unreadable document, two sides with no
document kind in common, a revision git does not know).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import yaml

import bocadillo
from bocadillo.cli.arguments import Commands, add_app_dir
from bocadillo.cli.loader import APP_ERROR, CLIError, load_app
from bocadillo.diff import (
    Severity,
    diff_documents,
    document_kind,
    has_breaking,
    render_json,
    render_text,
)
from bocadillo.errors import ConfigurationError

__all__ = ["add_diff", "documents_at_revision", "load_side"]


def add_diff(commands: Commands) -> None:
    """``bocadillo diff``: compare two versions of an app's documents."""
    parser = commands.add_parser(
        "diff",
        help="compare two versions of an API and say which changes break clients",
        description=(
            "Compare the OpenAPI and AsyncAPI documents of OLD and NEW (each a document "
            "file or a MODULE:APP) and print each change with its severity; exit 1 when "
            "a change breaks clients."
        ),
    )
    parser.add_argument(
        "sides",
        nargs="+",
        metavar="OLD NEW",
        help="the old and the new version, each a document file or MODULE:APP; "
        "with --base, only NEW (a MODULE:APP)",
    )
    parser.add_argument(
        "--base",
        metavar="REV",
        help="compare the app NEW names as it was at the git revision REV with NEW",
    )
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="the output's format"
    )
    parser.add_argument(
        "--fail-on",
        choices=("breaking", "maybe-breaking"),
        default="breaking",
        help="exit 1 when a change is at least this severe (default: breaking)",
    )
    add_app_dir(parser)
    parser.set_defaults(handler=_diff)


def load_side(side: str, *, app_dir: str = ".") -> dict[str, dict[str, Any]]:
    """The documents of one side, by kind (``openapi``, ``asyncapi``).

    A path to an existing file is read as one document (YAML, which JSON is a part
    of); anything else must be ``MODULE:APP``, whose two documents are built.
    """
    if os.path.isfile(side):
        try:
            with open(side, "rb") as file:
                document = yaml.safe_load(file)
        except (OSError, yaml.YAMLError) as exc:
            raise CLIError(f"could not read {side}: {exc}") from None
        kind = document_kind(document) if isinstance(document, dict) else None
        if kind is None:
            raise CLIError(f"{side} is neither an OpenAPI nor an AsyncAPI document")
        return {kind: document}
    if ":" not in side:
        raise CLIError(f"{side!r} is neither a file nor MODULE:APP")
    app = load_app(side, app_dir=app_dir)
    try:
        return {"openapi": app.openapi(), "asyncapi": app.asyncapi()}
    except ConfigurationError as exc:
        raise CLIError(f"{side} is misconfigured: {exc}", APP_ERROR) from None


def _diff(args: argparse.Namespace) -> int:
    if args.base is not None:
        if len(args.sides) != 1 or os.path.isfile(args.sides[0]):
            raise CLIError("with --base REV, give one side: the app, as MODULE:APP")
        args.old, args.new = f"{args.sides[0]} at {args.base}", args.sides[0]
        new = load_side(args.new, app_dir=args.app_dir)
        old = documents_at_revision(args.base, args.new, app_dir=args.app_dir)
    elif len(args.sides) != 2:
        raise CLIError("give two sides, OLD and NEW (or one, with --base REV)")
    else:
        args.old, args.new = args.sides
        old = load_side(args.old, app_dir=args.app_dir)
        new = load_side(args.new, app_dir=args.app_dir)
    kinds = [kind for kind in ("openapi", "asyncapi") if kind in old and kind in new]
    if not kinds:
        raise CLIError(
            f"nothing to compare: {args.old} has {', '.join(old)}, {args.new} has {', '.join(new)}"
        )
    changes = [change for kind in kinds for change in diff_documents(old[kind], new[kind])]
    changes.sort(key=lambda change: change.severity.rank)
    output = render_json(changes) if args.format == "json" else render_text(changes)
    sys.stdout.write(output)
    sys.stdout.flush()
    fail_on = Severity(args.fail_on)
    return 1 if has_breaking(changes, fail_on=fail_on) else 0


# -- --base REV: the app at a git revision ---------------------------------------------
#
# The revision's files are extracted (``git archive``) into a temporary folder, and a
# child process builds the app's documents there with the running Bocadillo: the
# contract is read from the code at that revision, by today's framework, and the old
# modules never meet the new ones in one interpreter.

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
