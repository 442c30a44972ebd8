"""``components/schemas``: every named schema of a document, once; what the OpenAPI
and AsyncAPI documents share of it (the framework's own schemas, the HTTP
operations' schemas named once by ``http_components``, the schema helpers).

Each schema backend gives a type's JSON Schema with its nested schemas under
``$defs``. ``SchemaComponents.add`` hoists them into ``components/schemas``,
rewrites the references, and names what it hoists so that the same schema
always gets the same name, and two different schemas never share one (a
pydantic model and a typesystem schema both called ``Todo``, or a model whose
input and output shapes differ).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from bocadillo.runtime.endpoint import EndpointPlan
from bocadillo.runtime.specs import ParamSpec
from bocadillo.runtime.sse import SSEPlan
from bocadillo.schemas.protocol import SchemaAdapter, SchemaMode
from bocadillo.schemas.registry import adapter_for

if TYPE_CHECKING:
    from bocadillo.docs.model import ApiModel
    from bocadillo.routing.router import RouteDef

__all__ = [
    "SCHEMAS_REF",
    "SchemaComponents",
    "canonical",
    "documented_params",
    "http_components",
    "referenced_components",
    "with_default",
    "without_null",
]

SCHEMAS_REF = "#/components/schemas/"  # the start of a reference to a component schema
_UNSAFE = re.compile(r"[^a-zA-Z0-9._-]")
_SUFFIX = {"validation": "Input", "serialization": "Output"}
_OTHER = {"validation": "Output", "serialization": "Input"}


def canonical(schema: Any) -> bytes:
    """A schema's bytes with sorted keys: two schemas are the same when these are."""
    return orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)


def referenced_components(node: Any) -> Iterator[str]:
    """The name of every component schema ``node`` references, depth first (data
    such as ``enum`` or ``examples`` is not searched)."""
    if isinstance(node, list):
        for item in node:
            yield from referenced_components(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(SCHEMAS_REF):
                yield value.removeprefix(SCHEMAS_REF)
            elif key not in ("enum", "const", "default", "examples", "example"):
                yield from referenced_components(value)


def without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``X | None`` as a parameter: a query string or header cannot carry a null;
    leaving the parameter out is how a client sends None."""
    options = schema.get("anyOf")
    if isinstance(options, list):
        kept = [option for option in options if option != {"type": "null"}]
        if len(kept) == 1 and len(kept) < len(options):
            rest = {k: v for k, v in schema.items() if k != "anyOf"}
            return {**kept[0], **rest}
    return schema


def with_default(schema: dict[str, Any], spec: ParamSpec) -> dict[str, Any]:
    """``schema`` with the parameter's default, dumped as its type dumps it (JSON
    mode). None of an optional parameter is "left out", not a value to show; a
    default that its type does not accept, or cannot dump, is left out too."""
    if spec.required or spec.default is None:
        return schema
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            adapter = adapter_for(spec.schema_type)
            value = orjson.loads(adapter.dump_json(adapter.validate_python(spec.default)))
    except Exception:  # not a value of its type, or not JSON: say nothing
        return schema
    return {**schema, "default": value}


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
        return SCHEMAS_REF + names.get(target, target)
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
        self._canonical[name] = canonical(schema)

    def reserve_first_free(self, base: str, schema: dict[str, Any]) -> str:
        """The name of one of the framework's own schemas: ``base`` if free or already
        holding it, else the first free ``base2``, ``base3``... (reserved for it)."""
        content = canonical(schema)
        for name in [base, *(f"{base}{n}" for n in range(2, 1000))]:
            if self._canonical.get(name) == content:
                return name
            if name not in self._canonical and name not in self.schemas:
                self.reserve(name, schema)
                return name
        raise ValueError(f"no free component name for {base}")  # pragma: no cover

    def add_error_schema(self, schema: Any) -> dict[str, Any]:
        """The schema to put in a document for an error format's ``schema()`` (or
        ``message_schema()``): a type is added like any other; a JSON Schema dict's
        ``$defs``, then the dict itself if it has a ``title``, become the framework's
        own components (``reserve_first_free``), its references rewritten."""
        if not isinstance(schema, Mapping):
            return self.add(adapter_for(schema), "serialization")
        top = dict(schema)
        defs: dict[str, Any] = top.pop("$defs", {})
        names: dict[str, str] = {}
        for name, sub in defs.items():
            names[name] = self.reserve_first_free(
                _UNSAFE.sub("_", name) or "Schema", _rewrite(sub, names)
            )
        rewritten: dict[str, Any] = _rewrite(top, names)
        title = rewritten.get("title")
        if isinstance(title, str) and title:
            name = self.reserve_first_free(_UNSAFE.sub("_", title), rewritten)
            return {"$ref": SCHEMAS_REF + name}
        return rewritten

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
            return {"$ref": SCHEMAS_REF + names[top_name]}
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
                content = canonical(_rewrite(schema, names))
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
            self._canonical[names[original]] = canonical(_rewrite(schema, names))
        return names


def documented_params(plan: EndpointPlan) -> Iterator[ParamSpec]:
    """The parameters an operation lists: not credentials (its security requirement
    says those), nor those hidden with ``include_in_schema=False``."""
    for spec in plan.params:
        if spec.security is not None:
            continue
        if spec.marker is not None and not spec.marker.include_in_schema:
            continue
        yield spec


def _operation_schemas(route: RouteDef, plan: EndpointPlan) -> Iterator[tuple[Any, SchemaMode]]:
    """The types an HTTP operation shows, in the order its OpenAPI operation shows
    them: parameters, body or form, the success response, declared responses."""
    seen: set[tuple[str, str]] = set()
    for spec in documented_params(plan):
        if (spec.source.value, spec.key) not in seen:  # listed once, as the first reader has it
            seen.add((spec.source.value, spec.key))
            yield adapter_for(spec.schema_type), "validation"
    if plan.body is not None:
        yield plan.body.adapter, "validation"
    elif plan.form is not None:
        for field in plan.form.fields:
            if field.file is None:
                yield adapter_for(field.schema_type), "validation"
        if plan.form.model is not None:
            yield adapter_for(plan.form.model.annotation), "validation"
    if isinstance(plan, SSEPlan):
        for kind in plan.kinds:
            if kind.adapter is not None:
                yield kind.adapter, "serialization"
    elif plan.response.kind == "typed":
        yield plan.response.adapter, "serialization"
    for value in [*route.shared_responses.values(), *route.responses.values()]:
        if isinstance(value, dict) and value.get("model") is not None:
            yield adapter_for(value["model"]), "serialization"


def http_components(model: ApiModel) -> SchemaComponents:
    """The schemas of the HTTP and SSE operations, named once, in declaration order.

    Both documents start from these (the AsyncAPI one adds its messages), so a
    type used by both gets the same component name and schema in both.
    """
    components = SchemaComponents()
    components.add_error_schema(model.error_format.schema())  # the errors' schema first
    for route, plan in model.documented_http():
        for adapter, mode in _operation_schemas(route, plan):
            components.add(adapter, mode)
    return components
