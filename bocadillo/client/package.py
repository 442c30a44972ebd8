"""A client package for an app's documents: ``generate_client`` gives each file's
name and text; ``write_client`` writes them to a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bocadillo.client.models import generate_models
from bocadillo.client.render import (
    HTTP_MODULE,
    render_client,
    render_errors,
    render_init,
    render_operations,
)
from bocadillo.client.spec import read_operations

__all__ = ["generate_client", "write_client"]


def generate_client(openapi: dict[str, Any]) -> dict[str, str]:
    """The client package's files (name to text) for an OpenAPI document.

    The same document always gives the same text.
    """
    operations = read_operations(openapi)
    error_models = sorted({error.model for each in operations for error in each.errors})
    info = openapi.get("info", {})
    title, version = str(info.get("title", "API")), str(info.get("version", ""))
    return {
        "__init__.py": render_init(title, version, error_models),
        "_http.py": HTTP_MODULE,
        "client.py": render_client(operations, title),
        "errors.py": render_errors(error_models),
        "models.py": generate_models(openapi),
        "operations.py": render_operations(operations),
        "py.typed": "",
    }


def write_client(files: dict[str, str], folder: Path) -> None:
    """Write the package's files into ``folder`` (made if missing); other files stay."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_bytes(text.encode())
