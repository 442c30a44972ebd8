"""The channels page: the AsyncAPI document as plain HTML, rendered on the server.

No script, no stylesheet or font from anywhere: one self-contained page, so it
works offline like the Swagger UI page. The document is read here into plain
values; the template (``docs/templates/channels.html``) escapes every one of
them, and its only links are the app's own URLs and anchors within the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from markupsafe import Markup, escape

from bocadillo.docs.asyncapi import CLOSE_CODES_HEADING, SSE_REFUSED_HEADING
from bocadillo.docs.components import referenced_components
from bocadillo.docs.markdown import markdown_blocks, markdown_inline
from bocadillo.docs.pages import render_page

__all__ = ["render_channels_page", "schema_constraints", "schema_type"]


def _value(value: Any) -> str:
    """A value as JSON on one line (``"a"``, ``20``, ``[]``), as a schema holds it."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


_SCHEMA_MARK = "JSON Schema: "
_SCHEMAS = "#/components/schemas/"
_BOUNDS = (
    ("minimum", "\u2265 {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "\u2264 {}"),
    ("exclusiveMaximum", "< {}"),
    ("multipleOf", "a multiple of {}"),
    ("minLength", "at least {} characters"),
    ("maxLength", "at most {} characters"),
    ("pattern", "matching {}"),
    ("minItems", "at least {} items"),
    ("maxItems", "at most {} items"),
    ("minProperties", "at least {} properties"),
    ("maxProperties", "at most {} properties"),
)


def _options(schema: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    options = schema.get("anyOf") or schema.get("oneOf")
    if not isinstance(options, list):
        return None
    return [option for option in options if isinstance(option, Mapping)]


def schema_type(schema: Any) -> Markup:
    """A JSON Schema's type as a reader says it: ``integer``, ``string (email)``,
    ``array of string``, ``one of: "a", "b"``, ``Tag or null``; a component is its
    name, linked to its section of the page. The one type function of the page:
    path parameters, query parameters, headers, payloads and schemas."""
    if not isinstance(schema, Mapping):
        return Markup("any")
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")
        if ref.startswith(_SCHEMAS):
            return Markup('<a href="#schema-{}">{}</a>').format(name, name)
        return escape(name)
    if "const" in schema:
        return escape(_value(schema["const"]))
    enum = schema.get("enum")
    if isinstance(enum, list):
        values = ", ".join(_value(v) for v in enum)
        return escape(values if len(enum) == 1 else "one of: " + values)
    options = _options(schema)
    if options is not None:
        return Markup(" or ").join(dict.fromkeys(schema_type(o) for o in options))
    every = schema.get("allOf")
    if isinstance(every, list) and every:
        return Markup(" and ").join(dict.fromkeys(schema_type(s) for s in every))
    kind = schema.get("type")
    if isinstance(kind, list):
        return Markup(" or ").join(schema_type({**schema, "type": k}) for k in kind)
    if kind == "array":
        items = schema.get("items")
        if not isinstance(items, Mapping) or not items:
            return Markup("array")
        inner = schema_type(items)
        return Markup("array of ({})" if " or " in inner else "array of {}").format(inner)
    if kind == "object":
        each = schema.get("additionalProperties")
        if isinstance(each, Mapping) and each and not schema.get("properties"):
            return Markup("object of ") + schema_type(each)
        return Markup("object")
    if isinstance(kind, str):
        detail = schema.get("format") or schema.get("contentMediaType")
        if "contentSchema" in schema:
            content = schema_type(schema["contentSchema"])
            return Markup("{} ({}: {})").format(kind, detail or "JSON", content)
        return Markup("{} ({})").format(kind, detail) if detail else escape(kind)
    return Markup("any")


def _bound(text: str, value: Any) -> str:
    words = text.format(value)
    if value == 1:  # at least 1 character, at most 1 item
        words = words.replace("characters", "character").replace("items", "item")
        words = words.replace("properties", "property")
    return words


def schema_constraints(schema: Any) -> str:
    """A JSON Schema's constraints, in words: ``\u2265 1, at most 20 characters``
    (an optional value's too; an array's items' after ``each``)."""
    if not isinstance(schema, Mapping):
        return ""
    words = [_bound(text, schema[key]) for key, text in _BOUNDS if key in schema]
    if schema.get("uniqueItems"):
        words.append("no duplicates")
    options = _options(schema)
    if options is not None:
        some = [o for o in options if o.get("type") != "null"]
        if len(some) == 1:
            words.append(schema_constraints(some[0]))
    items = schema.get("items")
    if schema.get("type") == "array" and isinstance(items, Mapping):
        each = schema_constraints(items)
        if each:
            words.append("each " + each)
    return ", ".join(word for word in words if word)


def _field_rows(schema: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of an object schema's table: one per property (parameter, header,
    payload field), in the schema's order."""
    required = set(schema.get("required", []))
    rows = []
    for name, prop in (schema.get("properties") or {}).items():
        prop = prop if isinstance(prop, Mapping) else {}
        text = str(prop.get("description", ""))
        if prop.get("examples"):
            examples = ", ".join(_value(e) for e in prop["examples"])
            text = f"{text} Examples: {examples}.".strip()
        rows.append(
            {
                "name": str(name),
                "type": schema_type(prop),
                "required": "yes" if name in required else "no",
                "default": _value(prop["default"]) if "default" in prop else "",
                "constraints": schema_constraints(prop),
                "description": markdown_inline(text),
            }
        )
    return rows


def _shape(schema: Any) -> dict[str, Any]:
    """How the page shows a schema (a payload, a component): a table of its fields
    when it is an object with properties, else its type and constraints."""
    schema = schema if isinstance(schema, Mapping) else {}
    description = schema.get("description")
    return {
        "description": _paragraphs(str(description)) if description else [],
        "fields": _field_rows(schema) if schema.get("properties") else None,
        "type": schema_type(schema),
        "constraints": schema_constraints(schema),
    }


def _paragraphs(text: str | None) -> list[Markup]:
    """A description's Markdown as HTML blocks (escaped: see ``docs/markdown.py``)."""
    return markdown_blocks(text)


def _resolve(document: Mapping[str, Any], ref: Any) -> Any:
    """The object a local ``$ref`` (``#/channels/chat/messages/in``) points at, or None."""
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return None
    node: Any = document
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or token not in node:
            return None
        node = node[token]
    return node


def _messages(messages: list[Any]) -> list[dict[str, Any]] | None:
    """What the page shows of each message; None when there is none at all."""
    if not messages:
        return None
    shown = []
    for message in messages:
        if not isinstance(message, Mapping):
            continue
        payload = message.get("payload", {})
        description = message.get("description")
        shown.append(
            {
                "name": message.get("name") or message.get("title") or "message",
                "summary": markdown_inline(str(message["summary"]))
                if message.get("summary")
                else None,
                "content_type": message.get("contentType"),
                "deprecated": message.get("deprecated"),
                "description": _paragraphs(description)
                if description and description != message.get("summary")
                else [],
                "payload": _shape(payload),
                "schemas": list(dict.fromkeys(referenced_components(payload))),
            }
        )
    return shown


def _request(channel: Mapping[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The handshake's (or SSE request's) query parameters and headers, as tables."""
    request = channel.get("bindings", {}).get("ws") or channel.get("x-sse") or {}
    tables = []
    for place, label in (("query", "Query parameters"), ("headers", "Headers")):
        schema = request.get(place)
        if isinstance(schema, Mapping):
            tables.append((label, _field_rows(schema)))
    return tables


def _sent_as(scheme: Mapping[str, Any]) -> Markup:
    """Where a security scheme's credential goes, in words."""
    kind = scheme.get("type")
    if kind in ("httpApiKey", "apiKey"):
        where = {"header": "the header", "query": "the query parameter", "cookie": "the cookie"}
        place = where.get(str(scheme.get("in")), str(scheme.get("in")))
        return Markup("an API key in {} <code>{}</code>").format(place, scheme.get("name"))
    if kind == "http":
        word = str(scheme.get("scheme", ""))
        text = Markup("<code>Authorization: {} ...</code>").format(word.capitalize())
        if scheme.get("bearerFormat"):
            text += Markup(" (a {})").format(scheme["bearerFormat"])
        return text
    if kind == "oauth2":
        flows = scheme.get("flows") or {}
        password = flows.get("password") if isinstance(flows, Mapping) else None
        if isinstance(password, Mapping):
            return Markup("a bearer token from the OAuth2 password flow at <code>{}</code>").format(
                password.get("tokenUrl")
            )
        return Markup("OAuth2: {}").format(", ".join(map(str, flows)))
    return escape(str(kind))


def _credentials(security: list[tuple[str, Any]]) -> list[tuple[str, Markup, Markup]] | None:
    if not security:
        return None
    return [
        (name, _sent_as(scheme), markdown_inline(str(scheme.get("description", ""))))
        for name, scheme in security
        if isinstance(scheme, Mapping)
    ]


def _parameters(channel: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each path parameter: its name, type and constraints (from the JSON Schema
    its description ends with), and the rest of its description."""
    rows = []
    for name, parameter in (channel.get("parameters") or {}).items():
        parameter = parameter if isinstance(parameter, Mapping) else {}
        description = str(parameter.get("description", ""))
        schema: Any = {"type": "string"}
        text, mark, schema_text = description.rpartition(_SCHEMA_MARK)
        if mark:
            try:
                found = orjson.loads(schema_text)
            except orjson.JSONDecodeError:
                found = None
            if isinstance(found, Mapping):
                schema, description = found, text.strip()
        extra = []
        if parameter.get("examples"):
            extra.append("Examples: " + ", ".join(map(str, parameter["examples"])) + ".")
        line = " ".join([description, *extra]).strip()
        rows.append(
            {
                "name": str(name),
                "type": schema_type(schema),
                "constraints": schema_constraints(schema),
                "description": markdown_inline(line),
            }
        )
    return rows


def _rows(table: Any) -> list[tuple[str, Markup]]:
    return [(str(key), markdown_inline(str(text))) for key, text in (table or {}).items()]


def _channel(
    document: Mapping[str, Any],
    channel_id: str,
    channel: Mapping[str, Any],
    operations: list[Mapping[str, Any]],
) -> dict[str, Any]:
    """What the page shows of one channel."""
    description = str(channel.get("description") or "")
    for heading in (CLOSE_CODES_HEADING, SSE_REFUSED_HEADING):
        # The generated part is shown as tables, from x-close-codes and x-handshake-responses.
        description = description.split(heading)[0]
    tags = [tag.get("name") for tag in channel.get("tags", []) if isinstance(tag, Mapping)]
    security: list[tuple[str, Any]] = []
    for operation in operations:
        for ref in operation.get("security", []):
            target = ref.get("$ref") if isinstance(ref, Mapping) else None
            scheme = _resolve(document, target)
            if scheme is not None:
                name = str(target).rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")
                if (name, scheme) not in security:
                    security.append((name, scheme))
    sse = "x-sse" in channel
    messages = []
    for action, label in (("receive", "The client sends"), ("send", "The client receives")):
        if sse and action == "receive":
            continue
        found = [
            _resolve(document, ref.get("$ref"))
            for operation in operations
            if operation.get("action") == action
            for ref in operation.get("messages", [])
            if isinstance(ref, Mapping)
        ]
        messages.append((label, _messages(found)))
    title = channel.get("title") or channel_id
    return {
        "id": channel_id,
        "address": channel.get("address") or "",
        "title": title,
        "label": markdown_inline(str(channel.get("summary") or title)),
        "summary": markdown_inline(str(channel["summary"])) if channel.get("summary") else None,
        "description": _paragraphs(description),
        "tags": ", ".join(map(str, tags)),
        "parameters": _parameters(channel),
        "sse": sse,
        "request": _request(channel),
        "credentials": _credentials(security),
        "messages": messages,
        "close_codes": _rows(channel.get("x-close-codes")),
        "refusals": _rows(channel.get("x-handshake-responses")),
    }


def _servers(document: Mapping[str, Any], here: str | None, secure: bool, root: str) -> list[str]:
    """The servers' URLs: the document's, or (``here`` given: the app declares none,
    and the document says ``localhost``) the host the page was asked from."""
    servers = [s for s in document.get("servers", {}).values() if isinstance(s, Mapping)]
    if here is None:
        return [f"{s['protocol']}://{s['host']}{s.get('pathname', '')}" for s in servers]
    protocols = dict.fromkeys(str(s.get("protocol", "")) for s in servers)
    return [f"{p}{'s' if secure else ''}://{here}{root}" for p in protocols if p in ("ws", "http")]


def render_channels_page(
    document: Mapping[str, Any],
    *,
    asyncapi_url: str | None,
    docs_url: str | None,
    here: str | None = None,
    secure: bool = False,
    root: str = "",
) -> str:
    """The HTML of the channels page for an AsyncAPI document; ``asyncapi_url`` and
    ``docs_url`` (the Swagger UI page) are linked when given. ``here`` (the request's
    ``Host``, ``secure`` when it came over TLS, under ``root``) replaces the
    document's placeholder server, for an app that declares none."""
    info = document.get("info", {})
    operations_of: dict[str, list[Mapping[str, Any]]] = {}
    for operation in document.get("operations", {}).values():
        target = operation.get("channel", {}).get("$ref", "")
        channel_id = target.removeprefix("#/channels/").replace("~1", "/").replace("~0", "~")
        operations_of.setdefault(channel_id, []).append(operation)
    channels: Mapping[str, Any] = document.get("channels", {})
    return render_page(
        "channels.html",
        title=str(info.get("title", "API")),
        version=info.get("version", ""),
        description=_paragraphs(info.get("description")),
        docs_url=docs_url,
        asyncapi_url=asyncapi_url,
        asyncapi=document.get("asyncapi", ""),
        servers=_servers(document, here, secure, root),
        channels=[
            _channel(document, channel_id, channel, operations_of.get(channel_id, []))
            for channel_id, channel in channels.items()
        ],
        schemas=[
            (name, _shape(schema))
            for name, schema in document.get("components", {}).get("schemas", {}).items()
        ],
    )
