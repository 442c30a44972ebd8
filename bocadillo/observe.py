"""What the request path tells telemetry, when telemetry is on.

``App(telemetry=...)`` (``bocadillo/telemetry/``) serves each request, WebSocket
connection and event stream inside an observation, and sets ``CURRENT`` to it
for as long as the scope is served (the handler, its providers and the tasks
it starts see it too). The request path reads ``CURRENT`` only where something
happens that the ASGI messages do not show: an exception answered, a message's
type, an event sent, a stream's end, a channel delivery. With telemetry off
``CURRENT`` is ``None``, and nothing else runs.

This module imports nothing of the package: every layer may tell it.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from contextvars import ContextVar
from typing import Literal, Protocol

__all__ = ["CURRENT", "Observation", "StreamEnd"]

# How an event stream ended: its generator finished, the client went away, it
# fell behind a channel (``SlowSubscriber``), the server shut down, or it raised.
StreamEnd = Literal["complete", "disconnect", "slow_subscriber", "shutdown", "error"]


class Observation(Protocol):
    """One request, WebSocket connection or event stream, as telemetry sees it."""

    # -- HTTP and providers --------------------------------------------------

    request_id: str | None
    """The request's id (``Telemetry.request_id_header``), ``None`` without one."""

    provider_spans: bool
    """Whether the request's providers are made and torn down inside spans."""

    def failed(self, exc: BaseException, status: int) -> None:
        """``exc`` was answered with ``status`` (a 422 for a ``RequestValidationError``,
        a 500 for an unexpected error, ...)."""

    def provider(
        self, name: str, phase: Literal["setup", "teardown"]
    ) -> AbstractContextManager[None]:
        """Around making (``setup``) or tearing down a provider."""
        ...

    # -- WebSockets ----------------------------------------------------------

    def message_received(self, type_name: str, size: int) -> None:
        """A message of ``size`` bytes was received and validated as ``type_name``."""

    def message_invalid(self, size: int, errors: int, close_code: int | None) -> None:
        """A message of ``size`` bytes was refused: it failed validation with ``errors``
        errors (or was too large, or a frame of the wrong kind: one error). The
        connection is then closed with ``close_code`` (1003, 1007, 1009), or, where
        ``close_code`` is ``None``, the message is answered with an error and skipped."""

    def websocket_closed(self, code: int, by: Literal["client", "server"]) -> None:
        """The connection was closed with ``code``, first by ``by``."""

    def message_sent(self, type_name: str, size: int) -> None:
        """A message of ``type_name``, ``size`` bytes once serialized, was sent."""

    # -- event streams -------------------------------------------------------

    def stream_started(self) -> None:
        """The response is an event stream (its first bytes are going out)."""

    def event_sent(self, event: str | None, size: int) -> None:
        """An event (its ``event:`` name, ``None`` for a plain message) of ``size`` bytes."""

    def stream_ended(self, how: StreamEnd) -> None:
        """The stream ended, and how."""

    # -- channels ------------------------------------------------------------

    def delivered(self, channel: str, context: Mapping[str, str] | None) -> None:
        """A message of ``channel`` reached this scope's subscription; ``context`` is the
        trace context it was published under (W3C ``traceparent``...), if any."""

    def dropped(self, channel: str, reason: Literal["drop_oldest", "disconnect"]) -> None:
        """This scope's subscription of ``channel`` fell behind: its oldest message was
        dropped (``drop_oldest``), or the subscription ended (``disconnect``)."""


CURRENT: ContextVar[Observation | None] = ContextVar("bocadillo.observation", default=None)
