"""Typed WebSocket routes: ``WebSocket[In, Out]``, their plans and close codes.

A WebSocket handler declares what it receives and what it sends, as an HTTP
handler declares its body and return type::

    @app.websocket("/chat/{room}")
    async def chat(ws: WebSocket[ChatIn, ChatOut], room: str) -> None:
        async for message in ws:          # a validated ChatIn
            await ws.send(ChatOut(room=room, text=message.text))

``async for`` ends quietly when the client closes with one of the route's
``caught_close_codes`` (every code unless the route says otherwise); any
other close raises ``WebSocketDisconnect`` out of the loop.

Close codes the framework uses (RFC 6455):

| code | when |
| --- | --- |
| 1000 | the handler returned |
| 1003 | a frame of the wrong kind (binary for a text route, or text for ``bytes``) |
| 1007 | a message that is not JSON or does not match ``In`` |
| 1008 | the handshake was refused (4xx) and the server cannot send an HTTP response instead |
| 1009 | a message over the route's ``max_message_size`` |
| 1011 | the handler raised (or, before accepting, anything did: a 500 refusal, as 1008) |

The reason of a 1011 never carries the exception's text.
"""

from __future__ import annotations

import contextlib
import logging
import typing
from collections.abc import AsyncIterator, Callable, Mapping
from types import TracebackType
from typing import Any, Generic, Literal, TypeVar

import orjson
from starlette.datastructures import URL, Address, Headers, QueryParams
from starlette.types import Scope
from starlette.websockets import WebSocket as StarletteWebSocket
from starlette.websockets import WebSocketDisconnect as StarletteWebSocketDisconnect
from starlette.websockets import WebSocketState

from bocadillo.channels.channel import SLOW_SUBSCRIBER_CLOSE_CODE, SlowSubscriber
from bocadillo.errors import (
    PROBLEM_DETAILS,
    ErrorFormat,
    HTTPError,
    RequestValidationError,
)
from bocadillo.http.handshake import refuse_handshake
from bocadillo.observe import CURRENT
from bocadillo.runtime.parameters import ParameterReader
from bocadillo.runtime.providers import ProviderSession, RouteProviders
from bocadillo.runtime.specs import ParamSpec
from bocadillo.schemas.protocol import MalformedInput, SchemaAdapter, SchemaValidationError
from bocadillo.schemas.registry import adapter_for

__all__ = [
    "ALL_CLOSE_CODES",
    "CLOSE_CODES",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketPlan",
]

logger = logging.getLogger("bocadillo")

In = TypeVar("In")
Out = TypeVar("Out")

DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024
ALL_CLOSE_CODES: Literal["all"] = "all"  # caught_close_codes: every close ends the loop quietly

CLOSE_CODES: dict[int, str] = {
    1000: "The handler finished.",
    1003: "A frame of the wrong kind: binary for a text route, or text for a binary one.",
    1007: "A message that is not valid JSON or does not match the messages the route receives.",
    1008: "The handshake was refused, where the server cannot send an HTTP response instead.",
    1009: "A message larger than the route's max_message_size.",
    1011: "The handler failed; the reason does not say how.",
    1013: (
        "Try Again Later: a channel subscription of the handler fell too far behind "
        '(where it subscribes with overflow="disconnect").'
    ),
}


class WebSocketDisconnect(StarletteWebSocketDisconnect):
    """The client left (or the connection was closed): ``code`` and ``reason`` say how.

    ``await ws.receive()`` raises it. ``async for message in ws`` (and ``async
    with ws``) end quietly on a close code the route catches
    (``caught_close_codes``, every code by default), and raise it for any other.
    """


class MessageCodec:
    """How one direction's messages travel: text, bytes, or JSON of a declared type."""

    __slots__ = ("adapter", "annotation", "kind")

    def __init__(self, annotation: Any) -> None:
        self.annotation = annotation
        self.kind: Literal["text", "bytes", "json"]
        self.adapter: SchemaAdapter | None = None
        if annotation is str:
            self.kind = "text"
        elif annotation is bytes:
            self.kind = "bytes"
        else:
            self.kind = "json"
            self.adapter = adapter_for(annotation)


class _Closed(Exception):
    """The framework closed the connection (bad input): the handler's loop ends."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class WebSocket(Generic[In, Out]):
    """A WebSocket connection that receives ``In`` messages and sends ``Out`` ones.

    Declare it as a handler parameter: ``ws: WebSocket[ChatIn, ChatOut]``.
    ``In`` and ``Out`` may be pydantic models, typesystem schemas, unions,
    ``str`` (text frames, as sent) or ``bytes`` (binary frames). ``async for
    message in ws`` yields validated messages until the client leaves;
    ``await ws.send(message)`` sends one. ``async with ws:`` accepts, and
    closes with 1000 (1011 on an error); ``await ws.reject(403)`` refuses the
    handshake instead; ``ws.url`` is the URL the handshake was sent to.
    """

    __bocadillo_websocket__ = True

    __slots__ = (
        "_client_code",
        "_observation",
        "_plan",
        "_receive",
        "_refused",
        "_reported",
        "_send",
        "_ws",
    )

    def __init__(
        self, websocket: StarletteWebSocket, plan: WebSocketPlan, receive: Any, send: Any
    ) -> None:
        self._ws = websocket
        self._plan = plan
        # Once the connection is open, messages go straight to the server's
        # receive and send; the states Starlette would check are kept here.
        self._receive = receive
        self._send = send
        # The code the client closed with, once it did.
        self._client_code: int | None = None
        # The handler's exception `async with ws` closed the connection for (and
        # logged): the plan does not report it twice.
        self._reported: BaseException | None = None
        # The close code and reason of a message the framework refused, if it did.
        self._refused: tuple[int, str] | None = None
        # Telemetry's observation of the connection (None when it is off): told of
        # each message, refusal and close.
        self._observation = CURRENT.get()

    # -- the connection --------------------------------------------------------

    @property
    def scope(self) -> Scope:
        return self._ws.scope

    @property
    def path_params(self) -> dict[str, Any]:
        return self._ws.path_params

    @property
    def query_params(self) -> QueryParams:
        return self._ws.query_params

    @property
    def headers(self) -> Headers:
        return self._ws.headers

    @property
    def url(self) -> URL:
        """The URL the handshake was sent to (``ws://`` or ``wss://``), with its query."""
        return self._ws.url

    @property
    def client(self) -> Address | None:
        return self._ws.client

    @property
    def accepted(self) -> bool:
        return self._ws.application_state is WebSocketState.CONNECTED

    async def accept(self, subprotocol: str | None = None) -> None:
        """Accept the handshake (done for you unless the route says ``auto_accept=False``)."""
        if self._ws.application_state is WebSocketState.CONNECTING:
            await self._ws.accept(subprotocol=subprotocol)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection with ``code`` and a short ``reason``.

        Does nothing once the connection is closed, by either side.
        """
        if (
            self._ws.application_state is not WebSocketState.DISCONNECTED
            and self._ws.client_state is not WebSocketState.DISCONNECTED
        ):
            if self._observation is not None:
                self._observation.websocket_closed(code, "server")
            await self._ws.close(code, reason)

    async def reject(
        self,
        status_code: int = 403,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Refuse the handshake, before accepting (on a route with ``auto_accept=False``).

        The client gets an HTTP error response with ``status_code`` (a 4xx or 5xx),
        ``detail`` and ``headers``, in the app's error format, as from an
        ``HTTPError`` raised by a provider; where the server cannot send an HTTP
        response, the connection is closed with 1008 (1011 for a 5xx). Once the
        connection is accepted it is a ``RuntimeError``: close it instead.
        """
        state = self._ws.application_state
        if state is not WebSocketState.CONNECTING:
            if state is WebSocketState.CONNECTED:
                raise RuntimeError(
                    "ws.reject() refuses the handshake, but this connection is accepted "
                    "already (a route accepts for you unless it says auto_accept=False): "
                    "close it instead, with await ws.close(code, reason)"
                )
            raise RuntimeError("ws.reject(): the handshake was answered already")
        error = HTTPError(status_code, detail=detail, headers=headers)
        await refuse_handshake(
            error,
            self._ws.scope,
            self._ws.receive,
            self._ws.send,  # Starlette's: it records that the handshake is over
            error_format=self._plan.error_format,
        )

    # -- async with ws -----------------------------------------------------------

    async def __aenter__(self) -> WebSocket[In, Out]:
        """Accept the connection (unless it is accepted already)."""
        state = self._ws.application_state
        if state is WebSocketState.CONNECTING:
            await self._ws.accept()
        elif state is not WebSocketState.CONNECTED:
            raise RuntimeError("async with ws: the connection is closed already")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        """Close with 1000; on an exception, close with 1011 (logged) and let it go on,
        so that the route's providers see it. A client's close the route catches
        ends the block quietly."""
        if exc is None:
            with contextlib.suppress(StarletteWebSocketDisconnect):  # the client just left
                await self.close(1000)
            return False
        if isinstance(exc, StarletteWebSocketDisconnect):
            return self._plan.catches(exc.code)
        if isinstance(exc, Exception) and not isinstance(exc, _Closed):
            await self._plan.close_for(self, exc)
            self._reported = exc
        return False

    # -- messages --------------------------------------------------------------

    async def receive(self) -> In:
        """The next message, validated; raises ``WebSocketDisconnect`` once the client left.

        A message that breaks the route's rules closes the connection with its
        code (1003, 1007, 1009), or, for a route with ``invalid_message="reply"``,
        is answered with an error message and skipped.
        """
        plan = self._plan
        codec = plan.receives
        ws = self._ws
        while True:
            if ws.client_state is not WebSocketState.CONNECTED:
                if ws.client_state is WebSocketState.DISCONNECTED:
                    raise WebSocketDisconnect(self._client_code or 1000)
                raise RuntimeError("Accept the connection before receiving messages.")
            message = await self._receive()
            if message["type"] != "websocket.receive":
                if message["type"] == "websocket.disconnect":
                    ws.client_state = WebSocketState.DISCONNECTED
                    self._client_code = code = message.get("code", 1000)
                    if self._observation is not None:
                        self._observation.websocket_closed(code, "client")
                    raise WebSocketDisconnect(code, message.get("reason"))
                raise RuntimeError(f"Unexpected ASGI message {message['type']!r}.")
            text: str | None = message.get("text")
            data: bytes | None = message.get("bytes")
            if text is not None:
                # One byte a character for ASCII (str.isascii() is O(1)), else encoded once.
                data = None if text.isascii() else text.encode()
                size = len(text) if data is None else len(data)
            else:
                size = len(data) if data is not None else 0
            observation = self._observation
            if size > plan.max_message_size:
                await self._refuse(
                    1009, f"Messages are limited to {plan.max_message_size} bytes.", size
                )
            if codec.kind == "bytes":
                if data is None or text is not None:
                    await self._refuse(1003, "This route takes binary messages.", size)
                if observation is not None:
                    observation.message_received("bytes", size)
                return data  # type: ignore[return-value]
            if text is None:
                await self._refuse(1003, "This route takes text messages.", size)
            if codec.kind == "text":
                if observation is not None:
                    observation.message_received("str", size)
                return text  # type: ignore[return-value]
            assert codec.adapter is not None and text is not None
            try:
                value: In = codec.adapter.validate_json(text.encode() if data is None else data)
                if observation is not None:
                    observation.message_received(_type_name(value, codec.annotation), size)
                return value
            except MalformedInput:
                errors = [
                    {"loc": [], "msg": "The message is not valid JSON.", "type": "json_invalid"}
                ]
            except SchemaValidationError as exc:
                errors = exc.errors
            if plan.invalid_message == "reply":
                if observation is not None:
                    observation.message_invalid(size, len(errors), None)
                error = RequestValidationError(errors, detail="The message was not understood.")
                reply = plan.error_format.render_message(error)
                await self._transmit(
                    {"type": "websocket.send", "text": orjson.dumps(reply).decode()}
                )
                continue
            await self._refuse(1007, "The message is not valid.", size, len(errors))

    async def _refuse(self, code: int, reason: str, size: int, errors: int = 1) -> typing.NoReturn:
        if self._observation is not None:
            self._observation.message_invalid(size, errors, code)
        self._refused = (code, reason)
        await self.close(code, reason)
        raise _Closed(code)

    def __aiter__(self) -> AsyncIterator[In]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[In]:
        while True:
            try:
                message = await self.receive()
            except WebSocketDisconnect as exc:
                if self._plan.catches(exc.code):
                    return
                raise
            except _Closed:
                return
            yield message

    async def _transmit(self, message: dict[str, Any]) -> None:
        # One exception for "the other side is gone", whichever way the server says it.
        ws = self._ws
        if ws.application_state is not WebSocketState.CONNECTED:
            if ws.application_state is WebSocketState.CONNECTING:
                raise RuntimeError("Accept the connection before sending messages.")
            raise WebSocketDisconnect(1006, "The connection is closed.")
        if ws.client_state is WebSocketState.DISCONNECTED:
            raise WebSocketDisconnect(self._client_code or 1006, "The connection is closed.")
        try:
            await self._send(message)
        except OSError:  # what servers raise once the client is gone, as Starlette reads it
            ws.application_state = WebSocketState.DISCONNECTED
            if self._observation is not None:
                self._observation.websocket_closed(1006, "client")
            raise WebSocketDisconnect(1006, "The connection is closed.") from None

    async def send(self, message: Out) -> None:
        """Send one message of the route's ``Out`` type (anything else is refused).

        Raises ``WebSocketDisconnect`` once the connection is closed.
        """
        codec = self._plan.sends
        if codec.kind == "bytes":
            if not isinstance(message, bytes | bytearray):
                raise TypeError(f"this route sends bytes, not {type(message).__name__}")
            await self._transmit({"type": "websocket.send", "bytes": bytes(message)})
            if self._observation is not None:
                self._observation.message_sent("bytes", len(message))
            return
        if codec.kind == "text":
            if not isinstance(message, str):
                raise TypeError(f"this route sends str, not {type(message).__name__}")
            await self._transmit({"type": "websocket.send", "text": message})
            if self._observation is not None:
                size = len(message) if message.isascii() else len(message.encode())
                self._observation.message_sent("str", size)
            return
        assert codec.adapter is not None
        try:
            data = codec.adapter.dump_json(message)
        except SchemaValidationError as exc:
            raise TypeError(
                f"{message!r} is not a message this route sends: {exc.errors}"
            ) from None
        await self._transmit({"type": "websocket.send", "text": data.decode()})
        if self._observation is not None:
            self._observation.message_sent(_type_name(message, codec.annotation), len(data))


def _type_name(value: Any, annotation: Any) -> str:
    """A message's type, as telemetry names it: its class (a union's variant), or,
    for a schema that validates to plain JSON values, the declared type's name."""
    cls = type(value)
    if cls is dict or cls is list:
        return getattr(annotation, "__name__", None) or cls.__name__
    return cls.__name__


class WebSocketPlan:
    """Everything needed to serve one WebSocket route, decided at start-up."""

    def __init__(
        self,
        *,
        endpoint: Callable[..., Any],
        name: str,
        ws_arg: str,
        receives: MessageCodec,
        sends: MessageCodec,
        params: list[ParamSpec],
        providers: RouteProviders,
        app_values: dict[Any, Any],
        auto_accept: bool,
        max_message_size: int,
        invalid_message: Literal["close", "reply"],
        caught_close_codes: frozenset[int] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.name = name
        self.params = params
        self.parameters = ParameterReader(params)
        self.ws_arg = ws_arg
        self.receives = receives
        self.sends = sends
        self.providers = providers
        self.auto_accept = auto_accept
        self.max_message_size = max_message_size
        self.invalid_message = invalid_message
        # The client's close codes that end `async for` quietly; None: every code.
        self.caught_close_codes = caught_close_codes
        # How errors are answered: the reply to an unreadable message, a refused
        # handshake's response (the app sets its own after compiling).
        self.error_format: ErrorFormat = PROBLEM_DETAILS
        # Shielded: a test client cancels the connection's task right after the
        # client leaves; a teardown (telling a room the member left) must still finish.
        self._session = ProviderSession(providers, app_values, name=name, shielded=True)

    def __repr__(self) -> str:
        return f"<WebSocketPlan {self.name}>"

    def catches(self, code: int) -> bool:
        """Whether a client's close with ``code`` ends the handler's loop quietly."""
        caught = self.caught_close_codes
        return caught is None or code in caught

    async def close_for(self, typed: WebSocket[Any, Any], exc: Exception) -> None:
        """Close an accepted connection for the handler's exception, and log it:
        1013 for a channel subscription that fell behind, else 1011."""
        if isinstance(exc, SlowSubscriber):
            # A channel subscription fell behind (overflow="disconnect"): 1013, try again.
            logger.info("Closing a WebSocket of %s: %s", self.name, exc)
            code, reason = SLOW_SUBSCRIBER_CLOSE_CODE, "Too slow to keep up"
        else:
            logger.error("WebSocket handler %s failed", self.name, exc_info=exc)
            code, reason = 1011, "Internal error"
        with contextlib.suppress(StarletteWebSocketDisconnect):
            await typed.close(code, reason)

    async def __call__(
        self,
        scope: dict[str, Any],
        receive: Any,
        send: Any,
        path_params: dict[str, str] | None,
    ) -> None:
        scope["path_params"] = path_params or {}
        websocket = StarletteWebSocket(scope, receive, send)
        typed: WebSocket[Any, Any] = WebSocket(websocket, self, receive, send)
        try:
            kwargs, errors, _, _ = self.parameters.read(scope, path_params)
            if errors:
                raise RequestValidationError(errors)
            exits = await self._session.open(kwargs, websocket)
        except Exception as exc:
            await self._refuse_handshake(websocket, exc)
            return
        kwargs[self.ws_arg] = typed
        # What ended the connection, which the providers see at their yield: None
        # when the handler returned (they commit), unless the framework closed the
        # connection for a refused message; else what the handler let through.
        failure: BaseException | None = None
        try:
            if self.auto_accept:
                await websocket.accept()
            await self.endpoint(**kwargs)
        except _Closed:
            pass
        except StarletteWebSocketDisconnect as exc:
            # The client left while the handler was at work (a close the route
            # catches ends `async for` quietly instead): the providers see it. The
            # client is gone: nothing to answer.
            failure = exc
            if not self.catches(exc.code):
                logger.info("The client of %s closed with %s", self.name, exc.code)
        except Exception as exc:
            failure = exc
            if websocket.application_state is WebSocketState.CONNECTING:
                await self._refuse_handshake(websocket, exc)  # logs it unless an HTTPError
            elif exc is not typed._reported:
                await self.close_for(typed, exc)
        except BaseException as exc:
            failure = exc  # cancelled: the teardown (shielded) still runs, and sees it
            raise
        finally:
            if failure is None and typed._refused is not None:
                # A message was refused (1003, 1007, 1009): the conversation was cut.
                failure = WebSocketDisconnect(*typed._refused)
            if exits and failure is not None:
                await self._session.close(exits, failure)
        if exits:
            # The handler succeeded: its providers' teardown (a commit) runs before
            # the closing 1000, and a failed one closes with 1011 instead.
            try:
                await self._session.finish(exits)
            except Exception as exc:
                if websocket.application_state is WebSocketState.CONNECTED:
                    await self.close_for(typed, exc)
                else:
                    logger.error("A provider's teardown failed after %s", self.name, exc_info=exc)
        if websocket.application_state is WebSocketState.CONNECTING:
            # auto_accept=False and the handler neither accepted nor refused.
            await self._refuse_handshake(
                websocket, HTTPError(403, detail="The handler did not accept the connection.")
            )
        else:
            with contextlib.suppress(StarletteWebSocketDisconnect):  # the client just left
                await typed.close(1000)

    async def _refuse_handshake(self, websocket: StarletteWebSocket, exc: BaseException) -> None:
        """Refuse before accepting: an HTTP error response where the server can send
        one (the ASGI websocket.http.response extension), else close 1008 (1011 for
        an exception other than an ``HTTPError``: a 500)."""
        reason = "Handshake refused"
        if not isinstance(exc, HTTPError):
            logger.error("WebSocket handshake for %s failed", self.name, exc_info=exc)
            exc = HTTPError(500, detail="The handshake failed.")
            reason = "Internal error"  # closed with 1011 where no response can go
        # Through the WebSocket's own send, so that it knows the handshake is over.
        await refuse_handshake(
            exc,
            websocket.scope,
            websocket.receive,
            websocket.send,
            reason=reason,
            error_format=self.error_format,
        )
