"""Finding the app a command names (``MODULE:APP``), and ``CLIError``: what a
command reports in one line on stderr, with its exit code (1: the app is
misconfigured, a file could not be written, a contract failure; 2: a usage
error)."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from bocadillo.app import App
from bocadillo.errors import ConfigurationError

__all__ = ["APP_ERROR", "USAGE_ERROR", "CLIError", "compiled_app", "load_app"]

USAGE_ERROR = 2  # as argparse's own usage errors
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


def compiled_app(target: str, app_dir: str, *, documents: bool | None = None) -> App:
    """The app of ``target``, its plans compiled and (``documents``) its documents built.

    ``documents=None`` builds the documents the app serves, as its start-up
    does; ``True`` builds both whatever the app serves. A ``ConfigurationError``
    becomes a ``CLIError`` with exit code 1.
    """
    app = load_app(target, app_dir=app_dir)
    try:
        app.check()
        if documents or (documents is None and app.openapi_url is not None):
            app.openapi()
        if documents or (documents is None and app.asyncapi_url is not None):
            app.asyncapi()
    except ConfigurationError as exc:
        raise CLIError(f"{target} is misconfigured: {exc}", APP_ERROR) from None
    return app
