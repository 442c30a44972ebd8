"""Response classes a handler may return to take over the response entirely.

A handler usually returns data and lets its declared return type decide the
body. Return one of these to set the status, headers or media type yourself.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import stat
import unicodedata
from collections.abc import Iterator, Mapping
from mimetypes import guess_type
from typing import Any
from urllib.parse import quote

import anyio
import orjson
from starlette import responses
from starlette.background import BackgroundTask
from starlette.types import Message, Receive, Scope, Send

from bocadillo.errors import HTTPError
from bocadillo.schemas.registry import dump_untyped

__all__ = [
    "FileResponse",
    "HTMLResponse",
    "JSONResponse",
    "PlainTextResponse",
    "Redirect",
    "RedirectResponse",
    "Response",
    "StreamingResponse",
    "attachment",
    "content_disposition",
    "loop_turns",
    "request_target",
]

# What may stay as it is in a URL's path and query (RFC 3986 pchar, and "/" and "?").
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


def request_target(path: str, query: bytes = b"", *, encoded: bool = False) -> str:
    """``path`` and ``query`` as a ``Location`` may carry them: every byte that may
    not stand in a URL (a control byte, a space, any non-ASCII) percent-encoded.

    ``encoded=True`` says ``path`` is already percent-encoded (a request's
    ``raw_path``): its escapes are kept as they are. A query string always is.
    """
    location = quote(path, safe=_PATH_SAFE + "%" if encoded else _PATH_SAFE)
    if query:
        location += "?" + quote(query, safe=_QUERY_SAFE + "%")
    return location


def loop_turns() -> Iterator[bool]:
    """An endless ``False, ... False, True``: true for every 16th item a sender sends,
    when it gives the event loop a turn (``if next(turns): await asyncio.sleep(0)``).

    Once the client has gone, a server's send returns at once, so a source that
    never awaits would otherwise run on (forever, if endless), holding the server.
    """
    return itertools.cycle((*(False,) * 15, True))


class Response(responses.Response):
    """A response you build yourself: body, status, headers, media type.

    A handler that returns one (or any Starlette response) sends it as it is::

        return Response(pdf_bytes, media_type="application/pdf")
    """


class HTMLResponse(Response, responses.HTMLResponse):
    """An HTML page: ``return HTMLResponse("<h1>Hello</h1>")``."""


class PlainTextResponse(Response, responses.PlainTextResponse):
    """Plain text in UTF-8: ``return PlainTextResponse("pong")``."""


class RedirectResponse(Response, responses.RedirectResponse):
    """A redirect to ``url``, 307 unless ``status_code`` says otherwise.

    ``return RedirectResponse("/todos", status_code=303)``
    """


class Redirect(RedirectResponse, Exception):
    """Send the client to ``url``: ``307 Temporary Redirect``, or ``308 Permanent
    Redirect`` with ``permanent=True``, with a ``Location`` header.

    Both keep the request's method and body (unlike 301/302). A handler
    declared ``-> Redirect`` documents a 307 response with its ``Location``
    header; give the route ``status_code=308`` to document a permanent one::

        @app.get("/old-todos", status_code=308)
        async def old_todos() -> Redirect:
            return Redirect("/todos", permanent=True)

    It may also be raised, from a handler or a provider, to redirect from deep
    inside the code (``raise Redirect("/login")``): the app answers with it as
    if the handler had returned it.
    """

    def __init__(
        self,
        url: str,
        permanent: bool = False,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(url, status_code=308 if permanent else 307, headers=headers)
        self.permanent = permanent


class StreamingResponse(Response, responses.StreamingResponse):
    """A body sent chunk by chunk as an (async) iterator yields it.

    ``return StreamingResponse(rows_as_csv(), media_type="text/csv")``
    """

    async def stream_response(self, send: Any) -> None:
        start = {"type": "http.response.start", "status": self.status_code}
        await send(start | {"headers": self.raw_headers})
        turns = loop_turns()
        try:
            async for chunk in self.body_iterator:
                if not isinstance(chunk, bytes | memoryview):
                    chunk = chunk.encode(self.charset)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                if next(turns):
                    await asyncio.sleep(0)
        finally:
            # Close the iterator now, however the response ended (the client leaving
            # included), so that its ``finally`` runs before the request's providers
            # are torn down, not whenever the garbage collector gets to it.
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()
        await send({"type": "http.response.body", "body": b"", "more_body": False})


class JSONResponse(Response):
    """A JSON response rendered with orjson (pydantic models are dumped too).

    ``return JSONResponse({"id": 1}, status_code=201, headers={"Location": "/todos/1"})``
    """

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content
        try:
            return dump_untyped(content)
        except orjson.JSONEncodeError as exc:
            raise TypeError(str(exc)) from exc


class StartWatchingSend:
    """A ``send`` that notes when the response's first message went out: an error
    after that can no longer be answered, only logged."""

    __slots__ = ("send", "started")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """A ``Content-Disposition`` value for ``filename`` (RFC 6266): ``filename="..."``
    in ASCII for every client, and ``filename*=UTF-8''...`` (RFC 5987) too when
    the name is not plain ASCII. Control characters are dropped and path
    separators replaced, so the name can neither break the header nor name a folder."""
    name = "".join(
        "_" if char in "/\\" else char for char in filename if char.isprintable()
    ).strip()
    if not name:
        return disposition
    fallback = "".join(
        char if " " <= char <= "~" else "_"
        for char in unicodedata.normalize("NFKD", name)
        if not unicodedata.combining(char)
    )
    quoted = fallback.replace("\\", "\\\\").replace('"', '\\"')
    value = f'{disposition}; filename="{quoted}"'
    if fallback != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value


def attachment(filename: str) -> dict[str, str]:
    """The header that makes a browser save the response as ``filename``, for any
    response (``FileResponse`` has ``attachment=`` for this)::

        return PlainTextResponse("Hi, there!", headers=attachment("hello.txt"))

    Non-ASCII names are sent both as an ASCII fallback and encoded (RFC 6266 and
    RFC 5987): ``attachment("café.txt")`` is ``{'Content-Disposition': 'attachment;
    filename="cafe.txt"; filename*=UTF-8\'\'caf%C3%A9.txt'}``.
    """
    return {"Content-Disposition": content_disposition(filename)}


class FileResponse(Response, responses.FileResponse):
    """A file from the server's disk, read and sent in chunks, with its
    ``Content-Length``, ``Last-Modified`` and ``ETag``, and byte ranges.

    ::

        @app.get("/reports/{id}")
        async def report(id: int) -> FileResponse:
            return FileResponse(f"reports/{id}.csv", attachment=f"report-{id}.csv")

    ``attachment`` makes a browser download it: ``True`` under the file's own
    name, a string under that name (RFC 6266/5987 encoded if not ASCII); by
    default the file is shown inline. The media type is ``media_type``, else
    the subclass's ``media_type`` (which the API document shows), else guessed
    from the name. A file that does not exist (or is not a regular file) is a
    404 problem when the response is sent, and a ``Range`` the file cannot
    satisfy a 416 problem. A handler declared ``-> FileResponse`` documents a
    binary 200 response and the 404.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        attachment: bool | str = False,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        if attachment is True:
            filename: str | None = os.path.basename(os.fspath(path))
        else:
            filename = attachment or None
        if media_type is None:
            media_type = (
                type(self).media_type
                or guess_type(filename or os.fspath(path))[0]
                or "application/octet-stream"
            )
        super().__init__(
            path,
            status_code=status_code,
            headers=headers,
            media_type=media_type,
            background=background,
        )
        if filename:
            self.headers.setdefault("content-disposition", content_disposition(filename))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.stat_result is None:
            try:
                found = await anyio.to_thread.run_sync(os.stat, self.path)
            except (FileNotFoundError, NotADirectoryError):
                found = None
            if found is None or not stat.S_ISREG(found.st_mode):
                raise HTTPError(404, detail="The file was not found.")
            self.stat_result = found
            self.set_stat_headers(found)
        await super().__call__(scope, receive, send)

    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        # Starlette answers these in plain text; the app answers problems.
        try:
            return super()._parse_range_header(http_range, file_size)
        except responses.MalformedRangeHeader as exc:
            raise HTTPError(400, detail=f"The Range header is malformed: {exc.content}") from None
        except responses.RangeNotSatisfiable as exc:
            raise HTTPError(
                416,
                detail="The requested range is not satisfiable.",
                headers={"Content-Range": f"bytes */{exc.max_size}"},
            ) from None
