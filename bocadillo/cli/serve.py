"""``bocadillo run`` and ``bocadillo dev``: serve the app with uvicorn or granian.

Both import and compile the app before the server starts, so a mistake is one
line on stderr rather than a traceback from a worker. With uvicorn (the
default) they serve with the protocols of ``bocadillo.cli.server``, which
limit each request's head (size, number of fields, the time it takes to
arrive); with ``--server granian``, through ``bocadillo.cli.granian_server``,
which maps the same flags onto granian's settings and says on stderr which it
cannot honour. When the server cannot start (the port is taken, say) the
command exits with uvicorn's code, 3.
"""

from __future__ import annotations

import argparse
import os
import sys
import typing
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from bocadillo.app import App
from bocadillo.cli.arguments import (
    Commands,
    add_app_argument,
    add_app_dir,
    non_negative_int,
    port_number,
    positive_float,
    positive_int,
)
from bocadillo.cli.granian_server import GRANIAN_MAX_HEADERS, GranianSettings, serve_granian
from bocadillo.cli.loader import APP_ERROR, CLIError, compiled_app
from bocadillo.cli.server import (
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_MAX_HEADER_SIZE,
    DEFAULT_MAX_HEADERS,
    HeaderLimits,
    HTTPImplementation,
    server_protocol,
)
from bocadillo.cli.websocket_protocol import QuietWebSocketsProtocol
from bocadillo.runtime.websockets import DEFAULT_MAX_MESSAGE_SIZE

if TYPE_CHECKING:
    from bocadillo.routing.router import RouteDef
    from bocadillo.runtime.websockets import WebSocketPlan

__all__ = ["add_dev", "add_run"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_LIMIT_CONCURRENCY = 1000  # connections and tasks at once; more are answered 503
DEFAULT_KEEP_ALIVE = 5  # seconds an idle keep-alive connection stays open
GRACEFUL_SHUTDOWN = 30  # seconds to finish the requests in flight on shutdown
DEV_GRACEFUL_SHUTDOWN = 5  # a reload should not wait long for an open event stream
WS_PING_INTERVAL = 20.0  # seconds between the server's pings on an open WebSocket
WS_PING_TIMEOUT = 20.0  # seconds a ping waits for its pong before the connection is closed
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
HTTP_IMPLEMENTATIONS = typing.get_args(HTTPImplementation)
SERVERS = ("uvicorn", "granian")


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    add_app_argument(parser)
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"the address to listen on (default: {DEFAULT_HOST}; 0.0.0.0 for every interface)",
    )
    parser.add_argument(
        "--port",
        type=port_number,
        default=DEFAULT_PORT,
        help=f"the port to listen on (default: {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--server",
        choices=SERVERS,
        default="uvicorn",
        help=(
            "the HTTP server (default: uvicorn); granian (the granian extra) is faster "
            "but lacks some limits: see docs/security.md"
        ),
    )
    add_app_dir(parser)


def _add_limit_options(parser: argparse.ArgumentParser) -> None:
    """The limits on each request's head, and the parser that enforces them."""
    parser.add_argument(
        "--max-header-size",
        type=positive_int,
        default=DEFAULT_MAX_HEADER_SIZE,
        metavar="BYTES",
        help=(
            "answer 431 to a request whose target, header names and values add up to more "
            f"than BYTES (default: {DEFAULT_MAX_HEADER_SIZE})"
        ),
    )
    parser.add_argument(
        "--max-headers",
        type=positive_int,
        default=DEFAULT_MAX_HEADERS,
        metavar="N",
        help=(
            "answer 431 to a request with more than N header fields "
            f"(default: {DEFAULT_MAX_HEADERS})"
        ),
    )
    parser.add_argument(
        "--header-timeout",
        type=positive_float,
        default=DEFAULT_HEADER_TIMEOUT,
        metavar="S",
        help=(
            "answer 408 when a request's header fields take more than S seconds to arrive, "
            "from the connection, or from the request's first byte on a kept-alive "
            "connection; close a connection on which nothing came "
            f"(default: {DEFAULT_HEADER_TIMEOUT:g})"
        ),
    )
    parser.add_argument(
        "--ws-max-size",
        type=positive_int,
        default=None,
        metavar="BYTES",
        help=(
            "close with 1009 a WebSocket message larger than BYTES as soon as its frame "
            "header says so, before it is buffered (default: the largest max_message_size "
            "of the app's WebSocket routes; it cannot be below that)"
        ),
    )
    parser.add_argument(
        "--ws-ping-interval",
        type=positive_float,
        default=None,
        metavar="S",
        help=f"ping each open WebSocket every S seconds (default: {WS_PING_INTERVAL:g})",
    )
    parser.add_argument(
        "--ws-ping-timeout",
        type=positive_float,
        default=None,
        metavar="S",
        help=(
            "close with 1011 a WebSocket whose pong has not come S seconds after the ping: "
            "a client that stopped answering, or one holding a frame half sent "
            f"(default: {WS_PING_TIMEOUT:g})"
        ),
    )
    parser.add_argument(
        "--http",
        choices=HTTP_IMPLEMENTATIONS,
        default=None,
        help=(
            "uvicorn's HTTP/1.1 parser (default: auto: httptools when installed, else h11; "
            "not with --server granian)"
        ),
    )


def add_run(commands: Commands) -> None:
    """``bocadillo run``: serve with production defaults."""
    parser = commands.add_parser(
        "run",
        help="serve an app with uvicorn (or granian), with production defaults",
        description=(
            "Import and compile the app (a mistake is reported before the server starts), "
            "then serve it with uvicorn (--server granian: granian; see docs/security.md for "
            "the limits it keeps): uvloop and httptools when installed, keep-alive "
            f"{DEFAULT_KEEP_ALIVE} s, at most {DEFAULT_LIMIT_CONCURRENCY} connections and "
            "tasks at once, limits on each request's header fields (size, number, time "
            f"to arrive), {GRACEFUL_SHUTDOWN} s to finish the requests in flight on "
            "shutdown, no Server header, an access log."
        ),
    )
    _add_server_options(parser)
    parser.add_argument(
        "--reload",
        action="store_true",
        help="restart when a .py file under the app dir changes (for development)",
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        metavar="N",
        help="worker processes (default: $WEB_CONCURRENCY or 1)",
    )
    parser.add_argument(
        "--limit-concurrency",
        type=non_negative_int,
        default=DEFAULT_LIMIT_CONCURRENCY,
        metavar="N",
        help=(
            "answer 503 beyond N connections and tasks at once, per worker "
            f"(default: {DEFAULT_LIMIT_CONCURRENCY}; 0: no limit)"
        ),
    )
    parser.add_argument(
        "--timeout-keep-alive",
        type=positive_int,
        default=None,
        metavar="S",
        help=f"close an idle keep-alive connection after S seconds (default: {DEFAULT_KEEP_ALIVE})",
    )
    _add_limit_options(parser)
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default="info",
        metavar="LEVEL",
        help=f"one of {', '.join(LOG_LEVELS)} (default: info)",
    )
    parser.add_argument(
        "--proxy-headers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=(
            "trust X-Forwarded-For and X-Forwarded-Proto from the addresses of "
            "--forwarded-allow-ips (default: on)"
        ),
    )
    parser.add_argument(
        "--forwarded-allow-ips",
        default=None,
        metavar="IPS",
        help=(
            "comma-separated addresses (or *) whose proxy headers are trusted "
            "(default: $FORWARDED_ALLOW_IPS or 127.0.0.1,::1, as uvicorn)"
        ),
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    if args.reload and args.workers is not None and args.workers > 1:
        raise CLIError("--reload and --workers cannot be used together: reload runs one process")
    return _serve(
        args,
        reload=args.reload,
        workers=args.workers,
        log_level=args.log_level,
        limit_concurrency=args.limit_concurrency or None,
        timeout_keep_alive=args.timeout_keep_alive or DEFAULT_KEEP_ALIVE,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
        proxy_headers=args.proxy_headers,
        forwarded_allow_ips=args.forwarded_allow_ips,
    )


def add_dev(commands: Commands) -> None:
    """``bocadillo dev``: serve with reload and debug logging."""
    parser = commands.add_parser(
        "dev",
        help="serve an app for development: reload on change, debug logging",
        description=(
            "Import and compile the app, then serve it with uvicorn (or --server granian), "
            "restarting when a .py "
            "file under the app dir changes, with debug logging and no concurrency limit "
            f"(a restart gives the requests in flight {DEV_GRACEFUL_SHUTDOWN} s to finish)."
        ),
    )
    _add_server_options(parser)
    _add_limit_options(parser)
    parser.set_defaults(handler=_dev)


def _dev(args: argparse.Namespace) -> int:
    return _serve(
        args,
        reload=True,
        log_level="debug",
        limit_concurrency=None,
        timeout_keep_alive=DEFAULT_KEEP_ALIVE,
        timeout_graceful_shutdown=DEV_GRACEFUL_SHUTDOWN,
    )


def _serve(args: argparse.Namespace, *, reload: bool, **options: Any) -> int:
    """Check the app, print where it is served, and run the server until it stops.

    The server gets the ``MODULE:APP`` string rather than the app, so that
    reload and worker processes can import it themselves.
    """
    limits = HeaderLimits(args.max_header_size, args.max_headers, args.header_timeout)
    if args.server == "granian":
        return _serve_granian(args, limits, reload=reload, **options)
    try:
        protocol = server_protocol(args.http or "auto", limits)
    except ImportError as exc:
        raise CLIError(f"--http {args.http}: {exc}") from None
    app = compiled_app(args.app, args.app_dir)
    ws_max_size = _ws_max_size(app, args.ws_max_size)
    app_dir = os.path.abspath(args.app_dir)
    print(_banner(app, args.host, args.port), file=sys.stderr, flush=True)

    import uvicorn

    try:
        uvicorn.run(
            args.app,
            host=args.host,
            port=args.port,
            app_dir=app_dir,
            reload=reload,
            reload_dirs=[app_dir] if reload else None,
            loop="auto",
            http=protocol,
            ws=QuietWebSocketsProtocol,
            ws_max_size=ws_max_size,
            ws_ping_interval=_given(args.ws_ping_interval, WS_PING_INTERVAL),
            ws_ping_timeout=_given(args.ws_ping_timeout, WS_PING_TIMEOUT),
            server_header=False,
            date_header=True,
            access_log=True,
            **options,
        )
    except SystemExit as exc:  # uvicorn's exit: the server could not start (code 3)
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        return APP_ERROR
    return 0


def _given(value: float | None, default: float) -> float:
    return default if value is None else value


def _serve_granian(
    args: argparse.Namespace, limits: HeaderLimits, *, reload: bool, **options: Any
) -> int:
    """``--server granian``: refuse what granian cannot do, warn of what it ignores."""
    try:
        import granian  # noqa: F401
    except ImportError:
        raise CLIError(
            "--server granian: granian is not installed (pip install 'bocadillo[granian]')"
        ) from None
    if args.http is not None:
        raise CLIError("--http chooses uvicorn's parser: granian has its own (drop --http)")
    if limits.max_headers != GRANIAN_MAX_HEADERS:
        raise CLIError(
            f"--max-headers {limits.max_headers}: granian's limit is {GRANIAN_MAX_HEADERS} "
            "header fields, fixed (use --server uvicorn for another limit)"
        )
    # As uvicorn: WEB_CONCURRENCY when --workers is not given, one process under reload.
    workers = 1 if reload else options.get("workers") or _web_concurrency()
    app = compiled_app(args.app, args.app_dir)
    _ws_max_size(app, args.ws_max_size)  # a limit below a route's is refused all the same
    app_dir = os.path.abspath(args.app_dir)
    print(_banner(app, args.host, args.port), file=sys.stderr, flush=True)
    _warn_granian_ignores(args)
    _warn_granian_gaps(app)
    settings = GranianSettings(
        host=args.host,
        port=args.port,
        workers=workers,
        reload=reload,
        log_level=options["log_level"],
        max_buffer_size=limits.raw_bound,
        header_timeout=limits.header_timeout,
        keep_alive=True,
        backpressure=options["limit_concurrency"],
        graceful_timeout=options["timeout_graceful_shutdown"],
        proxy_headers=options.get("proxy_headers", True),
        forwarded_allow_ips=options.get("forwarded_allow_ips"),
    )
    return serve_granian(args.app, app_dir, settings)


def _web_concurrency() -> int:
    value = os.environ.get("WEB_CONCURRENCY") or "1"
    try:
        return positive_int(value)
    except (argparse.ArgumentTypeError, ValueError):
        raise CLIError(f"WEB_CONCURRENCY={value!r}: not a number of workers") from None


def _warn_granian_ignores(args: argparse.Namespace) -> None:
    """One line on stderr for each given flag granian has no equivalent of."""
    websocket = [
        flag
        for flag, value in (
            ("--ws-max-size", args.ws_max_size),
            ("--ws-ping-interval", args.ws_ping_interval),
            ("--ws-ping-timeout", args.ws_ping_timeout),
        )
        if value is not None
    ]
    if websocket:
        print(
            f"warning: granian cannot honour {', '.join(websocket)}: it has no limit of its own "
            "on a WebSocket message and sends no pings (see docs/security.md)",
            file=sys.stderr,
        )
    if getattr(args, "timeout_keep_alive", None) is not None:
        print(
            "warning: granian cannot honour --timeout-keep-alive: an idle connection is "
            f"closed by --header-timeout ({args.header_timeout:g} s)",
            file=sys.stderr,
        )


def _warn_granian_gaps(app: App) -> None:
    """The guarantees of docs/security.md granian does not give, said once at start-up:
    the head and framing ones always, the WebSocket ones when the app has a WebSocket route."""
    print(
        "warning: under granian, the server's own refusals (400, 431) have no problem "
        "body, a head that arrives too slowly is closed without a 408, and a request "
        "with both Content-Length and Transfer-Encoding is served by the latter; put a "
        "proxy with those limits in front (docs/security.md, 'Under granian')",
        file=sys.stderr,
    )
    if next(_websocket_plans(app), None) is not None:
        print(
            "warning: under granian, a WebSocket frame is buffered (up to 16 MiB) before "
            "a route can refuse it with 1009, and no pings are sent: memory per connection "
            "is not bounded by the routes' max_message_size (--server uvicorn bounds it)",
            file=sys.stderr,
        )


def _ws_max_size(app: App, given: int | None) -> int:
    """The server's limit on a WebSocket message: ``given``, else the largest
    ``max_message_size`` of the app's WebSocket routes (and its mounted apps').

    The server buffers a message up to its own limit before the app sees any of
    it, so a limit above the routes' only costs memory; one below would close
    messages a route takes, and is refused.
    """
    routes = [(route.path, plan.max_message_size) for route, plan in _websocket_plans(app)]
    largest = max((size for _, size in routes), default=DEFAULT_MAX_MESSAGE_SIZE)
    if given is None:
        return largest
    if given < largest:
        path = next(path for path, size in routes if size == largest)
        raise CLIError(
            f"--ws-max-size {given} is below the max_message_size of WebSocket route "
            f"{path} ({largest} bytes): raise it, or lower the route's limit"
        )
    return given


def _websocket_plans(app: App) -> Iterator[tuple[RouteDef, WebSocketPlan]]:
    """The WebSocket routes of ``app`` and of the Bocadillo apps mounted in it."""
    yield from app.websocket_plans()
    for mount in app.iter_mounts():
        if isinstance(mount.app, App) and mount.app is not app:
            yield from _websocket_plans(mount.app)


def _banner(app: App, host: str, port: int) -> str:
    """``Bocadillo · Todos 1.0.0 · http://127.0.0.1:8000 · docs http://127.0.0.1:8000/docs``."""
    base = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    parts = ["Bocadillo", f"{app.title} {app.version}", base]
    if app.docs_url is not None and app.openapi_url is not None:
        parts.append(f"docs {base}{app.docs_url}")
    if app.channels_url is not None and app.asyncapi().get("channels"):
        parts.append(f"channels {base}{app.channels_url}")
    return " · ".join(parts)
