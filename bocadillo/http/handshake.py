"""Refusing a WebSocket handshake: the one place that does it."""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from bocadillo.errors import PROBLEM_DETAILS, ErrorFormat, HTTPError, error_response

__all__ = ["refuse_handshake"]

REFUSED_CLOSE_CODE = 1008  # policy violation: what a refusal is when no response can go
FAILED_CLOSE_CODE = 1011  # internal error: a 5xx refusal when no response can go


async def refuse_handshake(
    answer: HTTPError | Response,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    reason: str | None = None,
    error_format: ErrorFormat = PROBLEM_DETAILS,
) -> None:
    """Refuse a WebSocket handshake before it is accepted.

    Where the server has the ASGI ``websocket.http.response`` extension the client
    gets ``answer`` as an HTTP response (an ``HTTPError`` in ``error_format``);
    elsewhere the connection closes with 1008 (1011 for a 5xx error: the server
    failed) and ``reason`` (by default the error's ``detail``).
    """
    if "websocket.http.response" in scope.get("extensions", {}):
        response = answer if isinstance(answer, Response) else error_response(error_format, answer)
        await response(scope, receive, send)
        return
    if reason is None:
        reason = (answer.detail if isinstance(answer, HTTPError) else None) or ""
    failed = isinstance(answer, HTTPError) and answer.status_code >= 500
    code = FAILED_CLOSE_CODE if failed else REFUSED_CLOSE_CODE
    await send({"type": "websocket.close", "code": code, "reason": reason})
