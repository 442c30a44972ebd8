"""The request object a handler can ask for."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, NoReturn

from starlette import requests
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from bocadillo.errors import HTTPError, RequestValidationError
from bocadillo.runtime.body import ClientDisconnect

__all__ = ["Request"]


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


class Request(requests.Request):
    """The incoming HTTP request (Starlette's ``Request``, with ``path_params`` filled in).

    Declare a parameter of this type to receive it, for anything the
    signature does not declare::

        @app.post("/upload")
        async def upload(request: Request) -> int:
            return len(await request.body())

    A body the client got wrong is a 400 problem, as when the framework reads
    it: ``await request.json()`` on malformed JSON (or invalid UTF-8, or
    ``NaN``/``Infinity``), ``await request.form()`` on a broken multipart body.

    ``async for chunk in request`` reads the body as it arrives, without
    holding it in memory. The route's body limit holds while streaming (a 413
    problem as soon as the body passes it), and a client that leaves before
    the end raises ``ClientDisconnect``.
    """

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.stream()

    async def stream(self) -> AsyncGenerator[bytes, None]:
        """The body's chunks as they arrive (the whole body at once if it was read)."""
        try:
            async for chunk in super().stream():
                if chunk:  # Starlette ends with an empty chunk
                    yield chunk
        except requests.ClientDisconnect as exc:
            if isinstance(exc, ClientDisconnect):
                raise
            raise ClientDisconnect() from None

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
            except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                raise RequestValidationError(
                    [{"loc": ["body"], "msg": str(exc), "type": "json_invalid"}],
                    status_code=400,
                    detail="The request body is not valid JSON.",
                ) from None
        return self._json

    async def _get_form(
        self,
        *,
        max_files: int | float = 1000,
        max_fields: int | float = 1000,
        max_part_size: int = 1024 * 1024,
    ) -> FormData:
        try:
            return await super()._get_form(
                max_files=max_files, max_fields=max_fields, max_part_size=max_part_size
            )
        except MultiPartException as exc:
            raise HTTPError(400, detail=f"The form body is malformed: {exc.message}") from None
        except HTTPException as exc:
            if exc.status_code != 400:
                raise
            raise HTTPError(400, detail=f"The form body is malformed: {exc.detail}") from None
        except (ValueError, KeyError) as exc:  # UnicodeDecodeError is a ValueError
            raise HTTPError(400, detail=f"The form body is malformed: {exc}") from None
