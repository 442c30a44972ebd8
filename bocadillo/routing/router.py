"""Declaring routes (``Router``) and finding them again (``RouteTable``)."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from starlette.datastructures import Headers
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bocadillo.errors import ConfigurationError, HTTPError, http_error_response
from bocadillo.runtime.responses import Redirect

__all__ = [
    "Mount",
    "PathEntry",
    "ProblemStaticFiles",
    "RouteDef",
    "RouteTable",
    "Router",
    "compile_path",
]

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_VIEW_METHODS = tuple(m.lower() for m in HTTP_METHODS)
_PLACEHOLDER = re.compile(r"{([^{}:]*)(?::([^{}]*))?}")

F = TypeVar("F", bound=Callable[..., Any])


@dataclasses.dataclass(slots=True)
class RouteDef:
    """One handler bound to one path and method, as the user declared it."""

    path: str
    method: str
    endpoint: Callable[..., Any]
    view_class: type | None = None
    name: str | None = None
    tags: list[str] = dataclasses.field(default_factory=list)
    status_code: int | None = None
    max_body_size: int | None = None
    summary: str | None = None
    description: str | None = None
    deprecated: bool = False
    include_in_schema: bool = True
    responses: dict[int, Any] = dataclasses.field(default_factory=dict)
    raises: dict[int, str] = dataclasses.field(default_factory=dict)
    operation_id: str | None = None
    framework: bool = False  # the app's own routes (the API document, the docs page)
    websocket_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    sse_options: dict[str, Any] | None = None  # set for @app.sse routes


_STATIC_ERRORS = {
    400: "The Range header is not one this server can read.",
    416: "The Range header asks for bytes past the end of the file.",
}


class ProblemStaticFiles(StaticFiles):
    """Starlette's ``StaticFiles``, whose own plain-text client errors (a ``Range``
    header it cannot read: 400, or past the end of the file: 416) are answered as
    problems like every other 4xx. A missing file or a wrong method is an exception
    that the app already answers as a problem (or, with ``html=True``, the site's
    ``404.html``)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        replaced = False

        async def problem_send(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return  # the plain-text body of the answer replaced
            status = message.get("status", 0) if message["type"] == "http.response.start" else 0
            if status not in _STATIC_ERRORS:  # a site's own 404.html page is kept
                await send(message)
                return
            replaced = True
            headers = Headers(raw=message.get("headers", []))
            kept = {"Content-Range": headers["content-range"]} if "content-range" in headers else {}
            response = http_error_response(
                HTTPError(status, detail=_STATIC_ERRORS.get(status), headers=kept)
            )
            await send(
                {"type": "http.response.start", "status": status, "headers": response.raw_headers}
            )
            await send({"type": "http.response.body", "body": response.body})

        await super().__call__(scope, receive, problem_send)


@dataclasses.dataclass(slots=True)
class Mount:
    path: str
    app: ASGIApp
    name: str | None = None


_CONVERTER = re.compile(r"{([^{}:]*):[^{}]*}")


def path_template(path: str) -> str:
    """The path as OpenAPI and AsyncAPI write it: ``/files/{rest}`` for ``/files/{rest:path}``."""
    return _CONVERTER.sub(r"{\1}", path)


def compile_path(path: str) -> tuple[re.Pattern[str] | None, list[str]]:
    """``/todos/{id}`` -> (a regex with named groups, ``["id"]``); ``None`` for static paths.

    ``{name}`` matches one path segment; ``{name:path}`` matches the rest of the
    path, slashes included. The parameter's type comes from the handler's
    annotation, not the pattern.
    """
    if not path.startswith("/"):
        raise ConfigurationError(f"route path {path!r} must start with '/'")
    names: list[str] = []
    pattern = "^"
    end = 0
    for match in _PLACEHOLDER.finditer(path):
        name, converter = match.group(1), match.group(2)
        if not name.isidentifier():
            raise ConfigurationError(
                f"route path {path!r}: placeholder {{{name}}} is not a valid Python name"
            )
        if name in names:
            raise ConfigurationError(f"route path {path!r}: placeholder {{{name}}} appears twice")
        if converter not in (None, "path"):
            raise ConfigurationError(
                f"route path {path!r}: unknown converter {converter!r} in {{{name}:{converter}}}; "
                "only {name:path} exists. The type comes from the handler's annotation."
            )
        names.append(name)
        pattern += re.escape(path[end : match.start()])
        pattern += f"(?P<{name}>.*)" if converter == "path" else f"(?P<{name}>[^/]+)"
        end = match.end()
    rest = path[end:]
    if "{" in rest or "}" in rest:
        raise ConfigurationError(f"route path {path!r} has an unbalanced brace")
    if not names:
        return None, []
    return re.compile(pattern + re.escape(rest) + "$"), names


class Router:
    """A group of routes with a shared path prefix and tags.

    ::

        router = Router(prefix="/todos", tags=["todos"])

        @router.get("/{id}")
        async def get_todo(id: int) -> Todo: ...

        app.include_router(router)
    """

    def __init__(self, prefix: str = "", *, tags: Sequence[str] | None = None) -> None:
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ConfigurationError(
                f"router prefix {prefix!r} must start with '/' and not end with '/'"
            )
        self.prefix = prefix
        self.tags = list(tags or [])
        self._routes: list[RouteDef] = []
        self._mounts: list[Mount] = []
        self._includes: list[tuple[Router, str, list[str]]] = []
        self._parents: list[Router] = []

    # -- declaring -----------------------------------------------------------

    def add_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        methods: Sequence[str] = ("GET",),
        **options: Any,
    ) -> None:
        """Register ``endpoint`` (a function, or a class with a method per verb)."""
        if isinstance(endpoint, type):
            verbs = [m for m in _VIEW_METHODS if callable(getattr(endpoint, m, None))]
            if not verbs:
                raise ConfigurationError(
                    f"view class {endpoint.__qualname__} defines none of {', '.join(_VIEW_METHODS)}"
                )
            for verb in verbs:
                self._add(path, verb.upper(), getattr(endpoint, verb), endpoint, options)
            return
        if isinstance(methods, str):
            methods = [methods]
        for method in methods:
            self._add(path, method.upper(), endpoint, None, options)

    def _add(
        self,
        path: str,
        method: str,
        endpoint: Callable[..., Any],
        view_class: type | None,
        options: dict[str, Any],
    ) -> None:
        if method not in HTTP_METHODS and method != "WEBSOCKET":
            raise ConfigurationError(f"unknown HTTP method {method!r} for route {path!r}")
        compile_path(path)  # fail at declaration on a malformed pattern
        options = dict(options)
        tags = list(options.pop("tags", None) or [])
        responses = dict(options.pop("responses", None) or {})
        raises = dict(options.pop("raises", None) or {})
        self._routes.append(
            RouteDef(
                path=path,
                method=method,
                endpoint=endpoint,
                view_class=view_class,
                tags=tags,
                responses=responses,
                raises=raises,
                **options,
            )
        )
        self._changed()

    def _changed(self) -> None:
        """Called when the declared routes change: the routers (and the app) that
        include this one hear of it, so the app drops its compiled table."""
        for parent in self._parents:
            parent._changed()

    def route(
        self, path: str, *, methods: Sequence[str] = ("GET",), **options: Any
    ) -> Callable[[F], F]:
        """Register a function for ``methods``, or a class-based view (a method per verb)."""

        def decorator(endpoint: F) -> F:
            self.add_route(path, endpoint, methods=methods, **options)
            return endpoint

        return decorator

    def get(self, path: str, **options: Any) -> Callable[[F], F]:
        """Register a GET handler (HEAD is answered by it too)."""
        return self.route(path, methods=("GET",), **options)

    def post(self, path: str, **options: Any) -> Callable[[F], F]:
        """Register a POST handler."""
        return self.route(path, methods=("POST",), **options)

    def put(self, path: str, **options: Any) -> Callable[[F], F]:
        """Register a PUT handler."""
        return self.route(path, methods=("PUT",), **options)

    def patch(self, path: str, **options: Any) -> Callable[[F], F]:
        """Register a PATCH handler."""
        return self.route(path, methods=("PATCH",), **options)

    def delete(self, path: str, **options: Any) -> Callable[[F], F]:
        """Register a DELETE handler."""
        return self.route(path, methods=("DELETE",), **options)

    def websocket(
        self,
        path: str,
        *,
        auto_accept: bool = True,
        max_message_size: int = 64 * 1024,
        invalid_message: str = "close",
        **options: Any,
    ) -> Callable[[F], F]:
        """Register a WebSocket handler, which takes ``ws: WebSocket[In, Out]``.

        ``auto_accept=False`` leaves the handshake to the handler
        (``await ws.accept()``). ``max_message_size`` (bytes) closes the
        connection with 1009 past it. ``invalid_message="reply"`` answers a
        message that does not validate with an error message instead of
        closing with 1007.
        """

        def decorator(endpoint: F) -> F:
            self._add(
                path,
                "WEBSOCKET",
                endpoint,
                None,
                {
                    **options,
                    "websocket_options": {
                        "auto_accept": auto_accept,
                        "max_message_size": max_message_size,
                        "invalid_message": invalid_message,
                    },
                },
            )
            return endpoint

        return decorator

    def sse(
        self,
        path: str,
        *,
        keepalive: float | None = 15.0,
        event_names: Mapping[Any, str] | None = None,
        **options: Any,
    ) -> Callable[[F], F]:
        """Register a server-sent events handler: an async generator declared
        ``-> AsyncIterator[Tick | Done]``, served on GET.

        ``keepalive`` (seconds, or None for never) sends a comment when no event
        went out for that long, so proxies keep the connection open.
        ``event_names`` maps event types to the ``event:`` names sent for them
        (by default the class's ``__sse_event__``, else its name; ``message``
        for ``str``). Other options are those of ``get``.
        """

        def decorator(endpoint: F) -> F:
            self._add(
                path,
                "GET",
                endpoint,
                None,
                {
                    **options,
                    "sse_options": {"keepalive": keepalive, "event_names": dict(event_names or {})},
                },
            )
            return endpoint

        return decorator

    def include_router(
        self, router: Router, *, prefix: str = "", tags: Sequence[str] | None = None
    ) -> None:
        """Serve ``router``'s routes here, under ``prefix`` + the router's own prefix."""
        if router is self:
            raise ConfigurationError("a router cannot include itself")
        self._includes.append((router, prefix, list(tags or [])))
        router._parents.append(self)
        self._changed()

    def mount(self, path: str, app: ASGIApp, *, name: str | None = None) -> None:
        """Serve any ASGI app under ``path`` (its ``root_path`` is extended by ``path``)."""
        if not path.startswith("/") or path.endswith("/") or "{" in path:
            raise ConfigurationError(
                f"mount path {path!r} must start with '/', not end with '/', and have no "
                "placeholders"
            )
        self._mounts.append(Mount(path, app, name))
        self._changed()

    def static(
        self,
        path: str,
        directory: str | os.PathLike[str],
        *,
        name: str | None = None,
        html: bool = False,
    ) -> None:
        """Serve the files under ``directory`` at ``path`` (``/static/app.css`` is
        ``directory/app.css``), with ``ETag`` and ``Last-Modified`` headers and
        ``304 Not Modified`` answers to conditional requests.

        A missing file is a 404 problem response. ``html=True`` serves
        ``index.html`` for a directory and ``404.html`` (if there is one) for a
        missing file, so a static site can be mounted at ``path``. The directory
        must exist when the route is declared.
        """
        folder = Path(directory)
        if not folder.is_dir():
            raise ConfigurationError(
                f"static files at {path!r}: directory {str(folder)!r} does not exist "
                f"(relative paths are read from the working directory, {os.getcwd()!r}; "
                "build it from __file__ to be independent of it)"
            )
        self.mount(path, ProblemStaticFiles(directory=folder, html=html), name=name)

    # -- reading back --------------------------------------------------------

    def iter_routes(self, prefix: str = "", tags: Sequence[str] = ()) -> Iterator[RouteDef]:
        """Every route of this router and the ones it includes, with prefixes and tags applied."""
        prefix = prefix + self.prefix
        tags = [*tags, *self.tags]
        for route in self._routes:
            path = prefix + route.path if route.path != "/" or not prefix else prefix
            yield dataclasses.replace(
                route, path=path, tags=list(dict.fromkeys([*tags, *route.tags]))
            )
        for router, include_prefix, include_tags in self._includes:
            yield from router.iter_routes(prefix + include_prefix, [*tags, *include_tags])

    def iter_mounts(self, prefix: str = "") -> Iterator[Mount]:
        prefix = prefix + self.prefix
        for mount in self._mounts:
            yield dataclasses.replace(mount, path=prefix + mount.path)
        for router, include_prefix, _ in self._includes:
            yield from router.iter_mounts(prefix + include_prefix)


@dataclasses.dataclass(slots=True)
class PathEntry:
    """Every method served at one path pattern."""

    path: str
    methods: dict[str, Any]  # method -> EndpointPlan; "WEBSOCKET" -> WebSocketPlan
    allow: str = ""


class RouteTable:
    """The compiled routes: a dict for static paths, then patterns, then mounts."""

    def __init__(self, entries: Mapping[str, PathEntry], mounts: Sequence[Mount]) -> None:
        self.static: dict[str, PathEntry] = {}
        self.dynamic: list[tuple[re.Pattern[str], PathEntry]] = []
        for path, entry in entries.items():
            if "GET" in entry.methods and "HEAD" not in entry.methods:
                entry.methods["HEAD"] = entry.methods["GET"]
            entry.allow = ", ".join(m for m in HTTP_METHODS if m in entry.methods)
            regex, _ = compile_path(path)
            if regex is None:
                self.static[path] = entry
            else:
                self.dynamic.append((regex, entry))
        # Longest mount first, so /api/v2 wins over /api.
        self.mounts = sorted(mounts, key=lambda m: len(m.path), reverse=True)
        # For the paths no route matches: the static path that differs by a trailing
        # slash (the dynamic patterns are tried only for such a miss).
        self.slash_redirects: dict[str, str] = {}
        for path in self.static:
            other = _toggle_slash(path)
            if other is not None and other not in self.static:
                self.slash_redirects[other] = path

    def redirect_for(self, path: str) -> str | None:
        """The route path that ``path`` (which no route matches) differs from only by a
        trailing slash, or None: ``/todos/`` -> ``/todos`` where only ``/todos`` is
        declared, and the reverse.

        Ask only after ``match`` and ``match_mount`` found nothing: a route or a
        mount for the exact path always wins.
        """
        target = self.slash_redirects.get(path)
        if target is None and self.dynamic:
            other = _toggle_slash(path)
            if other is not None and any(regex.match(other) for regex, _ in self.dynamic):
                target = other
        return target

    def trailing_slash_redirect(self, scope: Scope, path: str) -> Redirect | None:
        """A ``308 Permanent Redirect`` to the route ``path`` differs from by a trailing
        slash (the query string kept, under the app's ``root_path``), or None.

        ``OPTIONS`` is never redirected: a CORS preflight cannot follow a redirect,
        so it gets the 404 it would have had.
        """
        if scope.get("method") == "OPTIONS":
            return None
        target = self.redirect_for(path)
        if target is None:
            return None
        location = quote(scope.get("root_path", "") + target, safe="/:@!$&'()*+,;=-._~")
        query: bytes = scope.get("query_string", b"")
        if query:
            location += "?" + query.decode("latin-1")
        return Redirect(location, permanent=True)

    def match(self, path: str) -> tuple[PathEntry | None, dict[str, str] | None]:
        entry = self.static.get(path)
        if entry is not None:
            return entry, None
        for regex, entry in self.dynamic:
            found = regex.match(path)
            if found is not None:
                return entry, found.groupdict()
        return None, None

    def match_mount(self, path: str) -> Mount | None:
        for mount in self.mounts:
            if path == mount.path or path.startswith(mount.path + "/"):
                return mount
        return None


def _toggle_slash(path: str) -> str | None:
    """``/todos`` <-> ``/todos/``; None for the root and for what would not be a plain
    path on this host (``//evil.example`` is a URL on another host to a browser)."""
    other = path[:-1] if path.endswith("/") else path + "/"
    if len(other) < 2 or not other.startswith("/") or other[1] in "/\\":
        return None
    return other
