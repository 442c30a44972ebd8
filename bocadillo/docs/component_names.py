"""The names of the component schemas: one per model, or two where what the model
accepts and what the app sends differ.

A type has two JSON Schemas: its input shape (``"validation"`` mode: what a
request body or a received message may be) and its output shape
(``"serialization"`` mode: what a response, a sent message or an event is).
They differ where a field has a default (optional going in; always sent, so
required coming out), a computed field (output only) or a serialization alias.

Names are settled over every use at once (``register`` them all, then
``settle``). A model keeps its name (``Todo``) when only one of its shapes is
used, or both are the same; when both are used and differ, they are
``Todo-Input`` and ``Todo-Output``. A parent whose nested model is split is
split too, since its references differ. Two different models with one name are
``Todo`` and ``Todo2`` (in the order of their first use). A use registered
after names were handed out never renames them: a shape that then differs from
the one already named ``Todo`` gets its suffix alone.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from bocadillo.schemas.protocol import SchemaAdapter, SchemaMode

__all__ = [
    "SCHEMAS_REF",
    "SUFFIXES",
    "ComponentNames",
    "SchemaUse",
    "canonical",
    "component_name",
    "hoisted",
    "rewrite_refs",
]

SCHEMAS_REF = "#/components/schemas/"
DEFS_REF = "#/$defs/"
SUFFIXES: dict[SchemaMode, str] = {"validation": "-Input", "serialization": "-Output"}
_MODES: tuple[SchemaMode, SchemaMode] = ("validation", "serialization")
_OTHER: dict[SchemaMode, SchemaMode] = {
    "validation": "serialization",
    "serialization": "validation",
}
_UNSAFE = re.compile(r"[^a-zA-Z0-9._-]")

# A model, whatever adapter reaches it (its number among the models seen).
ModelKey = int


def component_name(text: str) -> str:
    """``text`` as a component name: each character OpenAPI does not allow in one
    replaced with ``_``."""
    return _UNSAFE.sub("_", text) or "Schema"


def canonical(schema: Any) -> bytes:
    """A schema's bytes with sorted keys: two schemas are the same when these are."""
    return orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)


def _ref_target(ref: Any) -> str | None:
    if isinstance(ref, str) and ref.startswith(DEFS_REF):
        return ref.removeprefix(DEFS_REF)
    return None


def _def_refs(node: Any) -> Iterator[str]:
    """The ``$defs`` names ``node`` references (a discriminator's mapping included)."""
    if isinstance(node, list):
        for item in node:
            yield from _def_refs(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                target = _ref_target(value)
                if target is not None:
                    yield target
            elif key == "mapping" and isinstance(value, dict):
                yield from (t for t in map(_ref_target, value.values()) if t is not None)
            elif key not in ("enum", "const", "default", "examples", "example"):
                yield from _def_refs(value)


def rewrite_refs(node: Any, names: dict[str, str]) -> Any:
    """``node`` with each ``#/$defs/X`` reference pointing at component ``names[X]``."""
    if isinstance(node, list):
        return [rewrite_refs(item, names) for item in node]
    if not isinstance(node, dict):
        return node
    rewritten = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            rewritten[key] = _rewrite_ref(value, names)
        elif key == "mapping" and isinstance(value, dict):  # a discriminator's targets
            rewritten[key] = {k: _rewrite_ref(v, names) for k, v in value.items()}
        else:
            rewritten[key] = rewrite_refs(value, names)
    return rewritten


def _rewrite_ref(ref: Any, names: dict[str, str]) -> Any:
    target = _ref_target(ref)
    if target is None:
        return ref
    return SCHEMAS_REF + names.get(target, target)


def _is_named_object(schema: dict[str, Any]) -> bool:
    """A model-like schema worth a component of its own: an object with a title."""
    return schema.get("type") == "object" and isinstance(schema.get("title"), str)


def hoisted(schema: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """A type's schema split in three: the schema without ``$defs``; its nested
    schemas by name, itself included (under its title) if it is a named object;
    and that title, or None."""
    root = dict(schema)
    defs: dict[str, Any] = dict(root.pop("$defs", {}))
    top = root["title"] if _is_named_object(root) else None
    if top is not None:
        defs[top] = root
    return root, defs, top


def _closure(name: str, defs: dict[str, Any]) -> bytes | None:
    """The canonical bytes of ``defs[name]`` and of every nested schema it reaches."""
    if name not in defs:
        return None
    reached: dict[str, Any] = {}
    stack = [name]
    while stack:
        current = stack.pop()
        if current in reached or current not in defs:
            continue
        reached[current] = defs[current]
        stack.extend(_def_refs(defs[current]))
    return canonical(reached)


@dataclasses.dataclass(slots=True)
class SchemaUse:
    """One type in one mode, as a document shows it: the schema without ``$defs``,
    its nested schemas by ``$defs`` name, each one's model, and the top model."""

    mode: SchemaMode
    root: dict[str, Any]
    defs: dict[str, Any]
    keys: dict[str, ModelKey]
    top: str | None


@dataclasses.dataclass(slots=True)
class _Model:
    name: str  # its name in ``$defs``
    # The canonical bytes of everything it reaches (itself and its nested schemas),
    # in each mode; None where no use has shown it in that mode yet.
    closures: dict[SchemaMode, bytes | None]
    base: str  # its component name, numbered if another model has the same one
    shapes: dict[SchemaMode, Any] = dataclasses.field(default_factory=dict)
    children: dict[SchemaMode, dict[str, ModelKey]] = dataclasses.field(default_factory=dict)


class ComponentNames:
    """Every model a document shows, and the component name of each of its shapes."""

    def __init__(self, taken: Callable[[str], bool]) -> None:
        self._taken_elsewhere = taken  # names the framework's own schemas hold
        self._uses: dict[tuple[SchemaMode, bytes], SchemaUse] = {}
        self._models: dict[ModelKey, _Model] = {}
        self._by_name: dict[str, list[ModelKey]] = {}
        self._bases: set[str] = set()
        self._given: dict[tuple[ModelKey, SchemaMode], str] = {}
        self._pending: list[tuple[ModelKey, SchemaMode]] = []  # shapes not named yet
        # Each adapter's schemas, made once (the adapter is kept, so its id stays its own).
        self._schemas: dict[tuple[int, SchemaMode], tuple[SchemaAdapter, dict[str, Any]]] = {}

    def holds(self, name: str) -> bool:
        """Whether a model's shape has, or may get, the component name ``name``."""
        return name in self._bases

    def register(self, adapter: SchemaAdapter, mode: SchemaMode) -> SchemaUse:
        """Note that a document shows ``adapter``'s type in ``mode`` (no name is
        settled until ``settle``)."""
        schema = self._schema(adapter, mode)
        found = self._uses.get((mode, canonical(schema)))
        if found is not None:
            return found
        root, defs, top = hoisted(schema)
        both = {mode: defs, _OTHER[mode]: hoisted(self._schema(adapter, _OTHER[mode]))[1]}
        closures = {m: {name: _closure(name, both[m]) for name in both[m]} for m in _MODES}
        keys = {
            name: self._model_key(name, {m: closures[m].get(name) for m in _MODES}) for name in defs
        }
        for name, key in keys.items():
            model = self._models[key]
            if mode not in model.shapes:
                self._pending.append((key, mode))
                model.shapes[mode] = defs[name]
                model.children[mode] = {
                    child: keys[child] for child in _def_refs(defs[name]) if child in keys
                }
        use = SchemaUse(mode, root, defs, keys, top)
        self._uses[(mode, canonical(schema))] = use
        return use

    def _schema(self, adapter: SchemaAdapter, mode: SchemaMode) -> dict[str, Any]:
        """``adapter.json_schema(mode)``, made once per adapter (never modified)."""
        cached = self._schemas.get((id(adapter), mode))
        if cached is None:
            cached = self._schemas[(id(adapter), mode)] = (adapter, adapter.json_schema(mode))
        return cached[1]

    def use(self, adapter: SchemaAdapter, mode: SchemaMode) -> tuple[SchemaUse, dict[str, str]]:
        """``adapter``'s type in ``mode``, and the component name of each of its
        nested schemas (registered and settled first if it is new)."""
        use = self.register(adapter, mode)
        self.settle()
        return use, {name: self._given[(key, mode)] for name, key in use.keys.items()}

    def _model_key(self, name: str, closures: dict[SchemaMode, bytes | None]) -> ModelKey:
        """The model named ``name`` that reaches the same schemas in each mode both
        show it in (a model a computed field returns is shown in one mode only), or
        a new one."""
        for key in self._by_name.get(name, []):
            known = self._models[key].closures
            if all(
                known[m] is None or closures[m] is None or known[m] == closures[m] for m in _MODES
            ):
                for m in _MODES:
                    known[m] = known[m] or closures[m]
                return key
        key = len(self._models)
        self._models[key] = _Model(name, dict(closures), self._number(name))
        self._by_name.setdefault(name, []).append(key)
        return key

    def _number(self, name: str) -> str:
        base = _UNSAFE.sub("_", name) or "Schema"
        for n in range(1, 10_000):
            candidate = base if n == 1 else f"{base}{n}"
            variants = [candidate, *(candidate + suffix for suffix in SUFFIXES.values())]
            if not any(v in self._bases or self._taken_elsewhere(v) for v in variants):
                self._bases.update(variants)
                return candidate
        raise ValueError(f"no free component name for {name}")  # pragma: no cover

    def settle(self) -> None:
        """Name every shape registered since the last call.

        A model is split when both its shapes are used and differ once their
        references are renamed; splitting a nested model can split its parents,
        so this repeats until nothing more splits. Names already given stay.
        """
        pending, self._pending = self._pending, []
        if not pending:
            return
        candidates = {key for key, _ in pending if len(self._models[key].shapes) == 2}
        split: set[ModelKey] = set()
        for _ in range(len(candidates) + 2):
            found = {
                key
                for key in candidates
                if self._render(key, "validation", split)
                != self._render(key, "serialization", split)
            }
            if found == split:
                break
            split = found
        for key, mode in pending:
            self._given[(key, mode)] = self._name(key, mode, split)

    def _name(self, key: ModelKey, mode: SchemaMode, split: set[ModelKey]) -> str:
        given = self._given.get((key, mode))
        if given is not None:
            return given
        if key not in split:
            other = self._given.get((key, _OTHER[mode]))
            return other if other is not None else self._models[key].base
        return self._models[key].base + SUFFIXES[mode]

    def _render(self, key: ModelKey, mode: SchemaMode, split: set[ModelKey]) -> bytes:
        model = self._models[key]
        names = {
            child: self._name(child_key, mode, split)
            for child, child_key in model.children[mode].items()
        }
        return canonical(rewrite_refs(model.shapes[mode], names))
