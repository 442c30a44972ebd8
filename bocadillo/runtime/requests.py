"""The request object a handler can ask for."""

from __future__ import annotations

from starlette import requests

__all__ = ["Request"]


class Request(requests.Request):
    """The incoming HTTP request (Starlette's ``Request``, with ``path_params`` filled in).

    Declare a parameter of this type to receive it, for anything the
    signature does not declare::

        @app.post("/upload")
        async def upload(request: Request) -> int:
            return len(await request.body())
    """
