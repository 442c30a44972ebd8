"""Hypothesis strategies for the values a JSON Schema describes (used by
``bocadillo.testing`` to generate WebSocket messages from a route's ``In`` type).

Small on purpose: it covers what the schema backends emit, and its callers filter
what it generates with a JSON Schema validator, so a keyword it does not know
narrows nothing but never lets a bad value through.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hypothesis import strategies as st

__all__ = ["from_json_schema", "json_values"]

_MAX_DEPTH = 4
_INT_BOUND = 2**53  # JSON numbers every client reads exactly


def _resolve(ref: str, root: Mapping[str, Any]) -> Any:
    if not ref.startswith("#"):
        raise ValueError(f"only local references are supported, not {ref!r}")
    node: Any = root
    for part in ref[1:].split("/")[1:] if ref != "#" else []:
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def json_values() -> st.SearchStrategy[Any]:
    from hypothesis import strategies as st

    scalars = st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=10)
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=5,
    )


def _string(schema: Mapping[str, Any]) -> st.SearchStrategy[str]:
    from hypothesis import strategies as st

    low: int = schema.get("minLength", 0)
    high: int | None = schema.get("maxLength")
    formats: dict[str, st.SearchStrategy[str]] = {
        "date-time": st.datetimes(timezones=st.just(UTC)).map(
            lambda d: d.isoformat().replace("+00:00", "Z")
        ),
        "date": st.dates().map(lambda d: d.isoformat()),
        "time": st.times().map(lambda t: t.isoformat()),
        "uuid": st.uuids().map(str),
        "email": st.emails(),
        "ipv4": st.ip_addresses(v=4).map(str),
        "ipv6": st.ip_addresses(v=6).map(str),
        "uri": st.from_regex(r"https://example\.com/[a-z0-9]{0,10}", fullmatch=True),
    }
    formats["datetime"] = formats["date-time"]  # typesystem's spelling of the format
    if schema.get("format") in formats:
        strategy = formats[schema["format"]]
    elif "pattern" in schema:
        strategy = st.from_regex(schema["pattern"], fullmatch=True)
    else:
        # Any text UTF-8 can carry (no lone surrogates), short unless asked otherwise.
        alphabet = st.characters(codec="utf-8")
        return st.text(alphabet, min_size=low, max_size=max(low, 20) + 10 if high is None else high)
    return strategy.filter(lambda s: low <= len(s) and (high is None or len(s) <= high))


def _number(schema: Mapping[str, Any], integer: bool) -> st.SearchStrategy[Any]:
    from hypothesis import strategies as st

    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if integer:
        lo = -_INT_BOUND if low is None else math.ceil(low)
        hi = _INT_BOUND if high is None else math.floor(high)
        if "exclusiveMinimum" in schema and lo == schema["exclusiveMinimum"]:
            lo += 1
        if "exclusiveMaximum" in schema and hi == schema["exclusiveMaximum"]:
            hi -= 1
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0:
            return st.integers(math.ceil(lo / step), math.floor(hi / step)).map(lambda k: k * step)
        return st.integers(lo, hi)
    return st.floats(
        min_value=low,
        max_value=high,
        exclude_min="exclusiveMinimum" in schema,
        exclude_max="exclusiveMaximum" in schema,
        allow_nan=False,
        allow_infinity=False,
    )


def _object(
    schema: Mapping[str, Any], root: Mapping[str, Any], depth: int
) -> st.SearchStrategy[dict[str, Any]]:
    from hypothesis import strategies as st

    required = set(schema.get("required", ()))
    properties = schema.get("properties", {})
    fixed: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for name, sub in properties.items():
        strategy = from_json_schema(sub, root, depth + 1)
        if name in required:
            fixed[name] = strategy
        elif not strategy.is_empty:
            optional[name] = strategy
    for name in required - set(properties):
        fixed[name] = json_values()
    return st.fixed_dictionaries(fixed, optional=optional)


def from_json_schema(
    schema: Any, root: Mapping[str, Any] | None = None, depth: int = 0
) -> st.SearchStrategy[Any]:
    """A hypothesis strategy for values a JSON Schema (2020-12) describes.

    It covers what the schema backends produce: ``type``, ``const``, ``enum``,
    ``properties``/``required``, ``items``/``prefixItems``, string and number
    constraints, common ``format`` values, ``anyOf``/``oneOf``/``allOf`` and
    local ``$ref``. Callers filter the values with a JSON Schema validator, so
    a keyword it does not know narrows nothing but never lets a bad value through.
    """
    from hypothesis import strategies as st

    root = schema if root is None else root
    if schema is True or schema == {}:
        return json_values()
    if schema is False or depth > _MAX_DEPTH:
        return st.nothing()
    if "$ref" in schema:
        target = _resolve(schema["$ref"], root)
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return from_json_schema({**target, **rest} if rest else target, root, depth + 1)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            rest = {k: v for k, v in schema.items() if k not in (combinator, "discriminator")}
            return st.one_of(
                [from_json_schema({**rest, **branch}, root, depth) for branch in schema[combinator]]
            )
    if "allOf" in schema:
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            part = _resolve(part["$ref"], root) if "$ref" in part else part
            merged = {**part, **merged}
        return from_json_schema(merged, root, depth)
    types = schema.get("type")
    if types is None:
        if "properties" in schema:
            types = "object"
        elif "items" in schema or "prefixItems" in schema:
            types = "array"
        else:
            return json_values()
    strategies: list[st.SearchStrategy[Any]] = []
    for kind in [types] if isinstance(types, str) else types:
        if kind == "null":
            strategies.append(st.none())
        elif kind == "boolean":
            strategies.append(st.booleans())
        elif kind == "integer":
            strategies.append(_number(schema, integer=True))
        elif kind == "number":
            strategies.append(_number(schema, integer=False) | _number(schema, integer=True))
        elif kind == "string":
            strategies.append(_string(schema))
        elif kind == "object":
            strategies.append(_object(schema, root, depth))
        elif kind == "array":
            low = schema.get("minItems", 0)
            high = schema.get("maxItems", low + 4)
            items = from_json_schema(schema.get("items", True), root, depth + 1)
            prefix = [from_json_schema(s, root, depth + 1) for s in schema.get("prefixItems", ())]
            if items.is_empty:  # "items": false, only the prefix
                tail: st.SearchStrategy[list[Any]] = st.just([])
            else:
                tail = st.lists(
                    items, min_size=max(0, low - len(prefix)), max_size=max(0, high - len(prefix))
                )
            strategies.append(st.tuples(*prefix, tail).map(lambda t: [*t[:-1], *t[-1]]))
    return st.one_of(strategies)
