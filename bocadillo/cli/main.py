"""The ``bocadillo`` command.

::

    bocadillo run MODULE:APP [--host HOST] [--port PORT] [--reload | --workers N]
                  [--limit-concurrency N] [--timeout-keep-alive S] [--max-header-size BYTES]
                  [--max-headers N] [--header-timeout S] [--http auto|httptools|h11]
                  [--log-level LEVEL] [--proxy-headers | --no-proxy-headers]
                  [--forwarded-allow-ips IPS] [--app-dir DIR]
    bocadillo dev MODULE:APP [--host HOST] [--port PORT] [--max-header-size BYTES]
                  [--max-headers N] [--header-timeout S] [--http auto|httptools|h11]
                  [--app-dir DIR]
    bocadillo routes MODULE:APP [--app-dir DIR]
    bocadillo check MODULE:APP [--max-examples N] [--no-stateful] [--no-websockets]
                    [--no-contract] [--seed N|random] [--app-dir DIR]
    bocadillo openapi MODULE:APP [-o FILE] [--yaml] [--app-dir DIR]
    bocadillo asyncapi MODULE:APP [-o FILE] [--yaml] [--app-dir DIR]
    bocadillo client MODULE:APP -o PATH [--app-dir DIR]
    bocadillo diff (OLD NEW | --base REV MODULE:APP) [--format text|json]
                   [--fail-on breaking|maybe-breaking] [--app-dir DIR]
    bocadillo new NAME [--dir DIR]

``run`` serves the app with uvicorn (production defaults), ``dev`` serves it
with reload and debug logging (both in ``serve.py``, with the protocols of
``server.py``), ``routes`` prints the route table (``routes.py``), ``check``
compiles every plan and both documents and runs the contract tests
(``check.py``), ``openapi`` and ``asyncapi`` print a document
(``documents.py``), ``client`` writes a typed client package (``client.py``,
the generator is ``bocadillo/client/``), ``diff`` compares two versions of the
documents and says which changes break clients (``diff.py``), ``new`` creates a
project from the templates in ``templates/project`` (``new.py``).

Each command module has a function that adds its parser (``add_<name>``),
which sets the function that runs it (taking the parsed arguments and
returning the exit code); ``main`` wires them together. Exit codes: 0
success; 1 the app is misconfigured (a ``ConfigurationError``), a file could
not be written, ``check`` found a contract failure, or ``diff`` a breaking
change; 2 a usage error (a bad
``MODULE:APP``, a missing module or attribute, an object that is not an app,
options that do not go together); 3 uvicorn could not start the server (the
port is taken, say: uvicorn's own code, its message in the log).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bocadillo.cli.check import add_check
from bocadillo.cli.client import add_client
from bocadillo.cli.diff import add_diff
from bocadillo.cli.documents import add_asyncapi, add_openapi
from bocadillo.cli.loader import CLIError, load_app
from bocadillo.cli.new import add_new
from bocadillo.cli.routes import add_routes
from bocadillo.cli.serve import add_dev, add_run

__all__ = ["CLIError", "load_app", "main"]


def _parser() -> argparse.ArgumentParser:
    from bocadillo import __version__

    parser = argparse.ArgumentParser(
        prog="bocadillo",
        description="Bocadillo: an async web framework; the handler's signature is the contract.",
    )
    parser.add_argument("--version", action="version", version=f"bocadillo {__version__}")
    commands = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", required=True
    )
    add_run(commands)
    add_dev(commands)
    add_routes(commands)
    add_check(commands)
    add_openapi(commands)
    add_asyncapi(commands)
    add_client(commands)
    add_diff(commands)
    add_new(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    Usage errors found by argparse itself (an unknown option, a missing
    argument) exit with code 2 through ``SystemExit``, as argparse does.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except CLIError as exc:
        print(f"bocadillo {args.command}: error: {exc}", file=sys.stderr)
        return exc.code
    return code
