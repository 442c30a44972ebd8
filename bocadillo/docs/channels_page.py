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
from markupsafe import Markup

from bocadillo.docs.asyncapi import CLOSE_CODES_HEADING, SSE_REFUSED_HEADING
from bocadillo.docs.components import referenced_components
from bocadillo.docs.markdown import markdown_blocks, markdown_inline
from bocadillo.docs.pages import render_page

__all__ = ["render_channels_page", "schema_line"]


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


_SCHEMA_MARK = "JSON Schema: "
_BOUNDS = (
    ("minimum", "\u2265 {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "\u2264 {}"),
    ("exclusiveMaximum", "< {}"),
    ("multipleOf", "a multiple of {}"),
    ("minLength", "at least {} characters"),
    ("maxLength", "at most {} characters"),
    ("pattern", "matching {}"),
    ("format", "format {}"),
)


def _type_of(schema: Mapping[str, Any]) -> str:
    if isinstance(schema.get("enum"), list):
        return "one of " + ", ".join(map(str, schema["enum"]))
    if "const" in schema:
        return f"exactly {schema['const']}"
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(map(str, kind))
    if isinstance(kind, str):
        return kind
    options = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(options, list):
        return " or ".join(_type_of(o) for o in options if isinstance(o, Mapping))
    return "any"


def schema_line(schema: Mapping[str, Any]) -> str:
    """A path parameter's JSON Schema as a reader says it: ``integer, \u2265 1``."""
    words = [_type_of(schema)]
    words += [text.format(schema[key]) for key, text in _BOUNDS if key in schema]
    return ", ".join(words)


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
                "summary": message.get("summary"),
                "content_type": message.get("contentType"),
                "deprecated": message.get("deprecated"),
                "description": _paragraphs(description)
                if description and description != message.get("summary")
                else [],
                "payload": _json(payload),
                "schemas": list(dict.fromkeys(referenced_components(payload))),
            }
        )
    return shown


def _request(channel: Mapping[str, Any]) -> list[tuple[str, list[tuple[str, str, str, Markup]]]]:
    """The handshake's (or SSE request's) query parameters and headers, as tables."""
    request = channel.get("bindings", {}).get("ws") or channel.get("x-sse") or {}
    tables = []
    for place, label in (("query", "Query parameters"), ("headers", "Headers")):
        schema = request.get(place)
        if not isinstance(schema, Mapping):
            continue
        required = set(schema.get("required", []))
        rows: list[tuple[str, str, str, Markup]] = []
        for name, prop in schema.get("properties", {}).items():
            prop = dict(prop) if isinstance(prop, Mapping) else {}
            description = prop.pop("description", "")
            rows.append(
                (
                    name,
                    "yes" if name in required else "no",
                    _json(prop),
                    markdown_inline(description),
                )
            )
        tables.append((label, rows))
    return tables


def _credentials(security: list[Any]) -> list[tuple[str, str]] | None:
    if not security:
        return None
    return [
        (
            _json({k: v for k, v in scheme.items() if k != "description"}),
            markdown_inline(str(scheme.get("description", ""))),
        )
        for scheme in security
        if isinstance(scheme, Mapping)
    ]


def _parameters(channel: Mapping[str, Any]) -> list[tuple[str, str, Markup]]:
    """Each path parameter: its name, its type and constraints on one line (from
    the JSON Schema its description ends with), and the rest of its description."""
    rows = []
    for name, parameter in (channel.get("parameters") or {}).items():
        parameter = parameter if isinstance(parameter, Mapping) else {}
        description = str(parameter.get("description", ""))
        kind = "string"
        text, mark, schema_text = description.rpartition(_SCHEMA_MARK)
        if mark:
            try:
                schema = orjson.loads(schema_text)
            except orjson.JSONDecodeError:
                schema = None
            if isinstance(schema, Mapping):
                kind, description = schema_line(schema), text.strip()
        extra = []
        if parameter.get("examples"):
            extra.append("Examples: " + ", ".join(map(str, parameter["examples"])) + ".")
        line = " ".join([description, *extra]).strip()
        rows.append((name, kind, markdown_inline(line)))
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
    security: list[Any] = []
    for operation in operations:
        for ref in operation.get("security", []):
            scheme = _resolve(document, ref.get("$ref")) if isinstance(ref, Mapping) else None
            if scheme is not None and scheme not in security:
                security.append(scheme)
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
        "label": channel.get("summary") or title,
        "summary": channel.get("summary"),
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
            (name, _json(schema))
            for name, schema in document.get("components", {}).get("schemas", {}).items()
        ],
    )
