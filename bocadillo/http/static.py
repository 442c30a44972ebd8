"""Static files answered in the app's error format."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from bocadillo.errors import HTTPError

__all__ = ["ProblemStaticFiles"]

_STATIC_ERRORS = {
    400: "The Range header is not one this server can read.",
    416: "The Range header asks for bytes past the end of the file.",
}


class ProblemStaticFiles(StaticFiles):
    """Starlette's ``StaticFiles``, whose own plain-text client errors (a ``Range``
    header it cannot read: 400, or past the end of the file: 416) are raised as an
    ``HTTPError`` instead, which the app answers like every other 4xx, in its error
    format. A missing file or a wrong method is an exception that the app already
    answers so (or, with ``html=True``, the site's ``404.html``)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refused: HTTPError | None = None

        async def problem_send(message: Message) -> None:
            nonlocal refused
            if refused is not None:
                return  # the plain-text body of the answer replaced
            status = message.get("status", 0) if message["type"] == "http.response.start" else 0
            if status not in _STATIC_ERRORS:  # a site's own 404.html page is kept
                await send(message)
                return
            headers = Headers(raw=message.get("headers", []))
            kept = {"Content-Range": headers["content-range"]} if "content-range" in headers else {}
            refused = HTTPError(status, detail=_STATIC_ERRORS[status], headers=kept)

        await super().__call__(scope, receive, problem_send)
        if refused is not None:
            raise refused
