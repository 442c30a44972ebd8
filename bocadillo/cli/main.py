"""The ``bocadillo`` command.

::

    bocadillo run MODULE:APP [--host HOST] [--port PORT] [--reload | --workers N]
                  [--limit-concurrency N] [--timeout-keep-alive S] [--max-header-size BYTES]
                  [--max-headers N] [--header-timeout S] [--http auto|httptools|h11]
                  [--log-level LEVEL] [--proxy-headers | --no-proxy-headers]
                  [--forwarded-allow-ips IPS] [--app-dir DIR]
    bocadillo dev MODULE:APP [--host HOST] [--port PORT] [--max-header-size BYTES]
                  [--max-headers N] [--header-timeout S] [--http auto|httptools|h11]
                  [--app-dir DIR]
    bocadillo routes MODULE:APP [--app-dir DIR]
    bocadillo check MODULE:APP [--max-examples N] [--no-stateful] [--no-websockets]
                    [--no-contract] [--seed N|random] [--app-dir DIR]
    bocadillo openapi MODULE:APP [-o FILE] [--yaml] [--app-dir DIR]
    bocadillo asyncapi MODULE:APP [-o FILE] [--yaml] [--app-dir DIR]

``run`` serves the app with uvicorn (production defaults), ``dev`` serves it
with reload and debug logging, ``routes`` prints the route table, ``check``
compiles every plan and both documents and runs the contract tests.
``run`` and ``dev`` import and compile the app before uvicorn starts, so a
mistake is one line on stderr rather than a traceback from a worker; they
serve with the protocols of ``_server.py``, which limit each request's head
(size, number of fields, the time it takes to arrive).

Each subcommand is a function that adds its parser (``_add_<name>``) and one
that runs it (``_<name>``, taking the parsed arguments and returning the exit
code); ``main`` wires them together. Exit codes: 0 success; 1 the app is
misconfigured (a ``ConfigurationError``), a file could not be written, or
``check`` found a contract failure; 2 a usage error (a bad ``MODULE:APP``, a
missing module or attribute, an object that is not an app, options that do
not go together); 3 uvicorn could not start the server (the port is taken,
say: uvicorn's own code, its message in the log).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import sys
import types
import typing
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

from starlette.staticfiles import StaticFiles

from bocadillo.app import App
from bocadillo.cli.server import (
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_MAX_HEADER_SIZE,
    DEFAULT_MAX_HEADERS,
    HeaderLimits,
    server_protocol,
)
from bocadillo.docs.openapi import render_openapi as render
from bocadillo.errors import ConfigurationError
from bocadillo.params import ParamSource
from bocadillo.runtime.sse import SSEPlan

if TYPE_CHECKING:
    from bocadillo.routing.router import Mount
    from bocadillo.runtime.providers import RouteProviders
    from bocadillo.runtime.specs import ParamSpec, ResponseSpec

__all__ = ["CLIError", "load_app", "main"]

USAGE_ERROR = 2
APP_ERROR = 1


class CLIError(Exception):
    """An error to report in one line on stderr, exiting with ``code``."""

    def __init__(self, message: str, code: int = USAGE_ERROR) -> None:
        super().__init__(message)
        self.code = code


def load_app(target: str, *, app_dir: str = ".") -> App:
    """Import ``MODULE:APP`` (``APP`` may be dotted) and return the ``App`` it names.

    ``app_dir`` is put first on ``sys.path`` (as uvicorn's ``--app-dir``), so a
    module in the current directory is found however the command was started.
    An exception raised by the module's own code while it is imported
    propagates, traceback and all; a ``ConfigurationError`` becomes a
    ``CLIError`` with exit code 1.
    """
    module_name, sep, attrs = target.partition(":")
    if (
        not sep
        or not module_name
        or not attrs
        or not all(part.isidentifier() for part in module_name.split("."))
        or not all(part.isidentifier() for part in attrs.split("."))
    ):
        raise CLIError(
            f"{target!r} is not of the form MODULE:APP (for example: examples.todos.app:app)"
        )
    path = os.path.abspath(app_dir)
    if path not in sys.path:
        sys.path.insert(0, path)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only the module asked for (or a package above it) being absent is the
        # user's typo; a missing import inside their code is a bug to show in full.
        if exc.name is None or not (module_name + ".").startswith(exc.name + "."):
            raise
        raise CLIError(f"could not import module {module_name!r}: {exc}") from None
    except ConfigurationError as exc:
        raise CLIError(f"{module_name} is misconfigured: {exc}", APP_ERROR) from None
    obj: Any = module
    for depth, attr in enumerate(attrs.split(".")):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            owner = ".".join([module_name, *attrs.split(".")[:depth]])
            raise CLIError(f"module {owner!r} has no attribute {attr!r}") from None
    if not isinstance(obj, App):
        kind = (
            f"the class {obj.__qualname__}"
            if isinstance(obj, type)
            else f"a {type(obj).__qualname__} object"
        )
        raise CLIError(f"{target} is {kind}, not a bocadillo App instance")
    return obj


# -- bocadillo run / bocadillo dev ---------------------------------------------------

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_LIMIT_CONCURRENCY = 1000  # connections and tasks at once; more are answered 503
DEFAULT_KEEP_ALIVE = 5  # seconds an idle keep-alive connection stays open
GRACEFUL_SHUTDOWN = 30  # seconds to finish the requests in flight on shutdown
DEV_GRACEFUL_SHUTDOWN = 5  # a reload should not wait long for an open event stream
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
HTTP_IMPLEMENTATIONS = ("auto", "httptools", "h11")


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("app", metavar="MODULE:APP", help="the app, e.g. examples.todos.app:app")
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"the address to listen on (default: {DEFAULT_HOST}; 0.0.0.0 for every interface)",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help=f"the port to listen on (default: {DEFAULT_PORT})",
    )
    _add_app_dir(parser)


def _add_limit_options(parser: argparse.ArgumentParser) -> None:
    """The limits on each request's head, and the parser that enforces them."""
    parser.add_argument(
        "--max-header-size",
        type=_positive_int,
        default=DEFAULT_MAX_HEADER_SIZE,
        metavar="BYTES",
        help=(
            "answer 431 to a request whose target, header names and values add up to more "
            f"than BYTES (default: {DEFAULT_MAX_HEADER_SIZE})"
        ),
    )
    parser.add_argument(
        "--max-headers",
        type=_positive_int,
        default=DEFAULT_MAX_HEADERS,
        metavar="N",
        help=(
            "answer 431 to a request with more than N header fields "
            f"(default: {DEFAULT_MAX_HEADERS})"
        ),
    )
    parser.add_argument(
        "--header-timeout",
        type=_positive_float,
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
        "--http",
        choices=HTTP_IMPLEMENTATIONS,
        default="auto",
        help="the HTTP/1.1 parser (default: auto: httptools when installed, else h11)",
    )


def _add_run(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "run",
        help="serve an app with uvicorn, with production defaults",
        description=(
            "Import and compile the app (a mistake is reported before the server starts), "
            "then serve it with uvicorn: uvloop and httptools when installed, keep-alive "
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
        type=_positive_int,
        default=None,
        metavar="N",
        help="worker processes (default: $WEB_CONCURRENCY or 1)",
    )
    parser.add_argument(
        "--limit-concurrency",
        type=_non_negative_int,
        default=DEFAULT_LIMIT_CONCURRENCY,
        metavar="N",
        help=(
            "answer 503 beyond N connections and tasks at once, per worker "
            f"(default: {DEFAULT_LIMIT_CONCURRENCY}; 0: no limit)"
        ),
    )
    parser.add_argument(
        "--timeout-keep-alive",
        type=_positive_int,
        default=DEFAULT_KEEP_ALIVE,
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
        timeout_keep_alive=args.timeout_keep_alive,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
        proxy_headers=args.proxy_headers,
        forwarded_allow_ips=args.forwarded_allow_ips,
    )


def _add_dev(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "dev",
        help="serve an app for development: reload on change, debug logging",
        description=(
            "Import and compile the app, then serve it with uvicorn, restarting when a .py "
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
    """Check the app, print where it is served, and run uvicorn until it stops.

    uvicorn gets the ``MODULE:APP`` string rather than the app, so that reload
    and worker processes can import it themselves.
    """
    limits = HeaderLimits(args.max_header_size, args.max_headers, args.header_timeout)
    try:
        protocol = server_protocol(args.http, limits)
    except ImportError as exc:
        raise CLIError(f"--http {args.http}: {exc}") from None
    app = _compiled_app(args.app, args.app_dir)
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


def _banner(app: App, host: str, port: int) -> str:
    """``Bocadillo · Todos 1.0.0 · http://127.0.0.1:8000 · docs http://127.0.0.1:8000/docs``."""
    base = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    parts = ["Bocadillo", f"{app.title} {app.version}", base]
    if app.docs_url is not None and app.openapi_url is not None:
        parts.append(f"docs {base}{app.docs_url}")
    if app.channels_url is not None and app.asyncapi().get("channels"):
        parts.append(f"channels {base}{app.channels_url}")
    return " · ".join(parts)


# -- bocadillo routes --------------------------------------------------------------


def _add_routes(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "routes",
        help="print an app's routes: methods, paths, handlers, inputs, outputs, providers",
        description=(
            "Print a table of the app's routes in declaration order: the method (WS for a "
            "WebSocket route, SSE for an event stream), the path, the handler, what a "
            "request carries (the body type and the query, header and cookie parameters; "
            "the message type of a WebSocket route), what the route answers (the status "
            "and type; the event names of an event stream; the message type of a WebSocket "
            "route) and the providers it uses, directly or through other providers. The "
            "app's own docs routes are left out; mounted apps come last."
        ),
    )
    parser.add_argument("app", metavar="MODULE:APP", help="the app, e.g. examples.todos.app:app")
    _add_app_dir(parser)
    parser.set_defaults(handler=_routes)


def _routes(args: argparse.Namespace) -> int:
    app = _compiled_app(args.app, args.app_dir, documents=False)
    http_plans = {(route.path, route.method): plan for route, plan in app.plans()}
    ws_plans = {route.path: plan for route, plan in app.websocket_plans()}
    rows = [("METHOD", "PATH", "HANDLER", "REQUEST", "RESPONSE", "PROVIDERS")]
    for route in app.iter_routes():
        if route.framework:
            continue
        if route.method == "WEBSOCKET":
            ws = ws_plans[route.path]
            request = _request_text(_type_name(ws.receives.annotation), ws.params)
            response = _type_name(ws.sends.annotation)
            rows.append(
                (
                    "WS",
                    route.path,
                    _handler_name(ws.endpoint),
                    request,
                    response,
                    _provider_names(ws.providers),
                )
            )
            continue
        plan = http_plans[(route.path, route.method)]
        body = None if plan.body is None else _type_name(plan.body.annotation)
        if isinstance(plan, SSEPlan):
            method, response = "SSE", " | ".join(kind.name for kind in plan.kinds)
        else:
            method, response = route.method, _response_text(plan.response)
        rows.append(
            (
                method,
                route.path,
                _handler_name(plan.endpoint),
                _request_text(body, plan.params),
                response,
                _provider_names(plan.providers),
            )
        )
    for mount in app.iter_mounts():
        if not _is_docs_assets(app, mount):
            rows.append(("MOUNT", mount.path, _mounted_name(mount.app), "", "", ""))
    _write_stdout(_table(rows).encode())
    return 0


def _request_text(body: str | None, params: Sequence[ParamSpec]) -> str:
    """``TodoIn; query: limit, offset; header: x-token``, or ``-``."""
    parts = [body] if body else []
    for source in (ParamSource.QUERY, ParamSource.HEADER, ParamSource.COOKIE):
        keys = dict.fromkeys(spec.key for spec in params if spec.source is source)
        if keys:
            parts.append(f"{source.value}: {', '.join(keys)}")
    return "; ".join(parts) or "-"


def _response_text(response: ResponseSpec) -> str:
    """``201 Todo``, ``204``, ``200 HTMLResponse``; just the status when untyped."""
    if response.kind == "empty" or response.annotation in (None, Any):
        return str(response.status_code)
    return f"{response.status_code} {_type_name(response.annotation)}"


def _provider_names(providers: RouteProviders) -> str:
    """The providers a route uses, app-scoped then request-scoped, dependencies first."""
    names = [node.provider.name for node in providers.app_nodes]
    names += [step.name for step in providers.steps]
    return ", ".join(dict.fromkeys(names)) or "-"


def _handler_name(endpoint: Any) -> str:
    func = inspect.unwrap(endpoint)
    qualname = getattr(func, "__qualname__", None) or repr(func)
    module = getattr(func, "__module__", None)
    return f"{module}.{qualname}" if module else qualname


def _mounted_name(app: Any) -> str:
    """A mounted ASGI app: the function's name, or the type of the object."""
    if inspect.isfunction(app) or inspect.ismethod(app):
        return _handler_name(app)
    return _handler_name(type(app))


def _is_docs_assets(app: App, mount: Mount) -> bool:
    """The Swagger UI assets the app mounts for its docs page: a framework route."""
    return (
        app.docs_url is not None
        and app.openapi_url is not None
        and mount.path == app.docs_url.rstrip("/") + "/assets"
        and isinstance(mount.app, StaticFiles)
    )


def _type_name(tp: Any) -> str:
    """A type as a reader writes it: ``Todo``, ``list[Todo]``, ``Join | Say | Leave``."""
    if tp is None or tp is type(None):
        return "None"
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is typing.Union or origin is types.UnionType:
        return " | ".join(_type_name(arg) for arg in args)
    if origin is typing.Literal:
        return f"Literal[{', '.join(repr(arg) for arg in args)}]"
    if origin is not None:
        name = _type_name(origin)
        return f"{name}[{', '.join(_type_name(arg) for arg in args)}]" if args else name
    if tp is Ellipsis:
        return "..."
    if isinstance(tp, type):
        return tp.__name__
    # A typesystem schema or field: its title, the items of an Array, a Reference's target.
    title = getattr(tp, "title", None)
    if isinstance(title, str) and title:
        return title
    items = getattr(tp, "items", None)
    if items is not None and not callable(items):
        return f"list[{_type_name(items)}]"
    target = getattr(tp, "to", None)
    if isinstance(target, str):
        return target
    alias = getattr(tp, "__name__", None)  # a type alias, a TypeVar
    return alias if isinstance(alias, str) else type(tp).__name__


def _table(rows: Sequence[Sequence[str]]) -> str:
    """Rows as aligned columns, two spaces apart, no trailing spaces."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines) + "\n"


# -- bocadillo check ---------------------------------------------------------------

DEFAULT_SEED = 2025
CONTRACT_DEPENDENCIES = ("schemathesis", "hypothesis", "jsonschema", "httpx2")  # [testing]


def _add_check(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "check",
        help="compile an app's plans and documents, and run its contract tests",
        description=(
            "Compile every route's plan, build the OpenAPI and AsyncAPI documents, then "
            "run the contract tests in-process: generated requests (and WebSocket "
            "messages) checked against what the app declares. Exits 1 on a failure, "
            "printing each one with its reproduction."
        ),
    )
    parser.add_argument("app", metavar="MODULE:APP", help="the app, e.g. examples.todos.app:app")
    parser.add_argument(
        "--max-examples",
        type=_positive_int,
        default=25,
        metavar="N",
        help="generated cases per operation (default: 25)",
    )
    parser.add_argument(
        "--no-stateful",
        dest="stateful",
        action="store_false",
        help="skip the stateful phase (sequences of linked requests)",
    )
    parser.add_argument(
        "--no-websockets",
        dest="websockets",
        action="store_false",
        help="skip the generated WebSocket messages",
    )
    parser.add_argument(
        "--no-contract",
        dest="contract",
        action="store_false",
        help="only compile the plans and build the documents",
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        default=DEFAULT_SEED,
        metavar="N|random",
        help=(
            f"the seed of the generated cases (default: {DEFAULT_SEED}; 'random': a new one, "
            "printed so the run can be repeated)"
        ),
    )
    _add_app_dir(parser)
    parser.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    app = _compiled_app(args.app, args.app_dir, documents=True)
    http_count = len(app.plans())
    ws_count = len(app.websocket_plans())
    print(
        f"plans: {_count(http_count, 'HTTP route')}, "
        f"{_count(ws_count, 'WebSocket route')} compiled",
        flush=True,
    )
    if not args.contract:
        return 0
    if args.seed is None:
        import random

        args.seed = random.randrange(2**32)
        print(f"seed: {args.seed} (run again with --seed {args.seed})", flush=True)
    try:
        from bocadillo.testing.contract import run_contract

        report = run_contract(
            app,
            max_examples=args.max_examples,
            stateful=args.stateful,
            websockets=args.websockets,
            seed=args.seed,
        )
    except ConfigurationError as exc:
        raise CLIError(f"{args.app} is misconfigured: {exc}", APP_ERROR) from None
    except ModuleNotFoundError as exc:  # the testing extra, imported by the run
        if exc.name is None or exc.name.split(".")[0] not in CONTRACT_DEPENDENCIES:
            raise
        raise CLIError(
            f"the contract tests need the {exc.name!r} package, which is not installed "
            "(pip install 'bocadillo[testing]'); --no-contract skips them",
            APP_ERROR,
        ) from None
    output = report.table().rstrip("\n") + "\n"
    if not report.ok:
        output += "\n" + report.failure_text().rstrip("\n") + "\n"
    _write_stdout(output.encode())
    return 0 if report.ok else APP_ERROR


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


# -- bocadillo openapi -----------------------------------------------------------


def _add_document_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    *,
    help: str,
    description: str,
    handler: Callable[[argparse.Namespace], int],
) -> None:
    """A ``bocadillo NAME MODULE:APP [-o FILE] [--yaml]`` command printing a document."""
    parser = commands.add_parser(name, help=help, description=description)
    parser.add_argument("app", metavar="MODULE:APP", help="the app, e.g. examples.todos.app:app")
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write the document to FILE instead of stdout"
    )
    parser.add_argument("--yaml", action="store_true", help="YAML instead of JSON")
    _add_app_dir(parser)
    parser.set_defaults(handler=handler)


def _add_openapi(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _add_document_command(
        commands,
        "openapi",
        help="print or write an app's OpenAPI document",
        description=(
            "Print the app's OpenAPI document (the bytes /openapi.json serves, plus a "
            "final newline) without starting a server."
        ),
        handler=_openapi,
    )


def render_openapi(document: dict[str, Any], *, as_yaml: bool = False) -> bytes:
    """The document as /openapi.json (or /openapi.yaml) serves it; JSON ends in a newline.

    The same for the AsyncAPI document and /asyncapi.json (or /asyncapi.yaml).
    """
    data = render(document, as_yaml=as_yaml)
    return data if as_yaml else data + b"\n"


def _openapi(args: argparse.Namespace) -> int:
    return _print_document(args, App.openapi)


# -- bocadillo asyncapi ----------------------------------------------------------


def _add_asyncapi(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _add_document_command(
        commands,
        "asyncapi",
        help="print or write an app's AsyncAPI document (its WebSocket and SSE routes)",
        description=(
            "Print the app's AsyncAPI 3.0 document, a channel per WebSocket or SSE route (the "
            "bytes /asyncapi.json serves, plus a final newline) without starting a server."
        ),
        handler=_asyncapi,
    )


def _asyncapi(args: argparse.Namespace) -> int:
    return _print_document(args, App.asyncapi)


# -- shared pieces -----------------------------------------------------------------


def _print_document(args: argparse.Namespace, build: Callable[[App], dict[str, Any]]) -> int:
    """Write the document ``build`` makes of the app to stdout or ``args.output``."""
    app = load_app(args.app, app_dir=args.app_dir)
    try:
        document = build(app)
    except ConfigurationError as exc:
        raise CLIError(f"{args.app} is misconfigured: {exc}", APP_ERROR) from None
    data = render_openapi(document, as_yaml=args.yaml)
    if args.output is None or args.output == "-":
        _write_stdout(data)
        return 0
    try:
        with open(args.output, "wb") as file:
            file.write(data)
    except OSError as exc:
        raise CLIError(f"could not write {args.output}: {exc.strerror or exc}", APP_ERROR) from None
    return 0


def _compiled_app(target: str, app_dir: str, *, documents: bool | None = None) -> App:
    """The app of ``target``, its plans compiled and (``documents``) its documents built.

    ``documents=None`` builds the documents the app serves, as its start-up
    does; ``True`` builds both whatever the app serves. A ``ConfigurationError``
    becomes a ``CLIError`` with exit code 1.
    """
    app = load_app(target, app_dir=app_dir)
    try:
        app.check()
        if documents or (documents is None and app.openapi_url is not None):
            app.openapi()
        if documents or (documents is None and app.asyncapi_url is not None):
            app.asyncapi()
    except ConfigurationError as exc:
        raise CLIError(f"{target} is misconfigured: {exc}", APP_ERROR) from None
    return app


def _int_option(text: str, *, minimum: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{text} is not {what}")
    return value


def _positive_int(text: str) -> int:
    return _int_option(text, minimum=1, what="a positive number")


def _non_negative_int(text: str) -> int:
    return _int_option(text, minimum=0, what="0 or more")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _port(text: str) -> int:
    port = _int_option(text, minimum=0, what="a port number (0 to 65535; 0: any free port)")
    if port > 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port number (0 to 65535)")
    return port


def _seed(text: str) -> int | None:
    return None if text == "random" else _int_option(text, minimum=0, what="0 or more")


def _add_app_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--app-dir",
        default=".",
        metavar="DIR",
        help="look for MODULE in DIR first (default: the current directory)",
    )


def _write_stdout(data: bytes) -> None:
    sys.stdout.flush()
    buffer: BinaryIO | None = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text-only stream (some embedders replace sys.stdout)
        sys.stdout.write(data.decode())
        sys.stdout.flush()
        return
    buffer.write(data)
    buffer.flush()


def _parser() -> argparse.ArgumentParser:
    from bocadillo import __version__

    parser = argparse.ArgumentParser(
        prog="bocadillo",
        description="Bocadillo: an async web framework; the handler's signature is the contract.",
    )
    parser.add_argument("--version", action="version", version=f"bocadillo {__version__}")
    commands = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", required=True
    )
    _add_run(commands)
    _add_dev(commands)
    _add_routes(commands)
    _add_check(commands)
    _add_openapi(commands)
    _add_asyncapi(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    Usage errors found by argparse itself (an unknown option, a missing
    argument) exit with code 2 through ``SystemExit``, as argparse does.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except CLIError as exc:
        print(f"bocadillo {args.command}: error: {exc}", file=sys.stderr)
        return exc.code
    return code
