"""The generated package's modules, as text: its errors, one definition of each
operation, and the async and blocking clients that call them."""

from __future__ import annotations

import re
from pathlib import Path

from bocadillo.client.spec import (
    ChannelSpec,
    OperationSpec,
    ParameterSpec,
    identifier,
    literal,
)

__all__ = [
    "HTTP_MODULE",
    "WS_MODULE",
    "error_class",
    "render_client",
    "render_errors",
    "render_init",
    "render_operations",
]

HTTP_MODULE = (Path(__file__).parent / "templates" / "http.py.txt").read_text()
WS_MODULE = (Path(__file__).parent / "templates" / "ws.py.txt").read_text()
INDENT = "    "


def docstring(text: str, indent: str) -> str:
    """A docstring of ``text`` at ``indent``."""
    text = text.strip().replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines = [line.rstrip() for line in text.splitlines()] or [""]
    if len(lines) == 1:
        return f'{indent}"""{lines[0]}"""\n'
    body = "\n".join(f"{indent}{line}" if line else "" for line in lines[1:])
    return f'{indent}"""{lines[0]}\n{body}\n{indent}"""\n'


def error_class(model: str) -> str:
    """The exception raised for a documented error whose body is ``model``."""
    return model if model.endswith("Error") else f"{model}Error"


def uses(source: str, name: str) -> bool:
    return re.search(rf"\b{name}\b", source) is not None


def imports(source: str, names: dict[str, str]) -> str:
    """``from M import N`` for each ``N`` (in ``names``, as ``N: M``) the source uses."""
    wanted: dict[str, list[str]] = {}
    for name, module in names.items():
        if uses(source, name):
            wanted.setdefault(module, []).append(name)
    return "".join(
        f"from {module} import {', '.join(sorted(found))}\n"
        for module, found in sorted(wanted.items())
    )


def error_names(error_models: list[str], closes: dict[int, str]) -> list[str]:
    """The names ``errors.py`` exports."""
    names = ["ApiError", "ClientError", "UndocumentedResponse", *map(error_class, error_models)]
    if closes:
        names += ["ClosedError", "HandshakeRefused", "UndocumentedClose", "UndocumentedMessage"]
        names += [f"Closed{code}" for code in closes]
    return sorted(names)


def render_close_errors(closes: dict[int, str]) -> str:
    """The WebSocket errors: a close (one class per documented code), a refused
    handshake, a message the document does not describe."""
    if not closes:
        return ""
    classes = "".join(
        f"\n\nclass Closed{code}(ClosedError):\n"
        + docstring(f"Close code {code}: {text}", INDENT)
        + f"\n{INDENT}description = {literal(text)}\n"
        for code, text in sorted(closes.items())
    )
    return (
        """

class ClosedError(Exception):
    \"\"\"A WebSocket connection closed: ``code`` and ``reason``, and ``operation``
    the method's name. Each close code the document lists has its subclass.\"\"\"

    description = ""

    def __init__(self, operation: str, code: int, reason: str) -> None:
        said = f" ({reason})" if reason else ""
        meaning = f": {self.description}" if self.description else ""
        super().__init__(f"{operation}: closed with {code}{said}{meaning}")
        self.operation = operation
        self.code = code
        self.reason = reason


class UndocumentedClose(ClosedError):
    \"\"\"A close code the document does not list for the route.\"\"\"


class HandshakeRefused(Exception):
    \"\"\"The server answered the WebSocket handshake with an HTTP ``status``
    (``body``, a problem as JSON where the server could send one).\"\"\"

    def __init__(self, operation: str, status: int, body: bytes) -> None:
        super().__init__(f"{operation}: handshake refused with {status}: {body[:200]!r}")
        self.operation = operation
        self.status = status
        self.body = body


class UndocumentedMessage(Exception):
    \"\"\"A message that matches none of the route's documented types.\"\"\"

    def __init__(self, operation: str, data: str, reason: str) -> None:
        super().__init__(f"{operation}: undocumented message {data!r}: {reason}")
        self.operation = operation
        self.data = data
        self.reason = reason
"""
        + classes
    )


def render_errors(error_models: list[str], closes: dict[int, str]) -> str:
    classes = "".join(
        f'''

class {error_class(model)}(ApiError):
    """A documented error answer whose body is a ``{model}``, in ``body``."""

    def __init__(
        self, operation: str, response: httpx.Response, body: models.{model}
    ) -> None:
        summary = f"{{operation}}: {{response.status_code}} {{body.model_dump_json()}}"
        super().__init__(operation, response, summary)
        self.body = body

    @classmethod
    def parse(cls, operation: str, response: httpx.Response) -> {error_class(model)}:
        return cls(operation, response, models.{model}.model_validate_json(response.content))
'''
        for model in error_models
    )
    return f'''"""The errors a call raises. Generated by ``bocadillo client``: do not edit."""

from __future__ import annotations

import httpx
{"" if not error_models else chr(10) + "from . import models" + chr(10)}
__all__ = [{", ".join(f'"{name}"' for name in error_names(error_models, closes))}]


class ClientError(Exception):
    """An answer a call does not return: the base of the errors below.

    ``operation`` is the method's name, ``response`` the ``httpx.Response``,
    ``status`` its status code.
    """

    def __init__(self, operation: str, response: httpx.Response, message: str) -> None:
        super().__init__(message)
        self.operation = operation
        self.response = response
        self.status = response.status_code


class UndocumentedResponse(ClientError):
    """An answer the API's document does not describe for the operation: a status it
    does not list, or a body that does not match its schema."""

    def __init__(self, operation: str, response: httpx.Response, reason: str) -> None:
        try:
            text = response.text[:200]
        except httpx.ResponseNotRead:  # an event stream's, read as it comes
            text = ""
        super().__init__(
            operation,
            response,
            f"{{operation}}: undocumented response {{response.status_code}} ({{reason}}): "
            f"{{text!r}}",
        )
        self.reason = reason


class ApiError(ClientError):
    """A documented error answer; each error body's model has its subclass."""
{classes}''' + render_close_errors(closes)


def signature(operation: OperationSpec) -> list[str]:
    """The arguments: path parameters and a required body positional, the rest keyword-only."""
    positional = [f"{p.name}: {p.type}" for p in operation.parameters if p.location == "path"]
    keyword: list[str] = []
    if operation.body_type is not None:
        if operation.body_required:
            positional.append(f"body: {operation.body_type}")
        else:
            keyword.append(f"body: {operation.body_type} | None = None")
    for parameter in operation.parameters:
        if parameter.location != "path":
            keyword.append(argument(parameter))
    return [*positional, *(["*", *keyword] if keyword else [])]


def argument(parameter: ParameterSpec) -> str:
    kind = parameter.type
    if kind.startswith("list["):  # any sequence will do, and () is a safe default
        kind = "Sequence[" + kind.removeprefix("list[")
    if parameter.required:
        return f"{parameter.name}: {kind}"
    if parameter.default is None:
        optional = kind if kind == "Any" or kind.endswith("| None") else f"{kind} | None"
        return f"{parameter.name}: {optional} = None"
    return f"{parameter.name}: {kind} = {literal(parameter.default)}"


def pairs(operation: OperationSpec, location: str) -> list[str]:
    return [
        f"({literal(p.wire)}, {p.name})" for p in operation.parameters if p.location == location
    ]


def adapter_name(kind: str) -> str:
    return identifier(kind.replace("models.", "")).upper()


def def_line(indent: str, prefix: str, name: str, arguments: list[str], returns: str) -> str:
    one = f"{indent}{prefix}{name}({', '.join(arguments)}) -> {returns}:\n"
    if len(one) <= 100:
        return one
    inner = "".join(f"{indent}{INDENT}{each},\n" for each in arguments)
    return f"{indent}{prefix}{name}(\n{inner}{indent}) -> {returns}:\n"


def operation_doc(operation: OperationSpec) -> str:
    parts = [part for part in (operation.summary, operation.description) if part]
    text = "\n\n".join(parts) or f"{operation.method} {operation.path}"
    raises = "; ".join(
        f"``{name}`` ({', '.join(str(status) for status in statuses)})"
        for name, statuses in errors_by_class(operation).items()
    )
    if operation.events:
        text += (
            "\n\nYields each event's data as it comes, until the server ends the stream;\n"
            "after a dropped connection it reconnects with ``Last-Event-ID``."
        )
    return text + (f"\n\nRaises {raises}." if raises else "")


def errors_by_class(operation: OperationSpec) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for error in operation.errors:
        found.setdefault(error_class(error.model), []).append(error.status)
    return found


def wrapped(indent: str, head: str, items: list[str], tail: str = "") -> str:
    """``head(items...)tail`` on one line when it fits, else an item a line."""
    one = f"{indent}{head}({', '.join(items)}){tail}\n"
    if len(one) <= 88 or not items:
        return one
    inner = "".join(f"{indent}{INDENT}{item},\n" for item in items)
    return f"{indent}{head}(\n{inner}{indent}){tail}\n"


def import_line(module: str, names: list[str]) -> str:
    """``from module import names``, one name a line when it is too long (as isort)."""
    one = f"from {module} import {', '.join(names)}\n"
    if len(one) <= 88:
        return one
    return f"from {module} import (\n" + "".join(f"{INDENT}{name},\n" for name in names) + ")\n"


def errors_map(operation: OperationSpec) -> str:
    parts = [
        f"dict.fromkeys({literal(statuses)}, errors.{name}.parse)"
        for name, statuses in errors_by_class(operation).items()
    ]
    if not parts:
        return "{}"
    return parts[0] if len(parts) == 1 else "{" + ", ".join(f"**{part}" for part in parts) + "}"


def channel_signature(channel: ChannelSpec) -> list[str]:
    """Path parameters positional, the query's and headers' keyword-only."""
    positional = [f"{p.name}: {p.type}" for p in channel.parameters if p.location == "path"]
    keyword = [argument(p) for p in channel.parameters if p.location != "path"]
    return [*positional, *(["*", *keyword] if keyword else [])]


def channel_types(channel: ChannelSpec) -> str:
    return f"{channel.send}, {channel.receive}"


def channel_doc(channel: ChannelSpec, *, blocking: bool = False) -> str:
    codes = ", ".join(f"``Closed{code}``" for code, _ in channel.closes)
    text = channel.description or f"The WebSocket at {channel.path}."
    way = "" if blocking else "async "
    text += (
        f"\n\nA typed connection, to use with ``{way}with``: ``send`` a message,\n"
        f"``{way}for`` the messages the server sends."
    )
    return text + (f"\n\nA close raises its ``ClosedError``: {codes}." if codes else "")


def render_channel(channel: ChannelSpec, adapters: dict[str, str]) -> str:
    send = adapters[channel.send] if channel.send_kind == "json" else "None"
    receive = adapters[channel.receive] if channel.receive_kind == "json" else "None"
    closes = ", ".join(f"{code}: errors.Closed{code}" for code, _ in channel.closes)
    return (
        "\n\n"
        + def_line(
            "",
            "def ",
            channel.name,
            channel_signature(channel),
            f"Channel[{channel_types(channel)}]",
        )
        + docstring(channel_doc(channel), INDENT)
        + f"{INDENT}return Channel(\n"
        + f"{INDENT * 2}operation={literal(channel.name)},\n"
        + wrapped(
            INDENT * 2,
            "path=path",
            [literal(channel.path), *(pairs_of(channel.parameters, "path"))],
            ",",
        )
        + wrapped(INDENT * 2, "query=query", pairs_of(channel.parameters, "query"), ",")
        + wrapped(INDENT * 2, "headers=fields", pairs_of(channel.parameters, "header"), ",")
        + f"{INDENT * 2}send={send},\n"
        + f"{INDENT * 2}receive={receive},\n"
        + f"{INDENT * 2}closes={{{closes}}},\n"
        + f"{INDENT})\n"
    )


def pairs_of(parameters: tuple[ParameterSpec, ...], location: str) -> list[str]:
    return [f"({literal(p.wire)}, {p.name})" for p in parameters if p.location == location]


def render_operations(operations: list[OperationSpec], channels: list[ChannelSpec]) -> str:
    adapters: dict[str, str] = {}
    for channel in channels:
        for message, framing in (
            (channel.send, channel.send_kind),
            (channel.receive, channel.receive_kind),
        ):
            if framing == "json" and message not in adapters:
                adapters[message] = adapter_name(message)
    for operation in operations:
        kinds = [
            operation.body_type,
            *(result.type for result in operation.results),
            *(event.type for event in operation.events if event.json),
        ]
        for kind in kinds:
            if kind is not None and kind != "None" and kind not in adapters:
                adapters[kind] = adapter_name(kind)
    functions = []
    for operation in operations:
        results = ", ".join(
            f"{r.status}: "
            + ("no_content" if r.type == "None" else f"json_result({adapters[r.type]})")
            for r in operation.results
        )
        if operation.body_type is None:
            body = "None"
        elif operation.body_required:
            body = f"dump({adapters[operation.body_type]}, body)"
        else:
            body = f"None if body is None else dump({adapters[operation.body_type]}, body)"
        kind = "Stream" if operation.events else "Call"
        if operation.events:
            readers = ", ".join(
                f"{literal(e.name)}: "
                + (f"{adapters[e.type]}.validate_json" if e.json else "text_event")
                for e in operation.events
            )
            outcome = f"{INDENT * 2}events={{{readers}}},\n"
        else:
            outcome = f"{INDENT * 2}results={{{results}}},\n"
        functions.append(
            "\n\n"
            + def_line(
                "", "def ", operation.name, signature(operation), f"{kind}[{operation.result_type}]"
            )
            + docstring(operation_doc(operation), INDENT)
            + f"{INDENT}return {kind}(\n"
            + f"{INDENT * 2}operation={literal(operation.name)},\n"
            + f"{INDENT * 2}method={literal(operation.method)},\n"
            + wrapped(
                INDENT * 2, "path=path", [literal(operation.path), *pairs(operation, "path")], ","
            )
            + wrapped(INDENT * 2, "query=query", pairs(operation, "query"), ",")
            + wrapped(INDENT * 2, "headers=fields", pairs(operation, "header"), ",")
            + wrapped(INDENT * 2, "cookies=fields", pairs(operation, "cookie"), ",")
            + f"{INDENT * 2}body={body},\n"
            + outcome
            + f"{INDENT * 2}errors={errors_map(operation)},\n"
            + f"{INDENT})\n"
        )
    functions += [render_channel(channel, adapters) for channel in channels]
    constants = "".join(
        f"{name}: TypeAdapter[{kind}] = TypeAdapter({kind})\n" for kind, name in adapters.items()
    )
    code = (constants and "\n" + constants) + "".join(functions)
    head = imports(code, {"Any": "typing", "Literal": "typing", "Sequence": "collections.abc"})
    uses_models = uses(code, "models")
    uses_errors = uses(code, "errors")
    local = ", ".join(
        name for name, used in (("errors", uses_errors), ("models", uses_models)) if used
    )
    helpers = ", ".join(
        name
        for name in (
            "Call",
            "Stream",
            "dump",
            "fields",
            "json_result",
            "no_content",
            "path",
            "query",
            "text_event",
        )
        if uses(code, name)
    )
    return (
        '"""One definition of each operation: the request it makes and how its answer\n'
        'is read; both clients call these. Generated by ``bocadillo client``: do not edit."""\n\n'
        "from __future__ import annotations\n\n"
        + (head + "\n" if head else "")
        + ("from pydantic import TypeAdapter\n\n" if adapters else "")
        + (f"from . import {local}\n" if local else "")
        + (f"from ._http import {helpers}\n" if helpers else "")
        + ("from ._ws import Channel\n" if channels else "")
        + code
    )


def render_client(operations: list[OperationSpec], channels: list[ChannelSpec], title: str) -> str:
    methods: dict[str, list[str]] = {"async": [], "sync": []}
    for channel in channels:
        arguments = channel_signature(channel)
        passed = ", ".join(
            f"{name}={name}" for name in (each.split(":")[0] for each in arguments if each != "*")
        )
        methods["async"].append(
            "\n"
            + def_line(
                INDENT,
                "def ",
                channel.name,
                ["self", *arguments],
                f"Connection[{channel_types(channel)}]",
            )
            + docstring(channel_doc(channel), INDENT * 2)
            + f"{INDENT * 2}channel = operations.{channel.name}({passed})\n"
            + f"{INDENT * 2}url = channel.url(self.http.base_url)\n"
            + f"{INDENT * 2}return Connection(channel, url, self.headers)\n"
        )
        methods["sync"].append(
            "\n"
            + def_line(
                INDENT,
                "def ",
                channel.name,
                ["self", *arguments],
                f"SyncConnection[{channel_types(channel)}]",
            )
            + docstring(channel_doc(channel, blocking=True), INDENT * 2)
            + f"{INDENT * 2}channel = operations.{channel.name}({passed})\n"
            + f"{INDENT * 2}url = channel.url(self.http.base_url)\n"
            + f"{INDENT * 2}return SyncConnection(channel, url, self.headers)\n"
        )
    for operation in operations:
        arguments = signature(operation)
        passed = ", ".join(
            f"{name}={name}" for name in (each.split(":")[0] for each in arguments if each != "*")
        )
        doc = docstring(operation_doc(operation), INDENT * 2)
        call = f"operations.{operation.name}({passed})"
        result = operation.result_type
        if operation.events:  # an iterator of the events, not a coroutine
            methods["async"].append(
                "\n"
                + def_line(
                    INDENT, "def ", operation.name, ["self", *arguments], f"AsyncIterator[{result}]"
                )
                + doc
                + f"{INDENT * 2}return self.stream({call})\n"
            )
            methods["sync"].append(
                "\n"
                + def_line(
                    INDENT, "def ", operation.name, ["self", *arguments], f"Iterator[{result}]"
                )
                + doc
                + f"{INDENT * 2}return self.stream({call})\n"
            )
            continue
        methods["async"].append(
            "\n"
            + def_line(INDENT, "async def ", operation.name, ["self", *arguments], result)
            + doc
            + f"{INDENT * 2}return await self.send({call})\n"
        )
        methods["sync"].append(
            "\n"
            + def_line(INDENT, "def ", operation.name, ["self", *arguments], result)
            + doc
            + f"{INDENT * 2}return self.send({call})\n"
        )
    code = (
        "\n\nclass AsyncClient(BaseAsyncClient):\n"
        + docstring(
            f"The {title} API, async: ``async with AsyncClient(base_url) as api: ...``.", INDENT
        )
        + "".join(methods["async"])
        + "\n\nclass Client(BaseClient):\n"
        + docstring(f"The {title} API, blocking: ``with Client(base_url) as api: ...``.", INDENT)
        + "".join(methods["sync"])
    )
    head = imports(
        code,
        {
            "Any": "typing",
            "AsyncIterator": "collections.abc",
            "Iterator": "collections.abc",
            "Literal": "typing",
            "Sequence": "collections.abc",
        },
    )
    local = ", ".join(name for name in ("models", "operations") if uses(code, name))
    return (
        '"""The async and the blocking client: one method per operation, each calling the\n'
        'one definition in ``operations``. Generated by ``bocadillo client``: do not edit."""\n\n'
        "from __future__ import annotations\n\n"
        + (head + "\n" if head else "")
        + (f"from . import {local}\n" if local else "")
        + "from ._http import BaseAsyncClient, BaseClient\n"
        + ("from ._ws import Connection, SyncConnection\n" if channels else "")
        + "\n"
        + '__all__ = ["AsyncClient", "Client"]\n'
        + code
    )


def render_init(title: str, version: str, error_models: list[str], closes: dict[int, str]) -> str:
    names = sorted(["AsyncClient", "Client", "models", *error_names(error_models, closes)])
    return (
        f'"""A client of the {title} API ({version}), generated by ``bocadillo client`` from\n'
        'its OpenAPI document: do not edit, generate it again."""\n\n'
        "from . import models\n"
        "from .client import AsyncClient, Client\n"
        + import_line(".errors", error_names(error_models, closes))
        + "\n"
        "__all__ = [\n" + "".join(f'    "{name}",\n' for name in names) + "]\n"
    )
