"""The test client: Starlette's ``TestClient``, with ``stream_events`` and provider overrides."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, overload

from starlette.testclient import TestClient

from bocadillo.testing.sse_client import EventStream

T = TypeVar("T")

if TYPE_CHECKING:
    from bocadillo.app import App

__all__ = ["Client", "create_client"]


class Client(TestClient):
    """Starlette's ``TestClient``, with ``stream_events`` for server-sent events, and
    provider overrides that last as long as the client."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(
        self, app: App, *, overrides: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(app, **kwargs)
        self._overrides = [
            app.override_provider(name, value) for name, value in (overrides or {}).items()
        ]

    def __exit__(self, *args: Any) -> None:
        try:
            super().__exit__(*args)
        finally:
            self.undo_overrides()

    def undo_overrides(self) -> None:
        """Put back the providers ``overrides`` replaced (done on leaving the ``with``)."""
        while self._overrides:
            self._overrides.pop().undo()

    @overload
    def stream_events(
        self,
        path: str,
        *,
        params: Any = None,
        headers: Mapping[str, str] | None = None,
        max_events: int | None = None,
        timeout: float = 10.0,
        close_timeout: float = 5.0,
        data_type: None = None,
    ) -> EventStream[Any]: ...

    @overload
    def stream_events(
        self,
        path: str,
        *,
        params: Any = None,
        headers: Mapping[str, str] | None = None,
        max_events: int | None = None,
        timeout: float = 10.0,
        close_timeout: float = 5.0,
        data_type: type[T],
    ) -> EventStream[T]: ...

    def stream_events(
        self,
        path: str,
        *,
        params: Any = None,
        headers: Mapping[str, str] | None = None,
        max_events: int | None = None,
        timeout: float = 10.0,
        close_timeout: float = 5.0,
        data_type: type[Any] | None = None,
    ) -> EventStream[Any]:
        """Open an SSE stream: iterate it for ``ServerSentEvent`` objects, typed by
        the route's declared events.

        ::

            events = list(client.stream_events("/ticks", max_events=3))
            assert [e.event for e in events] == ["Tick", "Tick", "Tick"]

        With ``data_type=Tick``, each event's ``data`` is typed ``Tick`` for the
        type checker, and an event holding anything else fails the test.
        Iteration stops when the app ends the stream, after ``max_events``, or
        after ``timeout`` seconds. Use it in a ``with`` block to read the status
        and headers too; leaving the block (or the loop) disconnects.
        """
        return EventStream(
            self,
            path,
            params=params,
            headers=headers,
            max_events=max_events,
            timeout=timeout,
            close_timeout=close_timeout,
            data_type=data_type,
        )


def create_client(app: App, *, overrides: Mapping[str, Any] | None = None, **kwargs: Any) -> Client:
    """A test client for ``app`` (Starlette's ``TestClient``, with ``stream_events``);
    ``kwargs`` go to ``TestClient``.

    Use it in a ``with`` block to run the app's start-up and shutdown (app
    providers, ``on_startup`` hooks, ``lifespan``); without one, only the
    handlers are compiled and the app providers made, on the first request.
    ``overrides`` replaces providers by name (a function, or the value
    itself) from now until the ``with`` block ends (or
    ``client.undo_overrides()``).
    ``client.websocket_connect(path)`` opens a WebSocket::

        with create_client(app, overrides={"store": fake_store}) as client:
            with client.websocket_connect("/rooms/lobby") as ws:
                ws.send_json({"type": "join", "name": "ada"})
                assert ws.receive_json()["type"] == "joined"
    """
    return Client(app, overrides=overrides, **kwargs)
