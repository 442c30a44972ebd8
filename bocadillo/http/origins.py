"""Cross-site WebSocket hijacking: which pages may open a WebSocket that carries cookies.

A browser attaches the site's cookies to a WebSocket handshake whatever page
opens it, and CORS does not apply to WebSockets: without a check, a page on
``https://evil.example`` can open a WebSocket to the app as its logged-in
visitor. Browsers always send ``Origin`` on a handshake, so the check reads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from starlette.types import Scope

from bocadillo.errors import ConfigurationError, HTTPError
from bocadillo.params import ParamSource
from bocadillo.runtime.websockets import WebSocketPlan

__all__ = ["OriginCheck"]

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _authority(scheme: str, host: str, port: int | None) -> str:
    """``host`` or ``host:port``, lower case, without the scheme's default port."""
    host = host.lower().rstrip(".")
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return host
    return f"{host}:{port}"


def _origin(value: str) -> str | None:
    """An ``Origin`` (or allowed origin) as ``scheme://authority``; None if it is not one."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    return f"{parts.scheme}://{_authority(parts.scheme, parts.hostname, port)}"


class OriginCheck:
    """The ``Origin`` check on the WebSocket handshakes that carry credentials in cookies.

    A route is guarded when the app has cookie sessions, or when the route (or one
    of its providers) reads a cookie. A guarded handshake is refused (403) when its
    ``Origin`` is ``null``, unreadable, or neither the app's own (the ``Host`` it
    was sent to) nor one of ``allowed``; ``allowed=["*"]`` turns the check off.
    A handshake without ``Origin`` does not come from a browser, so it carries
    no visitor's cookies: it passes.
    """

    def __init__(self, allowed: Sequence[str] | None, *, sessions: bool) -> None:
        if isinstance(allowed, str):
            raise ConfigurationError(f"websocket_origins takes a list of origins, not {allowed!r}")
        self.sessions = sessions
        self.any_origin = False
        self.allowed: set[str] = set()
        self.add(allowed or ())
        self._guarded: dict[int, bool] = {}

    def add(self, origins: Iterable[str]) -> None:
        """Allow ``origins`` too (``https://app.example.com``, or ``*`` for any)."""
        for value in origins:
            if value == "*":
                self.any_origin = True
                continue
            origin = _origin(value)
            if origin is None:
                raise ConfigurationError(
                    f"websocket_origins: {value!r} is not an origin "
                    "(like 'https://app.example.com' or 'http://localhost:3000')"
                )
            self.allowed.add(origin)

    def guards(self, plan: WebSocketPlan) -> bool:
        """Whether handshakes of ``plan``'s route are checked."""
        if self.any_origin:
            return False
        if self.sessions:
            return True
        key = id(plan)
        guarded = self._guarded.get(key)
        if guarded is None:
            guarded = any(spec.source is ParamSource.COOKIE for spec in plan.params)
            self._guarded[key] = guarded
        return guarded

    def error(self, scope: Scope) -> HTTPError | None:
        """None if the handshake's ``Origin`` may open the route, else the 403."""
        origin: str | None = None
        host = ""
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value.decode("latin-1")
            elif name == b"host":
                host = value.decode("latin-1")
        if origin is None:
            return None
        found = _origin(origin)
        if found is not None and (found in self.allowed or self._same_site(found, host)):
            return None
        return HTTPError(
            403,
            detail=(
                f"A WebSocket opened from {origin[:200]!r} is refused: this route reads "
                "cookies, so only pages of this site and of the app's websocket_origins "
                "may open it."
            ),
        )

    @staticmethod
    def _same_site(origin: str, host: str) -> bool:
        """Whether ``origin`` names the host the handshake was sent to (any scheme: behind
        a proxy that ends TLS, the page is https and the handshake reaches us as ws)."""
        scheme, _, authority = origin.partition("://")
        own = _origin(f"{scheme}://{host}") if host else None
        return own is not None and own.partition("://")[2] == authority
