"""Comparing two JSON Schemas, knowing which way the data flows.

What the server *accepts* (request bodies, parameters, the messages a WebSocket
receives) may only widen: every value the old schema allowed must still be allowed.
What the server *sends* (responses, the messages it sends, SSE events) may only
narrow: every value the new schema allows must have been allowed by the old one.
The same difference is therefore breaking one way and safe the other.

``$ref`` s are followed (each side within its own document) and a pair of schemas
already being compared is not compared again, so recursive schemas end. ``oneOf`` and
``anyOf`` variants are matched by their discriminator value, then by their ``$ref``
name, then by their type, never by position, so renaming a component or reordering
the variants is no change. A schema that is not a union, against one, stands for the
variant equal to it, else for the only variant of its type.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from bocadillo.diff.changes import Change, Severity

__all__ = ["Flow", "SchemaContext", "compare_schema", "escape", "resolve"]

Schema = Mapping[str, Any]

BREAKING, WARNING, SAFE = Severity.BREAKING, Severity.WARNING, Severity.SAFE

# (keyword, rule name, True for a lower bound)
BOUNDS = (
    ("minimum", "min", True),
    ("exclusiveMinimum", "exclusive-min", True),
    ("minLength", "min-length", True),
    ("minItems", "min-items", True),
    ("minProperties", "min-properties", True),
    ("maximum", "max", False),
    ("exclusiveMaximum", "exclusive-max", False),
    ("maxLength", "max-length", False),
    ("maxItems", "max-items", False),
    ("maxProperties", "max-properties", False),
)


def escape(token: str) -> str:
    """A JSON pointer token (RFC 6901): ``~`` as ``~0``, ``/`` as ``~1``."""
    return token.replace("~", "~0").replace("/", "~1")


def resolve(root: Schema, schema: Any, pointer: str) -> tuple[Schema, str]:
    """The schema a (chain of) ``$ref`` leads to, and its pointer; siblings of ``$ref`` win.

    A reference that leads nowhere (or outside the document) resolves to ``{}``.
    """
    if not isinstance(schema, Mapping):
        return {}, pointer
    hops = 0
    while isinstance(schema.get("$ref"), str) and hops < 64:
        ref: str = schema["$ref"]
        siblings = {key: value for key, value in schema.items() if key != "$ref"}
        target: Any = root
        if not ref.startswith("#"):
            return siblings, pointer
        for token in ref[1:].split("/")[1:]:
            token = token.replace("~1", "/").replace("~0", "~")
            target = target.get(token) if isinstance(target, Mapping) else None
        pointer = ref[1:]
        schema = {**target, **siblings} if isinstance(target, Mapping) else siblings
        hops += 1
    if "allOf" in schema and len(schema["allOf"]) == 1 and "properties" not in schema:
        inner, inner_pointer = resolve(root, schema["allOf"][0], pointer + "/allOf/0")
        merged = {**inner, **{k: v for k, v in schema.items() if k != "allOf"}}
        return merged, inner_pointer
    return schema, pointer


@dataclasses.dataclass
class Flow:
    """Which way data flows, and how rule ids and messages name where it is.

    ``base`` is ``request``, ``response``, ``received-message`` or ``sent-message``;
    ``top`` the rule prefix at the schema's root (``request-parameter``,
    ``request-body``, ``response-body``, ``received-message``...); ``label`` the
    root's name in messages (``query parameter limit``, ``the 200 response body``).
    """

    accepts: bool
    base: str
    top: str
    label: str


@dataclasses.dataclass
class SchemaContext:
    """Both documents, where the comparison is, and the changes found so far."""

    document: str
    where: str
    old_root: Schema
    new_root: Schema
    changes: list[Change]
    seen: set[tuple[str, str, bool]] = dataclasses.field(default_factory=set)

    def emit(self, severity: Severity, rule: str, pointer: str, message: str) -> None:
        self.changes.append(Change(severity, rule, self.document, self.where, pointer, message))


def compare_schema(
    ctx: SchemaContext, flow: Flow, old: Any, new: Any, old_ptr: str, new_ptr: str, path: str = ""
) -> None:
    """Append to ``ctx.changes`` how ``new`` differs from ``old`` for data flowing ``flow``."""
    old_s, old_ptr = resolve(ctx.old_root, old, old_ptr)
    new_s, new_ptr = resolve(ctx.new_root, new, new_ptr)
    key = (old_ptr, new_ptr, flow.accepts)
    if key in ctx.seen:
        return
    ctx.seen.add(key)
    _Compare(ctx, flow, path, old_ptr, new_ptr).run(old_s, new_s)


@dataclasses.dataclass
class _Compare:
    ctx: SchemaContext
    flow: Flow
    path: str
    old_ptr: str
    new_ptr: str

    # -- naming -----------------------------------------------------------------
    def rule(self, what: str) -> str:
        return f"{self.flow.top if not self.path else self.flow.base + '-property'}-{what}"

    def subject(self) -> str:
        return f"{self.flow.label} property {self.path}" if self.path else self.flow.label

    def emit(self, severity: Severity, what: str, message: str, *, removed: bool = False) -> None:
        pointer = self.old_ptr if removed else self.new_ptr
        self.ctx.emit(severity, self.rule(what), pointer, f"{self.subject()}: {message}")

    def verdict(self, narrowed: bool) -> Severity:
        """Breaking if the set of values narrowed on input or widened on output."""
        return BREAKING if narrowed == self.flow.accepts else SAFE

    # -- the comparison ---------------------------------------------------------
    def run(self, old: Schema, new: Schema) -> None:
        old_variants, new_variants = (
            _variants(self.ctx.old_root, old),
            _variants(self.ctx.new_root, new),
        )
        if old_variants is not None or new_variants is not None:
            self.union(old, new, old_variants, new_variants)
            return
        if not self.types(old, new):
            return  # the type changed: the rest would only repeat it
        self.format(old, new)
        self.enum(old, new)
        self.bounds(old, new)
        self.pattern(old, new)
        self.properties(old, new)
        if isinstance(old.get("items"), Mapping) and isinstance(new.get("items"), Mapping):
            self.child(old["items"], new["items"], "/items", "/items", "[]")
        if isinstance(old.get("contentSchema"), Mapping) and isinstance(
            new.get("contentSchema"), Mapping
        ):  # the JSON inside a string: an SSE event's data
            self.child(
                old["contentSchema"], new["contentSchema"], "/contentSchema", "/contentSchema", ""
            )
        old_extra, new_extra = old.get("additionalProperties"), new.get("additionalProperties")
        if isinstance(old_extra, Mapping) and isinstance(new_extra, Mapping):
            self.child(old_extra, new_extra, "/additionalProperties", "/additionalProperties", "{}")

    def child(self, old: Any, new: Any, old_suffix: str, new_suffix: str, step: str) -> None:
        if not step or step.startswith(("[", "{")):
            path = f"{self.path}{step}" if self.path else step
        else:
            path = f"{self.path}.{step}" if self.path else step
        compare_schema(
            self.ctx,
            self.flow,
            old,
            new,
            self.old_ptr + old_suffix,
            self.new_ptr + new_suffix,
            path,
        )

    def union(
        self,
        old: Schema,
        new: Schema,
        old_variants: dict[str, tuple[Any, str]] | None,
        new_variants: dict[str, tuple[Any, str]] | None,
    ) -> None:
        keyword = "oneOf" if "oneOf" in old or "oneOf" in new else "anyOf"
        if old_variants is None:
            old_variants = {_variant_key(self.ctx.old_root, old, None): (old, "")}
        if new_variants is None:
            new_variants = {_variant_key(self.ctx.new_root, new, None): (new, "")}
        name = "one-of" if keyword == "oneOf" else "any-of"
        if len(old_variants) == 1 and "oneOf" not in old and "anyOf" not in old:
            old_variants = self.pair(
                old_variants, new_variants, self.ctx.old_root, self.ctx.new_root
            )
        elif len(new_variants) == 1 and "oneOf" not in new and "anyOf" not in new:
            new_variants = self.pair(
                new_variants, old_variants, self.ctx.new_root, self.ctx.old_root
            )
        for key in old_variants.keys() - new_variants.keys():
            if key == "type:null":
                self.emit(self.verdict(True), "became-not-nullable", "null no longer allowed")
            else:
                shown = key.split(":", 1)[1]
                self.emit(
                    self.verdict(True), f"{name}-removed", f"variant {shown} removed", removed=True
                )
        for key in new_variants.keys() - old_variants.keys():
            if key == "type:null":
                self.emit(self.verdict(False), "became-nullable", "null now allowed")
            else:
                shown = key.split(":", 1)[1]
                self.emit(self.verdict(False), f"{name}-added", f"variant {shown} added")
        for key in old_variants.keys() & new_variants.keys():
            (old_v, old_suffix), (new_v, new_suffix) = old_variants[key], new_variants[key]
            compare_schema(
                self.ctx,
                self.flow,
                old_v,
                new_v,
                self.old_ptr + old_suffix,
                self.new_ptr + new_suffix,
                self.path,
            )

    def pair(
        self,
        plain: dict[str, tuple[Any, str]],
        union: dict[str, tuple[Any, str]],
        plain_root: Schema,
        union_root: Schema,
    ) -> dict[str, tuple[Any, str]]:
        """Key a schema that is not a union as the other side's variant it stands for.

        A plain schema is keyed by its content (its ``$ref`` was followed before the
        comparison got here), a union's variants by their ``$ref`` names: the variant
        equal to it, else the only one of its type, is the one it was or became.
        """
        ((key, (schema, suffix)),) = plain.items()
        if key in union:
            return plain
        resolved, _ = resolve(plain_root, schema, "")
        free = {
            other: resolve(union_root, option, "")[0]
            for other, (option, _) in union.items()
            if other not in plain and other != "type:null"
        }
        equal = [other for other, variant in free.items() if variant == resolved]
        same_type = [
            other for other, variant in free.items() if _types(variant) == _types(resolved)
        ]
        found = equal or same_type
        if len(found) != 1 and not equal:
            return plain
        return {found[0]: (schema, suffix)}

    def types(self, old: Schema, new: Schema) -> bool:
        """Compare the types; False when they changed incompatibly."""
        old_types, new_types = _types(old), _types(new)
        if old_types == new_types:
            return True
        if old_types is None or new_types is None:
            narrowed = old_types is None
        else:
            lost = {t for t in old_types - new_types if not _covered(t, new_types)}
            gained = {t for t in new_types - old_types if not _covered(t, old_types)}
            if lost and gained:
                shown = f"{_show(old_types)} to {_show(new_types)}"
                self.emit(BREAKING, "type-changed", f"type changed from {shown}")
                return False
            narrowed = bool(lost)
        shown = f"{_show(old_types)} to {_show(new_types)}"
        severity = self.verdict(narrowed)
        self.emit(severity, "type-changed", f"type changed from {shown}")
        return severity is SAFE

    def format(self, old: Schema, new: Schema) -> None:
        before, after = old.get("format"), new.get("format")
        if before == after:
            return
        if before is None:
            self.emit(self.verdict(True), "format-added", f"format {after} added")
        elif after is None:
            self.emit(self.verdict(False), "format-removed", f"format {before} removed")
        else:
            self.emit(BREAKING, "format-changed", f"format changed from {before} to {after}")

    def enum(self, old: Schema, new: Schema) -> None:
        before, after = _enum(old), _enum(new)
        if before == after:
            return
        if before is None:
            self.emit(self.verdict(True), "enum-added", f"restricted to {_values(after or [])}")
            return
        if after is None:
            self.emit(self.verdict(False), "enum-removed", "no longer restricted to a list")
            return
        removed = [value for value in before if value not in after]
        added = [value for value in after if value not in before]
        if removed:
            self.emit(
                self.verdict(True),
                "enum-value-removed",
                f"value{'s' * (len(removed) > 1)} {_values(removed)} removed",
            )
        if added:
            self.emit(
                self.verdict(False),
                "enum-value-added",
                f"value{'s' * (len(added) > 1)} {_values(added)} added",
            )

    def bounds(self, old: Schema, new: Schema) -> None:
        for keyword, name, lower in BOUNDS:
            before, after = old.get(keyword), new.get(keyword)
            if (not _number(before) and not _number(after)) or before == after:
                continue
            if not _number(before):
                self.emit(self.verdict(True), f"{name}-set", f"{keyword} {after} set")
            elif not _number(after):
                self.emit(self.verdict(False), f"{name}-unset", f"{keyword} {before} removed")
            else:
                increased = float(after) > float(before)  # type: ignore[arg-type]
                narrowed = increased if lower else not increased
                what = "increased" if increased else "decreased"
                self.emit(
                    self.verdict(narrowed),
                    f"{name}-{what}",
                    f"{keyword} {what} from {before} to {after}",
                )

    def pattern(self, old: Schema, new: Schema) -> None:
        before, after = old.get("pattern"), new.get("pattern")
        if before == after:
            return
        if before is None:
            self.emit(self.verdict(True), "pattern-added", f"pattern {after!r} added")
        elif after is None:
            self.emit(self.verdict(False), "pattern-removed", f"pattern {before!r} removed")
        else:
            # A changed pattern may refuse values the old one took: breaking on input (as
            # oasdiff says), maybe breaking on output (old clients may not check it).
            severity = BREAKING if self.flow.accepts else WARNING
            self.emit(severity, "pattern-changed", f"pattern changed from {before!r} to {after!r}")

    def properties(self, old: Schema, new: Schema) -> None:
        old_props: Mapping[str, Any] = old.get("properties") or {}
        new_props: Mapping[str, Any] = new.get("properties") or {}
        old_required, new_required = set(old.get("required") or ()), set(new.get("required") or ())
        base = self.flow.base
        for name in old_props:
            path = f"{self.path}.{name}" if self.path else name
            pointer = f"/properties/{escape(name)}"
            at = _Compare(self.ctx, self.flow, path, self.old_ptr + pointer, self.new_ptr + pointer)
            if name not in new_props:
                if self.flow.accepts:
                    rule = f"{base}-property-removed"
                    at.emit_rule(WARNING, rule, "removed; clients still sending it", removed=True)
                elif name in old_required:
                    rule = f"{base}-required-property-removed"
                    at.emit_rule(BREAKING, rule, "removed", removed=True)
                else:
                    rule = f"{base}-optional-property-removed"
                    at.emit_rule(WARNING, rule, "removed (it was optional)", removed=True)
                continue
            was, now = name in old_required, name in new_required
            if was != now:
                what = "became-required" if now else "became-optional"
                severity = self.verdict(now)  # required on input narrows; optional widens output
                message = "now required" if now else "no longer required"
                at.emit_rule(severity, f"{base}-property-{what}", message)
            self.child(old_props[name], new_props[name], pointer, pointer, name)
        for name in new_props:
            if name in old_props:
                continue
            path = f"{self.path}.{name}" if self.path else name
            pointer = f"/properties/{escape(name)}"
            at = _Compare(self.ctx, self.flow, path, self.old_ptr + pointer, self.new_ptr + pointer)
            required = name in new_required
            if self.flow.accepts:
                kind = "required" if required else "optional"
                severity = BREAKING if required else SAFE
                at.emit_rule(severity, f"new-{kind}-{base}-property", f"added as {kind}")
            else:
                kind = "required" if required else "optional"
                at.emit_rule(SAFE, f"{base}-{kind}-property-added", f"added ({kind})")

    def emit_rule(
        self, severity: Severity, rule: str, message: str, *, removed: bool = False
    ) -> None:
        pointer = self.old_ptr if removed else self.new_ptr
        self.ctx.emit(severity, rule, pointer, f"{self.subject()}: {message}")


def _variants(root: Schema, schema: Schema) -> dict[str, tuple[Any, str]] | None:
    """A union's variants by key, with each one's pointer suffix; None if not a union."""
    for keyword in ("oneOf", "anyOf"):
        options = schema.get(keyword)
        if isinstance(options, list):
            found: dict[str, tuple[Any, str]] = {}
            for index, option in enumerate(options):
                key = _variant_key(root, option, schema.get("discriminator"))
                found.setdefault(
                    key if key not in found else f"#:{index}", (option, f"/{keyword}/{index}")
                )
            return found
    return None


def _variant_key(root: Schema, option: Any, discriminator: Any) -> str:
    """``value:<discriminator value>``, ``ref:<name>``, ``type:<type>`` or ``#:<json>``."""
    if not isinstance(option, Mapping):
        return f"#:{option!r}"
    name = (
        discriminator.get("propertyName") if isinstance(discriminator, Mapping) else discriminator
    )
    ref = option.get("$ref")
    if isinstance(discriminator, Mapping) and isinstance(ref, str):
        for value, target in (discriminator.get("mapping") or {}).items():
            if target == ref:
                return f"value:{value}"
    resolved, _ = resolve(root, option, "")
    properties: Mapping[str, Any] = resolved.get("properties") or {}
    # The declared discriminator, else the first required property holding a constant
    # (a Literal tag, an SSE event's name): the variant's identity.
    names = [name] if isinstance(name, str) else list(resolved.get("required") or ())
    for candidate in names:
        prop = properties.get(candidate)
        if isinstance(prop, Mapping):
            prop, _ = resolve(root, prop, "")
            values = _enum(prop)
            if values is not None and len(values) == 1:
                return f"value:{values[0]}"
    if isinstance(ref, str):
        return f"ref:{ref.rsplit('/', 1)[-1]}"
    types = _types(resolved)
    if types is not None and len(types) == 1 and not _enum(resolved):
        return f"type:{next(iter(types))}"
    return f"#:{sorted(resolved.items())!r}"


def _types(schema: Schema) -> frozenset[str] | None:
    raw = schema.get("type")
    if raw is None:
        if "properties" in schema:
            raw = "object"
        elif "const" in schema or "enum" in schema:
            return None
        else:
            return None
    types = set(raw) if isinstance(raw, list) else {raw}
    if schema.get("nullable") is True:
        types.add("null")
    return frozenset(str(t) for t in types)


def _covered(kind: str, others: frozenset[str]) -> bool:
    return kind == "integer" and "number" in others


def _show(types: frozenset[str] | None) -> str:
    return "any" if types is None else " | ".join(sorted(types))


def _enum(schema: Schema) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    values = schema.get("enum")
    return list(values) if isinstance(values, list) else None


def _values(values: list[Any]) -> str:
    return ", ".join(repr(value) for value in values)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
