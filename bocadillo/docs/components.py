"""``components/schemas``: every named schema of a document, once; what the OpenAPI
and AsyncAPI documents share of it (the framework's own schemas, the HTTP
operations' schemas named once by ``http_components``, the schema helpers).

Each schema backend gives a type's JSON Schema with its nested schemas under
``$defs``. ``SchemaComponents.add`` hoists them into ``components/schemas``
and rewrites the references. ``component_names`` names what it hoists: the
same schema always gets the same name, and two different schemas never share
one (a pydantic model and a typesystem schema both called ``Todo`` are
``Todo`` and ``Todo2``; a model read and sent in shapes that differ is
``Todo-Input`` and ``Todo-Output``). ``http_components`` plans the names of
every type both documents show before adding the first.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from bocadillo.docs.component_names import (
    SCHEMAS_REF,
    ComponentNames,
    canonical,
    component_name,
    rewrite_refs,
)
from bocadillo.params import ParamSource
from bocadillo.runtime.endpoint import EndpointPlan
from bocadillo.runtime.specs import ParamSpec
from bocadillo.runtime.sse import SSEPlan
from bocadillo.runtime.websockets import WebSocketPlan
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


_CHANNEL_SOURCES = (ParamSource.PATH, ParamSource.QUERY, ParamSource.HEADER)


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


class SchemaComponents:
    """The ``components/schemas`` of one document, filled as operations are built."""

    def __init__(self) -> None:
        self.schemas: dict[str, dict[str, Any]] = {}
        self._canonical: dict[str, bytes] = {}
        self.names = ComponentNames(lambda name: name in self._canonical or name in self.schemas)

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
            taken = name in self._canonical or name in self.schemas or self.names.holds(name)
            if not taken:
                self.reserve(name, schema)
                return name
        raise ValueError(f"no free component name for {base}")  # pragma: no cover

    def plan(self, uses: Iterable[tuple[SchemaAdapter, SchemaMode]]) -> None:
        """Settle the names of every type the documents will show, each in its mode,
        before the first ``add``: a model both read and sent, in shapes that differ,
        is then ``Todo-Input`` and ``Todo-Output`` wherever it appears, whichever use
        comes first (see ``component_names``)."""
        for adapter, mode in uses:
            self.names.register(adapter, mode)
        self.names.settle()

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
            names[name] = self.reserve_first_free(component_name(name), rewrite_refs(sub, names))
        rewritten: dict[str, Any] = rewrite_refs(top, names)
        title = rewritten.get("title")
        if isinstance(title, str) and title:
            name = self.reserve_first_free(component_name(title), rewritten)
            return {"$ref": SCHEMAS_REF + name}
        return rewritten

    def add(self, adapter: SchemaAdapter, mode: SchemaMode) -> dict[str, Any]:
        """The schema to put in a document for ``adapter``'s type in ``mode``
        (``"validation"`` for what is read, ``"serialization"`` for what is sent):
        a ``$ref`` for a named object, else the schema itself, with its nested
        schemas hoisted into ``components/schemas``."""
        use, names = self.names.use(adapter, mode)
        for original, schema in use.defs.items():
            rewritten = rewrite_refs(schema, names)
            self.schemas[names[original]] = rewritten
            self._canonical[names[original]] = canonical(rewritten)
        if use.top is not None:
            return {"$ref": SCHEMAS_REF + names[use.top]}
        root: dict[str, Any] = rewrite_refs(use.root, names)
        return root


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


def _websocket_schemas(plan: WebSocketPlan) -> Iterator[tuple[Any, SchemaMode]]:
    """The types a WebSocket channel shows: its parameters and the messages it
    receives (input) and sends (output)."""
    for spec in plan.params:
        if spec.security is None and spec.source in _CHANNEL_SOURCES:
            yield adapter_for(spec.schema_type), "validation"
    if plan.receives.adapter is not None:
        yield plan.receives.adapter, "validation"
    if plan.sends.adapter is not None:
        yield plan.sends.adapter, "serialization"


def http_components(model: ApiModel) -> SchemaComponents:
    """The schemas of the HTTP and SSE operations, named once, in declaration order.

    Both documents start from these (the AsyncAPI one adds its messages), so a
    type used by both gets the same component name and schema in both: names
    are planned over the WebSocket messages too.
    """
    components = SchemaComponents()
    http = [
        (adapter, mode)
        for route, plan in model.documented_http()
        for adapter, mode in _operation_schemas(route, plan)
    ]
    channels = [
        use for _, plan in model.documented_websockets() for use in _websocket_schemas(plan)
    ]
    # The errors' schema first: a JSON Schema (problem details) keeps its own names
    # whatever the user's types are called; a type is named with the others.
    error_schema = model.error_format.schema()
    if isinstance(error_schema, Mapping):
        components.add_error_schema(error_schema)
        components.plan([*http, *channels])
    else:
        components.plan([(adapter_for(error_schema), "serialization"), *http, *channels])
        components.add_error_schema(error_schema)
    for adapter, mode in http:
        components.add(adapter, mode)
    return components
