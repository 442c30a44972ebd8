"""The OpenAPI document (3.1, or 3.2 on request), built from the compiled handler plans.

Everything comes from what the app already knows: each route's plan says its
parameters (the handler's and its providers'), body, success response and
the errors its providers declare; the framework adds the errors it answers
itself (400, 404, 413, 415, 422, 500) wherever they can happen, so every
status the app can give is documented, and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

import orjson
import yaml
from starlette.responses import RedirectResponse, Response

from bocadillo.docs.components import (
    documented_params,
    http_components,
    with_default,
    without_null,
)
from bocadillo.docs.model import ApiModel
from bocadillo.docs.text import docstring_parts, humanize
from bocadillo.errors import ConfigurationError, status_phrase
from bocadillo.params import ParamSource
from bocadillo.routing.router import RouteDef
from bocadillo.routing.table import path_template
from bocadillo.runtime.endpoint import EndpointPlan
from bocadillo.runtime.responses import FileResponse
from bocadillo.runtime.sse import EventKind, SSEPlan
from bocadillo.schemas.registry import adapter_for

__all__ = ["build_openapi", "render_openapi"]

OPENAPI_VERSION = "3.1.0"

# What the framework itself answers, and when.
_INVALID_INPUT = "The parameters or the body did not validate."
_MALFORMED_BODY = "The body is not valid JSON, is not UTF-8, or its Content-Length is not a number."
_TOO_LARGE = "The body is larger than the limit."
_MEDIA_TYPE = "The body was not sent as application/json."
_MALFORMED_FORM = "The form body is malformed, or its Content-Length is not a number."
_FORM_TOO_LARGE = "The body, a field or a file is larger than its limit, or too many were sent."
_FORM_MEDIA_TYPE = "The body was not sent as a form."
_NO_ROUTE = "No route matches the path (a path parameter held a slash, for one)."
_SERVER_ERROR = "An unexpected error; it was logged on the server."
_NO_FILE = "The file was not found."
_BAD_RANGE = "The Range header is malformed."
_NO_RANGE = "The file cannot satisfy the Range header."


def _operation_id_base(route: RouteDef) -> str:
    if route.operation_id:
        return route.operation_id
    if route.view_class is not None:
        return f"{route.view_class.__name__}_{route.method.lower()}"
    name = getattr(route.endpoint, "__name__", "operation")
    return re.sub(r"[^a-zA-Z0-9_.-]", "_", name)


def event_schema(kind: EventKind, data_schema: dict[str, Any] | None) -> dict[str, Any]:
    """One server-sent event as a JSON object (``event``, ``data``, ``id``, ``retry``):
    ``data`` is a string, holding JSON of ``data_schema`` (``None``: plain text)."""
    data: dict[str, Any] = {"type": "string"}
    if data_schema is not None:
        data["contentMediaType"] = "application/json"
        data["contentSchema"] = data_schema
    return {
        "title": f"{kind.name} event",
        "type": "object",
        "properties": {
            "event": {"type": "string", "const": kind.name},
            "data": data,
            "id": {"type": "string"},
            "retry": {"type": "integer", "minimum": 0},
        },
        "required": ["event", "data"],
    }


class _DocumentBuilder:
    def __init__(self, model: ApiModel, version: str) -> None:
        self.model = model
        self.version = version
        self.components = http_components(model)
        # Every error response: the app's error format's media type and schema.
        self.error_media_type = model.error_format.media_type
        self.error_schema = self.components.add_error_schema(model.error_format.schema())
        self.operation_ids: set[str] = set()
        self.explicit_ids: set[str] = set()
        self.security_schemes: dict[str, dict[str, Any]] = {}

    def build(self) -> dict[str, Any]:
        model = self.model
        info: dict[str, Any] = {"title": model.title, "version": model.version}
        if model.description:
            info["description"] = model.description
        document: dict[str, Any] = {"openapi": self.version, "info": info}
        if model.servers:
            document["servers"] = [dict(server) for server in model.servers]
        paths: dict[str, dict[str, Any]] = {}
        tags: list[str] = []
        routes = model.documented_http()
        for route, _ in routes:
            if route.operation_id:
                if route.operation_id in self.explicit_ids:
                    raise ConfigurationError(f"two routes have operation_id={route.operation_id!r}")
                self.explicit_ids.add(route.operation_id)
        for route, plan in routes:
            operation = self.operation(route, plan)
            # OpenAPI templates name the parameter alone: /files/{rest}, not {rest:path}.
            paths.setdefault(path_template(route.path), {})[route.method.lower()] = operation
            tags.extend(t for t in route.tags if t not in tags)
        document["paths"] = paths
        if tags:
            document["tags"] = [{"name": tag} for tag in tags]
        components: dict[str, Any] = {"schemas": dict(sorted(self.components.schemas.items()))}
        if self.security_schemes:
            components["securitySchemes"] = dict(sorted(self.security_schemes.items()))
        document["components"] = components
        return document

    def error(self, description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
        """An error response, in the app's error format."""
        response: dict[str, Any] = {
            "description": description,
            "content": {self.error_media_type: {"schema": self.error_schema}},
        }
        if headers:
            response["headers"] = headers
        return response

    def operation_id(self, route: RouteDef) -> str:
        if route.operation_id:
            self.operation_ids.add(route.operation_id)
            return route.operation_id
        base = _operation_id_base(route)
        candidates = [base, f"{base}_{route.method.lower()}"]
        candidates += [f"{base}_{n}" for n in range(2, 1000)]
        taken = self.operation_ids | self.explicit_ids
        chosen = next(c for c in candidates if c not in taken)
        self.operation_ids.add(chosen)
        return chosen

    def operation(self, route: RouteDef, plan: EndpointPlan) -> dict[str, Any]:
        doc_summary, doc_description = docstring_parts(route.endpoint)
        operation: dict[str, Any] = {}
        if route.tags:
            operation["tags"] = list(route.tags)
        if route.view_class is not None:
            fallback = f"{route.method.capitalize()} {humanize(route.view_class.__name__).lower()}"
        else:
            fallback = humanize(getattr(route.endpoint, "__name__", ""))
        operation["summary"] = route.summary or doc_summary or fallback
        description = route.description or doc_description
        if description:
            operation["description"] = description
        operation["operationId"] = self.operation_id(route)
        parameters = list(self.parameters(plan))
        if parameters:
            operation["parameters"] = parameters
        if plan.body is not None:
            operation["requestBody"] = self.request_body(plan)
        elif plan.form is not None:
            operation["requestBody"] = self.form_body(plan)
        security = self.security(plan)
        if security:
            operation["security"] = security
        takes_input = any(spec.security is None for spec in plan.params)
        operation["responses"] = self.responses(route, plan, takes_input=takes_input)
        if security:
            challenges = [
                spec.security.challenge for spec in plan.params if spec.security is not None
            ]
            operation["responses"].setdefault(
                "401",
                self.error(
                    "Missing or malformed credentials.",
                    {"WWW-Authenticate": {"schema": {"type": "string"}, "example": challenges[0]}},
                ),
            )
            operation["responses"] = dict(
                sorted(operation["responses"].items(), key=lambda item: item[0])
            )
        if route.deprecated:
            operation["deprecated"] = True
        return operation

    def security(self, plan: EndpointPlan) -> list[dict[str, list[str]]]:
        """The operation's security requirement: every scheme it reads (all needed),
        or also none at all when every credential is optional."""
        schemes = [spec for spec in plan.params if spec.security is not None]
        if not schemes:
            return []
        requirement: dict[str, list[str]] = {}
        for spec in schemes:
            scheme = spec.security
            assert scheme is not None
            name = scheme.scheme_name
            definition = scheme.openapi()
            known = self.security_schemes.get(name)
            if known is not None and known != definition:
                raise ConfigurationError(
                    f"two different security schemes are named {name!r} ({known} and "
                    f"{definition}); give one a scheme_name of its own"
                )
            self.security_schemes[name] = definition
            requirement[name] = []
        required: dict[str, list[str]] = {
            spec.security.scheme_name: [] for spec in schemes if spec.required and spec.security
        }
        if len(required) < len(requirement):
            # Optional credentials: with them, or with only the required ones.
            return [requirement, required]
        return [requirement]

    def parameters(self, plan: EndpointPlan) -> Iterable[dict[str, Any]]:
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        for spec in documented_params(plan):
            marker = spec.marker
            where = spec.source.value
            known = seen.get((where, spec.key))
            if known is not None:
                # A handler and a provider read the same value: required if either needs it.
                known["required"] = known["required"] or spec.required
                continue
            parameter: dict[str, Any] = {
                "name": spec.key,
                "in": where,
                "required": spec.required or spec.source is ParamSource.PATH,
                "schema": with_default(
                    without_null(self.components.add(adapter_for(spec.schema_type), "validation")),
                    spec,
                ),
            }
            if marker is not None:
                if marker.description:
                    parameter["description"] = marker.description
                if marker.deprecated:
                    parameter["deprecated"] = True
                if marker.examples:
                    parameter["examples"] = {
                        f"example{n}": {"value": value}
                        for n, value in enumerate(marker.examples, start=1)
                    }
            seen[(where, spec.key)] = parameter
        yield from seen.values()

    def request_body(self, plan: EndpointPlan) -> dict[str, Any]:
        body = plan.body
        assert body is not None
        media: dict[str, Any] = {"schema": self.components.add(body.adapter, "validation")}
        if body.marker is not None and body.marker.examples:
            media["examples"] = {
                f"example{n}": {"value": value}
                for n, value in enumerate(body.marker.examples, start=1)
            }
        request_body: dict[str, Any] = {
            "required": body.required,
            "content": {"application/json": media},
        }
        if body.marker is not None and body.marker.description:
            request_body["description"] = body.marker.description
        return request_body

    def form_body(self, plan: EndpointPlan) -> dict[str, Any]:
        """A form's fields as an object: ``multipart/form-data`` when it takes files
        (each file a string of ``contentMediaType: application/octet-stream``),
        else ``application/x-www-form-urlencoded``."""
        form = plan.form
        assert form is not None
        properties: dict[str, Any] = {}
        required: list[str] = []
        for field in form.fields:
            if field.file is not None:
                schema: dict[str, Any] = {
                    "type": "string",
                    "contentMediaType": "application/octet-stream",
                }
                if field.sequence:
                    schema = {"type": "array", "items": schema}
            else:
                schema = without_null(
                    self.components.add(adapter_for(field.schema_type), "validation")
                )
            if field.description:
                schema = {**schema, "description": field.description}
            properties[field.key] = schema
            if field.required:
                required.append(field.key)
        fields: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            fields["required"] = required
        if form.model is not None:
            model = self.components.add(adapter_for(form.model.annotation), "validation")
            schema = {"allOf": [model, fields]} if properties else model
        else:
            schema = fields
        media_type = (
            "multipart/form-data" if form.has_files else "application/x-www-form-urlencoded"
        )
        return {"required": form.required, "content": {media_type: {"schema": schema}}}

    def event_stream(self, plan: SSEPlan) -> dict[str, Any]:
        """The ``text/event-stream`` response of an SSE route: each event as an object.

        OpenAPI 3.2 says it with ``itemSchema`` (one event), ``schema`` covering the
        whole stream; 3.1 has no ``itemSchema``, and tools read its ``schema`` as one
        event.
        """
        events = [
            event_schema(
                kind,
                None
                if kind.adapter is None
                else self.components.add(kind.adapter, "serialization"),
            )
            for kind in plan.kinds
        ]
        item = events[0] if len(events) == 1 else {"oneOf": events}
        media: dict[str, Any]
        if self.version.startswith("3.1."):
            media = {"schema": item}
        else:
            media = {"itemSchema": item, "schema": {"type": "array", "items": item}}
        names = ", ".join(kind.name for kind in plan.kinds)
        response: dict[str, Any] = {
            "description": f"A stream of server-sent events: {names}.",
            "content": {"text/event-stream": media},
        }
        if plan.headers:  # the route's headers=, sent with every stream
            response["headers"] = {
                name: {"required": True, "schema": {"type": "string", "const": value}}
                for name, value in plan.headers.items()
            }
        return response

    def success(self, plan: EndpointPlan) -> dict[str, Any]:
        if isinstance(plan, SSEPlan):
            return self.event_stream(plan)
        spec = plan.response
        response: dict[str, Any] = {"description": status_phrase(spec.status_code)}
        if spec.kind == "typed":
            assert spec.adapter is not None
            typed = self.components.add(spec.adapter, "serialization")
            response["content"] = {"application/json": {"schema": typed}}
        elif spec.kind == "untyped":
            annotation = spec.annotation
            media_type = "application/json"
            schema: dict[str, Any] = {}
            if isinstance(annotation, type) and issubclass(annotation, RedirectResponse):
                response["headers"] = {"Location": {"schema": {"type": "string"}}}
                return response
            if isinstance(annotation, type) and issubclass(annotation, Response):
                media_type = annotation.media_type or "application/octet-stream"
                if media_type.startswith("text/"):
                    schema = {"type": "string"}
            response["content"] = {media_type: {"schema": schema}}
        return response

    def responses(
        self, route: RouteDef, plan: EndpointPlan, *, takes_input: bool
    ) -> dict[str, Any]:
        success = plan.response.status_code
        responses: dict[int | str, dict[str, Any]] = {success: self.success(plan)}
        # The app's and routers' shared responses, then the statuses the handler and
        # its providers raise, then the route's own responses: the nearer wins.
        self.add_declared(responses, route.shared_responses, success)
        declared: dict[int, str] = {**plan.providers.raises, **route.raises}
        for code, text in declared.items():
            responses[code] = self.error(text)
        self.add_declared(responses, route.responses, success)
        framework: dict[int, str] = {500: _SERVER_ERROR}
        if takes_input or plan.body is not None or plan.form is not None:
            framework[422] = _INVALID_INPUT
        if plan.body is not None:
            framework[400] = _MALFORMED_BODY
            framework[413] = _TOO_LARGE
            framework[415] = _MEDIA_TYPE
        elif plan.form is not None:
            framework[400] = _MALFORMED_FORM
            framework[413] = _FORM_TOO_LARGE
            framework[415] = _FORM_MEDIA_TYPE
        if "{" in route.path:
            framework[404] = _NO_ROUTE
        file = plan.response.annotation
        if isinstance(file, type) and issubclass(file, FileResponse):  # -> FileResponse
            framework[404] = f"{framework[404]} Or: {_NO_FILE}" if 404 in framework else _NO_FILE
            framework.setdefault(400, _BAD_RANGE)
            framework[416] = _NO_RANGE
        for status, text in framework.items():
            if status not in responses:
                responses[status] = self.error(text)
            elif self.error_media_type in responses[status].get("content", {}):
                own = responses[status]["description"].rstrip().rstrip(".")
                responses[status]["description"] = f"{own}. Or: {text[0].lower()}{text[1:]}"
        return {str(status): responses[status] for status in sorted(responses, key=str)}

    def add_declared(
        self,
        responses: dict[int | str, dict[str, Any]],
        declared: Mapping[Any, Any],
        success: int,
    ) -> None:
        """Add ``responses=`` entries (a route's, or shared by its app and routers)."""
        for key, value in declared.items():
            status = int(key) if str(key).isdigit() else str(key)  # "default", "4XX"
            if status == success and isinstance(value, str):
                responses[status] = {**responses[status], "description": value}  # keep content
            else:
                responses[status] = self.custom_response(status, value)

    def custom_response(self, status: int | str, value: Any) -> dict[str, Any]:
        """``responses={404: "No such todo"}`` or ``{200: {"description": ..., "model": T}}``."""
        error = not isinstance(status, int) or status >= 400
        if isinstance(value, str):
            return self.error(value) if error else {"description": value}
        if not isinstance(value, dict):
            raise TypeError(f"responses[{status}] must be a description or a dict")
        response: dict[str, Any] = {
            "description": value.get("description")
            or (_phrase(status) if isinstance(status, int) else "Response"),
        }
        model = value.get("model")
        if model is not None:
            schema = self.components.add(adapter_for(model), "serialization")
            media_type = value.get("media_type", "application/json")
            response["content"] = {media_type: {"schema": schema}}
        elif error:
            response["content"] = {self.error_media_type: {"schema": self.error_schema}}
        if "headers" in value:
            response["headers"] = value["headers"]
        return response


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Response"


def render_openapi(document: dict[str, Any], *, as_yaml: bool = False) -> bytes:
    """The document's bytes, as ``/openapi.json`` (or ``/openapi.yaml``) serves them."""
    if as_yaml:
        return yaml.safe_dump(document, sort_keys=False, allow_unicode=True).encode()
    return orjson.dumps(document, option=orjson.OPT_INDENT_2)


def build_openapi(model: ApiModel, version: str | None = None) -> dict[str, Any]:
    """The API's OpenAPI document, as a dict: of ``version`` if given, else of the
    model's ``openapi_version`` (3.1.x or 3.2.x)."""
    return _DocumentBuilder(model, version or model.openapi_version).build()
