"""Middleware: the app's stack, the security settings (``CORS``, ``GZip``,
``Sessions``, allowed hosts, HTTPS redirect, HSTS) and the ``Host`` check.

The settings objects check themselves when they are made, so a dangerous
configuration is a ``ConfigurationError`` before the app ever serves.
"""

from __future__ import annotations

import inspect
import ipaddress
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar
from urllib.parse import quote

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bocadillo.errors import (
    PROBLEM_DETAILS,
    ConfigurationError,
    ErrorFormat,
    HTTPError,
    error_response,
)
from bocadillo.http.handshake import refuse_handshake
from bocadillo.http.sessions import SessionLayer
from bocadillo.runtime.responses import StartWatchingSend, request_target

__all__ = ["CORS", "GZip", "HostCheck", "MiddlewareStack", "Sessions"]

CallNext = Callable[[Any], Awaitable[Response]]
MiddlewareHook = Callable[[Any, CallNext], Awaitable[Response]]
S = TypeVar("S")

ONE_YEAR = 365 * 24 * 60 * 60
FOURTEEN_DAYS = 14 * 24 * 60 * 60
MIN_SECRET_LENGTH = 32

# scheme "://" host [":" port], nothing after: what a browser sends in Origin.
_ORIGIN = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#@\s]+")


@dataclass(frozen=True)
class CORS:
    """Cross-origin resource sharing: which other origins' pages may call the API.

    ::

        App(cors=CORS(allow_origins=["https://app.example.com"], allow_credentials=True))

    ``allow_origins`` are exact origins (``scheme://host[:port]``, no path or
    trailing slash), or ``["*"]`` for any; ``allow_origin_regex`` matches
    more. ``allow_methods`` defaults to every method (``["*"]``),
    ``allow_headers`` to the CORS-safelisted ones. ``["*"]`` origins together
    with ``allow_credentials=True`` is refused: it would let any site act
    with your users' cookies. Served by Starlette's ``CORSMiddleware``.
    """

    allow_origins: Sequence[str] = ()
    allow_methods: Sequence[str] = ("*",)
    allow_headers: Sequence[str] = ()
    allow_credentials: bool = False
    expose_headers: Sequence[str] = ()
    max_age: int = 600
    allow_origin_regex: str | None = None

    def __post_init__(self) -> None:
        for name in ("allow_origins", "allow_methods", "allow_headers", "expose_headers"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise ConfigurationError(f"CORS {name} takes a list of strings, not {value!r}")
            object.__setattr__(self, name, tuple(value))
        if "*" in self.allow_origins and self.allow_credentials:
            raise ConfigurationError(
                'CORS allow_origins=["*"] with allow_credentials=True would let any site '
                "make requests with your users' cookies; list the trusted origins instead"
            )
        for origin in self.allow_origins:
            if origin != "*" and not _ORIGIN.fullmatch(origin):
                raise ConfigurationError(
                    f"CORS origin {origin!r} is not an origin: write scheme://host[:port], "
                    "with no path and no trailing slash (a browser sends exactly that)"
                )
        if self.allow_origin_regex is not None:
            try:
                re.compile(self.allow_origin_regex)
            except re.error as exc:
                raise ConfigurationError(f"CORS allow_origin_regex: {exc}") from None
        if self.max_age < 0:
            raise ConfigurationError("CORS max_age must be zero or more seconds")

    def wrap(self, app: ASGIApp, error_format: ErrorFormat = PROBLEM_DETAILS) -> ASGIApp:
        return _CORSMiddleware(
            app,
            error_format=error_format,
            allow_origins=self.allow_origins,
            allow_methods=self.allow_methods,
            allow_headers=self.allow_headers,
            allow_credentials=self.allow_credentials,
            allow_origin_regex=self.allow_origin_regex,
            expose_headers=self.expose_headers,
            max_age=self.max_age,
        )


class _CORSMiddleware(CORSMiddleware):
    """Starlette's CORS layer, with a refused preflight answered as every other client
    error is: a ``400`` in the app's error format (Starlette's is ``text/plain``), the
    CORS headers kept."""

    def __init__(self, app: ASGIApp, *, error_format: ErrorFormat, **options: Any) -> None:
        super().__init__(app, **options)
        self.error_format = error_format

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        refused = bytes(response.body).decode("latin-1").removeprefix("Disallowed CORS ")
        kept = {
            key: value
            for key, value in response.headers.items()
            if key not in ("content-type", "content-length")
        }
        error = HTTPError(
            response.status_code,
            detail=f"The CORS preflight asks for what this server does not allow: {refused}.",
            headers=kept,
        )
        return error_response(self.error_format, error)


@dataclass(frozen=True)
class GZip:
    """Compress responses for clients that accept gzip (``App(gzip=True)`` or
    ``App(gzip=GZip(...))``).

    Bodies shorter than ``minimum_size`` bytes are sent as they are.
    Server-sent event streams (``text/event-stream``) and already-compressed
    media are never compressed, so events are not held back. Served by
    Starlette's ``GZipMiddleware``.
    """

    minimum_size: int = 500
    compresslevel: int = 9

    def __post_init__(self) -> None:
        if self.minimum_size < 0:
            raise ConfigurationError("GZip minimum_size must be zero or more bytes")
        if not 1 <= self.compresslevel <= 9:
            raise ConfigurationError("GZip compresslevel must be between 1 and 9")

    def wrap(self, app: ASGIApp) -> ASGIApp:
        excluded = tuple({*DEFAULT_EXCLUDED_CONTENT_TYPES, "text/event-stream"})
        return GZipMiddleware(
            app,
            minimum_size=self.minimum_size,
            compresslevel=self.compresslevel,
            exclude_content_types=excluded,
        )


@dataclass(frozen=True)
class Sessions:
    """Signed cookie sessions: ``request.session`` is a dict that survives between
    requests of the same client.

    ::

        App(sessions=Sessions(secret_key=os.environ["SESSION_SECRET"]))

    The data is signed (not encrypted) with ``secret_key``, which must be at
    least 32 characters; a cookie that fails the signature or is older than
    ``max_age`` seconds is ignored. ``same_site="none"`` needs
    ``https_only=True`` (browsers drop such cookies otherwise). A cookie whose
    data cannot be read is no session (logged once); a session whose cookie
    would pass 4096 bytes is not saved (logged as an error).
    """

    secret_key: str = field(repr=False)
    cookie_name: str = "session"
    max_age: int | None = FOURTEEN_DAYS
    same_site: Literal["lax", "strict", "none"] = "lax"
    https_only: bool = False
    path: str = "/"
    domain: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.secret_key, str) or len(self.secret_key) < MIN_SECRET_LENGTH:
            raise ConfigurationError(
                f"Sessions secret_key must be at least {MIN_SECRET_LENGTH} characters: "
                "generate one with python -c 'import secrets; print(secrets.token_urlsafe(32))' "
                "and keep it out of the source"
            )
        if self.same_site not in ("lax", "strict", "none"):
            raise ConfigurationError(
                f"Sessions same_site must be 'lax', 'strict' or 'none', not {self.same_site!r}"
            )
        if self.same_site == "none" and not self.https_only:
            raise ConfigurationError(
                "Sessions same_site='none' needs https_only=True (browsers refuse the cookie)"
            )
        if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", self.cookie_name):
            raise ConfigurationError(f"Sessions cookie_name {self.cookie_name!r} is not a token")
        if self.max_age is not None and self.max_age <= 0:
            raise ConfigurationError("Sessions max_age must be a positive number of seconds")

    def wrap(self, app: ASGIApp) -> ASGIApp:
        return SessionLayer(
            app,
            secret_key=self.secret_key,
            cookie_name=self.cookie_name,
            max_age=self.max_age,
            path=self.path,
            same_site=self.same_site,
            https_only=self.https_only,
            domain=self.domain,
        )


def settings(kind: type[S], value: S | Mapping[str, Any], name: str) -> S:
    """A settings object from itself or from a dict of its fields."""
    if isinstance(value, kind):
        return value
    if isinstance(value, Mapping):
        try:
            return kind(**value)
        except TypeError as exc:
            raise ConfigurationError(f"{name}=: {exc}") from None
    raise ConfigurationError(
        f"{name}= takes a {kind.__name__}(...) or a dict of its fields, not {value!r}"
    )


# -- Host ----------------------------------------------------------------------

# RFC 3986 host (reg-name, IPv4, or an IP literal checked further below) and an
# optional port (RFC 9110 uri-host [":" port]); bytes, as the header arrives.
_HOST = re.compile(
    rb"(?P<host>(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+|\[(?P<ip>[0-9A-Fa-f:.]+)\])"
    rb"(?::(?P<port>[0-9]{0,5}))?"
)


class HostCheck:
    """The check every request's ``Host`` header passes before anything else runs.

    Without ``allowed_hosts`` it refuses only a malformed header (or more than
    one); with them, any host they do not match. Hosts that passed are
    remembered, so a request from a known host costs one set lookup.
    """

    CACHE_SIZE = 1024

    def __init__(self, allowed_hosts: Sequence[str] | None) -> None:
        self.exact: set[str] = set()
        self.suffixes: tuple[str, ...] = ()
        self.any_host = allowed_hosts is None
        if allowed_hosts is not None:
            if isinstance(allowed_hosts, str):
                raise ConfigurationError(
                    f"allowed_hosts takes a list of host names, not {allowed_hosts!r}"
                )
            if not allowed_hosts:
                raise ConfigurationError("allowed_hosts is empty: no request could be served")
            suffixes = []
            for pattern in allowed_hosts:
                pattern = pattern.lower()
                if pattern == "*":
                    self.any_host = True
                elif pattern.startswith("*."):
                    rest = pattern[2:]
                    if "*" in rest or not _HOST.fullmatch(rest.encode()) or ":" in rest:
                        raise ConfigurationError(f"allowed_hosts: {pattern!r} is not a host name")
                    suffixes.append(pattern[1:])
                else:
                    match = _HOST.fullmatch(pattern.encode())
                    if "*" in pattern or match is None or match["port"] is not None:
                        raise ConfigurationError(
                            f"allowed_hosts: {pattern!r} is not a host name (like "
                            "'example.com', '*.example.com', '127.0.0.1' or '[::1]'; "
                            "no port)"
                        )
                    self.exact.add(pattern)
            self.suffixes = tuple(suffixes)
        self.known: set[bytes] = set()

    def error(self, scope: Scope) -> HTTPError | None:
        """``None`` if the request's ``Host`` is acceptable, else the 400 to answer."""
        host: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"host":
                if host is not None:
                    return HTTPError(400, detail="The request has more than one Host header.")
                host = value
        if host is None:
            if self.any_host:
                return None  # HTTP/1.0 may leave it out
            return HTTPError(400, detail="The request has no Host header.")
        if host in self.known:
            return None
        return self._check(host)

    def _check(self, host: bytes) -> HTTPError | None:
        match = _HOST.fullmatch(host)
        if match is None or (match["port"] and int(match["port"]) > 65535):
            return HTTPError(400, detail="The Host header is not a valid host[:port].")
        if match["ip"] is not None:
            try:
                ipaddress.IPv6Address(match["ip"].decode())
            except ValueError:
                return HTTPError(400, detail="The Host header is not a valid host[:port].")
        if not self.any_host:
            name = match["host"].decode("ascii").lower()
            if name.endswith("."):
                name = name[:-1]  # the fully qualified form of the same name
            if name not in self.exact and not name.endswith(self.suffixes):
                return HTTPError(400, detail="This server does not serve that host.")
        if len(self.known) < self.CACHE_SIZE:
            self.known.add(host)
        return None


# -- HTTPS ---------------------------------------------------------------------


class HTTPSRedirect:
    """Send ``http://`` requests to their ``https://`` URL with a 308 (the method
    and body are kept). The scheme is the server's ``scope["scheme"]``: behind a
    proxy, let the server read ``X-Forwarded-Proto`` (uvicorn's
    ``--proxy-headers`` with ``--forwarded-allow-ips``)."""

    def __init__(self, app: ASGIApp, error_format: ErrorFormat = PROBLEM_DETAILS) -> None:
        self.app = app
        self.error_format = error_format

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan" or scope.get("scheme") not in ("http", "ws"):
            await self.app(scope, receive, send)
            return
        # The Host header (the Host check has made sure it is a host[:port]), else the
        # address the server listens on; never URL(scope), which decodes the query.
        netloc = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
        if not netloc and scope.get("server"):
            host, port = scope["server"]
            netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if not netloc:
            error = HTTPError(400, detail="The request has no Host to redirect to.")
            if kind == "websocket":
                await refuse_handshake(error, scope, receive, send, error_format=self.error_format)
            else:
                await error_response(self.error_format, error)(scope, receive, send)
            return
        if netloc.endswith((":80", ":443")):
            netloc = netloc.rsplit(":", 1)[0]  # the default port of https is implied
        # The target as the client sent it (its escapes kept), never the decoded path: a
        # decoded %0d%0a or %E2%98%83 has no place in a header.
        raw_path: bytes | None = scope.get("raw_path")
        root_path = quote(scope.get("root_path", ""), safe="/")
        target = request_target(
            root_path + (raw_path.decode("latin-1") if raw_path else quote(scope["path"])),
            scope.get("query_string", b""),
            encoded=True,
        )
        location = f"{'https' if kind == 'http' else 'wss'}://{netloc}{target}"
        redirect = Response(status_code=308, headers={"location": location})
        if kind == "websocket":
            await refuse_handshake(redirect, scope, receive, send, reason="Use wss://")
            return
        await redirect(scope, receive, send)


class HSTS:
    """Add ``Strict-Transport-Security: max-age=N`` to every response sent over HTTPS."""

    def __init__(self, app: ASGIApp, max_age: int) -> None:
        self.app = app
        self.header = (b"strict-transport-security", f"max-age={max_age}".encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("scheme") != "https":
            await self.app(scope, receive, send)
            return
        header = self.header

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "strict-transport-security" not in headers:
                    message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await self.app(scope, receive, send_with_hsts)


def hsts_max_age(hsts: bool | int) -> int | None:
    """``hsts=`` as a max-age in seconds, or ``None`` for off."""
    if hsts is False:
        return None
    if hsts is True:
        return ONE_YEAR
    if not isinstance(hsts, int) or hsts < 0:
        raise ConfigurationError("hsts= takes True (one year) or a max-age in seconds")
    return hsts


# -- the stack -----------------------------------------------------------------

ErrorAnswer = Callable[[Exception, Scope, Receive, Send], Awaitable[None]]


class OwnMessages:
    """The innermost layer of a stack: each message the app sends goes out as a
    fresh dict (and a fresh header list), since plans reuse precomputed ones and
    middleware (Starlette's among them) change messages in place."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_copy(message: Message) -> None:
            if message["type"] == "http.response.start":
                await send({**message, "headers": list(message.get("headers", ()))})
            else:
                await send(dict(message))

        await self.app(scope, receive, send_copy)


class AnswerErrors:
    """Answer an exception from the middleware inside (as the app answers a
    handler's: an exception handler, ``HTTPError``'s problem, or a logged 500),
    unless the response had already started."""

    def __init__(self, app: ASGIApp, answer: ErrorAnswer) -> None:
        self.app = app
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        watched = StartWatchingSend(send)
        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            if watched.started:
                raise
            await self.answer(exc, scope, receive, send)


@dataclass(frozen=True)
class MiddlewareEntry:
    """One ``add_middleware`` call: the class (or factory) and its options."""

    factory: Callable[..., ASGIApp]
    args: tuple[Any, ...]
    options: Mapping[str, Any]

    def __post_init__(self) -> None:
        if isinstance(self.factory, type) and _takes_scope_only(self.factory):
            name = self.factory.__qualname__
            raise ConfigurationError(
                f"add_middleware: {name} is an ASGI2 middleware (its instances take only "
                "`scope`); give it an ASGI3 `async def __call__(self, scope, receive, send)`, "
                "or wrap it in an ASGI3 class that calls `await inner(scope)(receive, send)` "
                "(what asgiref's `guarantee_single_callable` does)"
            )

    def wrap(self, app: ASGIApp) -> ASGIApp:
        return self.factory(app, *self.args, **self.options)


def _takes_scope_only(cls: type) -> bool:
    """Whether instances of ``cls`` are called ASGI2-style: ``instance(scope)``."""
    call = next((c.__dict__["__call__"] for c in cls.__mro__ if "__call__" in c.__dict__), None)
    if call is None or not inspect.isfunction(call):
        return False  # a C-level or inherited-from-object __call__: nothing to tell
    try:
        signature = inspect.signature(call)
    except (TypeError, ValueError):
        return False
    try:
        signature.bind(None, None, None, None)
    except TypeError:
        pass
    else:
        return False  # (self, scope, receive, send): ASGI3
    try:
        signature.bind(None, None)
    except TypeError:
        return False
    return True


def hook_entry(func: MiddlewareHook) -> MiddlewareEntry:
    """The middleware ``@app.middleware`` makes of ``async def hook(request, call_next)``."""
    if not inspect.iscoroutinefunction(func):
        raise ConfigurationError(
            f"@app.middleware: {getattr(func, '__qualname__', func)!r} must be an "
            "`async def hook(request, call_next)`"
        )
    try:
        inspect.signature(func).bind(None, None)
    except TypeError:
        raise ConfigurationError(
            f"@app.middleware: {func.__qualname__} must take two arguments, (request, call_next)"
        ) from None
    return MiddlewareEntry(BaseHTTPMiddleware, (), {"dispatch": func})


class MiddlewareStack:
    """The app's middleware: the ``add_middleware`` and ``@app.middleware`` entries
    and the settings layers, built on first use into the ASGI app around dispatch.

    The settings layers (HTTPS redirect, HSTS, CORS, GZip, sessions) are outside
    every added middleware; each added one is wrapped so that what it raises is
    answered where it happened. With no layer at all the stack is ``bare``: the
    app calls its dispatch straight away.
    """

    def __init__(
        self,
        *,
        cors: CORS | None = None,
        gzip: GZip | None = None,
        sessions: Sessions | None = None,
        hsts: int | None = None,
        https_redirect: bool = False,
        error_format: ErrorFormat = PROBLEM_DETAILS,
    ) -> None:
        self.error_format = error_format
        self.cors = cors
        self.gzip = gzip
        self.sessions = sessions
        self.hsts = hsts
        self.https_redirect = https_redirect
        self.entries: list[MiddlewareEntry] = []
        self.app: ASGIApp | None = None  # the built stack; None until built, again after add
        self.bare = False  # built, and without a single layer
        self.outermost: Callable[[ASGIApp], ASGIApp] | None = None  # telemetry's layer

    def set_outermost(self, layer: Callable[[ASGIApp], ASGIApp]) -> None:
        """Wrap the whole stack, the settings layers included, in ``layer(stack)``
        (telemetry's: it sees every request and its final answer)."""
        self.outermost = layer
        self.app = None
        self.bare = False

    def add(self, entry: MiddlewareEntry) -> None:
        """Add a middleware inside the ones already added (the stack is rebuilt)."""
        self.entries.append(entry)
        self.app = None
        self.bare = False

    def build(self, dispatch: ASGIApp, answer: ErrorAnswer) -> ASGIApp:
        """The stack around ``dispatch``, outermost last wrapped; ``answer`` answers
        what a layer raises."""
        app: ASGIApp = OwnMessages(dispatch)
        for entry in reversed(self.entries):
            app = AnswerErrors(entry.wrap(app), answer)
        if self.sessions is not None:
            app = self.sessions.wrap(app)
        if self.gzip is not None:
            app = self.gzip.wrap(app)
        if self.cors is not None:
            app = self.cors.wrap(app, self.error_format)
        if self.hsts is not None:
            app = HSTS(app, self.hsts)
        if self.https_redirect:
            app = HTTPSRedirect(app, self.error_format)
        if self.outermost is not None:
            app = self.outermost(app)
        self.bare = isinstance(app, OwnMessages)
        # Without layers, no copy of each message either: dispatch is the stack.
        self.app = dispatch if self.bare else AnswerErrors(app, answer)
        return self.app
