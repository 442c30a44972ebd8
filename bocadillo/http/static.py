"""Static files answered in the app's error format."""

from __future__ import annotations

import os
import stat
from email.utils import parsedate_to_datetime

import anyio
from starlette.datastructures import Headers
from starlette.responses import Response
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
    answers so (or, with ``html=True``, the site's ``404.html``).

    Two more answers than Starlette's: a file's path with a slash after it
    (``/static/app.css/``) is a 404, as it names a folder; and the
    preconditions of RFC 9110 section 13.1 that Starlette leaves out, ``If-Match``
    (a strong comparison with the file's ``ETag``) and, without it,
    ``If-Unmodified-Since``, answer 412 when they fail.
    """

    async def get_response(self, path: str, scope: Scope) -> Response:
        if scope["path"].endswith("/") and path not in ("", "."):
            try:
                _, found = await anyio.to_thread.run_sync(self.lookup_path, path)
            except (OSError, ValueError):  # a NUL, a name too long: Starlette answers them
                found = None
            if found is not None and stat.S_ISREG(found.st_mode):
                raise HTTPError(404, detail="No such folder: this path names a file.")
        return await super().get_response(path, scope)

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        headers = Headers(scope=scope)
        if_match = headers.get("if-match")
        if if_match is not None:
            tags = [tag.strip() for tag in if_match.split(",")]
            if "*" not in tags and response.headers["etag"] not in tags:  # W/ tags never match
                raise HTTPError(412, detail="The file's ETag matches none of If-Match.")
        elif "if-unmodified-since" in headers:
            try:
                since = parsedate_to_datetime(headers["if-unmodified-since"]).timestamp()
            except (TypeError, ValueError):
                since = None  # an invalid date is ignored (RFC 9110 section 13.1.4)
            if since is not None and int(stat_result.st_mtime) > since:
                raise HTTPError(412, detail="The file changed after If-Unmodified-Since.")
        return response

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
