"""``bocadillo openapi`` and ``bocadillo asyncapi``: print or write a document."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from bocadillo.app import App
from bocadillo.cli.arguments import Commands, add_app_argument, add_app_dir
from bocadillo.cli.loader import APP_ERROR, CLIError, load_app
from bocadillo.cli.output import write_stdout
from bocadillo.docs.openapi import render_openapi
from bocadillo.errors import ConfigurationError

__all__ = ["add_asyncapi", "add_openapi", "document_bytes"]


def _add_document_command(
    commands: Commands,
    name: str,
    *,
    help: str,
    description: str,
    handler: Callable[[argparse.Namespace], int],
) -> None:
    """A ``bocadillo NAME MODULE:APP [-o FILE] [--yaml]`` command printing a document."""
    parser = commands.add_parser(name, help=help, description=description)
    add_app_argument(parser)
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write the document to FILE instead of stdout"
    )
    parser.add_argument("--yaml", action="store_true", help="YAML instead of JSON")
    add_app_dir(parser)
    parser.set_defaults(handler=handler)


def add_openapi(commands: Commands) -> None:
    """``bocadillo openapi``: print or write the OpenAPI document."""
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


def document_bytes(document: dict[str, Any], *, as_yaml: bool = False) -> bytes:
    """The document as /openapi.json (or /openapi.yaml) serves it; JSON ends in a newline.

    The same for the AsyncAPI document and /asyncapi.json (or /asyncapi.yaml).
    """
    data = render_openapi(document, as_yaml=as_yaml)
    return data if as_yaml else data + b"\n"


def _openapi(args: argparse.Namespace) -> int:
    return _print_document(args, lambda app: app.openapi())


def add_asyncapi(commands: Commands) -> None:
    """``bocadillo asyncapi``: print or write the AsyncAPI document."""
    _add_document_command(
        commands,
        "asyncapi",
        help="print or write an app's AsyncAPI document (its WebSocket and SSE routes)",
        description=(
            "Print the app's AsyncAPI 3.0 document, a channel per WebSocket or SSE route (the "
            "bytes /asyncapi.json serves, plus a final newline) without starting a server."
        ),
        handler=_asyncapi,
    )


def _asyncapi(args: argparse.Namespace) -> int:
    return _print_document(args, lambda app: app.asyncapi())


def _print_document(args: argparse.Namespace, build: Callable[[App], dict[str, Any]]) -> int:
    """Write the document ``build`` makes of the app to stdout or ``args.output``."""
    app = load_app(args.app, app_dir=args.app_dir)
    try:
        document = build(app)
    except ConfigurationError as exc:
        raise CLIError(f"{args.app} is misconfigured: {exc}", APP_ERROR) from None
    data = document_bytes(document, as_yaml=args.yaml)
    if args.output is None or args.output == "-":
        write_stdout(data)
        return 0
    try:
        with open(args.output, "wb") as file:
            file.write(data)
    except OSError as exc:
        raise CLIError(f"could not write {args.output}: {exc.strerror or exc}", APP_ERROR) from None
    return 0
