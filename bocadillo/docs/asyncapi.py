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

Payload schemas start from the HTTP operations' schemas, named as the OpenAPI
document names them (``http_components``), so a type used by both gets the
same component name and the same schema in both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from bocadillo.docs.asyncapi_schemas import reachable_schemas
from bocadillo.docs.asyncapi_servers import SecuritySchemes, channel_servers
from bocadillo.docs.components import (
    SCHEMAS_REF,
    http_components,
    with_default,
    without_null,
)
from bocadillo.docs.model import ApiModel
from bocadillo.docs.text import docstring_parts, humanize, markdown_table, pointer
from bocadillo.errors import ERROR_MESSAGE_DESCRIPTION
from bocadillo.params import ParamSource
from bocadillo.routing.router import RouteDef
from bocadillo.routing.table import path_template
from bocadillo.runtime.specs import ParamSpec
from bocadillo.runtime.sse import LAST_EVENT_ID, SSEPlan
from bocadillo.runtime.websockets import CLOSE_CODES, MessageCodec, WebSocketPlan
from bocadillo.schemas.protocol import SchemaMode
from bocadillo.schemas.registry import adapter_for

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


class _Builder:
    def __init__(self, model: ApiModel) -> None:
        self.model = model
        # The HTTP operations' schemas first: the same type gets the same name in both.
        self.components = http_components(model)
        self.channel_ids: set[str] = set()
        self.security = SecuritySchemes(model.servers)

    def build(self) -> dict[str, Any]:
        model = self.model
        info: dict[str, Any] = {"title": model.title, "version": model.version}
        if model.description:
            info["description"] = model.description
        websockets = model.documented_websockets()
        streams = model.documented_streams()
        servers = channel_servers(model.servers, websockets=bool(websockets), streams=bool(streams))
        document: dict[str, Any] = {
            "asyncapi": ASYNCAPI_VERSION,
            "info": info,
            "defaultContentType": "application/json",
            "servers": servers.servers,
        }
        channels: dict[str, Any] = {}
        operations: dict[str, Any] = {}
        for route, plan in websockets:
            channel_id = self.channel_id(route)
            channels[channel_id] = self.channel(route, plan)
            if servers.ws_refs:
                channels[channel_id]["servers"] = servers.ws_refs
            operations.update(self.operations(channel_id, route, plan, channels[channel_id]))
        for route, sse_plan in streams:
            channel_id = self.channel_id(route)
            channels[channel_id] = self.sse_channel(route, sse_plan)
            channels[channel_id]["servers"] = servers.http_refs
            operations[f"{channel_id}_send"] = self.sse_operation(
                channel_id, route, sse_plan, channels[channel_id]
            )
        document["channels"] = channels
        document["operations"] = operations
        components: dict[str, Any] = {}
        schemas = reachable_schemas(self.components.schemas, channels, operations)
        if schemas:
            components["schemas"] = schemas
        if self.security.schemes:
            components["securitySchemes"] = dict(sorted(self.security.schemes.items()))
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
        doc_summary, doc_description = docstring_parts(route.endpoint)
        channel: dict[str, Any] = {
            "address": path_template(route.path),
            "title": humanize(getattr(route.endpoint, "__name__", "") or "channel"),
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
        return without_null(self.components.add(adapter_for(spec.schema_type), "validation"))

    def resolved(self, schema: dict[str, Any]) -> dict[str, Any]:
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(SCHEMAS_REF):
            target = self.components.schemas.get(ref.removeprefix(SCHEMAS_REF))
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
                schema = with_default(dict(self.param_schema(spec)), spec)
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
                name = ref.removeprefix(SCHEMAS_REF)
            else:
                name = title if isinstance(title, str) and title else key
        return {
            "name": name,
            "summary": summary,
            "contentType": _CONTENT_TYPES[codec.kind],
            "payload": payload,
        }

    def error_message(self) -> dict[str, Any]:
        """The app's error message, in its error format (``message_schema``)."""
        payload = self.components.add_error_schema(self.model.error_format.message_schema())
        ref = payload.get("$ref")
        name = ref.removeprefix(SCHEMAS_REF) if isinstance(ref, str) else MESSAGE_ERROR
        return {
            "name": name,
            "summary": "The app's answer to a message it could not read.",
            "description": ERROR_MESSAGE_DESCRIPTION,
            "contentType": "application/json",
            "payload": payload,
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
        parts.append(markdown_table(("code", "when"), close_codes))
        parts.append(
            "**Handshake refused**: with an HTTP response (`"
            + self.model.error_format.media_type
            + "`), or, where the server cannot send one, close code 1008 (1011 for a 500)."
        )
        parts.append(markdown_table(("status", "when"), handshake))
        return "\n\n".join(parts)

    # -- operations ------------------------------------------------------------------

    def operations(
        self, channel_id: str, route: RouteDef, plan: WebSocketPlan, channel: dict[str, Any]
    ) -> dict[str, Any]:
        channel_ref = "#/channels/" + pointer(channel_id)
        security = self.security.requirement(plan)
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
            SSE_REFUSED_HEADING
            + ", with an HTTP response (`"
            + self.model.error_format.media_type
            + "`):"
        )
        parts.append(markdown_table(("status", "when"), responses))
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
        channel_ref = "#/channels/" + pointer(channel_id)
        http: dict[str, Any] = {"method": "GET"}
        if "query" in channel["x-sse"]:
            http["query"] = channel["x-sse"]["query"]
        http["bindingVersion"] = HTTP_BINDING_VERSION
        operation: dict[str, Any] = {
            "action": "send",
            "channel": {"$ref": channel_ref},
            "summary": "The events the app sends to clients.",
            "messages": [
                {"$ref": f"{channel_ref}/messages/{pointer(key)}"} for key in channel["messages"]
            ],
            "bindings": {"http": http},
        }
        security = self.security.requirement(plan)
        if security:
            operation["security"] = security
        if route.tags:
            operation["tags"] = [{"name": tag} for tag in route.tags]
        return operation


def build_asyncapi(model: ApiModel) -> dict[str, Any]:
    """The API's AsyncAPI 3.0 document, as a dict."""
    return _Builder(model).build()
