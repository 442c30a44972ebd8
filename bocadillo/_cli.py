"""The ``bocadillo`` command.

::

    bocadillo openapi MODULE:APP [-o FILE] [--yaml] [--app-dir DIR]
    bocadillo asyncapi MODULE:APP [-o FILE] [--yaml] [--app-dir DIR]

Each subcommand is a function that adds its parser (``_add_<name>``) and one
that runs it (``_<name>``, taking the parsed arguments and returning the exit
code); ``main`` wires them together. Exit codes: 0 success, 1 the app is
misconfigured (a ``ConfigurationError``) or a file could not be written,
2 a usage error (a bad ``MODULE:APP``, a missing module or attribute, an
object that is not an app).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO

from ._app import App
from ._errors import ConfigurationError
from ._openapi.document import render_openapi as render

__all__ = ["CLIError", "load_app", "main"]

USAGE_ERROR = 2
APP_ERROR = 1


class CLIError(Exception):
    """An error to report in one line on stderr, exiting with ``code``."""

    def __init__(self, message: str, code: int = USAGE_ERROR) -> None:
        super().__init__(message)
        self.code = code


def load_app(target: str, *, app_dir: str = ".") -> App:
    """Import ``MODULE:APP`` (``APP`` may be dotted) and return the ``App`` it names.

    ``app_dir`` is put first on ``sys.path`` (as uvicorn's ``--app-dir``), so a
    module in the current directory is found however the command was started.
    An exception raised by the module's own code while it is imported
    propagates, traceback and all; a ``ConfigurationError`` becomes a
    ``CLIError`` with exit code 1.
    """
    module_name, sep, attrs = target.partition(":")
    if (
        not sep
        or not module_name
        or not attrs
        or not all(part.isidentifier() for part in module_name.split("."))
        or not all(part.isidentifier() for part in attrs.split("."))
    ):
        raise CLIError(
            f"{target!r} is not of the form MODULE:APP (for example: examples.todos.app:app)"
        )
    path = os.path.abspath(app_dir)
    if path not in sys.path:
        sys.path.insert(0, path)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only the module asked for (or a package above it) being absent is the
        # user's typo; a missing import inside their code is a bug to show in full.
        if exc.name is None or not (module_name + ".").startswith(exc.name + "."):
            raise
        raise CLIError(f"could not import module {module_name!r}: {exc}") from None
    except ConfigurationError as exc:
        raise CLIError(f"{module_name} is misconfigured: {exc}", APP_ERROR) from None
    obj: Any = module
    for depth, attr in enumerate(attrs.split(".")):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            owner = ".".join([module_name, *attrs.split(".")[:depth]])
            raise CLIError(f"module {owner!r} has no attribute {attr!r}") from None
    if not isinstance(obj, App):
        kind = (
            f"the class {obj.__qualname__}"
            if isinstance(obj, type)
            else f"a {type(obj).__qualname__} object"
        )
        raise CLIError(f"{target} is {kind}, not a bocadillo App instance")
    return obj


# -- bocadillo openapi -----------------------------------------------------------


def _add_document_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    *,
    help: str,
    description: str,
    handler: Callable[[argparse.Namespace], int],
) -> None:
    """A ``bocadillo NAME MODULE:APP [-o FILE] [--yaml]`` command printing a document."""
    parser = commands.add_parser(name, help=help, description=description)
    parser.add_argument("app", metavar="MODULE:APP", help="the app, e.g. examples.todos.app:app")
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write the document to FILE instead of stdout"
    )
    parser.add_argument("--yaml", action="store_true", help="YAML instead of JSON")
    _add_app_dir(parser)
    parser.set_defaults(handler=handler)


def _add_openapi(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _add_document_command(
        commands,
        "openapi",
        help="print or write an app's OpenAPI document",
        description=(
            "Print the app's OpenAPI document (the bytes /openapi.json serves, plus a "
            "final newline) without starting a server."
        ),
        handler=_openapi,
    )


def render_openapi(document: dict[str, Any], *, as_yaml: bool = False) -> bytes:
    """The document as /openapi.json (or /openapi.yaml) serves it; JSON ends in a newline.

    The same for the AsyncAPI document and /asyncapi.json (or /asyncapi.yaml).
    """
    data = render(document, as_yaml=as_yaml)
    return data if as_yaml else data + b"\n"


def _openapi(args: argparse.Namespace) -> int:
    return _print_document(args, App.openapi)


# -- bocadillo asyncapi ----------------------------------------------------------


def _add_asyncapi(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _add_document_command(
        commands,
        "asyncapi",
        help="print or write an app's AsyncAPI document (its WebSocket routes)",
        description=(
            "Print the app's AsyncAPI 3.0 document, a channel per WebSocket route (the "
            "bytes /asyncapi.json serves, plus a final newline) without starting a server."
        ),
        handler=_asyncapi,
    )


def _asyncapi(args: argparse.Namespace) -> int:
    return _print_document(args, App.asyncapi)


# -- shared pieces -----------------------------------------------------------------


def _print_document(args: argparse.Namespace, build: Callable[[App], dict[str, Any]]) -> int:
    """Write the document ``build`` makes of the app to stdout or ``args.output``."""
    app = load_app(args.app, app_dir=args.app_dir)
    try:
        document = build(app)
    except ConfigurationError as exc:
        raise CLIError(f"{args.app} is misconfigured: {exc}", APP_ERROR) from None
    data = render_openapi(document, as_yaml=args.yaml)
    if args.output is None or args.output == "-":
        _write_stdout(data)
        return 0
    try:
        with open(args.output, "wb") as file:
            file.write(data)
    except OSError as exc:
        raise CLIError(f"could not write {args.output}: {exc.strerror or exc}", APP_ERROR) from None
    return 0


def _add_app_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--app-dir",
        default=".",
        metavar="DIR",
        help="look for MODULE in DIR first (default: the current directory)",
    )


def _write_stdout(data: bytes) -> None:
    sys.stdout.flush()
    buffer: BinaryIO | None = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text-only stream (some embedders replace sys.stdout)
        sys.stdout.write(data.decode())
        sys.stdout.flush()
        return
    buffer.write(data)
    buffer.flush()


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="bocadillo",
        description="Bocadillo: an async web framework; the handler's signature is the contract.",
    )
    parser.add_argument("--version", action="version", version=f"bocadillo {__version__}")
    commands = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", required=True
    )
    _add_openapi(commands)
    _add_asyncapi(commands)
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
