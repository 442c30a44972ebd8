"""What an observation records of WebSocket messages, event streams and channel deliveries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bocadillo.observe import StreamEnd

if TYPE_CHECKING:
    from bocadillo.telemetry.metrics import Instruments, ScopeKind

__all__ = ["StreamsMixin"]


class StreamsMixin:
    """The WebSocket, SSE and channel half of ``ScopeObservation``.

    It uses the attributes the observation sets: ``span`` (an OpenTelemetry
    span, recording or not), ``kind``, ``route``, ``instruments``.
    """

    span: Any
    kind: ScopeKind
    route: str | None
    instruments: Instruments

    def message_received(self, type_name: str, size: int) -> None:
        pass

    def message_invalid(self, size: int, errors: int) -> None:
        pass

    def message_sent(self, type_name: str, size: int) -> None:
        pass

    def stream_started(self) -> None:
        self.kind = "sse"

    def event_sent(self, event: str | None, size: int) -> None:
        pass

    def stream_ended(self, how: StreamEnd) -> None:
        pass

    def delivered(self, channel: str, context: Mapping[str, str] | None) -> None:
        pass

    def streams_finished(self) -> None:
        """The scope ended: what the stream half still has to record."""
