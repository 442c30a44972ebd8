"""The AsyncAPI 3.0 document of the app's WebSocket and server-sent events routes.

Each WebSocket route is a channel: its address (``/chat/{room}``), its path
parameters, its ``ws`` binding (the query and header schemas of the
handshake) and two or three messages: ``in`` (what clients send, the route's
``In``), ``out`` (what the app sends, its ``Out``) and, for a route with
``invalid_message="reply"``, ``error`` (the app's answer to a message it could
not read). Two operations per channel say who sends what: ``receive`` (what
the app receives) and ``send`` (what the app sends). The channel's
description lists the close codes the route uses and the statuses a refused
handshake answers with.

Each SSE route is a channel too, served by ``http`` servers: one message per
event type, one ``send`` operation (the app sends them) with an ``http``
binding, the request's query and headers and the statuses of a refused request
under ``x-sse`` and ``x-handshake-responses``.

Payload schemas come from the same ``SchemaComponents`` machinery as the
OpenAPI document, seeded with that document's schemas, so a type used by both
gets the same component name and the same schema in both.
"""

from __future__ import annotations

import copy
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from bocadillo.docs.components import SchemaComponents, _canonical
from bocadillo.docs.openapi import (
    VALIDATION_ISSUE_SCHEMA,
    _docstring_parts,
    _humanize,
    _without_null,
)
from bocadillo.errors import PROBLEM_MEDIA_TYPE, ConfigurationError
from bocadillo.params import ParamSource
from bocadillo.routing.router import RouteDef, path_template
from bocadillo.runtime.specs import ParamSpec
from bocadillo.runtime.sse import LAST_EVENT_ID, SSEPlan
from bocadillo.runtime.websockets import CLOSE_CODES, MessageCodec, WebSocketPlan
from bocadillo.schemas.registry import SchemaMode, adapter_for

if TYPE_CHECKING:
    from bocadillo.app import App

__all__ = [
    "ASYNCAPI_VERSION",
    "CLOSE_CODES_HEADING",
    "MESSAGE_ERROR",
    "MESSAGE_IN",
    "MESSAGE_OUT",
    "SSE_REFUSED_HEADING",
    "build_asyncapi",
]

ASYNCAPI_VERSION = "3.0.0"
WS_BINDING_VERSION = "0.1.0"
HTTP_BINDING_VERSION = "0.3.0"

MESSAGE_IN = "in"  # what clients send: the route's In
MESSAGE_OUT = "out"  # what the app sends: the route's Out
MESSAGE_ERROR = "error"  # the answer to an unreadable message, with invalid_message="reply"

# The channel description's generated part starts here; the channels page, which
# renders the close codes from x-close-codes, shows only what comes before.
CLOSE_CODES_HEADING = "**Close codes**"
SSE_REFUSED_HEADING = "**Refused before the stream starts**"

_SCHEMAS = "#/components/schemas/"
_UNSAFE_ID = re.compile(r"[^a-zA-Z0-9_.-]")

_CONTENT_TYPES = {
    "text": "text/plain",
    "bytes": "application/octet-stream",
    "json": "application/json",
}

_HANDSHAKE_INVALID = "The path, query or header parameters did not validate."
_HANDSHAKE_NO_ROUTE = (
    "No WebSocket route matches the path (a path parameter held a slash, for one)."
)
_HANDSHAKE_FAILED = "A provider failed during the handshake; the error was logged."
_HANDSHAKE_CREDENTIALS = "Missing or malformed credentials."
_SSE_NO_ROUTE = "No route matches the path (a path parameter held a slash, for one)."
_SSE_FAILED = "A provider failed before the stream started; the error was logged."

ERROR_MESSAGE_DESCRIPTION = (
    "The app's answer to a message that is not valid JSON or does not match what the "
    "route receives; the message is skipped and the connection stays open."
)


def _error_message_schema(validation_issue: str) -> dict[str, Any]:
    return {
        "title": "WebSocketError",
        "description": ERROR_MESSAGE_DESCRIPTION,
        "type": "object",
        "properties": {
            "type": {"type": "string", "const": "error"},
            "code": {
                "type": "integer",
                "const": 1007,
                "description": "The close code the message would have earned.",
            },
            "detail": {"type": "string"},
            "errors": {
                "type": "array",
                "description": "One entry per problem; loc is relative to the message.",
                "items": {"$ref": _SCHEMAS + validation_issue},
            },
        },
        "required": ["type", "code", "detail", "errors"],
    }


def _pointer(token: str) -> str:
    """One JSON Pointer reference token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


def _markdown_cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _markdown_table(head: tuple[str, str], rows: Mapping[str, str]) -> str:
    lines = [f"| {head[0]} | {head[1]} |", "| --- | --- |"]
    lines += [f"| {key} | {_markdown_cell(text)} |" for key, text in rows.items()]
    return "\n".join(lines)


def asyncapi_schema(node: Any) -> Any:
    """A JSON Schema as the AsyncAPI Schema Object (a Draft 07 superset) wants it:
    a discriminator is the property's name, not OpenAPI's ``{propertyName, mapping}``."""
    if isinstance(node, list):
        return [asyncapi_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas"):
            if isinstance(value, dict):
                converted[key] = {name: asyncapi_schema(sub) for name, sub in value.items()}
            else:
                converted[key] = value
        elif key in ("enum", "const", "default", "examples", "example"):
            converted[key] = value  # data, not schemas
        elif key == "discriminator" and isinstance(value, dict) and "propertyName" in value:
            converted[key] = value["propertyName"]
        else:
            converted[key] = asyncapi_schema(value)
    return converted


def _refs(node: Any) -> Iterable[str]:
    """Every component schema name ``node`` references."""
    if isinstance(node, list):
        for item in node:
            yield from _refs(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_SCHEMAS):
                yield value.removeprefix(_SCHEMAS)
            elif key not in ("enum", "const", "default", "examples", "example"):
                yield from _refs(value)


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


class _Builder:
    def __init__(self, app: App) -> None:
        self.app = app
        self.components = SchemaComponents()
        # The OpenAPI document's schemas first: the same type gets the same name in both.
        for name, schema in app.openapi().get("components", {}).get("schemas", {}).items():
            self._seed(name, copy.deepcopy(schema))
        self.channel_ids: set[str] = set()
        self.security_schemes: dict[str, dict[str, Any]] = {}
        absolute = [
            str(s["url"]).rstrip("/")
            for s in app.servers
            if urllib.parse.urlsplit(str(s.get("url", ""))).scheme in ("http", "https")
        ]
        self.base_url = absolute[0] if absolute else None

    def _seed(self, name: str, schema: dict[str, Any]) -> None:
        self.components.schemas[name] = schema
        self.components._canonical[name] = _canonical(schema)

    def fixed_schema(self, base: str, schema: dict[str, Any]) -> str:
        """The component name of one of the framework's own schemas: ``base`` if free or
        already holding it, else the first free ``base2``, ``base3``..."""
        content = _canonical(schema)
        taken = self.components._canonical
        for name in [base, *(f"{base}{n}" for n in range(2, 1000))]:
            if taken.get(name) == content:
                return name
            if name not in taken and name not in self.components.schemas:
                self._seed(name, schema)
                return name
        raise ConfigurationError(f"no free component name for {base}")  # pragma: no cover

    def build(self) -> dict[str, Any]:
        app = self.app
        info: dict[str, Any] = {"title": app.title, "version": app.version}
        if app.description:
            info["description"] = app.description
        websockets = [
            (route, plan) for route, plan in app.websocket_plans() if route.include_in_schema
        ]
        streams = [
            (route, plan)
            for route, plan in app.plans()
            if isinstance(plan, SSEPlan) and route.include_in_schema
        ]
        servers: dict[str, Any] = {}
        ws_servers = [_ws_server(server) for server in app.servers] or [
            {"host": "localhost", "protocol": "ws"}
        ]
        if websockets or not streams:
            servers.update(
                {("ws" if n == 1 else f"ws{n}"): server for n, server in enumerate(ws_servers, 1)}
            )
        http_refs: list[dict[str, str]] = []
        ws_refs: list[dict[str, str]] = []
        if streams:
            http_servers = [_http_server(server) for server in app.servers] or [
                {"host": "localhost", "protocol": "http"}
            ]
            for n, server in enumerate(http_servers, 1):
                servers["http" if n == 1 else f"http{n}"] = server
            # Each kind of channel is served by its own servers.
            http_refs = [{"$ref": f"#/servers/{key}"} for key in servers if key.startswith("http")]
            ws_refs = [{"$ref": f"#/servers/{key}"} for key in servers if key.startswith("ws")]
        document: dict[str, Any] = {
            "asyncapi": ASYNCAPI_VERSION,
            "info": info,
            "defaultContentType": "application/json",
            "servers": servers,
        }
        channels: dict[str, Any] = {}
        operations: dict[str, Any] = {}
        for route, plan in websockets:
            channel_id = self.channel_id(route)
            channels[channel_id] = self.channel(route, plan)
            if ws_refs:
                channels[channel_id]["servers"] = ws_refs
            operations.update(self.operations(channel_id, route, plan, channels[channel_id]))
        for route, sse_plan in streams:
            channel_id = self.channel_id(route)
            channels[channel_id] = self.sse_channel(route, sse_plan)
            channels[channel_id]["servers"] = http_refs
            operations[f"{channel_id}_send"] = self.sse_operation(
                channel_id, route, sse_plan, channels[channel_id]
            )
        document["channels"] = channels
        document["operations"] = operations
        components: dict[str, Any] = {}
        schemas = self.reachable_schemas(channels, operations)
        if schemas:
            components["schemas"] = schemas
        if self.security_schemes:
            components["securitySchemes"] = dict(sorted(self.security_schemes.items()))
        if components:
            document["components"] = components
        return document

    def channel_id(self, route: RouteDef) -> str:
        name = route.operation_id or getattr(route.endpoint, "__name__", "") or "channel"
        base = _UNSAFE_ID.sub("_", name)
        chosen = next(
            c
            for c in [base, *(f"{base}_{n}" for n in range(2, 10_000))]
            if c not in self.channel_ids
        )
        self.channel_ids.add(chosen)
        return chosen

    # -- a channel --------------------------------------------------------------------

    def channel_head(
        self, route: RouteDef, plan: WebSocketPlan | SSEPlan
    ) -> tuple[dict[str, Any], str | None]:
        """A channel's address, title, summary and parameters; and the description
        the handler's docstring gives."""
        doc_summary, doc_description = _docstring_parts(route.endpoint)
        channel: dict[str, Any] = {
            "address": path_template(route.path),
            "title": _humanize(getattr(route.endpoint, "__name__", "") or "channel"),
        }
        summary = route.summary or doc_summary
        if summary:
            channel["summary"] = summary
        parameters = self.parameters(plan)
        if parameters:
            channel["parameters"] = parameters
        return channel, doc_description

    def channel(self, route: RouteDef, plan: WebSocketPlan) -> dict[str, Any]:
        channel, doc_description = self.channel_head(route, plan)
        reply = plan.invalid_message == "reply" and plan.receives.kind == "json"
        messages = {
            MESSAGE_IN: self.message(
                MESSAGE_IN, plan.receives, "validation", "What clients send; the app receives it."
            ),
            MESSAGE_OUT: self.message(
                MESSAGE_OUT, plan.sends, "serialization", "What the app sends."
            ),
        }
        if reply:
            messages[MESSAGE_ERROR] = self.error_message()
        if route.deprecated:
            for message in messages.values():
                message["deprecated"] = True
        channel["messages"] = messages
        close_codes = self.close_codes(plan)
        handshake = self.handshake_responses(route, plan)
        channel["description"] = self.description(
            route.description or doc_description, plan, close_codes, handshake, reply=reply
        )
        if route.tags:
            channel["tags"] = [{"name": tag} for tag in route.tags]
        channel["bindings"] = {"ws": self.binding(plan)}
        channel["x-close-codes"] = close_codes
        channel["x-handshake-responses"] = handshake
        return channel

    def parameters(self, plan: WebSocketPlan | SSEPlan) -> dict[str, Any]:
        """The address's parameters. AsyncAPI 3.0 parameters have no schema: the
        description says the type, and ``enum`` lists the values when there are few."""
        parameters: dict[str, Any] = {}
        for spec in plan.params:
            if spec.source is not ParamSource.PATH or spec.key in parameters:
                continue
            schema = self.resolved(self.param_schema(spec))
            parameter: dict[str, Any] = {}
            words = []
            marker = spec.marker
            if marker is not None and marker.description:
                words.append(marker.description.strip())
            shown = {k: v for k, v in schema.items() if k not in ("title", "description")}
            words.append(
                f"JSON Schema: {orjson.dumps(shown, option=orjson.OPT_SORT_KEYS).decode()}"
            )
            parameter["description"] = " ".join(words)
            values = schema.get("enum")
            if isinstance(values, list) and values and all(isinstance(v, str) for v in values):
                parameter["enum"] = list(values)
            if marker is not None and marker.examples:
                parameter["examples"] = [str(example) for example in marker.examples]
            parameters[spec.key] = parameter
        return parameters

    def param_schema(self, spec: ParamSpec) -> dict[str, Any]:
        return _without_null(self.components.add(adapter_for(spec.schema_type), "validation"))

    def resolved(self, schema: dict[str, Any]) -> dict[str, Any]:
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(_SCHEMAS):
            target = self.components.schemas.get(ref.removeprefix(_SCHEMAS))
            if target is not None:
                return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return schema

    def binding(self, plan: WebSocketPlan | SSEPlan) -> dict[str, Any]:
        """The ``ws`` channel binding: the handshake's query and header schemas (for
        an SSE route, the request's)."""
        where = {ParamSource.QUERY: "query", ParamSource.HEADER: "headers"}
        objects: dict[str, dict[str, Any]] = {"query": {}, "headers": {}}
        required: dict[str, list[str]] = {"query": [], "headers": []}
        for spec in plan.params:
            place = where.get(spec.source)
            if place is None:
                continue
            marker = spec.marker
            security = spec.security
            if security is not None:
                name = getattr(security, "name", None) or (
                    "Authorization" if spec.key == "authorization" else spec.key
                )
                schema: dict[str, Any] = {
                    "type": "string",
                    "description": (
                        f"The credentials ({security.describe()}; security scheme "
                        f"{security.scheme_name!r}). Missing or malformed: the handshake "
                        "is refused with 401."
                    ),
                }
            else:
                if marker is not None and not marker.include_in_schema:
                    continue
                name = spec.key
                schema = dict(self.param_schema(spec))
                if spec.sequence and place == "query":
                    schema.setdefault("description", "Repeat the key for each value.")
                if marker is not None:
                    if marker.description:
                        schema["description"] = marker.description
                    if marker.deprecated:
                        schema["deprecated"] = True
                    if marker.examples:
                        schema["examples"] = list(marker.examples)
            if name not in objects[place]:
                objects[place][name] = schema
            if spec.required and name not in required[place]:
                required[place].append(name)
        binding: dict[str, Any] = {"method": "GET"}
        for place in ("query", "headers"):
            if objects[place]:
                obj: dict[str, Any] = {"type": "object", "properties": objects[place]}
                if required[place]:
                    obj["required"] = required[place]
                binding[place] = obj
        binding["bindingVersion"] = WS_BINDING_VERSION
        return binding

    def message(
        self, key: str, codec: MessageCodec, mode: SchemaMode, summary: str
    ) -> dict[str, Any]:
        payload: dict[str, Any]
        if codec.kind == "text":
            payload, name = {"type": "string"}, "text"
        elif codec.kind == "bytes":
            payload, name = {"type": "string", "format": "binary"}, "binary"
        else:
            assert codec.adapter is not None
            payload = self.components.add(codec.adapter, mode)
            ref = payload.get("$ref")
            title = payload.get("title")
            if isinstance(ref, str):
                name = ref.removeprefix(_SCHEMAS)
            else:
                name = title if isinstance(title, str) and title else key
        return {
            "name": name,
            "summary": summary,
            "contentType": _CONTENT_TYPES[codec.kind],
            "payload": payload,
        }

    def error_message(self) -> dict[str, Any]:
        issue = self.fixed_schema("ValidationIssue", VALIDATION_ISSUE_SCHEMA)
        error = self.fixed_schema("WebSocketError", _error_message_schema(issue))
        return {
            "name": error,
            "summary": "The app's answer to a message it could not read.",
            "description": ERROR_MESSAGE_DESCRIPTION,
            "contentType": "application/json",
            "payload": {"$ref": _SCHEMAS + error},
        }

    # -- how it ends ---------------------------------------------------------------

    def close_codes(self, plan: WebSocketPlan) -> dict[str, str]:
        """The close codes this route can end with, by code."""
        codes: dict[int, str] = {1000: CLOSE_CODES[1000]}
        if plan.receives.kind == "bytes":
            codes[1003] = "A text frame: this route takes binary messages."
        else:
            codes[1003] = "A binary frame: this route takes text messages."
        if plan.receives.kind == "json" and plan.invalid_message == "close":
            codes[1007] = CLOSE_CODES[1007]
        codes[1008] = CLOSE_CODES[1008]
        codes[1009] = (
            f"A message larger than {plan.max_message_size} bytes (the route's max_message_size)."
        )
        codes[1011] = CLOSE_CODES[1011]
        codes[1013] = CLOSE_CODES[1013]
        return {str(code): text for code, text in sorted(codes.items())}

    def handshake_responses(self, route: RouteDef, plan: WebSocketPlan | SSEPlan) -> dict[str, str]:
        """The HTTP statuses a refused handshake (or SSE request) answers with, by status."""
        sse = isinstance(plan, SSEPlan)
        statuses: dict[int, str] = {}
        if any(spec.security is not None for spec in plan.params):
            statuses[401] = _HANDSHAKE_CREDENTIALS
        statuses.update(plan.providers.raises)
        statuses.update(route.raises)
        framework: dict[int, str] = {500: _SSE_FAILED if sse else _HANDSHAKE_FAILED}
        if any(spec.security is None for spec in plan.params):
            framework[422] = _HANDSHAKE_INVALID
        if "{" in route.path:
            framework[404] = _SSE_NO_ROUTE if sse else _HANDSHAKE_NO_ROUTE
        for status, text in framework.items():
            if status in statuses:
                own = statuses[status].rstrip().rstrip(".")
                statuses[status] = f"{own}. Or: {text[0].lower()}{text[1:]}"
            else:
                statuses[status] = text
        return {str(status): text for status, text in sorted(statuses.items())}

    def description(
        self,
        text: str | None,
        plan: WebSocketPlan,
        close_codes: Mapping[str, str],
        handshake: Mapping[str, str],
        *,
        reply: bool,
    ) -> str:
        parts = [text.strip()] if text and text.strip() else []
        if reply:
            parts.append(
                "A message that is not valid JSON or does not match is answered with an "
                "`error` message and skipped; the connection stays open."
            )
        cookies = sorted({spec.key for spec in plan.params if spec.source is ParamSource.COOKIE})
        if cookies:
            parts.append("The handshake reads the cookies: " + ", ".join(cookies) + ".")
        parts.append(CLOSE_CODES_HEADING)
        parts.append(_markdown_table(("code", "when"), close_codes))
        parts.append(
            "**Handshake refused**: with an HTTP response (`"
            + PROBLEM_MEDIA_TYPE
            + "`), or close code 1008 where the server cannot send one."
        )
        parts.append(_markdown_table(("status", "when"), handshake))
        return "\n\n".join(parts)

    # -- operations ------------------------------------------------------------------

    def operations(
        self, channel_id: str, route: RouteDef, plan: WebSocketPlan, channel: dict[str, Any]
    ) -> dict[str, Any]:
        channel_ref = "#/channels/" + _pointer(channel_id)
        security = self.security(plan)
        found: dict[str, Any] = {}
        for action, keys, summary in (
            ("receive", [MESSAGE_IN], "The messages clients send; the app receives them."),
            ("send", [MESSAGE_OUT, MESSAGE_ERROR], "The messages the app sends to clients."),
        ):
            operation: dict[str, Any] = {
                "action": action,
                "channel": {"$ref": channel_ref},
                "summary": summary,
                "messages": [
                    {"$ref": f"{channel_ref}/messages/{key}"}
                    for key in keys
                    if key in channel["messages"]
                ],
            }
            if security:
                operation["security"] = security
            if route.tags:
                operation["tags"] = [{"name": tag} for tag in route.tags]
            found[f"{channel_id}_{action}"] = operation
        return found

    def security(self, plan: WebSocketPlan | SSEPlan) -> list[dict[str, str]]:
        refs: list[dict[str, str]] = []
        for spec in plan.params:
            scheme = spec.security
            if scheme is None:
                continue
            name = scheme.scheme_name
            definition = _security_scheme(scheme.openapi(), self.base_url)
            known = self.security_schemes.get(name)
            if known is not None and known != definition:
                raise ConfigurationError(
                    f"two different security schemes are named {name!r} ({known} and "
                    f"{definition}); give one a scheme_name of its own"
                )
            self.security_schemes[name] = definition
            ref = {"$ref": "#/components/securitySchemes/" + _pointer(name)}
            if ref not in refs:
                refs.append(ref)
        return refs

    # -- server-sent events ----------------------------------------------------------

    def sse_channel(self, route: RouteDef, plan: SSEPlan) -> dict[str, Any]:
        """An SSE route as a channel: one message per event type, the app sends them."""
        channel, doc_description = self.channel_head(route, plan)
        messages: dict[str, Any] = {}
        for kind in plan.kinds:
            if kind.adapter is None:
                payload: dict[str, Any] = {"type": "string"}
                content_type = "text/plain"
            else:
                payload = self.components.add(kind.adapter, "serialization")
                content_type = "application/json"
            message: dict[str, Any] = {
                "name": kind.name,
                "title": f"{kind.name} event",
                "summary": f"Sent as `event: {kind.name}`, the payload in its `data:` lines.",
                "contentType": content_type,
                "payload": payload,
            }
            if route.deprecated:
                message["deprecated"] = True
            messages[_UNSAFE_ID.sub("_", kind.name)] = message
        channel["messages"] = messages
        responses = self.handshake_responses(route, plan)
        parts = [text.strip() for text in [route.description or doc_description or ""] if text]
        parts.append(
            f"Server-sent events: `GET {channel['address']}` answers `text/event-stream`, one "
            "event per message below."
        )
        if plan.keepalive is not None:
            parts.append(
                f"A comment line (`: keep-alive`) is sent after {plan.keepalive:g} seconds "
                "without an event."
            )
        if any(spec.name == LAST_EVENT_ID for spec in plan.params):
            parts.append(
                "A client that reconnects sends the last event id it saw as `Last-Event-ID`; "
                "the stream resumes after it."
            )
        parts.append(
            SSE_REFUSED_HEADING + ", with an HTTP response (`" + PROBLEM_MEDIA_TYPE + "`):"
        )
        parts.append(_markdown_table(("status", "when"), responses))
        channel["description"] = "\n\n".join(parts)
        if route.tags:
            channel["tags"] = [{"name": tag} for tag in route.tags]
        request = self.binding(plan)
        channel["x-sse"] = {
            "method": "GET",
            "keepalive": plan.keepalive,
            **{place: request[place] for place in ("query", "headers") if place in request},
        }
        channel["x-handshake-responses"] = responses
        return channel

    def sse_operation(
        self, channel_id: str, route: RouteDef, plan: SSEPlan, channel: dict[str, Any]
    ) -> dict[str, Any]:
        channel_ref = "#/channels/" + _pointer(channel_id)
        http: dict[str, Any] = {"method": "GET"}
        if "query" in channel["x-sse"]:
            http["query"] = channel["x-sse"]["query"]
        http["bindingVersion"] = HTTP_BINDING_VERSION
        operation: dict[str, Any] = {
            "action": "send",
            "channel": {"$ref": channel_ref},
            "summary": "The events the app sends to clients.",
            "messages": [
                {"$ref": f"{channel_ref}/messages/{_pointer(key)}"} for key in channel["messages"]
            ],
            "bindings": {"http": http},
        }
        security = self.security(plan)
        if security:
            operation["security"] = security
        if route.tags:
            operation["tags"] = [{"name": tag} for tag in route.tags]
        return operation

    # -- schemas --------------------------------------------------------------------

    def reachable_schemas(
        self, channels: dict[str, Any], operations: dict[str, Any]
    ) -> dict[str, Any]:
        """The component schemas the channels use (and the ones those use), in the
        AsyncAPI dialect; the payloads and bindings are converted in place."""
        for channel in channels.values():
            for message in channel["messages"].values():
                message["payload"] = asyncapi_schema(message["payload"])
            request = channel.get("bindings", {}).get("ws") or channel.get("x-sse", {})
            for place in ("query", "headers"):
                if place in request:
                    request[place] = asyncapi_schema(request[place])
        for operation in operations.values():
            http = operation.get("bindings", {}).get("http", {})
            if "query" in http:
                http["query"] = asyncapi_schema(http["query"])
        wanted = [*_refs(channels), *_refs(operations)]
        seen: set[str] = set()
        while wanted:
            name = wanted.pop()
            if name in seen or name not in self.components.schemas:
                continue
            seen.add(name)
            wanted.extend(_refs(self.components.schemas[name]))
        return {name: asyncapi_schema(self.components.schemas[name]) for name in sorted(seen)}


def build_asyncapi(app: App) -> dict[str, Any]:
    """The app's AsyncAPI 3.0 document, as a dict."""
    return _Builder(app).build()
