"""Compiling a WebSocket handler into its ``WebSocketPlan``."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Collection, Sequence
from typing import Any, Literal

from bocadillo.compile.hooks import compile_hooks, declared_hooks
from bocadillo.compile.parameters import SignatureParts, describe
from bocadillo.compile.providers import ProviderGraph
from bocadillo.errors import ConfigurationError
from bocadillo.hooks import Hook
from bocadillo.runtime.websockets import (
    ALL_CLOSE_CODES,
    DEFAULT_MAX_MESSAGE_SIZE,
    MessageCodec,
    WebSocketPlan,
)

__all__ = ["compile_websocket"]


def _websocket_types(annotation: Any, where: str, name: str) -> tuple[Any, Any]:
    """``WebSocket[In, Out]`` -> ``(In, Out)``."""
    args = typing.get_args(annotation)
    if len(args) != 2:
        raise ConfigurationError(
            f"{where}: parameter {name!r}: declare the messages, WebSocket[In, Out]"
        )
    return args[0], args[1]


def _websocket_arg(parts: SignatureParts, where: str) -> tuple[str, Any]:
    if parts.websocket_arg is None:
        raise ConfigurationError(
            f"{where}: a WebSocket handler takes a `ws: WebSocket[In, Out]` parameter"
        )
    if parts.request_arg is not None:
        raise ConfigurationError(f"{where}: a WebSocket handler has no Request; use the WebSocket")
    return parts.websocket_arg


def caught_codes(codes: Any, where: str) -> frozenset[int] | None:
    """``caught_close_codes``: ``"all"`` (None) or a collection of close codes."""
    if codes == ALL_CLOSE_CODES:
        return None
    if codes is all:
        raise ConfigurationError(
            f"{where}: caught_close_codes takes the string 'all', not the built-in all()"
        )
    if isinstance(codes, str | bytes) or not isinstance(codes, Collection):
        raise ConfigurationError(
            f"{where}: caught_close_codes is 'all' or a tuple of close codes, "
            f"(1000, 1001); got {codes!r}"
        )
    for code in codes:
        if isinstance(code, bool) or not isinstance(code, int) or not 1000 <= code <= 4999:
            raise ConfigurationError(
                f"{where}: caught_close_codes: {code!r} is not a WebSocket close code "
                "(a whole number from 1000 to 4999)"
            )
    return frozenset(codes)


def compile_websocket(
    func: Callable[..., Any],
    *,
    path_params: Collection[str],
    graph: ProviderGraph,
    app_values: dict[Any, Any],
    hooks: Sequence[Hook] = (),
    auto_accept: bool = True,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    invalid_message: Literal["close", "reply"] = "close",
    caught_close_codes: Literal["all"] | Collection[int] = ALL_CLOSE_CODES,
) -> WebSocketPlan:
    """Read a WebSocket handler's signature into its plan, or raise ``ConfigurationError``."""
    where = describe(func)
    if not inspect.iscoroutinefunction(func):
        raise ConfigurationError(f"{where}: a WebSocket handler must be an `async def`")
    if invalid_message not in ("close", "reply"):
        raise ConfigurationError(f"{where}: invalid_message is 'close' or 'reply'")
    caught = caught_codes(caught_close_codes, where)
    parts = graph.read(
        func,
        where=where,
        path_params=path_params,
        kind="a WebSocket handler",
        allow_body=False,
    )
    arg, annotation = _websocket_arg(parts, where)
    receives, sends = _websocket_types(annotation, where, arg)
    route_hooks = compile_hooks(
        declared_hooks(hooks, func, None, "a WebSocket route"),
        path_params=path_params,
        graph=graph,
        where=where,
        request=False,
    )
    wiring = graph.resolve_route(
        [*parts.providers, *route_hooks.wanted], path_params=path_params, where=where
    )
    hook_params, _ = route_hooks.attach(wiring)
    for step in wiring.steps:
        if step.request_arg is not None:
            raise ConfigurationError(
                f"{where}: {graph.where(step.provider)} takes a Request "
                f"(parameter {step.request_arg!r}); a WebSocket route has no Request. "
                "Read what it needs with markers (Header(), Query(), Cookie()) instead, "
                "or use the provider on HTTP routes only."
            )
    try:
        return WebSocketPlan(
            endpoint=func,
            name=where,
            ws_arg=arg,
            receives=MessageCodec(receives),
            sends=MessageCodec(sends),
            params=[*wiring.params, *hook_params, *parts.params],
            providers=wiring,
            app_values=app_values,
            auto_accept=auto_accept,
            max_message_size=max_message_size,
            invalid_message=invalid_message,
            caught_close_codes=caught,
        )
    except ConfigurationError:
        raise
    except Exception as exc:
        raise ConfigurationError(f"{where}: cannot use the declared messages: {exc}") from exc
