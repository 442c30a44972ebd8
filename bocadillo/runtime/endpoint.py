"""The compiled plan of one HTTP handler, and the request path through it.

A plan is made once, at start-up, by ``bocadillo.compile``. Serving a request
runs it: read the declared inputs (all parameters validated in one pass, the
body straight from bytes, or a form), make the route's providers, call the
handler, dump the result to bytes, tear the providers down (a commit), send.
A response that streams its own body is sent before the teardown. Nothing here
inspects a signature or a type.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from bocadillo.errors import HTTPError, RequestValidationError
from bocadillo.runtime.background import BackgroundTasks, run_background
from bocadillo.runtime.body import (
    BodyLimitedReceive,
    EnvelopeSpec,
    is_json_media_type,
    parse_content_length,
    read_body,
)
from bocadillo.runtime.forms import FormReader, FormSpec
from bocadillo.runtime.hooks import BoundAfterHook, run_after_hooks
from bocadillo.runtime.parameters import ParameterReader
from bocadillo.runtime.providers import ProviderSession, RouteProviders
from bocadillo.runtime.requests import Request
from bocadillo.runtime.responses import StartWatchingSend
from bocadillo.runtime.specs import BodySpec, ParamSpec, ResponseSpec
from bocadillo.schemas.protocol import MalformedInput, SchemaValidationError
from bocadillo.schemas.registry import dump_untyped

__all__ = [
    "EndpointPlan",
    "ResponseAlreadyStarted",
    "ResponseValidationError",
    "send_response_object",
]

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


class EndpointPlan:
    """Everything needed to serve one handler, decided at start-up.

    ``form_reader`` reads a form body, for a route that reads one instead of ``body``;
    ``background_arg`` names the handler's ``BackgroundTasks`` parameter, whose
    tasks run after the response; ``after_hooks`` are the route's after hooks, in
    the order they run: each the argument the provider session puts it in, bound
    to its inputs, or the hook itself when it takes nothing but the response.
    """

    # Whether the providers' teardown is shielded from cancellation, for a route
    # whose task a client that leaves may cancel (an event stream).
    shielded_teardown = False

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
        form_reader: FormReader | None = None,
        background_arg: str | None = None,
        after_hooks: tuple[str | BoundAfterHook, ...] = (),
    ) -> None:
        self.endpoint = endpoint
        self.name = name
        self.is_async = is_async
        self.view_class = view_class
        self.params = params
        self.body = body
        self.request_arg = request_arg
        self.response = response
        self.max_body_size = max_body_size
        self.providers = providers
        self.form_reader = form_reader
        self.background_arg = background_arg
        self.after_hooks = after_hooks
        self._reads_body = body is not None or form_reader is not None
        # An envelope's arguments: (argument, field of the validated object) each.
        self._members: tuple[tuple[str, str], ...] | None = None
        if isinstance(body, EnvelopeSpec):
            self._members = tuple((member.name, member.field) for member in body.members)
        self.parameters = ParameterReader(params, body_headers=self._reads_body)
        self._needs_request = request_arg is not None or providers.request_needed
        self._session: ProviderSession | None = None
        if providers.steps or providers.handler_args:
            self._session = ProviderSession(
                providers, app_values, name=name, shielded=self.shielded_teardown
            )
        # An `async def` function (not a view's method, no after hooks): awaited in
        # place by __call__; anything else goes through _call.
        self._plain_async = is_async and view_class is None and not after_hooks
        self._status = response.status_code
        self._dump: Callable[[Any], bytes] | None = None
        if response.kind == "typed":
            assert response.adapter is not None
            self._dump = response.adapter.dump_json
        elif response.kind == "untyped":
            self._dump = dump_untyped

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    @property
    def form(self) -> FormSpec | None:
        """What the route reads from a form body, if it reads one."""
        return None if self.form_reader is None else self.form_reader.spec

    # -- the request path ------------------------------------------------

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, path_params: dict[str, str] | None
    ) -> None:
        kwargs, errors, content_type, content_length = self.parameters.read(scope, path_params)
        body: bytes | None = None
        form: FormData | None = None
        if self._reads_body:
            if errors is None:
                errors = []
            if self.form_reader is None:
                body = await self._read_body(receive, content_type, content_length, kwargs, errors)
            else:
                form = await self.form_reader.read(
                    receive, content_type, content_length, kwargs, errors
                )
        if errors:
            raise RequestValidationError(errors)
        request = None
        if self._needs_request:
            request = self._request(scope, receive, path_params, kwargs, body)
        tasks = None
        if self.background_arg is not None:
            tasks = kwargs[self.background_arg] = BackgroundTasks()
        session = self._session
        exits = None
        try:
            if session is not None:
                exits = await session.open(kwargs, request)
            if self._plain_async:
                result = await self.endpoint(**kwargs)
            else:
                result = await self._call(kwargs)
            # The one send path: the messages are built without a further coroutine.
            messages = self._messages(result, scope)
            if exits and (messages is not None or type(result).__call__ is Response.__call__):
                # A body known in full: the providers' teardown (a commit) finishes
                # before the first byte goes out, and its error is answered instead.
                assert session is not None
                await session.finish(exits)  # empties exits
            if messages is None:
                await send_response_object(result, scope, receive, send)
            else:
                await send(messages[0])
                await send(messages[1])
        except BaseException as exc:
            # Generators see the error at their yield (a result that could not
            # be serialized included), and may replace it with another.
            if exits:
                assert session is not None
                if isinstance(exc, ResponseAlreadyStarted) and exc.__cause__ is not None:
                    # A streamed body failed midway: they see its error, and one
                    # of their own can only be logged.
                    await session.close(exits, exc.__cause__)
                else:
                    await session.fail(exits, exc)
            raise
        else:
            if exits:
                # A response that streams its own body may use the providers
                # while it does: their teardown comes after its last byte.
                assert session is not None
                await session.close(exits)
        finally:
            if form is not None:
                await form.close()  # the uploads' temporary files
        if tasks is not None and tasks.tasks:
            await tasks()

    async def _call(self, kwargs: dict[str, Any]) -> Any:
        if self.after_hooks:
            return await self._call_with_hooks(kwargs)
        endpoint = self.endpoint
        if self.view_class is not None:
            endpoint = functools.partial(endpoint, self.view_class())
        if self.is_async:
            return await endpoint(**kwargs)
        return await run_in_threadpool(endpoint, **kwargs)

    async def _call_with_hooks(self, kwargs: dict[str, Any]) -> Response:
        """Call the handler, then the after hooks with its result as a ``Response``."""
        hooks = [kwargs.pop(h) if isinstance(h, str) else h for h in self.after_hooks]
        endpoint = self.endpoint
        if self.view_class is not None:
            endpoint = functools.partial(endpoint, self.view_class())
        if self.is_async:
            result = await endpoint(**kwargs)
        else:
            result = await run_in_threadpool(endpoint, **kwargs)
        return await run_after_hooks(hooks, self._response(result))

    def _response(self, result: Any) -> Response:
        """The handler's result as the ``Response`` it is sent as."""
        if isinstance(result, Response):
            return result
        dump = self._dump
        if dump is None:  # -> None
            return Response(status_code=self._status)
        try:
            body = dump(result)
        except SchemaValidationError as exc:
            raise ResponseValidationError(self.name, exc.errors) from None
        return Response(body, status_code=self._status, media_type="application/json")

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
            # The common case first: the whole body in one message. It is whole
            # when no more is to come, or when it is as long as the declared
            # Content-Length: granian sends such a body with more_body, then an
            # empty last message, which is not waited for (the server frames
            # the body, so nothing can follow).
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                if (
                    type(chunk) is bytes
                    and len(chunk) <= limit
                    and (not message.get("more_body", False) or len(chunk) == length)
                ):
                    body = chunk
            if body is None:
                # More to come (or too much): read_body goes on from this message.
                receive = _replay(message, receive)
        if body is None:
            body = await read_body(receive, limit, length)
        if not body:
            if spec.required:
                errors.append({"loc": ["body"], "msg": "Field required", "type": "missing"})
            elif self._members is None:
                kwargs[spec.name] = spec.default
            else:  # every key has a default: as if the body were {}
                self._unpack(spec.adapter.validate_json(b"{}"), kwargs)
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
            value = spec.adapter.validate_json(body)
        except MalformedInput as exc:
            raise RequestValidationError(
                [{"loc": ["body"], "msg": str(exc), "type": "json_invalid"}],
                status_code=400,
                detail="The request body is not valid JSON.",
            ) from None
        except SchemaValidationError as exc:
            errors.extend({**err, "loc": ["body", *err["loc"]]} for err in exc.errors)
        else:
            members = self._members
            if members is None:
                kwargs[spec.name] = value
            else:
                fields = value.__dict__
                for name, field in members:
                    kwargs[name] = fields[field]
        return body

    def _unpack(self, envelope: Any, kwargs: dict[str, Any]) -> None:
        """Each member of a validated envelope, as its argument."""
        assert self._members is not None
        fields = envelope.__dict__
        for name, field in self._members:
            kwargs[name] = fields[field]


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


async def send_response_object(
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
    watched = StartWatchingSend(send)
    try:
        await response(scope, receive, watched)
    except Exception as exc:
        if watched.started:
            raise ResponseAlreadyStarted() from exc
        raise
    if background is not None:
        await run_background(background)
