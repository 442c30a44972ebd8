"""Errors, and their RFC 9457 ``application/problem+json`` rendering."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import orjson
from starlette.responses import Response

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "ConfigurationError",
    "HTTPError",
    "RequestValidationError",
    "problem_response",
]

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
    """Raise from a handler to answer with an HTTP error as ``problem+json``.

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
    members = dict(exc.extensions)
    if isinstance(exc, RequestValidationError):
        members["errors"] = exc.errors
    return problem_response(
        exc.status_code,
        title=exc.title,
        detail=exc.detail,
        type=exc.type,
        headers=exc.headers,
        members=members,
    )
