"""Answering exceptions: the app's exception handlers, ``HTTPError``'s answer in
the app's error format, and the logged 500 whose body tells nothing of the error."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from bocadillo.errors import PROBLEM_DETAILS, ErrorFormat, HTTPError, error_response
from bocadillo.observe import CURRENT
from bocadillo.runtime.endpoint import ResponseAlreadyStarted, ResponseValidationError
from bocadillo.runtime.requests import Request
from bocadillo.runtime.responses import Redirect

__all__ = ["ExceptionHandler", "ExceptionHandlers"]

logger = logging.getLogger("bocadillo")

ExceptionHandler = Callable[[Request, Any], "Response | Awaitable[Response]"]

# The classes a handler for which does not answer an ``HTTPError``.
_ABOVE_HTTP_ERROR = frozenset(HTTPError.__mro__[1:])


class ExceptionHandlers:
    """The app's exception handlers, and the answer to an exception a request raised.

    A handler registered for the exception's class (or the nearest base class)
    answers it; else an ``HTTPError`` (or a mounted Starlette app's
    ``HTTPException``) is answered in ``error_format`` (problem details by
    default), and anything else is a logged 500 in the same format.
    A handler for ``Exception`` (or ``BaseException``) answers unhandled errors
    only: an ``HTTPError`` keeps its problem unless a handler is registered for
    ``HTTPError`` or one of its subclasses.
    """

    def __init__(
        self,
        handlers: Mapping[type[BaseException], ExceptionHandler] | None,
        error_format: ErrorFormat = PROBLEM_DETAILS,
    ) -> None:
        self.error_format = error_format
        self.handlers: dict[type[BaseException], ExceptionHandler] = dict(handlers or {})
        # The handler found for each exception class raised so far (None: no handler).
        self._found: dict[type[BaseException], ExceptionHandler | None] = {}

    def add(self, exc_type: type[BaseException], handler: ExceptionHandler) -> None:
        """Answer ``exc_type`` (and its subclasses) with ``handler``."""
        self.handlers[exc_type] = handler
        self._found.clear()

    def handler_for(self, exc_type: type[BaseException]) -> ExceptionHandler | None:
        """The handler for ``exc_type``: registered for it or its nearest base class."""
        try:
            return self._found[exc_type]
        except KeyError:
            handlers = self.handlers
            mro = exc_type.__mro__
            if issubclass(exc_type, HTTPError):
                # Exception and BaseException catch what nothing else answers, not HTTP errors.
                mro = tuple(c for c in mro if c not in _ABOVE_HTTP_ERROR)
            handler = next((handlers[c] for c in mro if c in handlers), None)
            self._found[exc_type] = handler
            return handler

    async def answer(self, exc: Exception, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the response for ``exc``, raised while serving an HTTP request."""
        if isinstance(exc, ClientDisconnect):
            return  # nobody is listening for an answer
        if isinstance(exc, ResponseAlreadyStarted):
            cause = exc.__cause__ or exc
            logger.error(
                "Error after the response to %s %s had started",
                scope["method"],
                scope["path"],
                exc_info=cause,
            )
            _tell(cause, 500)
            raise cause
        if isinstance(exc, Redirect):
            await exc(scope, receive, send)  # raised instead of returned: the same answer
            return
        if isinstance(exc, StarletteHTTPException) and exc.status_code >= 400:
            # Raised by a mounted Starlette app (a missing static file, say).
            exc = HTTPError(exc.status_code, detail=exc.detail, headers=exc.headers)
        handler = self.handler_for(type(exc))
        if handler is not None:
            try:
                response = handler(Request(scope, receive), exc)
                if inspect.isawaitable(response):
                    response = await response
                _tell(exc, getattr(response, "status_code", 200))
                await response(scope, receive, send)
                return
            except Exception as handler_exc:
                exc = handler_exc
        if isinstance(exc, HTTPError):
            _tell(exc, exc.status_code)
            await error_response(self.error_format, exc)(scope, receive, send)
            return
        _tell(exc, 500)
        await internal_error(exc, scope, receive, send, self.error_format)


def _tell(exc: BaseException, status: int) -> None:
    """Telemetry, when on, learns that ``exc`` is answered with ``status``."""
    observation = CURRENT.get()
    if observation is not None:
        observation.failed(exc, status)


async def internal_error(
    exc: BaseException,
    scope: Scope,
    receive: Receive,
    send: Send,
    error_format: ErrorFormat = PROBLEM_DETAILS,
) -> None:
    """Log ``exc`` and answer a 500 (in ``error_format``) that tells nothing of it."""
    if isinstance(exc, ResponseValidationError):
        logger.error("Invalid response for %s %s: %s", scope["method"], scope["path"], exc)
    else:
        logger.error("Unhandled exception for %s %s", scope["method"], scope["path"], exc_info=exc)
    error = HTTPError(500, detail="The server could not handle this request; the error was logged.")
    await error_response(error_format, error)(scope, receive, send)
