"""``bocadillo diff``'s core: what changed between two API documents, and whether it breaks.

It works on documents (plain dicts, as ``app.openapi()``, ``app.asyncapi()`` or a
file give them), never on an app: ``bocadillo.cli.diff`` loads each side.
``changes.py`` holds what a change is and how it is printed, ``schemas.py`` the
direction-aware schema comparator, ``openapi.py`` and ``asyncapi.py`` the rules of
each document.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bocadillo.diff.asyncapi import diff_asyncapi
from bocadillo.diff.changes import (
    Change,
    Severity,
    has_breaking,
    render_json,
    render_text,
    sort_changes,
)
from bocadillo.diff.openapi import diff_openapi

__all__ = [
    "Change",
    "Severity",
    "diff_asyncapi",
    "diff_documents",
    "diff_openapi",
    "document_kind",
    "has_breaking",
    "render_json",
    "render_text",
]


def document_kind(document: Mapping[str, Any]) -> str | None:
    """``"openapi"``, ``"asyncapi"``, or None for neither."""
    if isinstance(document.get("openapi"), str):
        return "openapi"
    if isinstance(document.get("asyncapi"), str):
        return "asyncapi"
    return None


def diff_documents(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """The changes between two documents of the same kind, breaking first.

    Raises ``ValueError`` if they are not both OpenAPI or both AsyncAPI documents.
    """
    kind, other = document_kind(old), document_kind(new)
    if kind is None or kind != other:
        raise ValueError(
            f"cannot compare {kind or 'an unknown document'} with {other or 'an unknown document'}"
        )
    found = diff_openapi(old, new) if kind == "openapi" else diff_asyncapi(old, new)
    return sort_changes(found)
