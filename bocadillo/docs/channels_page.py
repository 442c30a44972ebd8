"""The channels page: the AsyncAPI document as plain HTML, rendered on the server.

No script, no stylesheet or font from anywhere: one self-contained page, so it
works offline like the Swagger UI page. Every piece of text from the document
(titles, descriptions, schemas) is escaped; the only links are the app's own
URLs and anchors within the page.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from bocadillo.docs.asyncapi import CLOSE_CODES_HEADING, SSE_REFUSED_HEADING

__all__ = ["render_channels_page"]

_SCHEMAS = "#/components/schemas/"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 0; color: #1b1b1b; background: #fafafa; }
header, main { max-width: 1100px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 16px; }
h1 small { font-size: 0.55em; color: #555; font-weight: normal; }
section.channel { background: #fff; border: 1px solid #ddd; border-radius: 6px;
  padding: 4px 20px 12px; margin: 20px 0; }
h2 code { background: #eef3ff; padding: 2px 6px; border-radius: 4px; }
pre { background: #f4f4f4; padding: 10px; overflow-x: auto; border-radius: 4px; font-size: 13px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
.muted { color: #666; }
nav a { margin-right: 16px; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _json(value: Any) -> str:
    return _e(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def _paragraphs(text: str | None) -> str:
    if not text:
        return ""
    blocks = [" ".join(block.split()) for block in text.strip().split("\n\n")]
    return "".join(f"<p>{_e(block)}</p>\n" for block in blocks if block)


def _table(head: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    cells = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>\n" for row in rows)
    return f"<table>\n<tr>{cells}</tr>\n{body}</table>\n"


def _anchor(prefix: str, name: str) -> str:
    return f"{prefix}-{name}"


def _schema_refs(node: Any) -> list[str]:
    found: list[str] = []

    def walk(item: Any) -> None:
        if isinstance(item, list):
            for sub in item:
                walk(sub)
        elif isinstance(item, dict):
            for key, value in item.items():
                if key == "$ref" and isinstance(value, str) and value.startswith(_SCHEMAS):
                    name = value.removeprefix(_SCHEMAS)
                    if name not in found:
                        found.append(name)
                elif key not in ("enum", "const", "default", "examples", "example"):
                    walk(value)

    walk(node)
    return found


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


def _server_urls(document: Mapping[str, Any]) -> list[str]:
    urls = []
    for server in document.get("servers", {}).values():
        urls.append(f"{server['protocol']}://{server['host']}{server.get('pathname', '')}")
    return urls


def _messages_html(document: Mapping[str, Any], messages: list[Any]) -> str:
    if not messages:
        return '<p class="muted">Nothing.</p>\n'
    out = []
    for message in messages:
        if not isinstance(message, Mapping):
            continue
        name = message.get("name") or message.get("title") or "message"
        out.append(f"<h4>{_e(name)}</h4>\n")
        details = []
        if message.get("summary"):
            details.append(_e(message["summary"]))
        if message.get("contentType"):
            details.append(f"Content type: <code>{_e(message['contentType'])}</code>.")
        if message.get("deprecated"):
            details.append("<strong>Deprecated.</strong>")
        if details:
            out.append(f"<p>{' '.join(details)}</p>\n")
        if message.get("description") and message.get("description") != message.get("summary"):
            out.append(_paragraphs(message["description"]))
        payload = message.get("payload", {})
        out.append(f"<pre>{_json(payload)}</pre>\n")
        refs = _schema_refs(payload)
        if refs:
            links = ", ".join(
                f'<a href="#{_e(_anchor("schema", ref))}">{_e(ref)}</a>' for ref in refs
            )
            out.append(f"<p>Schemas: {links}</p>\n")
    return "".join(out)


def _handshake_html(channel: Mapping[str, Any], security: list[Any]) -> str:
    request = channel.get("bindings", {}).get("ws") or channel.get("x-sse") or {}
    out = []
    for place, label in (("query", "Query parameters"), ("headers", "Headers")):
        schema = request.get(place)
        if not isinstance(schema, Mapping):
            continue
        required = set(schema.get("required", []))
        rows = []
        for name, prop in schema.get("properties", {}).items():
            prop = dict(prop) if isinstance(prop, Mapping) else {}
            description = prop.pop("description", "")
            rows.append(
                (
                    f"<code>{_e(name)}</code>",
                    "yes" if name in required else "no",
                    f"<pre>{_json(prop)}</pre>",
                    _e(description),
                )
            )
        out.append(f"<h4>{_e(label)}</h4>\n")
        out.append(_table(("name", "required", "schema", "description"), rows))
    if security:
        schemes = []
        for scheme in security:
            if isinstance(scheme, Mapping):
                shown = {k: v for k, v in scheme.items() if k != "description"}
                schemes.append((f"<pre>{_json(shown)}</pre>", _e(scheme.get("description", ""))))
        out.append("<h4>Credentials</h4>\n")
        out.append(_table(("security scheme", "description"), schemes))
    if not out:
        return '<p class="muted">No query parameters, headers or credentials.</p>\n'
    return "".join(out)


def _channel_html(
    document: Mapping[str, Any],
    channel_id: str,
    channel: Mapping[str, Any],
    operations: list[Mapping[str, Any]],
) -> str:
    address = channel.get("address") or ""
    out = [f'<section class="channel" id="{_e(_anchor("channel", channel_id))}">\n']
    title = channel.get("title") or channel_id
    out.append(f"<h2><code>{_e(address)}</code> {_e(title)}</h2>\n")
    if channel.get("summary"):
        out.append(f"<p><strong>{_e(channel['summary'])}</strong></p>\n")
    description = str(channel.get("description") or "")
    for heading in (CLOSE_CODES_HEADING, SSE_REFUSED_HEADING):
        description = description.split(heading)[0]
    out.append(_paragraphs(description))
    tags = [tag.get("name") for tag in channel.get("tags", []) if isinstance(tag, Mapping)]
    if tags:
        out.append(f'<p class="muted">Tags: {_e(", ".join(map(str, tags)))}</p>\n')

    parameters = channel.get("parameters") or {}
    if parameters:
        out.append("<h3>Path parameters</h3>\n")
        rows = []
        for name, parameter in parameters.items():
            parameter = parameter if isinstance(parameter, Mapping) else {}
            extra = []
            if parameter.get("enum"):
                extra.append("One of: " + ", ".join(map(str, parameter["enum"])) + ".")
            if parameter.get("examples"):
                extra.append("Examples: " + ", ".join(map(str, parameter["examples"])) + ".")
            text = " ".join([str(parameter.get("description", "")), *extra]).strip()
            rows.append((f"<code>{_e(name)}</code>", _e(text)))
        out.append(_table(("name", "description"), rows))

    security: list[Any] = []
    for operation in operations:
        for ref in operation.get("security", []):
            scheme = _resolve(document, ref.get("$ref")) if isinstance(ref, Mapping) else None
            if scheme is not None and scheme not in security:
                security.append(scheme)
    sse = "x-sse" in channel
    out.append("<h3>Request</h3>\n" if sse else "<h3>Handshake</h3>\n")
    out.append(_handshake_html(channel, security))

    for action, label in (("receive", "The client sends"), ("send", "The client receives")):
        if sse and action == "receive":
            continue
        messages = [
            _resolve(document, ref.get("$ref"))
            for operation in operations
            if operation.get("action") == action
            for ref in operation.get("messages", [])
            if isinstance(ref, Mapping)
        ]
        out.append(f"<h3>{_e(label)}</h3>\n")
        out.append(_messages_html(document, messages))

    close_codes = channel.get("x-close-codes") or {}
    if close_codes:
        out.append("<h3>Close codes</h3>\n")
        out.append(
            _table(("code", "when"), ((_e(code), _e(text)) for code, text in close_codes.items()))
        )
    refusals = channel.get("x-handshake-responses") or {}
    if refusals:
        if sse:
            out.append("<h3>Refused before the stream starts</h3>\n")
            out.append("<p>With an HTTP response (<code>application/problem+json</code>).</p>\n")
        else:
            out.append("<h3>Handshake refused</h3>\n")
            out.append(
                "<p>With an HTTP response (<code>application/problem+json</code>), or close "
                "code 1008 where the server cannot send one.</p>\n"
            )
        out.append(
            _table(("status", "when"), ((_e(code), _e(text)) for code, text in refusals.items()))
        )
    out.append("</section>\n")
    return "".join(out)


def render_channels_page(
    document: Mapping[str, Any], *, asyncapi_url: str | None, docs_url: str | None
) -> str:
    """The HTML of the channels page for an AsyncAPI document; ``asyncapi_url`` and
    ``docs_url`` (the Swagger UI page) are linked when given."""
    info = document.get("info", {})
    title = str(info.get("title", "API"))
    channels: Mapping[str, Any] = document.get("channels", {})
    operations_of: dict[str, list[Mapping[str, Any]]] = {}
    for operation in document.get("operations", {}).values():
        target = operation.get("channel", {}).get("$ref", "")
        channel_id = target.removeprefix("#/channels/").replace("~1", "/").replace("~0", "~")
        operations_of.setdefault(channel_id, []).append(operation)

    out = [
        "<!doctype html>\n",
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f"<title>{_e(title)} - Channels</title>\n",
        f"<style>{_STYLE}</style>\n</head>\n<body>\n<header>\n",
        f"<h1>{_e(title)} <small>{_e(info.get('version', ''))}</small></h1>\n",
        _paragraphs(info.get("description")),
    ]
    links = []
    if docs_url is not None:
        links.append(f'<a href="{_e(docs_url)}">HTTP API (Swagger UI)</a>')
    if asyncapi_url is not None:
        links.append(
            f'<a href="{_e(asyncapi_url)}">AsyncAPI {_e(document.get("asyncapi", ""))} document</a>'
        )
    if links:
        out.append(f"<nav>{''.join(links)}</nav>\n")
    servers = _server_urls(document)
    if servers:
        listed = ", ".join(f"<code>{_e(url)}</code>" for url in servers)
        out.append(f'<p class="muted">Servers: {listed}</p>\n')
    out.append("</header>\n<main>\n")
    if not channels:
        out.append("<p>This app has no WebSocket or server-sent events routes.</p>\n")
    else:
        out.append("<h2>Channels</h2>\n<ul>\n")
        for channel_id, channel in channels.items():
            anchor = _e(_anchor("channel", channel_id))
            out.append(
                f'<li><a href="#{anchor}"><code>{_e(channel.get("address") or "")}</code></a>'
                f" {_e(channel.get('summary') or channel.get('title') or channel_id)}</li>\n"
            )
        out.append("</ul>\n")
        for channel_id, channel in channels.items():
            out.append(
                _channel_html(document, channel_id, channel, operations_of.get(channel_id, []))
            )
    schemas = document.get("components", {}).get("schemas", {})
    if schemas:
        out.append('<section id="schemas">\n<h2>Schemas</h2>\n')
        for name, schema in schemas.items():
            out.append(f'<h3 id="{_e(_anchor("schema", name))}">{_e(name)}</h3>\n')
            out.append(f"<pre>{_json(schema)}</pre>\n")
        out.append("</section>\n")
    out.append("</main>\n</body>\n</html>\n")
    return "".join(out)
