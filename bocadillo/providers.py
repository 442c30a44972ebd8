"""Providers: values a handler receives by naming a parameter after them.

Modelled on pytest fixtures. A provider is a function (sync or async, plain
or a generator whose code after ``yield`` is the teardown) registered with
``@provider``. This module is the declaration side: the decorator, the
registries and discovery. Which providers a handler needs is resolved once,
at start-up, by ``bocadillo.compile.providers``; ``bocadillo.runtime.providers``
runs them per request.
"""

from __future__ import annotations

import contextlib
import enum
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, TypeVar, overload

from bocadillo.errors import ConfigurationError

__all__ = [
    "GLOBAL_PROVIDERS",
    "Provider",
    "ProviderKind",
    "ProviderRegistry",
    "ProviderScope",
    "discover_providers",
    "isolated_providers",
    "load_providerconf",
    "provider",
    "register_provider",
    "used_providers",
    "useprovider",
]

ProviderScope = Literal["app", "request"]
F = TypeVar("F", bound=Callable[..., Any])

# Set on a handler by @useprovider: the names of the providers it runs for their effect.
_USED = "__bocadillo_useprovider__"
# Set on a provider's function when it is registered: the name it was registered under.
_NAME = "__bocadillo_provider_name__"


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

    __slots__ = ("autouse", "func", "kind", "lazy", "name", "raises", "scope")

    def __init__(
        self,
        func: Any,
        *,
        name: str,
        scope: ProviderScope = "request",
        autouse: bool = False,
        raises: Mapping[int, str] | None = None,
        lazy: bool = False,
    ) -> None:
        if scope not in ("app", "request"):
            raise ConfigurationError(f"provider {name!r}: scope must be 'app' or 'request'")
        if lazy and scope != "request":
            raise ConfigurationError(
                f"provider {name!r}: a lazy provider is made when a handler awaits it, so it "
                "is request-scoped; an app provider is made once, at start-up"
            )
        if lazy and autouse:
            raise ConfigurationError(
                f"provider {name!r}: a lazy provider is made when a handler awaits it; "
                "autouse=True would never make it"
            )
        self.func = func
        self.name = name
        self.scope: ProviderScope = scope
        self.autouse = autouse
        self.raises = dict(raises or {})
        self.lazy = lazy
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
    lazy: bool = False,
) -> F | Callable[[F], F]:
    """The body of ``@provider`` and ``@app.provider``: register into ``registry``."""

    def register(func: F) -> F:
        registered = name or func.__name__
        registry.add(
            Provider(func, name=registered, scope=scope, autouse=autouse, raises=raises, lazy=lazy)
        )
        with contextlib.suppress(AttributeError, TypeError):  # a builtin, a bound method
            setattr(func, _NAME, registered)  # so that @useprovider(func) finds the name
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
    lazy: bool = False,
) -> Callable[[F], F]: ...


def provider(
    func: F | None = None,
    /,
    *,
    scope: ProviderScope = "request",
    name: str | None = None,
    autouse: bool = False,
    raises: Mapping[int, str] | None = None,
    lazy: bool = False,
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
    the API docs can list them. ``lazy=True`` (request scope only) hands
    handlers a ``Lazy[T]`` instead of the value: the provider is made when the
    handler first awaits it, and not at all if it never does.
    """
    return register_provider(
        GLOBAL_PROVIDERS, func, scope=scope, name=name, autouse=autouse, raises=raises, lazy=lazy
    )


def useprovider(*providers: str | Callable[..., Any]) -> Callable[[F], F]:
    """Run providers for their effect before the handler, without a parameter for them.

    ::

        @provider
        async def audit(request: Request) -> AsyncIterator[None]:
            log.info("start %s", request.url.path)
            yield
            log.info("done %s", request.url.path)

        @app.get("/reports")
        @useprovider("audit")
        async def reports() -> list[Report]: ...

    Each provider is named, or given as the function registered with
    ``@provider`` or ``@app.provider``. They are made before the handler, in
    the order given, each once per request like any provider (with its
    teardown, its errors and its own parameters, validated and documented with
    the handler's), on HTTP, WebSocket and event-stream handlers and on a
    view's methods. A name that is no provider is an error at start-up.
    """
    names: list[str] = []
    for item in providers:
        if isinstance(item, str):
            names.append(item)
        elif callable(item):
            names.append(str(getattr(item, _NAME, None) or getattr(item, "__name__", item)))
        else:
            raise TypeError(f"@useprovider takes provider names or functions, not {item!r}")

    def decorate(func: F) -> F:
        if isinstance(func, type):
            raise TypeError(
                f"@useprovider on the class {func.__qualname__}: decorate its methods instead"
            )
        # An outer decorator runs last: its providers go first, as written.
        setattr(func, _USED, (*names, *getattr(func, _USED, ())))
        return func

    return decorate


def used_providers(func: Any) -> tuple[str, ...]:
    """The providers ``@useprovider`` asked ``func`` to run, in order."""
    return tuple(getattr(func, _USED, ()))


@contextlib.contextmanager
def isolated_providers() -> Iterator[None]:
    """Undo, on exit, every ``@provider`` registration made inside the block.

    Providers registered before the block stay visible inside it; one registered
    inside (a new name, or a new definition of an existing name) is gone on exit,
    and the definition it replaced is back. Exported as
    ``bocadillo.testing.isolated_providers``, for tests::

        @pytest.fixture(autouse=True)
        def providers():
            with isolated_providers():
                yield
    """
    saved = dict(GLOBAL_PROVIDERS._providers)
    try:
        yield
    finally:
        GLOBAL_PROVIDERS._providers.clear()
        GLOBAL_PROVIDERS._providers.update(saved)


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
