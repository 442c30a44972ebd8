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
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NotRequired
from urllib.parse import unquote_plus

from pydantic import ConfigDict, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import cookie_parser
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send
from typing_extensions import TypedDict

from bocadillo.errors import HTTPError, RequestValidationError
from bocadillo.params import Param, ParamSource
from bocadillo.providers import solve, teardown
from bocadillo.runtime.body import (
    BodyLimitedReceive,
    is_json_media_type,
    parse_content_length,
    read_body,
)
from bocadillo.runtime.requests import Request
from bocadillo.schemas.registry import (
    MalformedInput,
    SchemaAdapter,
    SchemaValidationError,
    dump_untyped,
)
from bocadillo.security import SecurityScheme

if TYPE_CHECKING:
    from bocadillo.compile.providers import RouteProviders

__all__ = [
    "BodySpec",
    "EndpointPlan",
    "ParamSpec",
    "ParameterReader",
    "ResponseSpec",
    "ResponseValidationError",
]

logger = logging.getLogger("bocadillo")

_JSON_HEADER = (b"content-type", b"application/json")

# The config of the parameters' (and form fields') one-pass validator.
FINITE_NUMBERS = ConfigDict(allow_inf_nan=False)


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

    name: str  # the argument name in the handler (or provider)
    field: str  # unique within the route: the key in the single validation pass
    source: ParamSource
    key: str  # the name on the wire: placeholder, query key, header name, cookie name
    annotation: Any  # the type validated, constraints included
    schema_type: Any  # the type whose JSON Schema documents the parameter
    required: bool
    default: Any
    sequence: bool
    marker: Param | None
    security: SecurityScheme | None = None  # a credential, checked apart (401, not 422)


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


def _by_key(params: list[ParamSpec], source: ParamSource) -> dict[str, tuple[ParamSpec, ...]]:
    """Wire name -> the parameters read from it (a handler and a provider may share one)."""
    found: dict[str, tuple[ParamSpec, ...]] = {}
    for spec in params:
        if spec.source is source:
            found[spec.key] = (*found.get(spec.key, ()), spec)
    return found


class ParameterReader:
    """Reads and validates a route's path, query, header and cookie parameters and
    credentials (the handler's and its providers'), for HTTP and WebSocket plans."""

    def __init__(self, params: list[ParamSpec]) -> None:
        self.params = params  # the handler's and its providers' request data
        self._path = [(s.field, s.key) for s in params if s.source is ParamSource.PATH]
        self._query = _by_key(params, ParamSource.QUERY)
        self._headers = {
            k.encode("latin-1"): v for k, v in _by_key(params, ParamSource.HEADER).items()
        }
        self._cookies = _by_key(params, ParamSource.COOKIE)
        # Credentials are read like other parameters but checked on their own:
        # a missing one is a 401, before anything else is validated.
        self._security = [s for s in params if s.security is not None]
        validated = [s for s in params if s.security is None]
        self._defaults = {s.field: s.default for s in validated if not s.required}
        # A mutable default (`tags: list[str] = Query([])`) is copied per request,
        # so a handler that changes it cannot change the next request's default.
        self._mutable_defaults = [
            (field, value)
            for field, value in self._defaults.items()
            if isinstance(value, list | dict | set | bytearray)
        ]
        self._locs = {s.field: _loc(s) for s in validated}
        self._validator = _params_validator(validated) if validated else None
        # No parameter of any kind: the arguments are an empty dict.
        self._no_parameters = not params

    def _raw(
        self, scope: Scope, path_params: dict[str, str] | None, raw: dict[str, Any]
    ) -> list[str] | None:
        """Fill ``raw`` from the path and the query string; return repeated single keys."""
        if path_params is not None:
            for field, key in self._path:
                raw[field] = path_params[key]
        if self._query:
            query_string: bytes = scope["query_string"]
            if query_string:
                return self._read_query(query_string, raw)
        return None

    def _validate(
        self, raw: dict[str, Any], repeated: list[str] | None
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """All parameters validated in one pass, defaults filled: (values, errors)."""
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
                for field, value in self._mutable_defaults:
                    if kwargs[field] is value:
                        kwargs[field] = copy.deepcopy(value)
        if repeated:
            errors.extend(
                {
                    "loc": ["query", key],
                    "msg": "Expected one value, got several.",
                    "type": "repeated",
                }
                for key in dict.fromkeys(repeated)
            )
        return kwargs, errors

    def read_parameters(self, scope: Scope, path_params: dict[str, str] | None) -> dict[str, Any]:
        """The validated values keyed by field, or the 401/422 to answer with."""
        raw: dict[str, Any] = {}
        repeated = self._raw(scope, path_params, raw)
        self._read_headers(scope["headers"], raw)
        credentials = self._credentials(raw) if self._security else None
        kwargs, errors = self._validate(raw, repeated)
        if errors:
            raise RequestValidationError(errors)
        if credentials:
            kwargs.update(credentials)
        return kwargs

    def _credentials(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Each credential the route declares, or the 401 for the first one missing."""
        found = {}
        for spec in self._security:
            assert spec.security is not None
            value = raw.pop(spec.field, None)
            if value is None and not spec.required:
                found[spec.field] = spec.default
            else:
                found[spec.field] = spec.security.credential(value, required=spec.required)
        return found

    def _read_query(self, query_string: bytes, raw: dict[str, Any]) -> list[str] | None:
        """Fill ``raw`` from the query string; return the keys of single values sent twice."""
        wanted = self._query
        repeated = None
        # parse_query's split, inlined: no list of pairs is built.
        for part in query_string.decode("utf-8", "replace").split("&"):
            if not part:
                continue
            key, _, value = part.partition("=")
            if "%" in part or "+" in part:
                key = unquote_plus(key)
                value = unquote_plus(value)
            specs = wanted.get(key)
            if specs is None:
                continue
            for spec in specs:
                if spec.sequence:
                    raw.setdefault(spec.field, []).append(value)
                elif spec.field in raw:
                    if repeated is None:
                        repeated = []
                    repeated.append(key)
                else:
                    raw[spec.field] = value
        return repeated

    def _read_headers(
        self, headers: list[tuple[bytes, bytes]], raw: dict[str, Any]
    ) -> tuple[bytes | None, bytes | None]:
        content_type = content_length = None
        wanted = self._headers
        if not wanted and not self._cookies:
            # Only the body's two headers matter (a body route with no header parameters).
            for name, value in headers:
                if name == b"content-type":
                    content_type = value
                elif name == b"content-length":
                    content_length = value
            return content_type, content_length
        cookie_headers: list[str] = []
        for name, value in headers:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                content_length = value
            elif name == b"cookie":
                cookie_headers.append(value.decode("latin-1"))
            specs = wanted.get(name)
            if specs is not None:
                text = value.decode("latin-1")
                for spec in specs:
                    if spec.sequence:
                        raw.setdefault(spec.field, []).append(text)
                    elif spec.field not in raw:
                        raw[spec.field] = text
        if self._cookies and cookie_headers:
            cookies = cookie_parser("; ".join(cookie_headers))
            for key, specs in self._cookies.items():
                if key in cookies:
                    for spec in specs:
                        raw[spec.field] = cookies[key]
        return content_type, content_length

    def _param_errors(self, exc: ValidationError) -> list[dict[str, Any]]:
        errors = []
        for err in exc.errors(include_url=False, include_input=False, include_context=False):
            field, *rest = err["loc"]
            errors.append(
                {"loc": [*self._locs[str(field)], *rest], "msg": err["msg"], "type": err["type"]}
            )
        return errors


class EndpointPlan(ParameterReader):
    """Everything needed to serve one handler, decided at start-up."""

    # A form or BackgroundTasks route is a ``_forms.FormPlan``, which sets these.
    form: Any = None
    background_arg: str | None = None

    def __init__(
        self,
        *,
        endpoint: Callable[..., Any],
        name: str,
        is_async: bool,
        view_class: type | None,
        params: list[ParamSpec],
        body: BodySpec | None,
        request_arg: str | None,
        response: ResponseSpec,
        max_body_size: int,
        providers: RouteProviders,
        app_values: dict[Any, Any],
    ) -> None:
        super().__init__(params)
        self.endpoint = endpoint
        self.name = name
        self.is_async = is_async
        self.view_class = view_class
        self.body = body
        self.request_arg = request_arg
        self.response = response
        self.max_body_size = max_body_size
        self.providers = providers
        self._app_values = app_values
        self._reads_body = body is not None
        self._needs_headers = bool(self._headers or self._cookies or body is not None)
        self._needs_request = request_arg is not None or providers.request_needed
        self._steps = providers.steps
        self._handler_providers = [(a.arg, a.key, a.from_app) for a in providers.handler_args]
        self._uses_providers = bool(self._steps or self._handler_providers)
        # An `async def` function (not a view's method): awaited in place by __call__.
        self._plain_async = is_async and view_class is None
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
        if self._reads_body:
            kwargs, request = await self._arguments(scope, receive, path_params)
        else:
            kwargs, request = self._arguments_without_body(scope, receive, path_params)
        if self._uses_providers:
            await self._call_with_providers(kwargs, request, scope, receive, send)
            return
        if self._plain_async:
            result = await self.endpoint(**kwargs)
        else:
            result = await self._call(kwargs)
        # _respond, inlined: the messages are built without a coroutine.
        messages = self._messages(result, scope)
        if messages is None:
            await _send_response_object(result, scope, receive, send)
            return
        await send(messages[0])
        await send(messages[1])

    async def _call(self, kwargs: dict[str, Any]) -> Any:
        endpoint = self.endpoint
        if self.view_class is not None:
            endpoint = functools.partial(endpoint, self.view_class())
        if self.is_async:
            return await endpoint(**kwargs)
        return await run_in_threadpool(endpoint, **kwargs)

    async def _call_with_providers(
        self,
        kwargs: dict[str, Any],
        request: Request | None,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        values: dict[str, Any] = {}
        exits: list[Any] = []
        app_values = self._app_values
        try:
            await solve(self._steps, kwargs, values, app_values, request, exits)
            for arg, key, from_app in self._handler_providers:
                kwargs[arg] = app_values[key] if from_app else values[key]
            if self._plain_async:
                result = await self.endpoint(**kwargs)
            else:
                result = await self._call(kwargs)
            messages = self._messages(result, scope)
            if messages is None:
                await _send_response_object(result, scope, receive, send)
            else:
                await send(messages[0])
                await send(messages[1])
        except BaseException as exc:
            # Generators see the error at their yield (a result that could not
            # be serialized included), and may replace it with another.
            if exits:
                replacement = await teardown(exits, exc)
                if replacement is not None and replacement is not exc:
                    raise replacement from exc
            raise
        if exits:
            error = await teardown(exits, None)
            if error is not None:
                logger.error("A provider's teardown failed after %s", self.name, exc_info=error)

    async def _respond(self, result: Any, scope: Scope, receive: Receive, send: Send) -> None:
        messages = self._messages(result, scope)
        if messages is None:
            await _send_response_object(result, scope, receive, send)
            return
        await send(messages[0])
        await send(messages[1])

    def _messages(self, result: Any, scope: Scope) -> tuple[Message, Message] | None:
        """The start and body messages that answer with ``result``, or None for a
        ``Response`` that must send itself (its own ``__call__``, a background)."""
        if isinstance(result, Response):
            if type(result).__call__ is Response.__call__ and result.background is None:
                # The two messages Response.__call__ sends for an HTTP scope (a
                # plan's only kind); nothing comes after them.
                return (
                    {
                        "type": "http.response.start",
                        "status": result.status_code,
                        "headers": result.raw_headers,
                    },
                    {"type": "http.response.body", "body": result.body},
                )
            return None
        dump = self._dump
        if dump is None:  # -> None
            return (
                {"type": "http.response.start", "status": self._status, "headers": []},
                {"type": "http.response.body", "body": b""},
            )
        try:
            body = dump(result)
        except SchemaValidationError as exc:
            raise ResponseValidationError(self.name, exc.errors) from None
        return (
            {
                "type": "http.response.start",
                "status": self._status,
                "headers": [_JSON_HEADER, (b"content-length", b"%d" % len(body))],
            },
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body},
        )

    async def _arguments(
        self, scope: Scope, receive: Receive, path_params: dict[str, str] | None
    ) -> tuple[dict[str, Any], Request | None]:
        """The validated arguments, keyed by field, and the Request if anything asked for it."""
        if not self._reads_body:
            return self._arguments_without_body(scope, receive, path_params)
        raw: dict[str, Any] = {}
        content_type = content_length = None
        credentials = None
        if self._no_parameters:
            # Only the body: its two headers, nothing to validate beside it.
            if self._needs_headers:
                content_type, content_length = self._read_headers(scope["headers"], raw)
            kwargs: dict[str, Any] = {}
            errors: list[dict[str, Any]] = []
        else:
            repeated = self._raw(scope, path_params, raw)
            if self._needs_headers:
                content_type, content_length = self._read_headers(scope["headers"], raw)
            if self._security:
                credentials = self._credentials(raw)
            kwargs, errors = self._validate(raw, repeated)
        body: bytes | None = None
        if self._reads_body:
            body = await self._read_body(receive, content_type, content_length, kwargs, errors)
        if errors:
            raise RequestValidationError(errors)
        if credentials:
            kwargs.update(credentials)
        if not self._needs_request:
            return kwargs, None
        return kwargs, self._request(scope, receive, path_params, kwargs, body)

    def _arguments_without_body(
        self, scope: Scope, receive: Receive, path_params: dict[str, str] | None
    ) -> tuple[dict[str, Any], Request | None]:
        """``_arguments`` for a route that reads no body: nothing to await."""
        if self._no_parameters:
            kwargs: dict[str, Any] = {}
        else:
            raw: dict[str, Any] = {}
            repeated = self._raw(scope, path_params, raw)
            if self._needs_headers:
                self._read_headers(scope["headers"], raw)
            credentials = self._credentials(raw) if self._security else None
            kwargs, errors = self._validate(raw, repeated)
            if errors:
                raise RequestValidationError(errors)
            if credentials:
                kwargs.update(credentials)
        if not self._needs_request:
            return kwargs, None
        return kwargs, self._request(scope, receive, path_params, kwargs, None)

    def _request(
        self,
        scope: Scope,
        receive: Receive,
        path_params: dict[str, str] | None,
        kwargs: dict[str, Any],
        body: bytes | None,
    ) -> Request:
        """The handler's ``Request`` (its body limited, or already read), passed in
        ``kwargs`` if the handler takes one."""
        scope["path_params"] = path_params or {}
        request = Request(scope, BodyLimitedReceive(receive, self.max_body_size, scope["headers"]))
        if body is not None:
            request._body = body
        if self.request_arg is not None:
            kwargs[self.request_arg] = request
        return request

    async def _read_body(
        self,
        receive: Receive,
        content_type: bytes | None,
        content_length: bytes | None,
        kwargs: dict[str, Any],
        errors: list[dict[str, Any]],
    ) -> bytes | None:
        spec = self.body
        assert spec is not None
        limit = self.max_body_size
        length: int | None = None
        if content_length is not None:
            # parse_content_length, inlined for the common case of a number.
            try:
                length = int(content_length)
            except ValueError:
                length = None
            if length is None or length < 0:
                length = parse_content_length(content_length)  # raises the 400
        body: bytes | None = None
        if length is None or length <= limit:
            # The common case first: the whole body in one message.
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                chunk = message.get("body", b"")
                if type(chunk) is bytes and len(chunk) <= limit:
                    body = chunk
            if body is None:
                # More to come (or too much): read_body goes on from this message.
                receive = _replay(message, receive)
        if body is None:
            body = await read_body(receive, limit, length)
        if not body:
            if spec.required:
                errors.append({"loc": ["body"], "msg": "Field required", "type": "missing"})
            else:
                kwargs[spec.name] = spec.default
            return body
        is_json = _JSON_CONTENT_TYPES.get(content_type)  # type: ignore[arg-type]
        if is_json is None:
            is_json = _is_json(content_type)
        if not is_json:
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


def _replay(first: Message, receive: Receive) -> Receive:
    """A ``receive`` that gives ``first`` once, then what ``receive`` gives."""
    pending = [first]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay


# Content-Type values already checked (requests send few distinct ones), bounded.
_JSON_CONTENT_TYPES: dict[bytes, bool] = {}
_JSON_CONTENT_TYPES_SIZE = 64


def _is_json(content_type: bytes | None) -> bool:
    """``is_json_media_type``, remembered per distinct header value."""
    if content_type is None:
        return False
    known = _JSON_CONTENT_TYPES.get(content_type)
    if known is None:
        known = is_json_media_type(content_type)
        if len(_JSON_CONTENT_TYPES) < _JSON_CONTENT_TYPES_SIZE:
            _JSON_CONTENT_TYPES[content_type] = known
    return known


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
        spec.field: spec.annotation if spec.required else NotRequired[spec.annotation]
        for spec in params
    }
    make_typed_dict: Any = TypedDict  # called with computed fields, which mypy cannot follow
    typed = make_typed_dict("Params", fields)
    # "nan", "inf" and "1e999" are not numbers a client means: a float parameter is
    # finite (`Annotated[float, Field(allow_inf_nan=True)]` still opts a parameter out).
    typed.__pydantic_config__ = FINITE_NUMBERS
    adapter: TypeAdapter[dict[str, Any]] = TypeAdapter(typed)
    # pydantic-core's validator itself: the TypeAdapter wrapper costs a call per request.
    validate: Callable[[dict[str, Any]], dict[str, Any]] = adapter.validator.validate_python
    return validate


async def run_background(task: Callable[[], Any]) -> None:
    """Run a response's ``background`` (a task or tasks), logging what it raises."""
    try:
        await task()
    except Exception:
        logger.exception("A background task failed after the response was sent")


async def _send_response_object(
    response: Response, scope: Scope, receive: Receive, send: Send
) -> None:
    """Send a ``Response`` the handler built, noting whether it began."""
    if type(response).__call__ is Response.__call__ and response.background is None:
        # A rendered body with nothing after it: an error can only come before
        # the first message, so there is nothing to track.
        await response(scope, receive, send)
        return
    background = response.background
    if background is not None:
        # Run after the last byte, with a failure logged rather than sent on.
        response.background = None
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
    if background is not None:
        await run_background(background)
