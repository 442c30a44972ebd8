"""What the framework needs from a schema library: the ``SchemaAdapter`` protocol and
the two errors every backend raises."""

from __future__ import annotations

from typing import Any, Literal, Protocol

__all__ = ["MalformedInput", "SchemaAdapter", "SchemaMode", "SchemaValidationError"]


SchemaMode = Literal["validation", "serialization"]


class SchemaValidationError(Exception):
    """Input did not match a type. ``errors`` is ``[{"loc", "msg", "type"}]``,
    ``loc`` relative to the validated value (``()`` for the value itself)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors


class MalformedInput(Exception):
    """Bytes that could not be parsed as JSON (or are not UTF-8) at all."""


class SchemaAdapter(Protocol):
    """What the framework needs from a type, whatever library declares it."""

    def validate_json(self, data: bytes) -> Any:
        """Parse and validate JSON bytes (strictly: JSON types must match)."""

    def validate_python(self, data: Any) -> Any:
        """Validate (and coerce, leniently) a Python value such as a dict of strings."""

    def dump_json(self, value: Any) -> bytes:
        """Serialize a value of the type to JSON bytes, dropping undeclared fields."""

    def json_schema(self, mode: SchemaMode = "validation") -> dict[str, Any]:
        """The type's JSON Schema (2020-12, nested schemas under ``$defs``).

        ``mode`` is ``"validation"`` for what the type accepts (a request body)
        and ``"serialization"`` for what ``dump_json`` writes (a response): there,
        a field it always writes (one with a default, say) is required. The
        documents name the two ``Todo-Input`` and ``Todo-Output`` where they differ.
        """
