"""Reading a request body: size limits while streaming, and the content type."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator
from typing import Any

from starlette import requests
from starlette.types import Message, Receive

from bocadillo.errors import HTTPError
from bocadillo.params import Param
from bocadillo.runtime.specs import BodySpec

__all__ = [
    "BodyLimitedReceive",
    "BodyMember",
    "ClientDisconnect",
    "EnvelopeSpec",
    "body_chunks",
    "is_json_media_type",
    "read_body",
]


class ClientDisconnect(requests.ClientDisconnect):
    """The client went away before it had sent the whole request body.

    Raised where the body is read: ``async for chunk in request``,
    ``await request.body()``, ``.json()`` or ``.form()``. Catch it to clean up
    after an upload cut short; left uncaught, nothing is answered (nobody is
    listening) and nothing is logged. A generator provider of an event stream
    sees it at its ``yield`` when the stream was cut short (the client left,
    or the server is shutting down).
    """


@dataclasses.dataclass(frozen=True, slots=True)
class BodyMember:
    """One parameter read from a key of the JSON body object (an envelope's member)."""

    name: str  # the handler's argument
    key: str  # the key in the body object: the parameter's name, or its marker's alias
    field: str  # the envelope type's field that holds it
    annotation: Any  # the declared type, without the marker
    required: bool
    default: Any
    marker: Param | None


@dataclasses.dataclass(slots=True)
class EnvelopeSpec(BodySpec):
    """A body that is one JSON object whose keys are body parameters.

    ``annotation`` is the object's type, built at start-up, validated in one pass
    like any body; each member's argument is then its field of the result.
    """

    members: tuple[BodyMember, ...]


def _too_large(limit: int) -> HTTPError:
    return HTTPError(413, detail=f"The request body is larger than the limit of {limit} bytes.")


def parse_content_length(raw: bytes | None) -> int | None:
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise HTTPError(400, detail="The Content-Length header is not a number.") from None
    if value < 0:
        raise HTTPError(400, detail="The Content-Length header is negative.")
    return value


async def body_chunks(
    receive: Receive, limit: int, content_length: int | None
) -> AsyncGenerator[bytes, None]:
    """The body's chunks as they arrive, refused with 413 as soon as it passes ``limit``.

    A declared ``Content-Length`` over the limit is refused before reading; an
    undeclared (chunked) body is counted while it streams, so nothing past the
    limit is buffered. Once a declared length has arrived the body is whole
    (the server frames it), so the server's empty last message is not awaited.
    """
    if content_length is not None and content_length > limit:
        raise _too_large(limit)
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            yield chunk
        if not message.get("more_body", False) or size == content_length:
            return


async def read_body(receive: Receive, limit: int, content_length: int | None) -> bytes:
    """The whole body, read through ``body_chunks`` (the same limits)."""
    chunks = [chunk async for chunk in body_chunks(receive, limit, content_length)]
    if len(chunks) == 1:
        return chunks[0]
    return b"".join(chunks)


class BodyLimitedReceive:
    """A ``receive`` that raises 413 once the body passes ``limit`` bytes.

    Handed to a ``Request`` that a handler reads itself, so the app's body
    limit holds there too: a ``Content-Length`` over the limit (in ``headers``,
    the scope's) is refused at the first read, before anything is received.
    """

    __slots__ = ("_headers", "_limit", "_receive", "_size")

    def __init__(
        self, receive: Receive, limit: int, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        self._receive = receive
        self._limit = limit
        self._size = 0
        self._headers = headers

    async def __call__(self) -> Message:
        if self._headers is not None:
            headers, self._headers = self._headers, None
            for name, value in headers:
                if name == b"content-length":
                    length = parse_content_length(value)
                    if length is not None and length > self._limit:
                        raise _too_large(self._limit)
        message = await self._receive()
        if message["type"] == "http.request":
            self._size += len(message.get("body", b""))
            if self._size > self._limit:
                raise _too_large(self._limit)
        return message


def is_json_media_type(content_type: bytes | None) -> bool:
    """``application/json`` or ``application/*+json``, in UTF-8 if a charset is given."""
    if content_type is None:
        return False
    media_type, _, params = content_type.decode("latin-1").partition(";")
    media_type = media_type.strip().lower()
    if media_type != "application/json" and not (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        return False
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            return False
    return True
