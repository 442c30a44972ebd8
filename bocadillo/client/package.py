"""A client package for an app's documents: ``generate_client`` gives each file's
name and text; ``write_client`` writes them to a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bocadillo.client.models import generate_models
from bocadillo.client.render import (
    HTTP_MODULE,
    WS_MODULE,
    render_client,
    render_errors,
    render_init,
    render_operations,
)
from bocadillo.client.spec import read_channels, read_operations
from bocadillo.errors import ConfigurationError

__all__ = ["generate_client", "write_client"]


def generate_client(
    openapi: dict[str, Any], asyncapi: dict[str, Any] | None = None
) -> dict[str, str]:
    """The client package's files (name to text) for an app's OpenAPI document and,
    for its WebSocket routes, its AsyncAPI document.

    The same documents always give the same text.
    """
    operations = read_operations(openapi)
    channels = read_channels(asyncapi) if asyncapi else []
    taken = {operation.name for operation in operations}
    for channel in channels:
        if channel.name in taken:
            raise ConfigurationError(
                f"the WebSocket channel {channel.name!r} and an HTTP operation would both be "
                f"the client method {channel.name}(): rename one of them"
            )
    error_models = sorted({error.model for each in operations for error in each.errors})
    closes: dict[int, str] = {}
    for channel in channels:
        for code, text in channel.closes:
            closes.setdefault(code, text)
    info = openapi.get("info", {})
    title, version = str(info.get("title", "API")), str(info.get("version", ""))
    files = {
        "__init__.py": render_init(title, version, error_models, closes),
        "_http.py": HTTP_MODULE,
        "client.py": render_client(operations, channels, title),
        "errors.py": render_errors(error_models, closes),
        "models.py": generate_models(merged_schemas(openapi, asyncapi if channels else None)),
        "operations.py": render_operations(operations, channels),
        "py.typed": "",
    }
    if channels:
        files["_ws.py"] = WS_MODULE
    return dict(sorted(files.items()))


def merged_schemas(openapi: dict[str, Any], asyncapi: dict[str, Any] | None) -> dict[str, Any]:
    """The OpenAPI document with the AsyncAPI document's schemas added to its own;
    a name both use must name the same schema."""
    if asyncapi is None:
        return openapi
    schemas = dict(openapi.get("components", {}).get("schemas", {}))
    for name, schema in asyncapi.get("components", {}).get("schemas", {}).items():
        if name in schemas and schemas[name] != schema:
            raise ConfigurationError(
                f"the schema {name!r} differs between the OpenAPI and the AsyncAPI "
                "document: a client has one model of each name"
            )
        schemas[name] = schema
    return {**openapi, "components": {**openapi.get("components", {}), "schemas": schemas}}


def write_client(files: dict[str, str], folder: Path) -> None:
    """Write the package's files into ``folder`` (made if missing); other files stay."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_bytes(text.encode())
