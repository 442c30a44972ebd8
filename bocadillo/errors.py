"""Errors, and the error format that renders them: ``ErrorFormat``, whose default,
``ProblemDetails``, is RFC 9457 ``application/problem+json``."""

from __future__ import annotations

import abc
import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import orjson
from starlette.responses import Response

from bocadillo.observe import CURRENT

__all__ = [
    "PROBLEM_DETAILS",
    "PROBLEM_MEDIA_TYPE",
    "ConfigurationError",
    "ErrorFormat",
    "HTTPError",
    "ProblemDetails",
    "RequestValidationError",
    "error_response",
    "http_error_response",
    "problem_response",
]

logger = logging.getLogger("bocadillo")

PROBLEM_MEDIA_TYPE = "application/problem+json"


# RFC 9110 names, where Python's http module still has the older ones.
_PHRASES = {413: "Content Too Large", 422: "Unprocessable Content"}


def status_phrase(status: int) -> str:
    if status in _PHRASES:
        return _PHRASES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class ConfigurationError(Exception):
    """The app is declared in a way the framework cannot serve.

    Raised when the app starts (never at request time), with the handler's
    name and source location in the message.
    """


class HTTPError(Exception):
    """Raise from a handler to answer with an HTTP error, in the app's error format
    (``problem+json`` by default).

    ``raise HTTPError(404, detail="no such todo")`` answers::

        {"type": "about:blank", "title": "Not Found", "status": 404,
         "detail": "no such todo"}

    ``headers`` are added to the response; ``type`` and ``title`` override the
    RFC 9457 members; ``extensions`` adds members of your own.
    """

    def __init__(
        self,
        status_code: int,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        title: str | None = None,
        type: str = "about:blank",
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        if not 400 <= status_code <= 599:
            raise ValueError(f"HTTPError takes a 4xx or 5xx status, got {status_code}")
        self.status_code = status_code
        self.detail = detail
        self.headers = dict(headers) if headers else {}
        self.title = title or status_phrase(status_code)
        self.type = type
        self.extensions = dict(extensions) if extensions else {}
        super().__init__(status_code, detail)

    def __str__(self) -> str:
        # "404 Not Found: no such todo"
        text = f"{self.status_code} {self.title}"
        return text if self.detail is None else f"{text}: {self.detail}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status_code}, detail={self.detail!r})"


class RequestValidationError(HTTPError):
    """The request's parameters or body did not match the handler's signature.

    ``errors`` holds one entry per problem: ``{"loc": ["query", "limit"],
    "msg": "...", "type": "..."}``. The status is 422 for well-formed input that
    fails validation and 400 for input that cannot be parsed at all.
    """

    def __init__(
        self,
        errors: Sequence[Mapping[str, Any]],
        *,
        status_code: int = 422,
        detail: str = "The request did not match the expected parameters or body.",
    ) -> None:
        super().__init__(status_code, detail)
        self.errors = [dict(e) for e in errors]


VALIDATION_ISSUE_SCHEMA: dict[str, Any] = {
    "title": "ValidationIssue",
    "type": "object",
    "properties": {
        "loc": {
            "type": "array",
            "description": 'Where the value was: ["query", "limit"], ["body", "items", 0].',
            "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        },
        "msg": {"type": "string"},
        "type": {"type": "string"},
    },
    "required": ["loc", "msg", "type"],
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem details object.",
    "type": "object",
    "properties": {
        "type": {
            "type": "string",
            "description": "A URI reference that names the kind of problem.",
            "default": "about:blank",
        },
        "title": {"type": "string", "description": "A short summary of the kind of problem."},
        "status": {"type": "integer", "minimum": 100, "maximum": 599},
        "detail": {"type": "string", "description": "What happened this time."},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "One entry per invalid input, for validation problems.",
            "items": {"$ref": "#/$defs/ValidationIssue"},
        },
    },
    "required": ["type", "title", "status"],
    "$defs": {"ValidationIssue": VALIDATION_ISSUE_SCHEMA},
}

ERROR_MESSAGE_DESCRIPTION = (
    "The app's answer to a message that is not valid JSON or does not match what the "
    "route receives; the message is skipped and the connection stays open."
)

WEBSOCKET_ERROR_SCHEMA: dict[str, Any] = {
    "title": "WebSocketError",
    "description": ERROR_MESSAGE_DESCRIPTION,
    "type": "object",
    "properties": {
        "type": {"type": "string", "const": "error"},
        "code": {
            "type": "integer",
            "const": 1007,
            "description": "The close code the message would have earned.",
        },
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "One entry per problem; loc is relative to the message.",
            "items": {"$ref": "#/$defs/ValidationIssue"},
        },
    },
    "required": ["type", "code", "detail", "errors"],
    "$defs": {"ValidationIssue": VALIDATION_ISSUE_SCHEMA},
}


class ErrorFormat(abc.ABC):
    """How the app answers errors: every HTTP error the framework and the handlers
    produce, and the WebSocket error message; the documents and the contract tests
    follow it. Give one to the app: ``App(error_format=MyFormat())``.

    Subclass it and write ``render`` (an ``HTTPError`` to a JSON-able body: dicts,
    lists, strings, numbers) and ``schema`` (that body's shape: a type the schema
    backends know, such as a pydantic model, which becomes a named component, or
    a JSON Schema dict, named by its ``title``, its ``$defs`` components of their
    own). ``media_type`` is the responses' content type. A
    ``RequestValidationError`` (400 or 422) carries its problems in ``errors``,
    each ``{"loc": [...], "msg": ..., "type": ...}``; the 500 of an unhandled
    exception is ``HTTPError(500)`` with a detail that tells nothing of it.

    The WebSocket error message (a route with ``invalid_message="reply"``) is by
    default ``render`` of a ``RequestValidationError`` with the message's
    problems, of the same ``schema``; override ``render_message`` and
    ``message_schema`` to answer otherwise. ``ProblemDetails`` is the default.
    """

    media_type: str = "application/json"

    @abc.abstractmethod
    def render(self, error: HTTPError) -> Any:
        """The JSON-able body that answers ``error``."""

    @abc.abstractmethod
    def schema(self) -> Any:
        """The body's schema: a type the schema backends know, or a JSON Schema dict."""

    def render_message(self, error: RequestValidationError) -> Any:
        """The JSON-able WebSocket message that answers a message the route could not
        read (``error.errors`` are its problems, ``loc`` relative to the message)."""
        return self.render(error)

    def message_schema(self) -> Any:
        """The WebSocket error message's schema (a type or a JSON Schema dict)."""
        return self.schema()

    def response(self, error: HTTPError) -> Response:
        """The HTTP response: ``render``'s body as JSON, the error's status and headers."""
        return Response(
            orjson.dumps(self.render(error)),
            status_code=error.status_code,
            headers=error.headers,
            media_type=self.media_type,
        )


class ProblemDetails(ErrorFormat):
    """The default error format: RFC 9457 problem details, ``application/problem+json``.

    ``{"type", "title", "status", "detail"}``, the error's ``extensions`` and, for a
    ``RequestValidationError``, ``errors``. The WebSocket error message is
    ``{"type": "error", "code": 1007, "detail", "errors"}``.
    """

    media_type = PROBLEM_MEDIA_TYPE

    def render(self, error: HTTPError) -> Any:
        body: dict[str, Any] = {
            "type": error.type,
            "title": error.title or status_phrase(error.status_code),
            "status": error.status_code,
        }
        if error.detail is not None:
            body["detail"] = error.detail
        body.update(error.extensions)
        if isinstance(error, RequestValidationError):
            body["errors"] = error.errors
        return body

    def schema(self) -> Any:
        return PROBLEM_SCHEMA

    def render_message(self, error: RequestValidationError) -> Any:
        return {"type": "error", "code": 1007, "detail": error.detail, "errors": error.errors}

    def message_schema(self) -> Any:
        return WEBSOCKET_ERROR_SCHEMA

    def __repr__(self) -> str:
        return "ProblemDetails()"


PROBLEM_DETAILS = ProblemDetails()


def error_response(error_format: ErrorFormat, error: HTTPError) -> Response:
    """``error`` answered in ``error_format``; a format that fails is logged, and the
    error answered as problem details. With telemetry on and a request id, the
    error the format renders has ``extensions["request_id"]`` (a copy of it)."""
    observation = CURRENT.get()
    if observation is not None and observation.request_id is not None:
        error = _with_request_id(error, observation.request_id)
    try:
        return error_format.response(error)
    except Exception as exc:
        logger.error("The error format %r failed to render %r", error_format, error, exc_info=exc)
        return PROBLEM_DETAILS.response(error)


def _with_request_id(error: HTTPError, request_id: str) -> HTTPError:
    if "request_id" in error.extensions:
        return error  # the handler's own member stays
    # A copy (the raised error may be shared), made without calling __init__.
    clone = type(error).__new__(type(error), *error.args)
    clone.__dict__.update(error.__dict__)
    clone.extensions = {**error.extensions, "request_id": request_id}
    return clone


def problem_response(
    status: int,
    *,
    title: str | None = None,
    detail: str | None = None,
    type: str = "about:blank",
    headers: Mapping[str, str] | None = None,
    members: Mapping[str, Any] | None = None,
) -> Response:
    """An RFC 9457 problem response."""
    body: dict[str, Any] = {"type": type, "title": title or status_phrase(status), "status": status}
    if detail is not None:
        body["detail"] = detail
    if members:
        body.update(members)
    return Response(
        orjson.dumps(body), status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE
    )


def http_error_response(exc: HTTPError) -> Response:
    """``exc`` as a problem details response (the default error format)."""
    return PROBLEM_DETAILS.response(exc)
