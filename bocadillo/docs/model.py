"""The API model: what the documents and docs pages say, built once from the plans.

The app compiles its routes, then hands this model over; the OpenAPI and
AsyncAPI builders and the docs routes read only it, never the app.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from bocadillo.errors import PROBLEM_DETAILS, ErrorFormat
from bocadillo.routing.router import RouteDef
from bocadillo.runtime.endpoint import EndpointPlan
from bocadillo.runtime.sse import SSEPlan
from bocadillo.runtime.websockets import WebSocketPlan

__all__ = ["ApiModel"]


@dataclasses.dataclass(frozen=True, slots=True)
class ApiModel:
    """An app's API as the documents describe it.

    ``http`` holds the HTTP and SSE routes (an SSE route's plan is an
    ``SSEPlan``), ``websockets`` the WebSocket routes, each with its compiled
    plan, in declaration order; the framework's own routes (the documents, the
    docs pages) are left out. ``servers`` are OpenAPI server objects;
    ``error_format`` says the media type and schema of every error.
    """

    title: str
    version: str
    description: str | None
    servers: Sequence[Mapping[str, Any]]
    openapi_version: str
    http: Sequence[tuple[RouteDef, EndpointPlan]]
    websockets: Sequence[tuple[RouteDef, WebSocketPlan]]
    error_format: ErrorFormat = PROBLEM_DETAILS

    def documented_http(self) -> list[tuple[RouteDef, EndpointPlan]]:
        """The HTTP and SSE routes shown in the documents (``include_in_schema``)."""
        return [(route, plan) for route, plan in self.http if route.include_in_schema]

    def documented_streams(self) -> list[tuple[RouteDef, SSEPlan]]:
        """The SSE routes shown in the documents."""
        return [
            (route, plan)
            for route, plan in self.http
            if isinstance(plan, SSEPlan) and route.include_in_schema
        ]

    def documented_websockets(self) -> list[tuple[RouteDef, WebSocketPlan]]:
        """The WebSocket routes shown in the documents."""
        return [(route, plan) for route, plan in self.websockets if route.include_in_schema]

    def has_channels(self) -> bool:
        """Whether the AsyncAPI document has a channel (a WebSocket or SSE route)."""
        return bool(self.documented_websockets() or self.documented_streams())
