"""Response classes a handler may return to take over the response entirely.

A handler usually returns data and lets its declared return type decide the
body. Return one of these to set the status, headers or media type yourself.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import (
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)

from ._schemas import dump_untyped

__all__ = [
    "HTMLResponse",
    "JSONResponse",
    "PlainTextResponse",
    "RedirectResponse",
    "Response",
    "StreamingResponse",
]


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
