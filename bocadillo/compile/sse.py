"""Compiling an SSE handler (an async generator) into its ``SSEPlan``.

The return annotation, ``AsyncIterator[Tick | Done]`` (or ``Event[...]`` of
them), declares the events: each type becomes an ``EventKind`` with its name
and serializer, so the stream and its documentation agree.
"""

from __future__ import annotations

import collections.abc
import inspect
import re
import types
import typing
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from bocadillo.compile.hooks import compile_hooks, declared_hooks
from bocadillo.compile.parameters import SignatureParts, describe, type_hints
from bocadillo.compile.providers import ProviderGraph
from bocadillo.errors import ConfigurationError
from bocadillo.hooks import Hook
from bocadillo.params import ParamSource
from bocadillo.runtime.specs import ResponseSpec
from bocadillo.runtime.sse import (
    DEFAULT_KEEPALIVE,
    FIXED_HEADERS,
    LAST_EVENT_ID,
    Event,
    EventKind,
    SSEPlan,
)
from bocadillo.schemas.registry import adapter_for
from bocadillo.schemas.types import split_annotated

__all__ = ["compile_sse", "event_types"]

_ASYNC_ITERATORS = (
    collections.abc.AsyncIterator,
    collections.abc.AsyncIterable,
    collections.abc.AsyncGenerator,
)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or repr(tp)


def _union_members(tp: Any) -> list[Any]:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return [m for arg in typing.get_args(tp) for m in _union_members(arg)]
    return [tp]


def event_types(annotation: Any, where: str) -> list[Any]:
    """The event types an ``AsyncIterator[A | B | Event[C]]`` annotation names."""
    base, _ = split_annotated(annotation)
    origin = typing.get_origin(base)
    if origin not in _ASYNC_ITERATORS or not typing.get_args(base):
        raise ConfigurationError(
            f"{where}: an SSE handler declares its events in its return annotation, "
            f"`-> AsyncIterator[Tick | Done]`; got {annotation!r}"
        )
    found: list[Any] = []
    for member in _union_members(typing.get_args(base)[0]):
        if member is Event:
            raise ConfigurationError(
                f"{where}: Event needs its data type, Event[Tick | Done], so the events "
                "can be documented"
            )
        if typing.get_origin(member) is Event:
            inner = [m for arg in typing.get_args(member) for m in _union_members(arg)]
        else:
            inner = [member]
        found.extend(m for m in inner if m not in found)
    return found


def _event_kind(tp: Any, names: Mapping[Any, str], where: str) -> EventKind:
    """One declared event type: its name and how its data is written."""
    if tp is str:
        adapter = None
    elif not isinstance(tp, type) or typing.is_typeddict(tp) or tp in (bytes, dict, list):
        raise ConfigurationError(
            f"{where}: SSE event types are classes (pydantic models, dataclasses, "
            f"typesystem schemas) or str; {tp!r} is not. Wrap it in a model."
        )
    else:
        try:
            adapter = adapter_for(tp)
        except Exception as exc:
            raise ConfigurationError(f"{where}: cannot serialize the event {tp!r}: {exc}") from exc
    default = "message" if tp is str else getattr(tp, "__sse_event__", None) or tp.__name__
    name = names.get(tp, default)
    if not isinstance(name, str) or not name or "\n" in name or "\r" in name:
        raise ConfigurationError(
            f"{where}: the event name of {_type_name(tp)} must be a non-empty string "
            "without line breaks"
        )
    return EventKind(name, tp, adapter)


def _event_kinds(annotation: Any, names: Mapping[Any, str], where: str) -> list[EventKind]:
    kinds: list[EventKind] = []
    for tp in event_types(annotation, where):
        kind = _event_kind(tp, names, where)
        clash = next((known for known in kinds if known.name == kind.name), None)
        if clash is not None:
            raise ConfigurationError(
                f"{where}: {_type_name(clash.annotation)} and {_type_name(tp)} are both "
                f"named {kind.name!r}; give one another name (event_names= on the route, or "
                "__sse_event__ on the class)"
            )
        kinds.append(kind)
    unknown = [tp for tp in names if tp not in [kind.annotation for kind in kinds]]
    if unknown:
        raise ConfigurationError(
            f"{where}: event_names names {', '.join(map(_type_name, unknown))}, which the "
            "return annotation does not declare"
        )
    return kinds


def _allows_none(annotation: Any) -> bool:
    base, _ = split_annotated(annotation)
    return any(m is type(None) for m in _union_members(base))


def _check_options(func: Callable[..., Any], keepalive: float | None, where: str) -> None:
    if not inspect.isasyncgenfunction(func):
        raise ConfigurationError(
            f"{where}: an SSE handler is an async generator (`async def` with `yield`)"
        )
    if keepalive is not None and (isinstance(keepalive, bool) or keepalive <= 0):
        raise ConfigurationError(f"{where}: keepalive is a number of seconds above 0, or None")


def _return_annotation(func: Callable[..., Any], where: str) -> Any:
    hints = type_hints(func, where)
    if "return" not in hints:
        raise ConfigurationError(
            f"{where}: an SSE handler declares its events in its return annotation, "
            "`-> AsyncIterator[Tick | Done]`"
        )
    return hints["return"]


def _check_parts(parts: SignatureParts, where: str) -> None:
    if parts.websocket_arg is not None:
        raise ConfigurationError(f"{where}: an SSE handler cannot take a WebSocket")
    if parts.body is not None:
        raise ConfigurationError(
            f"{where}: parameter {parts.body.name!r} reads a body; an SSE route is a GET "
            "and has none. Read query parameters instead."
        )
    if parts.form:
        name = parts.form[0][0].name
        raise ConfigurationError(
            f"{where}: parameter {name!r} reads a form; an SSE route is a GET and has no "
            "body. Read query parameters instead."
        )
    if parts.background_arg is not None:
        raise ConfigurationError(
            f"{where}: parameter {parts.background_arg!r} asks for BackgroundTasks; an SSE "
            "response has no end to run them after. Do the work in the generator (in a "
            "`finally:` to run it when the stream ends)."
        )
    for spec in parts.params:
        # `last_event_id: str | None` is optional: a first connection sends no header.
        if (
            spec.source is ParamSource.HEADER
            and spec.name == LAST_EVENT_ID
            and spec.required
            and _allows_none(spec.annotation)
        ):
            spec.required = False
            spec.default = None


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def response_headers(headers: Mapping[str, str], where: str) -> dict[str, str]:
    """A route's ``headers=``, checked: names are HTTP tokens, each once; values are
    Latin-1 text without line breaks; the stream's own ``content-type`` (and its
    framing) stay the framework's."""
    checked: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in headers.items():
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise ConfigurationError(f"{where}: headers: {name!r} is not a header name")
        lower = name.lower()
        if lower in FIXED_HEADERS:
            raise ConfigurationError(
                f"{where}: headers: {name!r} is the framework's on an event stream "
                "(text/event-stream, sent in chunks) and cannot be set"
            )
        if lower in seen:
            raise ConfigurationError(f"{where}: headers: {name!r} is given twice")
        seen.add(lower)
        if not isinstance(value, str) or not value.isascii() or not value.isprintable():
            raise ConfigurationError(
                f"{where}: headers: the value of {name!r} must be printable ASCII text "
                f"without line breaks; got {value!r}"
            )
        checked[name] = value
    return checked


def compile_sse(
    func: Callable[..., Any],
    *,
    path_params: Collection[str],
    graph: ProviderGraph,
    app_values: dict[Any, Any],
    hooks: Sequence[Hook] = (),
    keepalive: float | None = DEFAULT_KEEPALIVE,
    event_names: Mapping[Any, str] | None = None,
    headers: Mapping[str, str] | None = None,
    autouse: bool = True,
) -> SSEPlan:
    """Read an SSE handler's signature into its plan, or raise ``ConfigurationError``."""
    where = describe(func)
    _check_options(func, keepalive, where)
    returns = _return_annotation(func, where)
    kinds = _event_kinds(returns, dict(event_names or {}), where)
    own_headers = response_headers(headers or {}, where)
    parts = graph.read(
        func,
        where=where,
        path_params=path_params,
        implicit_headers=(LAST_EVENT_ID,),
    )
    _check_parts(parts, where)
    route_hooks = compile_hooks(
        declared_hooks(hooks, func, None, "an SSE route"),
        path_params=path_params,
        graph=graph,
        where=where,
    )
    wiring = graph.resolve_route(
        [*parts.providers, *route_hooks.wanted],
        path_params=path_params,
        where=where,
        autouse=autouse,
    )
    hook_params, _ = route_hooks.attach(wiring)
    try:
        return SSEPlan(
            kinds=kinds,
            keepalive=keepalive,
            headers=own_headers,
            endpoint=func,
            name=where,
            is_async=True,
            view_class=None,
            params=[*wiring.params, *hook_params, *parts.params],
            body=None,
            request_arg=parts.request_arg,
            response=ResponseSpec("stream", 200, returns, None),
            max_body_size=0,
            providers=wiring,
            app_values=app_values,
        )
    except ConfigurationError:
        raise
    except Exception as exc:
        raise ConfigurationError(f"{where}: cannot validate the parameters: {exc}") from exc
