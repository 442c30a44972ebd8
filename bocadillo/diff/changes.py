"""What ``bocadillo diff`` reports: a ``Change`` per difference, with its severity and rule id.

Rule ids follow oasdiff's check ids where the two overlap (``api-path-removed``,
``new-required-request-parameter``, ``request-parameter-became-required``,
``response-property-became-optional``, ``request-body-media-type-removed``, ...), so a
team moving between the tools reads the same names. A schema rule's id starts with
where the schema is (``request-parameter``, ``request-body``, ``request-property``,
``response-body``, ``response-property``, and for AsyncAPI ``received-message``,
``received-message-property``, ``sent-message``, ``sent-message-property``) and ends
with what changed (``type-changed``, ``enum-value-removed``, ``max-decreased``, ...).
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["Change", "Severity", "has_breaking", "render_json", "render_text", "sort_changes"]


class Severity(enum.Enum):
    """How a change affects the clients written against the old document."""

    BREAKING = "breaking"  # some client that worked before fails now
    WARNING = "maybe-breaking"  # some client may fail, depending on how it was written
    SAFE = "safe"  # every client that worked before still works

    @property
    def rank(self) -> int:
        return {"breaking": 0, "maybe-breaking": 1, "safe": 2}[self.value]


@dataclasses.dataclass(frozen=True)
class Change:
    """One difference between the old and the new document.

    ``document`` is ``"openapi"`` or ``"asyncapi"``; ``where`` the operation (``GET
    /todos``) or channel (``channel /rooms/{room}``); ``pointer`` a JSON pointer into
    the new document (into the old one for what was removed), following ``$ref`` s to
    the schema that changed.
    """

    severity: Severity
    rule: str
    document: str
    where: str
    pointer: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {
            "severity": self.severity.value,
            "rule": self.rule,
            "document": self.document,
            "where": self.where,
            "pointer": self.pointer,
            "message": self.message,
        }


def sort_changes(changes: Iterable[Change]) -> list[Change]:
    """Breaking first, then maybe breaking, then safe; each in document order; no duplicates."""
    unique = list(dict.fromkeys(changes))
    return sorted(unique, key=lambda change: change.severity.rank)


def has_breaking(changes: Iterable[Change], *, fail_on: Severity = Severity.BREAKING) -> bool:
    """Whether a change is at least as severe as ``fail_on``."""
    return any(change.severity.rank <= fail_on.rank for change in changes)


def render_text(changes: Sequence[Change]) -> str:
    """A line per change, grouped by severity, and a one-line summary at the end."""
    if not changes:
        return "No changes.\n"
    lines: list[str] = []
    for severity in Severity:
        group = [change for change in changes if change.severity is severity]
        if not group:
            continue
        lines.append(f"{severity.value} ({len(group)}):")
        for change in group:
            lines.append(f"  {change.where}: {change.message}")
            lines.append(f"    [{change.rule}] {change.document} {change.pointer}")
    lines.append(_summary(changes))
    return "\n".join(lines) + "\n"


def render_json(changes: Sequence[Change]) -> str:
    """``{"breaking": N, "maybe-breaking": N, "safe": N, "changes": [...]}``."""
    document: dict[str, Any] = {
        severity.value: sum(1 for c in changes if c.severity is severity) for severity in Severity
    }
    document["changes"] = [change.as_dict() for change in changes]
    return json.dumps(document, indent=2) + "\n"


def _summary(changes: Sequence[Change]) -> str:
    counts = [
        f"{sum(1 for c in changes if c.severity is severity)} {severity.value}"
        for severity in Severity
    ]
    return ", ".join(counts) + "."
