"""Running providers: the compiled form of a route's providers, and the session
that makes them for a request and tears them down after it.

``bocadillo.providers`` declares providers; the compiler resolves which ones a
route needs into ``ProviderStep``s and ``AppNode``s (kept here, as the plans
read them per request); this module runs them.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncGenerator, Generator, Iterable
from typing import Any, Generic, TypeVar

import anyio
from starlette.concurrency import run_in_threadpool

from bocadillo.observe import CURRENT, Observation
from bocadillo.providers import Provider, ProviderKind
from bocadillo.runtime.specs import ParamSpec

__all__ = [
    "AppNode",
    "AppProviders",
    "Lazy",
    "ProviderArg",
    "ProviderSession",
    "ProviderStep",
    "RouteProviders",
    "make_value",
    "observe_provider_spans",
    "solve",
    "teardown",
]

logger = logging.getLogger("bocadillo")
T = TypeVar("T")

# Whether some app asked for provider spans (``Telemetry(provider_spans=True)``):
# until one does, a session never looks at ``bocadillo.observe.CURRENT``.
_observed = False


def observe_provider_spans() -> None:
    """Telemetry's switch: from now on a session asks ``CURRENT`` whether the
    request's providers are made and torn down inside spans."""
    global _observed
    _observed = True


def _observation() -> Observation | None:
    """The request's observation, if it wants provider spans (one look per call)."""
    if not _observed:
        return None
    observation = CURRENT.get()
    if observation is None or not observation.provider_spans:
        return None
    return observation


# -- the compiled form -------------------------------------------------------


class ProviderArg:
    """Where one provider-valued argument comes from at request time."""

    __slots__ = ("arg", "from_app", "key")

    def __init__(self, arg: str | None, key: Any, from_app: bool) -> None:
        self.arg = arg  # None: made for its effect (@useprovider), passed to nobody
        self.key = key  # a provider name (request scope) or an AppNode key (app scope)
        self.from_app = from_app


class ProviderStep:
    """One request-scoped provider call, with its arguments' sources resolved."""

    __slots__ = (
        "func",
        "kind",
        "lazy",
        "name",
        "param_fields",
        "provider",
        "provider_args",
        "request_arg",
    )

    def __init__(
        self,
        provider: Provider,
        *,
        param_fields: list[tuple[str, str]],
        provider_args: list[ProviderArg],
        request_arg: str | None,
        lazy: bool = False,
    ) -> None:
        self.provider = provider
        self.lazy = lazy  # made when the handler first awaits it
        self.name = provider.name
        self.func = provider.func
        self.kind = provider.kind
        self.param_fields = param_fields  # (argument, validated field)
        self.provider_args = provider_args
        self.request_arg = request_arg


class AppNode:
    """An app-scoped provider, resolved: made once, keyed by itself and its inputs."""

    __slots__ = ("args", "key", "provider")

    def __init__(self, provider: Provider, args: list[ProviderArg]) -> None:
        self.provider = provider
        self.args = args
        self.key: tuple[Any, ...] = (provider, tuple(a.key for a in args))


@dataclasses.dataclass(slots=True)
class RouteProviders:
    """What one route needs from providers, resolved."""

    steps: list[ProviderStep]  # request providers, dependencies first
    handler_args: list[ProviderArg]  # the handler's own provider arguments
    params: list[ParamSpec]  # request data the providers read (validated with the handler's)
    request_needed: bool  # some provider takes the Request
    raises: dict[int, str]  # statuses the providers declare they may answer with
    app_nodes: list[AppNode]  # the app providers this route uses, directly or not


# -- running providers -------------------------------------------------------


def _advance(gen: Generator[Any, None, None]) -> tuple[bool, Any]:
    """next(gen) for a worker thread: StopIteration cannot cross into a coroutine."""
    try:
        return False, next(gen)
    except StopIteration:
        return True, None


def _throw(gen: Generator[Any, None, None], exc: BaseException) -> bool:
    try:
        gen.throw(exc)
    except StopIteration:
        return True
    return False


async def make_value(
    kind: ProviderKind, func: Any, kwargs: dict[str, Any], exits: list[Any]
) -> Any:
    """Call one provider; a generator's is pushed on ``exits`` for its teardown."""
    if kind is ProviderKind.ASYNC:
        return await func(**kwargs)
    if kind is ProviderKind.ASYNC_GENERATOR:
        agen = func(**kwargs)
        try:
            value = await agen.__anext__()
        except StopAsyncIteration:
            raise RuntimeError(f"provider {func.__name__!r} did not yield a value") from None
        exits.append(agen)
        return value
    if kind is ProviderKind.SYNC:
        return await run_in_threadpool(func, **kwargs)
    if kind is ProviderKind.GENERATOR:
        gen = func(**kwargs)
        done, value = await run_in_threadpool(_advance, gen)
        if done:
            raise RuntimeError(f"provider {func.__name__!r} did not yield a value")
        exits.append(gen)
        return value
    return func  # ProviderKind.VALUE


class Lazy(Generic[T]):
    """The value of a lazy provider (``@provider(lazy=True)``), made when first awaited.

    A handler annotates the parameter ``Lazy[T]`` (or ``Awaitable[T]``) and
    awaits it where it needs the value; ``await`` gives the same value every
    time, and the provider is not made at all if nothing awaits it::

        @provider(lazy=True)
        async def report() -> Report:
            return await build_report()      # slow: only when asked for

        @app.get("/summary")
        async def summary(report: Lazy[Report], full: bool = False) -> Summary:
            if not full:
                return Summary.short()
            return Summary.of(await report)

    A generator provider's teardown runs with the others' (first, being made
    last); an error it raises comes out of the ``await``.
    """

    __slots__ = ("_error", "_exits", "_func", "_kind", "_kwargs", "_made", "_value", "_waiting")

    def __init__(
        self, kind: ProviderKind, func: Any, kwargs: dict[str, Any], exits: list[Any]
    ) -> None:
        self._kind = kind
        self._func = func
        self._kwargs = kwargs
        self._exits = exits  # the request's teardown stack
        self._made = False
        self._value: Any = None
        self._error: Exception | None = None
        self._waiting: list[anyio.Event] | None = None  # set while it is being made

    def __await__(self) -> Generator[Any, None, T]:
        return self._get().__await__()

    def __repr__(self) -> str:
        state = "made" if self._made else "failed" if self._error is not None else "not made"
        return f"<Lazy {getattr(self._func, '__name__', self._func)!r} ({state})>"

    async def _get(self) -> T:
        while True:
            if self._made:
                return self._value  # type: ignore[no-any-return]
            if self._error is not None:
                raise self._error
            if self._waiting is None:
                break
            event = anyio.Event()  # another task is making it: wait, then look again
            self._waiting.append(event)
            await event.wait()
        self._waiting = []
        try:
            observation = _observation() if _observed else None
            if observation is None:
                self._value = await make_value(self._kind, self._func, self._kwargs, self._exits)
            else:
                with observation.provider(_name(self._func), "setup"):
                    self._value = await make_value(
                        self._kind, self._func, self._kwargs, self._exits
                    )
            self._made = True
        except Exception as exc:
            self._error = exc
            raise
        finally:
            waiting, self._waiting = self._waiting, None
            for event in waiting:
                event.set()
        return self._value  # type: ignore[no-any-return]


async def solve(
    steps: list[ProviderStep],
    fields: dict[str, Any],
    values: dict[str, Any],
    app_values: dict[Any, Any],
    request: Any,
    exits: list[Any],
    observation: Observation | None = None,
) -> None:
    """Make each request provider in order, reading its request data from ``fields``.

    Provider fields are popped from ``fields``; what is left is the handler's.
    With an ``observation``, each is made inside its ``provider(name, "setup")``
    (a lazy one when it is first awaited).
    """
    for step in steps:
        kwargs: dict[str, Any] = {}
        for arg, field in step.param_fields:
            kwargs[arg] = fields.pop(field)
        for source in step.provider_args:
            if source.arg is not None:  # always, for a request provider's step
                kwargs[source.arg] = (app_values if source.from_app else values)[source.key]
        if step.request_arg is not None:
            kwargs[step.request_arg] = request
        if step.lazy:
            values[step.name] = Lazy(step.kind, step.func, kwargs, exits)
        elif observation is not None:
            with observation.provider(_name(step.func), "setup"):
                values[step.name] = await make_value(step.kind, step.func, kwargs, exits)
        elif step.kind is ProviderKind.ASYNC:  # the common case, without a further coroutine
            values[step.name] = await step.func(**kwargs)
        else:
            values[step.name] = await make_value(step.kind, step.func, kwargs, exits)


def _name(func: Any) -> str:
    return str(getattr(func, "__name__", None) or func)


async def _finish_one(gen: Any, exc: BaseException | None) -> tuple[bool, BaseException | None]:
    """Resume one generator after its ``yield`` (raising ``exc`` there, if any):
    (whether it finished, the exception it raised)."""
    try:
        if isinstance(gen, AsyncGenerator):
            if exc is None:
                await gen.__anext__()
            else:
                await gen.athrow(exc)
            return False, None
        if exc is None:
            finished, _ = await run_in_threadpool(_advance, gen)
            return finished, None
        return await run_in_threadpool(_throw, gen, exc), None
    except StopAsyncIteration:
        return True, None
    except BaseException as raised:
        return True, raised


async def _finish_observed(
    gen: Any, exc: BaseException | None, observation: Observation
) -> tuple[bool, BaseException | None]:
    """``_finish_one`` inside the provider's teardown span, which records an error
    of its own (not the handler's ``exc``, passed through)."""
    try:
        with observation.provider(_name(gen), "teardown"):
            finished, raised = await _finish_one(gen, exc)
            if raised is not None and raised is not exc:
                raise raised
    except BaseException as own:
        return True, own
    return finished, raised


async def teardown(
    exits: list[Any], exc: BaseException | None, observation: Observation | None = None
) -> BaseException | None:
    """Finish generator providers, the last made first.

    With ``exc`` (the handler failed), each generator sees it raised at its
    ``yield``, so a transaction can roll back. A teardown that raises a
    different exception replaces it (to turn a database error into an
    ``HTTPError(409)``, say). Returns the exception left to answer, if any.
    With an ``observation``, each teardown runs inside its ``provider(name, "teardown")``.
    """
    while exits:
        gen = exits.pop()
        if observation is None:
            finished, raised = await _finish_one(gen, exc)
        else:
            finished, raised = await _finish_observed(gen, exc, observation)
        if raised is not None:
            if raised is not exc:
                exc = raised
            continue
        if not finished:
            exc = RuntimeError(f"provider generator {gen.__qualname__!r} yielded more than once")
            if isinstance(gen, AsyncGenerator):
                await gen.aclose()
            else:
                gen.close()
    return exc


class ProviderSession:
    """A route's request-scoped providers, run around each request (or WebSocket
    connection, or event stream) of that route.

    ``open`` makes the providers and hands the handler its provider arguments;
    it returns the request's teardown stack (its generator providers). After the
    handler, ``fail`` (it raised: the error may be replaced), ``finish`` (it
    succeeded and nothing is sent yet: a teardown error is raised, to be answered)
    or ``close`` (the response is under way, or the connection over: a teardown
    error is logged) finishes them. Each empties the stack, so the teardown runs
    once whichever is called::

        exits = await session.open(kwargs, request)
        try:
            result = await handler(**kwargs)
            if exits:
                await session.finish(exits)   # a failed commit raises here
            await send_response(result)
        except BaseException as exc:
            if exits:
                await session.fail(exits, exc)
            raise
    """

    __slots__ = ("_app_values", "_handler_args", "_name", "_shielded", "_steps")

    def __init__(
        self,
        providers: RouteProviders,
        app_values: dict[Any, Any],
        *,
        name: str,
        shielded: bool,
    ) -> None:
        self._steps = providers.steps
        self._handler_args = [
            (a.arg, a.key, a.from_app) for a in providers.handler_args if a.arg is not None
        ]
        self._app_values = app_values
        self._name = name  # the handler, for the log
        # Where the connection's task may be cancelled once the client leaves (an
        # event stream, a WebSocket), a teardown (telling a room the member left,
        # say) must still finish.
        self._shielded = shielded

    async def open(self, kwargs: dict[str, Any], request: Any) -> list[Any]:
        """Make the providers in order, reading their request data from ``kwargs``,
        and put the handler's provider arguments in ``kwargs``; return the teardown
        stack. If making one fails, those made are torn down with its error, and
        the error (or the one a teardown replaced it with) is raised."""
        values: dict[str, Any] = {}
        exits: list[Any] = []
        app_values = self._app_values
        try:
            observation = _observation() if _observed else None
            await solve(self._steps, kwargs, values, app_values, request, exits, observation)
        except BaseException as exc:
            if exits:
                await self.fail(exits, exc)
            raise
        for arg, key, from_app in self._handler_args:
            kwargs[arg] = app_values[key] if from_app else values[key]
        return exits

    async def fail(self, exits: list[Any], exc: BaseException) -> None:
        """Tear down with the handler's error, which generators see at their ``yield``;
        raise the error a teardown replaced it with, if one did."""
        replacement = await self._teardown(exits, exc)
        if replacement is not None and replacement is not exc:
            raise replacement from exc

    async def finish(self, exits: list[Any]) -> None:
        """Tear down after the handler succeeded, before its response is sent (a
        generator commits after its ``yield``): raise a teardown's error, which is
        answered instead of the response."""
        error = await self._teardown(exits, None)
        if error is not None:
            raise error

    async def close(self, exits: list[Any], failure: BaseException | None = None) -> None:
        """Tear down after the handler finished, or failed with ``failure`` already
        answered (generators see it at their ``yield``); log a teardown's own error."""
        error = await self._teardown(exits, failure)
        if error is not None and error is not failure:
            logger.error("A provider's teardown failed after %s", self._name, exc_info=error)

    async def _teardown(self, exits: list[Any], exc: BaseException | None) -> BaseException | None:
        observation = _observation() if _observed else None
        if self._shielded:
            with anyio.CancelScope(shield=True):
                return await teardown(exits, exc, observation)
        return await teardown(exits, exc, observation)


class AppProviders:
    """The values of app-scoped providers, made at start-up, torn down at shutdown."""

    def __init__(self) -> None:
        self.values: dict[Any, Any] = {}
        self._exits: list[Any] = []

    async def ensure(self, nodes: Iterable[AppNode]) -> None:
        """Make every node not made yet; ``nodes`` come dependencies first."""
        for node in nodes:
            if node.key in self.values:
                continue
            kwargs = {a.arg: self.values[a.key] for a in node.args if a.arg is not None}
            provider = node.provider
            self.values[node.key] = await make_value(
                provider.kind, provider.func, kwargs, self._exits
            )

    async def close(self) -> None:
        """Tear every app provider down, the last made first."""
        error = await teardown(self._exits, None)
        self.values.clear()
        if error is not None:
            raise error
