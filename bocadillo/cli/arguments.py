"""What the commands share on their command lines: the app, ``--app-dir``, and
the types of option values (argparse's ``type=``), which reject bad values with
argparse's usage error (exit code 2)."""

from __future__ import annotations

import argparse
from typing import TypeAlias

__all__ = [
    "Commands",
    "add_app_argument",
    "add_app_dir",
    "non_negative_int",
    "port_number",
    "positive_float",
    "positive_int",
    "seed_option",
]

# What ``add_subparsers`` returns: each command module adds its parser to it.
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_app_argument(parser: argparse.ArgumentParser) -> None:
    """The ``MODULE:APP`` positional argument."""
    parser.add_argument("app", metavar="MODULE:APP", help="the app, e.g. examples.todos.app:app")


def add_app_dir(parser: argparse.ArgumentParser) -> None:
    """``--app-dir DIR``: where ``MODULE`` is looked for first."""
    parser.add_argument(
        "--app-dir",
        default=".",
        metavar="DIR",
        help="look for MODULE in DIR first (default: the current directory)",
    )


def _int_option(text: str, *, minimum: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{text} is not {what}")
    return value


def positive_int(text: str) -> int:
    """A whole number, 1 or more."""
    return _int_option(text, minimum=1, what="a positive number")


def non_negative_int(text: str) -> int:
    """A whole number, 0 or more."""
    return _int_option(text, minimum=0, what="0 or more")


def positive_float(text: str) -> float:
    """A finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def port_number(text: str) -> int:
    """A TCP port, 0 (any free port) to 65535."""
    port = _int_option(text, minimum=0, what="a port number (0 to 65535; 0: any free port)")
    if port > 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port number (0 to 65535)")
    return port


def seed_option(text: str) -> int | None:
    """A seed, 0 or more, or ``random`` (None: draw one)."""
    return None if text == "random" else _int_option(text, minimum=0, what="0 or more")
