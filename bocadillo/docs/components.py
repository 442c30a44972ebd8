"""``components/schemas``: every named schema of the document, once.

Each schema backend gives a type's JSON Schema with its nested schemas under
``$defs``. ``SchemaComponents.add`` hoists them into ``components/schemas``,
rewrites the references, and names what it hoists so that the same schema
always gets the same name, and two different schemas never share one (a
pydantic model and a typesystem schema both called ``Todo``, or a model whose
input and output shapes differ).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from bocadillo.schemas.registry import SchemaAdapter, SchemaMode

__all__ = ["SchemaComponents"]

_REF = "#/components/schemas/"
_UNSAFE = re.compile(r"[^a-zA-Z0-9._-]")
_SUFFIX = {"validation": "Input", "serialization": "Output"}
_OTHER = {"validation": "Output", "serialization": "Input"}


def _canonical(schema: Any) -> bytes:
    return orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)


def _rewrite(node: Any, names: dict[str, str]) -> Any:
    if isinstance(node, list):
        return [_rewrite(item, names) for item in node]
    if not isinstance(node, dict):
        return node
    rewritten = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            rewritten[key] = _rewrite_ref(value, names)
        elif key == "mapping" and isinstance(value, dict):  # a discriminator's targets
            rewritten[key] = {k: _rewrite_ref(v, names) for k, v in value.items()}
        else:
            rewritten[key] = _rewrite(value, names)
    return rewritten


def _rewrite_ref(ref: Any, names: dict[str, str]) -> Any:
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = ref.removeprefix("#/$defs/")
        return _REF + names.get(target, target)
    return ref


def _is_named_object(schema: dict[str, Any]) -> bool:
    """A model-like schema worth a component of its own: an object with a title."""
    return schema.get("type") == "object" and isinstance(schema.get("title"), str)


class SchemaComponents:
    """The ``components/schemas`` of one document, filled as operations are built."""

    def __init__(self) -> None:
        self.schemas: dict[str, dict[str, Any]] = {}
        self._canonical: dict[str, bytes] = {}

    def reserve(self, name: str, schema: dict[str, Any]) -> None:
        """Store one of the framework's own schemas under ``name``; a user type of the
        same name then gets another name."""
        self.schemas[name] = schema
        self._canonical[name] = _canonical(schema)

    def add(self, adapter: SchemaAdapter, mode: SchemaMode) -> dict[str, Any]:
        """The schema to put in an operation for ``adapter``'s type: a ``$ref`` for
        a named object, else the schema itself, with its nested schemas hoisted."""
        schema = dict(adapter.json_schema(mode))
        defs: dict[str, Any] = schema.pop("$defs", {})
        top_name = schema["title"] if _is_named_object(schema) else None
        if top_name is not None:
            defs = {**defs, top_name: schema}
        names = self._name_all(defs, mode)
        for original, name in names.items():
            self.schemas[name] = _rewrite(defs[original], names)
        if top_name is not None:
            return {"$ref": _REF + names[top_name]}
        rewritten: dict[str, Any] = _rewrite(schema, names)
        return rewritten

    def _name_all(self, defs: dict[str, Any], mode: SchemaMode) -> dict[str, str]:
        """A component name for each nested schema.

        A schema keeps its own name if that is free or already holds the same
        schema (references compared after renaming, so two parents of
        different children differ); else it takes the first variant
        (``Todo-Output``, ``Todo-Input``, ``Todo2``...) holding the same
        schema, or the first one free. Names depend on each other through
        references, so they are settled by repeating until nothing changes.
        """
        names = {original: _UNSAFE.sub("_", original) or "Schema" for original in defs}
        for _ in range(len(defs) + 2):
            taken: dict[str, bytes] = dict(self._canonical)
            settled: dict[str, str] = {}
            for original, schema in defs.items():
                base = _UNSAFE.sub("_", original) or "Schema"
                content = _canonical(_rewrite(schema, names))
                candidates = [base, f"{base}-{_SUFFIX[mode]}", f"{base}-{_OTHER[mode]}"]
                candidates += [f"{base}{n}" for n in range(2, 1000)]
                same = next((c for c in candidates if taken.get(c) == content), None)
                chosen = same or next(c for c in candidates if c not in taken)
                taken[chosen] = content
                settled[original] = chosen
            if settled == names:
                break
            names = settled
        for original, schema in defs.items():
            self._canonical[names[original]] = _canonical(_rewrite(schema, names))
        return names
