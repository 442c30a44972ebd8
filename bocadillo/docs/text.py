"""The words of the documents: summaries from docstrings, names made readable,
Markdown tables and JSON Pointer tokens, shared by the OpenAPI and AsyncAPI builders."""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["docstring_parts", "humanize", "markdown_table", "pointer"]


def docstring_parts(func: Any) -> tuple[str | None, str | None]:
    """A handler's docstring as (summary, description): the first paragraph on one
    line, and the rest; ``None`` for what is missing."""
    doc = inspect.getdoc(func)
    if not doc:
        return None, None
    first, _, rest = doc.partition("\n\n")
    summary = " ".join(first.split())
    return summary or None, rest.strip() or None


def humanize(name: str) -> str:
    """``list_todos`` or ``TodoList`` as ``List todos`` / ``Todo list``."""
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", name).replace("_", " ").split()
    return " ".join(words).capitalize()


def pointer(token: str) -> str:
    """One JSON Pointer reference token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


def _markdown_cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def markdown_table(head: tuple[str, str], rows: Mapping[str, str]) -> str:
    """A two-column Markdown table, each cell on one line."""
    lines = [f"| {head[0]} | {head[1]} |", "| --- | --- |"]
    lines += [f"| {key} | {_markdown_cell(text)} |" for key, text in rows.items()]
    return "\n".join(lines)
