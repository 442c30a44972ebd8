"""Finding routes again: path patterns, the compiled ``RouteTable`` and the
trailing-slash rule."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.types import ASGIApp, Scope

from bocadillo.errors import ConfigurationError
from bocadillo.runtime.responses import Redirect, request_target

__all__ = [
    "HTTP_METHODS",
    "Mount",
    "PathEntry",
    "RouteTable",
    "compile_path",
    "path_template",
]

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_PLACEHOLDER = re.compile(r"{([^{}:]*)(?::([^{}]*))?}")
_CONVERTER = re.compile(r"{([^{}:]*):[^{}]*}")


@dataclasses.dataclass(slots=True)
class Mount:
    """An ASGI app served under a path prefix (``Router.mount``, ``Router.static``)."""

    path: str
    app: ASGIApp
    name: str | None = None


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
        hint = ' (0.18\'s catch-all "{}" is "/{rest:path}" here)' if path == "{}" else ""
        raise ConfigurationError(f"route path {path!r} must start with '/'{hint}")
    names: list[str] = []
    pattern = "^"
    end = 0
    for match in _PLACEHOLDER.finditer(path):
        name, converter = match.group(1), match.group(2)
        if not name:
            # Bocadillo 0.18's anonymous wildcard: here every segment a route
            # matches is named, so it is read, validated and documented.
            raise ConfigurationError(
                f"route path {path!r}: an anonymous placeholder {{}} matches nothing here; "
                "name it and take it in the handler ({rest}, or {rest:path} for the "
                "rest of the path, with rest: str), as docs/routing.md shows"
            )
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

    def entries(self) -> dict[str, PathEntry]:
        """Every path's entry, by its declared path (static and patterns alike)."""
        by_path = {entry.path: entry for entry in self.static.values()}
        by_path.update({entry.path: entry for _, entry in self.dynamic})
        return by_path

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
        location = request_target(
            scope.get("root_path", "") + target, scope.get("query_string", b"")
        )
        return Redirect(location, permanent=True)

    def match(self, path: str) -> tuple[PathEntry | None, dict[str, str] | None]:
        """The entry for ``path`` and its path parameters (None for a static path)."""
        entry = self.static.get(path)
        if entry is not None:
            return entry, None
        for regex, entry in self.dynamic:
            found = regex.match(path)
            if found is not None:
                return entry, found.groupdict()
        return None, None

    def match_mount(self, path: str) -> Mount | None:
        """The mount ``path`` is under (the longest), or None."""
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
