"""The AsyncAPI document's schemas: JSON Schema in the AsyncAPI dialect, and only
the component schemas its channels reach."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bocadillo.docs.components import referenced_components

__all__ = ["asyncapi_schema", "reachable_schemas"]


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


def reachable_schemas(
    schemas: Mapping[str, Any], channels: dict[str, Any], operations: dict[str, Any]
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
    wanted = [*referenced_components(channels), *referenced_components(operations)]
    seen: set[str] = set()
    while wanted:
        name = wanted.pop()
        if name in seen or name not in schemas:
            continue
        seen.add(name)
        wanted.extend(referenced_components(schemas[name]))
    return {name: asyncapi_schema(schemas[name]) for name in sorted(seen)}
