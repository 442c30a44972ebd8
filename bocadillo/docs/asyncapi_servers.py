"""The AsyncAPI document's servers and security schemes, from the API's (OpenAPI)
servers and the security markers the routes read."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from bocadillo.docs.text import pointer
from bocadillo.errors import ConfigurationError
from bocadillo.runtime.sse import SSEPlan
from bocadillo.runtime.websockets import WebSocketPlan

__all__ = ["ChannelServers", "SecuritySchemes", "channel_servers"]


def _ws_server(server: Mapping[str, Any]) -> dict[str, Any]:
    """An AsyncAPI server for one of the app's (OpenAPI) servers: the same host and
    path, ``wss`` where the HTTP API is served over TLS."""
    parts = urllib.parse.urlsplit(str(server.get("url", "")))
    result: dict[str, Any] = {
        "host": parts.netloc or "localhost",
        "protocol": "wss" if parts.scheme in ("https", "wss") else "ws",
    }
    pathname = parts.path.rstrip("/")
    if pathname:
        result["pathname"] = pathname
    description = server.get("description")
    if isinstance(description, str) and description:
        result["description"] = description
    variables = server.get("variables")
    if isinstance(variables, Mapping):
        used = {
            name: {
                key: value
                for key, value in variable.items()
                if key in ("enum", "default", "description", "examples")
            }
            for name, variable in variables.items()
            if isinstance(variable, Mapping) and f"{{{name}}}" in parts.netloc + parts.path
        }
        if used:
            result["variables"] = used
    return result


def _http_server(server: Mapping[str, Any]) -> dict[str, Any]:
    """The AsyncAPI server for SSE channels: one of the app's servers as it is."""
    result = _ws_server(server)
    scheme = urllib.parse.urlsplit(str(server.get("url", ""))).scheme
    result["protocol"] = "https" if scheme in ("https", "wss") else "http"
    return result


class ChannelServers:
    """The document's ``servers``, and which of them serve each kind of channel."""

    def __init__(
        self,
        servers: dict[str, Any],
        ws_refs: list[dict[str, str]],
        http_refs: list[dict[str, str]],
    ) -> None:
        self.servers = servers
        #: The ``servers`` of a WebSocket channel; empty: every server (the default).
        self.ws_refs = ws_refs
        #: The ``servers`` of an SSE channel.
        self.http_refs = http_refs


def channel_servers(
    servers: Sequence[Mapping[str, Any]], *, websockets: bool, streams: bool
) -> ChannelServers:
    """``ws`` servers for WebSocket channels and ``http`` ones for SSE channels, each
    a copy of one of the app's servers (``localhost`` when it declares none)."""
    found: dict[str, Any] = {}
    ws_servers = [_ws_server(server) for server in servers] or [
        {"host": "localhost", "protocol": "ws"}
    ]
    if websockets or not streams:
        found.update(
            {("ws" if n == 1 else f"ws{n}"): server for n, server in enumerate(ws_servers, 1)}
        )
    http_refs: list[dict[str, str]] = []
    ws_refs: list[dict[str, str]] = []
    if streams:
        http_servers = [_http_server(server) for server in servers] or [
            {"host": "localhost", "protocol": "http"}
        ]
        for n, server in enumerate(http_servers, 1):
            found["http" if n == 1 else f"http{n}"] = server
        # Each kind of channel is served by its own servers.
        http_refs = [{"$ref": f"#/servers/{key}"} for key in found if key.startswith("http")]
        ws_refs = [{"$ref": f"#/servers/{key}"} for key in found if key.startswith("ws")]
    return ChannelServers(found, ws_refs, http_refs)


def _security_scheme(definition: Mapping[str, Any], base_url: str | None) -> dict[str, Any]:
    """An OpenAPI security scheme as an AsyncAPI 3.0 one."""
    scheme: dict[str, Any]
    kind = definition.get("type")
    if kind == "apiKey":
        scheme = {"type": "httpApiKey", "name": definition["name"], "in": definition["in"]}
    elif kind == "oauth2":
        password = definition["flows"]["password"]
        token_url = str(password["tokenUrl"])
        if base_url and not urllib.parse.urlsplit(token_url).scheme:
            token_url = urllib.parse.urljoin(base_url + "/", token_url.lstrip("/"))
        if urllib.parse.urlsplit(token_url).scheme:
            scheme = {
                "type": "oauth2",
                "flows": {
                    "password": {
                        "tokenUrl": token_url,
                        "availableScopes": dict(password.get("scopes", {})),
                    }
                },
            }
        else:
            # AsyncAPI wants an absolute token URL; the handshake carries a bearer token.
            scheme = {
                "type": "http",
                "scheme": "bearer",
                "description": (
                    f"A token from the OAuth2 password flow at {token_url}, "
                    "sent as Authorization: Bearer."
                ),
            }
    else:
        scheme = {
            key: definition[key] for key in ("type", "scheme", "bearerFormat") if key in definition
        }
    if definition.get("description"):
        scheme["description"] = definition["description"]
    return scheme


class SecuritySchemes:
    """The document's ``components/securitySchemes``, filled as operations are built."""

    def __init__(self, servers: Sequence[Mapping[str, Any]]) -> None:
        self.schemes: dict[str, dict[str, Any]] = {}
        absolute = [
            str(s["url"]).rstrip("/")
            for s in servers
            if urllib.parse.urlsplit(str(s.get("url", ""))).scheme in ("http", "https")
        ]
        # A relative OAuth2 token URL is made absolute against the first absolute server.
        self.base_url = absolute[0] if absolute else None

    def requirement(self, plan: WebSocketPlan | SSEPlan) -> list[dict[str, str]]:
        """An operation's ``security``: a reference to each scheme the route reads."""
        refs: list[dict[str, str]] = []
        for spec in plan.params:
            scheme = spec.security
            if scheme is None:
                continue
            name = scheme.scheme_name
            definition = _security_scheme(scheme.openapi(), self.base_url)
            known = self.schemes.get(name)
            if known is not None and known != definition:
                raise ConfigurationError(
                    f"two different security schemes are named {name!r} ({known} and "
                    f"{definition}); give one a scheme_name of its own"
                )
            self.schemes[name] = definition
            ref = {"$ref": "#/components/securitySchemes/" + pointer(name)}
            if ref not in refs:
                refs.append(ref)
        return refs
