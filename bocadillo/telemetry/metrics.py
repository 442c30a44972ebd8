"""The instruments: what telemetry counts and measures, by route, method, status and type.

One ``Instruments`` per instrumented app, made at install; the observations call
it. It records through OpenTelemetry's metrics API (``Telemetry.meter_provider``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from bocadillo.telemetry.config import Telemetry

__all__ = ["Instruments", "ScopeKind"]

ScopeKind = Literal["http", "websocket", "sse"]


class Instruments:
    """The app's metrics. Every method is cheap and never raises."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry

    # -- requests, connections and streams -----------------------------------

    def started(self, kind: ScopeKind, method: str, route: str | None) -> None:
        """A request (or connection) began: in flight (open, for a WebSocket)."""

    def finished(
        self, kind: ScopeKind, method: str, route: str | None, status: int, seconds: float
    ) -> None:
        """It ended, answered with ``status`` (a WebSocket: its close code), after ``seconds``."""

    def stream_opened(self, route: str | None) -> None:
        """A request turned out to be an event stream: one more stream open."""

    def validation_failed(self, kind: ScopeKind, route: str | None) -> None:
        """A request's inputs (422) or a WebSocket message failed validation."""

    # -- messages, events and channels ---------------------------------------

    def message(self, route: str | None, direction: Literal["in", "out"], type_name: str) -> None:
        """A WebSocket message received or sent."""

    def event(self, route: str | None, event: str | None) -> None:
        """An SSE event sent."""

    def delivered(self, channel: str) -> None:
        """A channel message delivered to one subscription."""

    def dropped(self, channel: str, reason: Literal["drop_oldest", "disconnect"]) -> None:
        """A channel message dropped for a slow subscriber."""
