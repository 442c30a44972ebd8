"""Providers: values a handler receives by naming a parameter after them.

Modelled on pytest fixtures. A provider is a function (sync or async, plain
or a generator whose code after ``yield`` is the teardown) registered with
``@provider``. Which providers a handler needs, in which order they are made,
and where each of their arguments comes from is resolved once, at start-up,
into a flat list of ``ProviderStep``s; a request runs that list.
"""

from __future__ import annotations

import enum
import importlib
import importlib.util
import inspect
import logging
import sys
from collections.abc import AsyncGenerator, Callable, Generator, Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, TypeVar, overload

from starlette.concurrency import run_in_threadpool

from bocadillo.errors import ConfigurationError

__all__ = [
    "AppProviders",
    "Provider",
    "ProviderKind",
    "ProviderRegistry",
    "ProviderStep",
    "discover_providers",
    "provider",
]

logger = logging.getLogger("bocadillo")

ProviderScope = Literal["app", "request"]
F = TypeVar("F", bound=Callable[..., Any])


class ProviderKind(enum.Enum):
    ASYNC = "async"
    SYNC = "sync"
    ASYNC_GENERATOR = "async generator"
    GENERATOR = "generator"
    VALUE = "value"


def _kind_of(func: Any) -> ProviderKind:
    if not callable(func):
        return ProviderKind.VALUE
    if inspect.isasyncgenfunction(func):
        return ProviderKind.ASYNC_GENERATOR
    if inspect.isgeneratorfunction(func):
        return ProviderKind.GENERATOR
    if inspect.iscoroutinefunction(func):
        return ProviderKind.ASYNC
    return ProviderKind.SYNC


class Provider:
    """A registered provider: the function, its name, scope and declared errors."""

    __slots__ = ("autouse", "func", "kind", "name", "raises", "scope")

    def __init__(
        self,
        func: Any,
        *,
        name: str,
        scope: ProviderScope = "request",
        autouse: bool = False,
        raises: Mapping[int, str] | None = None,
    ) -> None:
        if scope not in ("app", "request"):
            raise ConfigurationError(f"provider {name!r}: scope must be 'app' or 'request'")
        self.func = func
        self.name = name
        self.scope: ProviderScope = scope
        self.autouse = autouse
        self.raises = dict(raises or {})
        self.kind = _kind_of(func)

    def __repr__(self) -> str:
        return f"<Provider {self.name!r} scope={self.scope}>"


class ProviderRegistry:
    """Providers by name. An app's own registry falls back to the global one."""

    def __init__(self, parent: ProviderRegistry | None = None) -> None:
        self._providers: dict[str, Provider] = {}
        self._parent = parent

    def add(self, item: Provider) -> None:
        # A later definition replaces an earlier one, as when a module is reloaded.
        self._providers[item.name] = item

    def get(self, name: str) -> Provider | None:
        found = self._providers.get(name)
        if found is None and self._parent is not None:
            return self._parent.get(name)
        return found

    def names(self) -> set[str]:
        names = set(self._providers)
        if self._parent is not None:
            names |= self._parent.names()
        return names

    def autouse(self) -> list[Provider]:
        found = {p.name: p for p in self._parent.autouse()} if self._parent else {}
        # A provider of this registry hides the parent's of the same name, autouse or not.
        found.update(self._providers)
        return [p for p in found.values() if p.autouse]


GLOBAL_PROVIDERS = ProviderRegistry()


def register_provider(
    registry: ProviderRegistry,
    func: F | None,
    *,
    scope: ProviderScope,
    name: str | None,
    autouse: bool,
    raises: Mapping[int, str] | None,
) -> F | Callable[[F], F]:
    """The body of ``@provider`` and ``@app.provider``: register into ``registry``."""

    def register(func: F) -> F:
        registry.add(
            Provider(func, name=name or func.__name__, scope=scope, autouse=autouse, raises=raises)
        )
        return func

    return register(func) if func is not None else register


@overload
def provider(func: F, /) -> F: ...


@overload
def provider(
    *,
    scope: ProviderScope = "request",
    name: str | None = None,
    autouse: bool = False,
    raises: Mapping[int, str] | None = None,
) -> Callable[[F], F]: ...


def provider(
    func: F | None = None,
    /,
    *,
    scope: ProviderScope = "request",
    name: str | None = None,
    autouse: bool = False,
    raises: Mapping[int, str] | None = None,
) -> F | Callable[[F], F]:
    """Register a provider: any handler receives its value by naming a parameter after it.

    ::

        @provider(scope="app")
        async def pool():
            pool = await create_pool()
            yield pool            # the value handlers receive
            await pool.close()    # teardown, at shutdown

        @provider
        async def conn(pool):     # request scope: made once per request
            async with pool.acquire() as conn:
                yield conn

        @app.get("/users/{id}")
        async def get_user(id: int, conn) -> User: ...

    ``scope`` is ``"request"`` (made per request, per WebSocket connection or
    per event stream, torn down after the response) or ``"app"`` (made once at
    start-up, torn down at shutdown). ``name`` defaults to the function's
    name. ``autouse=True`` runs a request provider for every request even if
    no handler names it. ``raises`` maps the HTTP statuses the provider may
    answer with (``{401: "Missing or invalid API key"}``) to a description, so
    the API docs can list them.
    """
    return register_provider(
        GLOBAL_PROVIDERS, func, scope=scope, name=name, autouse=autouse, raises=raises
    )


def discover_providers(module: str) -> ModuleType:
    """Import ``module`` (``"pkg.providers"``) so the providers it defines are registered."""
    if not all(part.isidentifier() for part in module.split(".")):
        # "" and ".relative" would raise ValueError and TypeError from importlib.
        raise ConfigurationError(
            f"cannot load providers from {module!r}: not an absolute module name like 'pkg.mod'"
        )
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigurationError(f"cannot load providers from {module!r}: {exc}") from exc


def load_providerconf(app_module: str | None) -> None:
    """Import the ``providerconf.py`` beside the app's module, if there is one."""
    if not app_module:
        return
    module = sys.modules.get(app_module)
    file = getattr(module, "__file__", None)
    if module is None or not file:
        return
    conf = Path(file).with_name("providerconf.py")
    if not conf.is_file():
        return
    package = module.__package__ or ""
    name = f"{package}.providerconf" if package else "providerconf"
    existing = sys.modules.get(name)
    if existing is not None and getattr(existing, "__file__", None) == str(conf):
        return
    if package:
        discover_providers(name)
        return
    spec = importlib.util.spec_from_file_location(name, conf)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has one
        raise ConfigurationError(f"cannot load {conf}")
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded
    try:
        spec.loader.exec_module(loaded)
    except Exception:
        del sys.modules[name]
        raise


# -- the compiled form -------------------------------------------------------


class ProviderArg:
    """Where one provider-valued argument comes from at request time."""

    __slots__ = ("arg", "from_app", "key")

    def __init__(self, arg: str, key: Any, from_app: bool) -> None:
        self.arg = arg
        self.key = key  # a provider name (request scope) or an AppNode key (app scope)
        self.from_app = from_app


class ProviderStep:
    """One request-scoped provider call, with its arguments' sources resolved."""

    __slots__ = ("func", "kind", "name", "param_fields", "provider", "provider_args", "request_arg")

    def __init__(
        self,
        provider: Provider,
        *,
        param_fields: list[tuple[str, str]],
        provider_args: list[ProviderArg],
        request_arg: str | None,
    ) -> None:
        self.provider = provider
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


async def solve(
    steps: list[ProviderStep],
    fields: dict[str, Any],
    values: dict[str, Any],
    app_values: dict[Any, Any],
    request: Any,
    exits: list[Any],
) -> None:
    """Make each request provider in order, reading its request data from ``fields``.

    Provider fields are popped from ``fields``; what is left is the handler's.
    """
    for step in steps:
        kwargs: dict[str, Any] = {}
        for arg, field in step.param_fields:
            kwargs[arg] = fields.pop(field)
        for source in step.provider_args:
            kwargs[source.arg] = (app_values if source.from_app else values)[source.key]
        if step.request_arg is not None:
            kwargs[step.request_arg] = request
        if step.kind is ProviderKind.ASYNC:  # the common case, without a further coroutine
            values[step.name] = await step.func(**kwargs)
        else:
            values[step.name] = await make_value(step.kind, step.func, kwargs, exits)


async def teardown(exits: list[Any], exc: BaseException | None) -> BaseException | None:
    """Finish generator providers, the last made first.

    With ``exc`` (the handler failed), each generator sees it raised at its
    ``yield``, so a transaction can roll back. A teardown that raises a
    different exception replaces it (to turn a database error into an
    ``HTTPError(409)``, say). Returns the exception left to answer, if any.
    """
    while exits:
        gen = exits.pop()
        try:
            if isinstance(gen, AsyncGenerator):
                if exc is None:
                    await gen.__anext__()
                else:
                    await gen.athrow(exc)
                finished = False
            elif exc is None:
                finished, _ = await run_in_threadpool(_advance, gen)
            else:
                finished = await run_in_threadpool(_throw, gen, exc)
        except StopAsyncIteration:
            continue
        except BaseException as raised:
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
            kwargs = {a.arg: self.values[a.key] for a in node.args}
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
