"""Static files answered in the app's error format."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from bocadillo.errors import HTTPError, http_error_response

__all__ = ["ProblemStaticFiles"]

_STATIC_ERRORS = {
    400: "The Range header is not one this server can read.",
    416: "The Range header asks for bytes past the end of the file.",
}


class ProblemStaticFiles(StaticFiles):
    """Starlette's ``StaticFiles``, whose own plain-text client errors (a ``Range``
    header it cannot read: 400, or past the end of the file: 416) are answered as
    problems like every other 4xx. A missing file or a wrong method is an exception
    that the app already answers as a problem (or, with ``html=True``, the site's
    ``404.html``)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        replaced = False

        async def problem_send(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return  # the plain-text body of the answer replaced
            status = message.get("status", 0) if message["type"] == "http.response.start" else 0
            if status not in _STATIC_ERRORS:  # a site's own 404.html page is kept
                await send(message)
                return
            replaced = True
            headers = Headers(raw=message.get("headers", []))
            kept = {"Content-Range": headers["content-range"]} if "content-range" in headers else {}
            response = http_error_response(
                HTTPError(status, detail=_STATIC_ERRORS.get(status), headers=kept)
            )
            await send(
                {"type": "http.response.start", "status": status, "headers": response.raw_headers}
            )
            await send({"type": "http.response.body", "body": response.body})

        await super().__call__(scope, receive, problem_send)
