"""A live server: the app served by uvicorn on a free port, in a background thread."""

from __future__ import annotations

import threading
import time
from typing import Any

from starlette.types import ASGIApp

__all__ = ["LiveServer"]


class LiveServer:
    """The app served by uvicorn on a free 127.0.0.1 port, in a background thread,
    for tests that need a real socket (a browser, a load generator, another process)::

        with LiveServer(app) as server:
            response = httpx.get(server.url + "/todos")

    The app's start-up runs before the ``with`` body, its shutdown when the
    block ends. ``kwargs`` go to ``uvicorn.Config`` (``ws``, ``http``,
    ``limit_concurrency``...).
    """

    __test__ = False

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        start_timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        import uvicorn

        self.app = app
        self.host = host
        self.port = port
        self.start_timeout = start_timeout
        self._config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", lifespan="on", **kwargs
        )
        self._server = uvicorn.Server(self._config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:PORT``, for ``websockets.connect(server.ws_url + "/chat")``."""
        return f"ws://{self.host}:{self.port}"

    def __enter__(self) -> LiveServer:
        self.start()
        return self

    def __exit__(self, *args: Any) -> None:
        self.stop()

    def start(self) -> None:
        """Start serving; raise ``RuntimeError`` if the server did not start in time."""
        server = self._server
        self._thread = threading.Thread(
            target=server.run, name="bocadillo-live-server", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the server did not start (see the log for why)")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start within {self.start_timeout} s")
            time.sleep(0.01)
        self.port = server.servers[0].sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Stop serving: the app's shutdown runs, then the thread ends."""
        if self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(self.start_timeout)
        self._thread = None
