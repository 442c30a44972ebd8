"""WSGI apps (a Flask or Django app during a migration) mounted under an ASGI app,
through ``a2wsgi`` (``pip install bocadillo[wsgi]``)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any, cast

from starlette.types import ASGIApp

from bocadillo.errors import ConfigurationError

__all__ = ["WSGIApp", "as_asgi", "is_wsgi"]

# A WSGI app: app(environ, start_response) -> an iterable of bytes.
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def is_wsgi(app: Any) -> bool:
    """Whether ``app`` looks like a WSGI app: a plain (not async) callable taking two
    positional arguments, ``(environ, start_response)``. An ASGI app takes three,
    ``(scope, receive, send)``, or is async."""
    if not callable(app):
        return False
    call = app if inspect.isroutine(app) else type(app).__call__
    if inspect.iscoroutinefunction(call):
        return False
    try:
        parameters = inspect.signature(app).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: leave it alone
        return False
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return False
    required = [p for p in parameters if p.kind in _POSITIONAL]
    return len(required) == 2


def as_asgi(app: ASGIApp | WSGIApp, *, workers: int = 10) -> ASGIApp:
    """``app`` itself if it is an ASGI app; a WSGI app wrapped in ``a2wsgi``'s
    ``WSGIMiddleware`` (its requests run in a pool of ``workers`` threads)."""
    if not is_wsgi(app):
        return cast(ASGIApp, app)
    try:
        from a2wsgi import WSGIMiddleware
    except ImportError:
        raise ConfigurationError(
            f"{app!r} is a WSGI app: mounting one needs a2wsgi, pip install 'bocadillo[wsgi]'"
        ) from None
    return cast(ASGIApp, WSGIMiddleware(cast(Any, app), workers=workers))
