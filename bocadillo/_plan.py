"""The compiled plan of one HTTP handler, and the request path through it.

A plan is made once, at start-up, by ``_signature.compile_endpoint``. Serving a
request runs it: extract the declared inputs, validate all scalar parameters
in one pass and the body straight from bytes, call the handler, dump the
result to bytes, send. Nothing here inspects a signature or a type.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Callable
from typing import Any, NotRequired
from urllib.parse import unquote_plus

from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import cookie_parser
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send
from typing_extensions import TypedDict

from ._body import BodyLimitedReceive, is_json_media_type, parse_content_length, read_body
from ._errors import HTTPError, RequestValidationError
from ._params import Param, ParamSource
from ._requests import Request
from ._schemas import MalformedInput, SchemaAdapter, SchemaValidationError, dump_untyped

__all__ = ["BodySpec", "EndpointPlan", "ParamSpec", "ResponseSpec", "ResponseValidationError"]

_JSON_HEADER = (b"content-type", b"application/json")


class ResponseValidationError(Exception):
    """A handler returned a value that does not match its declared return type.

    This is a bug in the app, answered with a 500 and logged with the errors.
    """

    def __init__(self, handler: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(
            f"{handler} returned a value that does not match its return type: {errors}"
        )
        self.errors = errors


class ResponseAlreadyStarted(Exception):
    """An error raised after the response's first bytes went out; it cannot be answered."""


@dataclasses.dataclass(slots=True)
class ParamSpec:
    """One scalar (or list-of-scalars) parameter of a handler."""

    name: str  # the handler's argument name
    source: ParamSource
    key: str  # the name on the wire: placeholder, query key, header name, cookie name
    annotation: Any  # the type validated, constraints included
    required: bool
    default: Any
    sequence: bool
    marker: Param | None


@dataclasses.dataclass(slots=True)
class BodySpec:
    name: str
    annotation: Any
    adapter: SchemaAdapter
    required: bool
    default: Any
    marker: Param | None


@dataclasses.dataclass(slots=True)
class ResponseSpec:
    """How a handler's result becomes a response.

    ``kind`` is ``"typed"`` (dumped by the schema adapter of ``annotation``),
    ``"untyped"`` (dumped with orjson), or ``"empty"`` (``-> None``: no body).
    A returned ``Response`` object is always sent as it is.
    """

    kind: str
    status_code: int
    annotation: Any
    adapter: SchemaAdapter | None


def _loc(spec: ParamSpec) -> list[Any]:
    return [spec.source.value, spec.key]


class EndpointPlan:
    """Everything needed to serve one handler, decided at start-up."""

    def __init__(
        self,
        *,
        endpoint: Callable[..., Any],
        name: str,
        location: str,
        is_async: bool,
        view_class: type | None,
        params: list[ParamSpec],
        body: BodySpec | None,
        request_arg: str | None,
        response: ResponseSpec,
        max_body_size: int,
    ) -> None:
        self.endpoint = endpoint
        self.name = name
        self.location = location
        self.is_async = is_async
        self.view_class = view_class
        self.params = params
        self.body = body
        self.request_arg = request_arg
        self.response = response
        self.max_body_size = max_body_size

        by_source: dict[ParamSource, list[ParamSpec]] = {s: [] for s in ParamSource}
        for spec in params:
            by_source[spec.source].append(spec)
        self._path = [(s.name, s.key) for s in by_source[ParamSource.PATH]]
        self._query = {s.key: s for s in by_source[ParamSource.QUERY]}
        self._headers = {s.key.lower().encode("latin-1"): s for s in by_source[ParamSource.HEADER]}
        self._cookies = {s.key: s for s in by_source[ParamSource.COOKIE]}
        self._defaults = {s.name: s.default for s in params if not s.required}
        # A mutable default (`tags: list[str] = Query([])`) is copied per request,
        # so a handler that changes it cannot change the next request's default.
        self._mutable_defaults = [
            (name, value)
            for name, value in self._defaults.items()
            if isinstance(value, list | dict | set | bytearray)
        ]
        self._locs = {s.name: _loc(s) for s in params}
        self._validator = _params_validator(params) if params else None
        self._needs_headers = bool(self._headers or self._cookies or body is not None)
        self._status = response.status_code
        self._empty = response.kind == "empty"
        self._dump: Callable[[Any], bytes] | None = None
        if response.kind == "typed":
            assert response.adapter is not None
            self._dump = response.adapter.dump_json
        elif response.kind == "untyped":
            self._dump = dump_untyped

    def __repr__(self) -> str:
        return f"<EndpointPlan {self.name}>"

    # -- the request path ------------------------------------------------

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, path_params: dict[str, str] | None
    ) -> None:
        kwargs = await self._arguments(scope, receive, path_params)
        endpoint = self.endpoint
        if self.view_class is not None:
            endpoint = functools.partial(endpoint, self.view_class())
        if self.is_async:
            result = await endpoint(**kwargs)
        else:
            result = await run_in_threadpool(endpoint, **kwargs)
        if isinstance(result, Response):
            await _send_response_object(result, scope, receive, send)
            return
        if self._empty:
            await send({"type": "http.response.start", "status": self._status, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        assert self._dump is not None
        try:
            body = self._dump(result)
        except SchemaValidationError as exc:
            raise ResponseValidationError(self.name, exc.errors) from None
        await send(
            {
                "type": "http.response.start",
                "status": self._status,
                "headers": [_JSON_HEADER, (b"content-length", b"%d" % len(body))],
            }
        )
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )

    async def _arguments(
        self, scope: Scope, receive: Receive, path_params: dict[str, str] | None
    ) -> dict[str, Any]:
        raw: dict[str, Any] = {}
        if path_params is not None:
            for name, key in self._path:
                raw[name] = path_params[key]
        if self._query:
            query_string: bytes = scope["query_string"]
            if query_string:
                self._read_query(query_string, raw)
        content_type = content_length = None
        if self._needs_headers:
            content_type, content_length = self._read_headers(scope["headers"], raw)

        errors: list[dict[str, Any]] = []
        if self._validator is None:
            kwargs: dict[str, Any] = {}
        else:
            try:
                kwargs = self._validator(raw)
            except ValidationError as exc:
                kwargs = {}
                errors = self._param_errors(exc)
            if self._defaults:
                kwargs = {**self._defaults, **kwargs}
                for name, value in self._mutable_defaults:
                    if kwargs[name] is value:
                        kwargs[name] = copy.deepcopy(value)

        body: bytes | None = None
        if self.body is not None:
            body = await self._read_body(receive, content_type, content_length, kwargs, errors)
        if errors:
            raise RequestValidationError(errors)
        if self.request_arg is not None:
            scope["path_params"] = path_params or {}
            request = Request(scope, BodyLimitedReceive(receive, self.max_body_size))
            if body is not None:
                request._body = body
            kwargs[self.request_arg] = request
        return kwargs

    def _read_query(self, query_string: bytes, raw: dict[str, Any]) -> None:
        specs = self._query
        for key, value in parse_query(query_string):
            spec = specs.get(key)
            if spec is None:
                continue
            if spec.sequence:
                raw.setdefault(spec.name, []).append(value)
            else:
                raw[spec.name] = value

    def _read_headers(
        self, headers: list[tuple[bytes, bytes]], raw: dict[str, Any]
    ) -> tuple[bytes | None, bytes | None]:
        content_type = content_length = None
        cookie_headers: list[str] = []
        wanted = self._headers
        for name, value in headers:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                content_length = value
            elif name == b"cookie":
                cookie_headers.append(value.decode("latin-1"))
            spec = wanted.get(name)
            if spec is not None:
                text = value.decode("latin-1")
                if spec.sequence:
                    raw.setdefault(spec.name, []).append(text)
                elif spec.name not in raw:
                    raw[spec.name] = text
        if self._cookies and cookie_headers:
            cookies = cookie_parser("; ".join(cookie_headers))
            for key, spec in self._cookies.items():
                if key in cookies:
                    raw[spec.name] = cookies[key]
        return content_type, content_length

    def _param_errors(self, exc: ValidationError) -> list[dict[str, Any]]:
        errors = []
        for err in exc.errors(include_url=False, include_input=False, include_context=False):
            name, *rest = err["loc"]
            errors.append(
                {"loc": [*self._locs[str(name)], *rest], "msg": err["msg"], "type": err["type"]}
            )
        return errors

    async def _read_body(
        self,
        receive: Receive,
        content_type: bytes | None,
        content_length: bytes | None,
        kwargs: dict[str, Any],
        errors: list[dict[str, Any]],
    ) -> bytes:
        spec = self.body
        assert spec is not None
        body = await read_body(receive, self.max_body_size, parse_content_length(content_length))
        if not body:
            if spec.required:
                errors.append({"loc": ["body"], "msg": "Field required", "type": "missing"})
            else:
                kwargs[spec.name] = spec.default
            return body
        if not is_json_media_type(content_type):
            raise HTTPError(
                415,
                detail="The request body must be JSON, sent with Content-Type: application/json.",
            )
        try:
            kwargs[spec.name] = spec.adapter.validate_json(body)
        except MalformedInput as exc:
            raise RequestValidationError(
                [{"loc": ["body"], "msg": str(exc), "type": "json_invalid"}],
                status_code=400,
                detail="The request body is not valid JSON.",
            ) from None
        except SchemaValidationError as exc:
            errors.extend({**err, "loc": ["body", *err["loc"]]} for err in exc.errors)
        return body


def parse_query(query_string: bytes) -> list[tuple[str, str]]:
    """Split a query string into (key, value) pairs, blank values kept.

    Like ``urllib.parse.parse_qsl`` (UTF-8, invalid bytes replaced) at a quarter
    of its cost: only parts with ``%`` or ``+`` are unquoted. Raw non-ASCII
    bytes, which clients should not send, are read as UTF-8 too.
    """
    pairs = []
    for part in query_string.decode("utf-8", "replace").split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        if "%" in part or "+" in part:
            key = unquote_plus(key)
            value = unquote_plus(value)
        pairs.append((key, value))
    return pairs


def _params_validator(params: list[ParamSpec]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """One validator for all of a route's scalar parameters: a TypedDict over them."""
    fields: dict[str, Any] = {
        spec.name: spec.annotation if spec.required else NotRequired[spec.annotation]
        for spec in params
    }
    make_typed_dict: Any = TypedDict  # called with computed fields, which mypy cannot follow
    adapter: TypeAdapter[dict[str, Any]] = TypeAdapter(make_typed_dict("Params", fields))
    return adapter.validate_python


async def _send_response_object(
    response: Response, scope: Scope, receive: Receive, send: Send
) -> None:
    """Send a ``Response`` the handler built, noting whether it began."""
    if type(response).__call__ is Response.__call__ and response.background is None:
        # A rendered body with nothing after it: an error can only come before
        # the first message, so there is nothing to track.
        await response(scope, receive, send)
        return
    started = False

    async def tracked_send(message: Message) -> None:
        nonlocal started
        if message["type"] == "http.response.start":
            started = True
        await send(message)

    try:
        await response(scope, receive, tracked_send)
    except Exception as exc:
        if started:
            raise ResponseAlreadyStarted() from exc
        raise
