"""Signed cookie sessions: the layer that reads ``request.session`` from its cookie and
writes it back (``App(sessions=Sessions(...))``).

Starlette's ``SessionMiddleware``, written again for two cases it leaves open: a
cookie whose signature is valid but whose data cannot be read (a 500 there) is
no session here, logged once; and a session too large for a cookie is not sent
(browsers drop a cookie over 4096 bytes, and sent back it would pass the
server's head limit) but logged as an error naming its size.
"""

from __future__ import annotations

import binascii
import logging
from base64 import b64decode, b64encode
from typing import Any

import itsdangerous
import orjson
from itsdangerous.exc import BadSignature
from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import Session
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["MAX_COOKIE_SIZE", "SessionLayer"]

logger = logging.getLogger("bocadillo")

MAX_COOKIE_SIZE = 4096  # bytes of name=value browsers keep (RFC 6265 section 6.1)
_CLEARED = "null; expires=Thu, 01 Jan 1970 00:00:00 GMT"


class SessionLayer:
    """``scope["session"]`` from the signed cookie, and the cookie from it when the
    response starts (only when the session was changed)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        secret_key: str,
        cookie_name: str,
        max_age: int | None,
        path: str,
        same_site: str,
        https_only: bool,
        domain: str | None,
    ) -> None:
        self.app = app
        self.signer = itsdangerous.TimestampSigner(secret_key)
        self.cookie_name = cookie_name
        self.max_age = max_age
        flags = f"; path={path}"
        if max_age is not None:
            flags += f"; Max-Age={max_age}"
        flags += f"; httponly; samesite={same_site}"
        if https_only:
            flags += "; secure"
        if domain is not None:
            flags += f"; domain={domain}"
        self.flags = flags
        self.unreadable_logged = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        cookie = HTTPConnection(scope).cookies.get(self.cookie_name)
        data = None if cookie is None else self.load(cookie)
        had_session = bool(data)
        session = scope["session"] = Session(data or {})

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if session.accessed:
                    headers.add_vary_header("Cookie")
                if session.modified:
                    value = self.cookie(session, scope) if session else None
                    if value is not None:
                        headers.append("set-cookie", f"{self.cookie_name}={value}{self.flags}")
                    elif had_session and not session:
                        headers.append("set-cookie", f"{self.cookie_name}={_CLEARED}{self.flags}")
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def load(self, cookie: str) -> dict[str, Any] | None:
        """The session a cookie holds; None for a bad signature, an expired one, or
        data that cannot be read (logged the first time)."""
        try:
            signed = self.signer.unsign(cookie.encode(), max_age=self.max_age)
        except (BadSignature, UnicodeEncodeError):
            return None
        try:
            data = orjson.loads(b64decode(signed, validate=True))
        except (binascii.Error, orjson.JSONDecodeError):
            data = None
        if isinstance(data, dict):
            return data
        if not self.unreadable_logged:
            self.unreadable_logged = True
            logger.warning(
                "A session cookie had a valid signature but no session in it; it was "
                "ignored (and the next ones will be, without this message). Cookies of "
                "another app with the same secret_key, or a leaked secret_key, do this."
            )
        return None

    def cookie(self, session: Session, scope: Scope) -> str | None:
        """The signed cookie value of ``session``; None (logged) when it is too large."""
        value = self.signer.sign(b64encode(orjson.dumps(dict(session)))).decode()
        size = len(self.cookie_name) + 1 + len(value)
        if size <= MAX_COOKIE_SIZE:
            return value
        logger.error(
            "The session of %s %s was not saved: its cookie would be %d bytes, and "
            "browsers drop a cookie over %d. Keep an id in the session and the data "
            "on the server.",
            scope.get("method", "WEBSOCKET"),
            scope.get("path", ""),
            size,
            MAX_COOKIE_SIZE,
        )
        return None
