"""What the generated client needs to know of each operation, read from the
OpenAPI document: its name, method and path, its parameters, its body, what a
success returns and which errors it documents."""

from __future__ import annotations

import dataclasses
import json
import keyword
import re
from typing import Any

from bocadillo.errors import ConfigurationError

__all__ = [
    "ChannelSpec",
    "ErrorSpec",
    "EventSpec",
    "OperationSpec",
    "ParameterSpec",
    "ResultSpec",
    "annotation",
    "identifier",
    "literal",
    "read_channels",
    "read_operations",
]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
JSON_TYPES = {"application/json", "application/problem+json"}
SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "null": "None"}
REF_PREFIX = "#/components/schemas/"


def identifier(text: str) -> str:
    """A snake_case Python name for ``text`` (an operation id, a header's name)."""
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    name = re.sub(r"\W+", "_", name).strip("_").lower() or "value"
    if name[0].isdigit():
        name = "_" + name
    return name + "_" if keyword.iskeyword(name) else name


def literal(value: Any) -> str:
    """``value`` as Python source, strings in double quotes; a list as a tuple."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        items = [literal(item) for item in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    return repr(value)


def model_name(ref: str) -> str:
    if not ref.startswith(REF_PREFIX):
        raise ConfigurationError(f"a client cannot follow the reference {ref!r}")
    return ref.removeprefix(REF_PREFIX)


def annotation(schema: Any) -> str:
    """The Python type a value of ``schema`` is, as source (models as ``models.Name``).

    Constraints are left to the server and the models: a parameter's type is
    its plain type.
    """
    if not isinstance(schema, dict) or not schema:
        return "Any"
    if "$ref" in schema:
        return f"models.{model_name(schema['$ref'])}"
    if "const" in schema:
        return f"Literal[{literal(schema['const'])}]"
    if "enum" in schema:
        return "Literal[" + ", ".join(literal(value) for value in schema["enum"]) + "]"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return union([annotation(option) for option in schema[key]])
    kind = schema.get("type")
    if isinstance(kind, list):
        return union([annotation({**schema, "type": each}) for each in kind])
    if kind == "array":
        return f"list[{annotation(schema.get('items'))}]"
    if kind == "object":
        extra = schema.get("additionalProperties")
        return f"dict[str, {annotation(extra) if isinstance(extra, dict) else 'Any'}]"
    return SCALARS.get(kind, "Any") if isinstance(kind, str) else "Any"


def union(options: list[str]) -> str:
    unique = list(dict.fromkeys(options))
    if "Any" in unique:
        return "Any"
    if "None" in unique:  # None last, as people write it
        unique = [*(option for option in unique if option != "None"), "None"]
    return " | ".join(unique)


@dataclasses.dataclass(frozen=True)
class ParameterSpec:
    """One path, query, header or cookie parameter."""

    name: str  # the Python name
    wire: str  # the name on the wire
    location: str  # "path", "query", "header" or "cookie"
    type: str
    required: bool
    default: Any  # the document's default; ``None`` when there is none
    description: str


@dataclasses.dataclass(frozen=True)
class ResultSpec:
    """What one success status returns: ``type`` is ``"None"`` for no body."""

    status: int
    type: str


@dataclasses.dataclass(frozen=True)
class ErrorSpec:
    """A documented error status and the model of its body."""

    status: int
    model: str  # the schema's name
    description: str


@dataclasses.dataclass(frozen=True)
class EventSpec:
    """One event an event stream sends: its name and its data's type."""

    name: str
    type: str
    json: bool  # the data is JSON of ``type``; else it is the text itself (``str``)


@dataclasses.dataclass(frozen=True)
class OperationSpec:
    name: str
    method: str
    path: str
    summary: str
    description: str
    parameters: tuple[ParameterSpec, ...]
    body_type: str | None
    body_required: bool
    results: tuple[ResultSpec, ...]
    errors: tuple[ErrorSpec, ...]
    events: tuple[EventSpec, ...]  # a text/event-stream answer's events: an SSE route

    @property
    def result_type(self) -> str:
        """What a call returns; for an event stream, what each event is."""
        if self.events:
            return union([event.type for event in self.events])
        return union([result.type for result in self.results]) if self.results else "None"


def read_operations(document: dict[str, Any]) -> list[OperationSpec]:
    """Every operation of the document, in its order; ids must be unique names."""
    operations: list[OperationSpec] = []
    seen: dict[str, str] = {}
    for path, item in document.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in METHODS:
            if method not in item:
                continue
            operation = item[method]
            where = f"{method.upper()} {path}"
            name = identifier(operation.get("operationId") or f"{method}_{path}")
            if name in seen:
                raise ConfigurationError(
                    f"{where} and {seen[name]} would both be the client method {name}(): "
                    "give them different operation ids"
                )
            seen[name] = where
            operations.append(read_operation(name, method, path, operation, shared))
    return operations


def read_operation(
    name: str, method: str, path: str, operation: dict[str, Any], shared: list[Any]
) -> OperationSpec:
    where = f"{method.upper()} {path}"
    parameters = [
        read_parameter(each, where) for each in [*shared, *operation.get("parameters", [])]
    ]
    body_type, body_required = read_body(operation.get("requestBody"), where)
    taken = {"self", "body"}
    for parameter in parameters:
        if parameter.name in taken:
            raise ConfigurationError(
                f"{where}: two parameters would be the argument {parameter.name!r} "
                "(or it is 'body', which the request body takes)"
            )
        taken.add(parameter.name)
    results: list[ResultSpec] = []
    errors: list[ErrorSpec] = []
    events: list[EventSpec] = []
    for status_text, response in operation.get("responses", {}).items():
        if not status_text.isdigit():
            continue  # "default", "4XX": nothing to type a status by
        status = int(status_text)
        content = response.get("content", {})
        if "text/event-stream" in content:
            events.extend(read_events(content["text/event-stream"].get("schema"), where))
            continue
        schema = next((content[kind].get("schema") for kind in content if kind in JSON_TYPES), None)
        if 200 <= status < 300:
            results.append(ResultSpec(status, "None" if not content else annotation(schema)))
        elif isinstance(schema, dict) and "$ref" in schema:
            errors.append(
                ErrorSpec(status, model_name(schema["$ref"]), response.get("description", ""))
            )
    return OperationSpec(
        name=name,
        method=method.upper(),
        path=path,
        summary=operation.get("summary", ""),
        description=operation.get("description", ""),
        parameters=tuple(parameters),
        body_type=body_type,
        body_required=body_required,
        results=tuple(results),
        errors=tuple(errors),
        events=tuple(events),
    )


def read_parameter(parameter: dict[str, Any], where: str) -> ParameterSpec:
    if "$ref" in parameter:
        raise ConfigurationError(f"{where}: a client cannot follow a parameter reference")
    location = parameter["in"]
    schema = parameter.get("schema", {})
    return ParameterSpec(
        name=identifier(parameter["name"]),
        wire=parameter["name"],
        location=location,
        type=annotation(schema),
        required=bool(parameter.get("required", location == "path")),
        default=schema.get("default"),
        description=parameter.get("description", ""),
    )


def read_body(body: dict[str, Any] | None, where: str) -> tuple[str | None, bool]:
    if not body:
        return None, False
    content = body.get("content", {})
    if "application/json" not in content:
        kinds = ", ".join(sorted(content)) or "no content"
        raise ConfigurationError(
            f"{where}: a client sends JSON bodies only, not {kinds} (forms come later)"
        )
    return annotation(content["application/json"].get("schema")), bool(body.get("required"))


def read_events(schema: Any, where: str) -> list[EventSpec]:
    """The events of a stream's schema: ``oneOf`` event objects, each with its
    ``event`` name as a ``const`` and its ``data`` as JSON of a ``contentSchema``."""
    if not isinstance(schema, dict):
        raise ConfigurationError(f"{where}: the event stream has no schema")
    options = schema.get("oneOf", [schema])
    events = []
    for option in options:
        properties = option.get("properties", {}) if isinstance(option, dict) else {}
        name = properties.get("event", {}).get("const", "message")
        data = properties.get("data", {})
        if "contentSchema" in data:
            events.append(EventSpec(str(name), annotation(data["contentSchema"]), json=True))
        else:
            events.append(EventSpec(str(name), "str", json=False))
    return events


@dataclasses.dataclass(frozen=True)
class ChannelSpec:
    """A WebSocket route, from the AsyncAPI document: what the client sends
    (``send``) and receives, each ``json``, ``text`` or ``bytes``, its handshake's
    parameters and its documented close codes."""

    name: str
    path: str
    description: str
    parameters: tuple[ParameterSpec, ...]
    send: str
    send_kind: str
    receive: str
    receive_kind: str
    closes: tuple[tuple[int, str], ...]


def read_channels(document: dict[str, Any]) -> list[ChannelSpec]:
    """The WebSocket channels of an AsyncAPI document (its SSE channels are in
    the OpenAPI document already), in its order."""
    channels = document.get("channels", {})
    payloads: dict[str, dict[str, list[Any]]] = {}
    for operation in document.get("operations", {}).values():
        key = operation.get("channel", {}).get("$ref", "").rpartition("/")[2]
        side = "send" if operation.get("action") == "receive" else "receive"  # the app's view
        for message in operation.get("messages", []):
            found = resolve(document, message.get("$ref", ""))
            payloads.setdefault(key, {}).setdefault(side, []).append(found.get("payload"))
    found_channels = []
    for key, channel in channels.items():
        binding = channel.get("bindings", {}).get("ws")
        if binding is None or "x-sse" in channel:
            continue
        where = f"the WebSocket channel {key!r}"
        parameters = [
            path_parameter(name, each) for name, each in channel.get("parameters", {}).items()
        ]
        for place, location in (("query", "query"), ("headers", "header")):
            schema = binding.get(place, {})
            required = set(schema.get("required", []))
            for name, each in schema.get("properties", {}).items():
                parameters.append(
                    ParameterSpec(
                        name=identifier(name),
                        wire=name,
                        location=location,
                        type=annotation(each),
                        required=name in required,
                        default=each.get("default"),
                        description=each.get("description", ""),
                    )
                )
        sides = payloads.get(key, {})
        send, send_kind = message_type(sides.get("send", []), where)
        receive, receive_kind = message_type(sides.get("receive", []), where)
        closes = tuple(
            (int(code), str(text)) for code, text in channel.get("x-close-codes", {}).items()
        )
        found_channels.append(
            ChannelSpec(
                name=identifier(key),
                path=channel.get("address", "/"),
                description=channel.get("summary", "") or channel.get("description", ""),
                parameters=tuple(parameters),
                send=send,
                send_kind=send_kind,
                receive=receive,
                receive_kind=receive_kind,
                closes=closes,
            )
        )
    return found_channels


def resolve(document: dict[str, Any], ref: str) -> dict[str, Any]:
    """The object a local ``#/a/b`` reference names."""
    found: Any = document
    for part in ref.removeprefix("#/").split("/"):
        found = found.get(part, {}) if isinstance(found, dict) else {}
    return found if isinstance(found, dict) else {}


def path_parameter(name: str, parameter: dict[str, Any]) -> ParameterSpec:
    """A channel's path parameter; its schema is in its description, as
    ``JSON Schema: {...}`` (AsyncAPI 3 parameters have no schema of their own)."""
    description = parameter.get("description", "")
    schema: Any = {}
    if "JSON Schema: " in description:
        try:
            schema = json.loads(description.partition("JSON Schema: ")[2].split("\n")[0])
        except ValueError:
            schema = {}
    return ParameterSpec(
        name=identifier(name),
        wire=name,
        location="path",
        type=annotation(schema) if schema else "str",
        required=True,
        default=None,
        description=description,
    )


def message_type(payloads: list[Any], where: str) -> tuple[str, str]:
    """The type of the messages of one side, and how they are framed."""
    if not payloads:
        raise ConfigurationError(f"{where} documents no message on one side")
    kinds = set()
    for payload in payloads:
        if payload == {"type": "string"}:
            kinds.add("text")
        elif payload == {"type": "string", "format": "binary"}:
            kinds.add("bytes")
        else:
            kinds.add("json")
    if len(kinds) > 1:
        raise ConfigurationError(f"{where} mixes JSON, text and binary messages on one side")
    kind = kinds.pop()
    if kind != "json":
        return ("str" if kind == "text" else "bytes"), kind
    return union([annotation(payload) for payload in payloads]), kind
