"""``bocadillo run --server granian``: serve the app with granian (its ASGI interface).

granian is a Rust HTTP server (hyper underneath). ``serve_granian`` maps the
options of ``bocadillo run`` onto granian's where it has them:

- ``--max-header-size``: hyper's read buffer (``HTTP1Settings.max_buffer_size``,
  at least 8192 bytes): a head that does not fit is answered ``431``. hyper
  counts the whole head (request line, names, values, separators) where the
  uvicorn protocols count the target, names and values: the buffer is set to
  ``HeaderLimits.raw_bound``, the bound the uvicorn protocols put on an
  incomplete head.
- ``--max-headers``: hyper's limit is 100 fields, fixed; another value is
  refused (``GRANIAN_MAX_HEADERS``).
- ``--header-timeout``: ``HTTP1Settings.header_read_timeout``; hyper closes the
  connection rather than answer ``408``.
- ``--timeout-keep-alive``: none; hyper's header read timeout also closes an
  idle kept-alive connection.
- ``--limit-concurrency``: granian's ``backpressure`` (requests at once per
  worker; more wait rather than get ``503``).
- ``--proxy-headers``: uvicorn's ``ProxyHeadersMiddleware`` around the app.

granian has no limit of its own on a WebSocket message (tungstenite's 64 MiB)
and sends no pings: ``--ws-max-size`` and the ping options cannot be honoured,
and ``serve_granian`` says so on stderr when they are given.

The app is wrapped in ``GranianApp``, which gives graceful shutdown the
meaning it has under uvicorn: before granian stops a worker (and lets its
connections finish, at most ``graceful_timeout`` seconds), the worker's open
event streams end with their last chunk (``SERVER_STOPPING``, as
``bocadillo.cli.server`` sets it under uvicorn). It also mends what granian
gives a request without ``Host`` (see ``GranianApp._no_host``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import multiprocessing
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import orjson

from bocadillo.errors import PROBLEM_MEDIA_TYPE, status_phrase
from bocadillo.runtime.sse import EVENT_STREAM, SERVER_STOPPING

__all__ = [
    "GRANIAN_MAX_HEADERS",
    "GranianApp",
    "GranianSettings",
    "load_granian_app",
    "serve_granian",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

GRANIAN_MAX_HEADERS = 100  # hyper's limit on the header fields of a request, fixed
MINIMUM_BUFFER = 8192  # hyper refuses a smaller read buffer
_LOG_LEVELS = {"trace": "debug"}  # uvicorn's levels granian lacks
_PENDING = "bocadillo.granian.receive"  # the scope's pending receive, while a stream waits
_STOPPING_MESSAGE: dict[str, Any] = {"type": "http.request", "body": b"", "more_body": False}
NO_HOST = "An HTTP/1.1 request has no Host header."
STREAMS_END = signal.SIGUSR1  # the server tells a worker to end its event streams


class GranianApp:
    """The app as granian serves it: the server stopping ends open event streams.

    granian lets a worker's connections finish before it tells the app anything
    (the lifespan's shutdown comes after), and an event stream finishes only
    when its client leaves. So ``GranianServer`` sends each worker
    ``STREAMS_END`` before stopping it; the worker, here, wakes each stream
    waiting on ``receive`` (``_client_left`` of ``bocadillo.runtime.sse``) with
    ``SERVER_STOPPING`` set, and the stream ends with its last chunk, as under
    uvicorn. Requests that are not event streams pass through untouched but for
    one wrapped ``receive``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.stopping: asyncio.Event | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            for name, value in scope["headers"]:
                if name == b"host":
                    if not value and not await self._no_host(scope, send):
                        return
                    break
            await self.app(scope, functools.partial(self._receive, scope, receive), send)
            return
        if kind == "lifespan":
            self.stopping = asyncio.Event()
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                asyncio.get_running_loop().add_signal_handler(STREAMS_END, self.stopping.set)
        await self.app(scope, receive, send)

    @staticmethod
    async def _no_host(scope: Scope, send: Send) -> bool:
        """granian gives a request without ``Host`` an empty one (and names HTTP/1.0
        ``"1"``): serve HTTP/1.0 as uvicorn does, without one; refuse HTTP/1.1
        (RFC 9112 section 3.2) with 400 and close. False if refused."""
        if scope["http_version"] in ("1", "1.0"):
            scope["http_version"] = "1.0"
            scope["headers"] = [(n, v) for n, v in scope["headers"] if n != b"host"]
            return True
        body = orjson.dumps(
            {"type": "about:blank", "title": status_phrase(400), "status": 400, "detail": NO_HOST}
        )
        headers = [
            (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return False

    async def _receive(self, scope: Scope, receive: Receive) -> Message:
        stopping = self.stopping
        if stopping is None or not scope.get(EVENT_STREAM):
            return await receive()
        # An event stream watches for its client leaving: wake it if the server stops.
        pending: asyncio.Future[Message] | None = scope.get(_PENDING)
        if pending is None:
            pending = scope[_PENDING] = asyncio.ensure_future(receive())
        if not stopping.is_set():
            stop = asyncio.ensure_future(stopping.wait())
            try:
                await asyncio.wait((pending, stop), return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.cancel()
        if pending.done():
            del scope[_PENDING]
            return pending.result()
        scope[SERVER_STOPPING] = True
        return _STOPPING_MESSAGE


def load_granian_app(
    target: str,
    *,
    app_dir: str,
    proxy_headers: bool,
    forwarded_allow_ips: str | None,
) -> ASGIApp:
    """Import ``MODULE:APP`` (from ``app_dir``) in a granian worker, and wrap it.

    A module-level function, so that ``functools.partial`` of it pickles into
    spawned worker processes. ``STREAMS_END`` is ignored until the app's lifespan
    starts (its default would end the worker).
    """
    signal.signal(STREAMS_END, signal.SIG_IGN)
    if app_dir not in sys.path:
        sys.path.insert(0, app_dir)
    module_name, _, attribute = target.partition(":")
    app: Any = importlib.import_module(module_name)
    for name in (attribute or "app").split("."):
        app = getattr(app, name)
    if proxy_headers:
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        trusted = forwarded_allow_ips or os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
        app = ProxyHeadersMiddleware(app, trusted_hosts=trusted)
    wrapped: ASGIApp = GranianApp(app)
    return wrapped


class GranianSettings:
    """What ``bocadillo run`` asks of granian, in its own words."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        workers: int,
        reload: bool,
        log_level: str,
        max_buffer_size: int,
        header_timeout: float,
        keep_alive: bool,
        backpressure: int | None,
        graceful_timeout: float,
        proxy_headers: bool = True,
        forwarded_allow_ips: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.workers = workers
        self.reload = reload
        self.log_level = _LOG_LEVELS.get(log_level, log_level)
        self.max_buffer_size = max(MINIMUM_BUFFER, max_buffer_size)
        self.header_timeout = header_timeout
        self.keep_alive = keep_alive
        self.backpressure = backpressure
        self.graceful_timeout = graceful_timeout
        self.proxy_headers = proxy_headers
        self.forwarded_allow_ips = forwarded_allow_ips


def _check_address(host: str, port: int) -> None:
    """Raise ``OSError`` if ``host:port`` cannot be listened on (granian panics, exit 1)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def _python_files() -> Any:
    """Restart on a change to a ``.py`` file only, as uvicorn does."""
    import watchfiles

    return watchfiles.PythonFilter


def serve_granian(target: str, app_dir: str, settings: GranianSettings) -> int:
    """Run granian until it stops; its exit code (3 when it cannot listen, as uvicorn)."""
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server import MPServer

    class GranianServer(MPServer):
        """granian's server, telling its workers to end their event streams before
        it stops them (on shutdown and on reload)."""

        stopped_by: int | None = None

        def signal_handler_interrupt(self, signum: int = 0, *args: Any) -> None:
            self.stopped_by = signum
            super().signal_handler_interrupt(signum, *args)  # type: ignore[no-untyped-call]

        def _stop_workers(self) -> None:
            for worker in self.wrks:
                with contextlib.suppress(OSError, AttributeError, TypeError):
                    os.kill(worker.inner.pid, STREAMS_END)
            super()._stop_workers()  # type: ignore[no-untyped-call]

    try:
        _check_address(settings.host, settings.port)
    except OSError as exc:  # the port is taken, the address is not this machine's
        print(f"granian cannot listen on {settings.host}:{settings.port}: {exc}", file=sys.stderr)
        return 3
    if settings.reload:
        # The command imported the app to check it: a forked worker would serve that
        # copy after a change. Spawned workers import it afresh.
        multiprocessing.set_start_method("spawn", force=True)
    server = GranianServer(
        target,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.workers,
        http=HTTPModes.http1,
        websockets=True,
        backpressure=settings.backpressure,
        http1_settings=HTTP1Settings(
            header_read_timeout=max(1, round(settings.header_timeout * 1000)),
            keep_alive=settings.keep_alive,
            max_buffer_size=settings.max_buffer_size,
        ),
        log_level=LogLevels(settings.log_level),
        log_access=True,
        workers_kill_timeout=max(1, round(settings.graceful_timeout)),
        reload=settings.reload,
        reload_paths=[Path(app_dir)] if settings.reload else None,
        reload_filter=_python_files() if settings.reload else None,
    )
    loader = functools.partial(
        load_granian_app,
        app_dir=app_dir,
        proxy_headers=settings.proxy_headers,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
    try:
        server.serve(target_loader=loader)
    except SystemExit as exc:  # a worker exited: its start-up failed, say
        return 3 if exc.code else 0
    if server.stopped_by == signal.SIGTERM:
        # As uvicorn: stopped gracefully, then by the signal, for a supervisor to see.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
    return 0
