"""``bocadillo client``: write a typed client package for an app."""

from __future__ import annotations

import argparse
from pathlib import Path

from bocadillo.cli.arguments import Commands, add_app_argument, add_app_dir
from bocadillo.cli.loader import APP_ERROR, CLIError, load_app
from bocadillo.client import generate_client, write_client
from bocadillo.errors import ConfigurationError

__all__ = ["add_client"]


def add_client(commands: Commands) -> None:
    """``bocadillo client MODULE:APP -o PATH``."""
    parser = commands.add_parser(
        "client",
        help="write a typed Python client package for an app",
        description=(
            "Write a client package for the app into PATH: its models (from the OpenAPI "
            "document's schemas), an async and a blocking client with one typed method per "
            "operation, and its errors. The generated code needs httpx and pydantic only; the "
            "same app always gives the same bytes."
        ),
    )
    add_app_argument(parser)
    parser.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        required=True,
        help="the package's folder (made if missing)",
    )
    add_app_dir(parser)
    parser.set_defaults(handler=_client)


def _client(args: argparse.Namespace) -> int:
    app = load_app(args.app, app_dir=args.app_dir)
    try:
        files = generate_client(app.openapi(), app.asyncapi())
    except ConfigurationError as exc:
        raise CLIError(f"{args.app}: {exc}", APP_ERROR) from None
    folder = Path(args.output)
    try:
        write_client(files, folder)
    except OSError as exc:
        raise CLIError(f"could not write {folder}: {exc.strerror or exc}", APP_ERROR) from None
    return 0
