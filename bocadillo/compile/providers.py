"""Resolving the providers a handler needs, once, at start-up.

For each route the graph walks from the handler's provider parameters (and
the autouse providers) through every provider's own parameters, and returns
a flat, ordered list of ``ProviderStep``s: each request provider once, after
everything it depends on. App-scoped providers become ``AppNode``s, made at
start-up. Unknown names, cycles and an app provider that needs a request
provider or request data are ``ConfigurationError``s naming the handler,
the parameter and the chain.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from bocadillo.compile.parameters import SignatureParts, describe, read_parameters
from bocadillo.errors import ConfigurationError
from bocadillo.providers import Provider, ProviderKind
from bocadillo.runtime.providers import AppNode, ProviderArg, ProviderStep, RouteProviders
from bocadillo.runtime.specs import ParamSpec

__all__ = ["ProviderGraph"]


def _chain(names: list[str]) -> str:
    return " -> ".join(names)


class ProviderGraph:
    """Resolves provider names for one app: its overrides, its own registry, the global one."""

    def __init__(
        self,
        lookup: Callable[[str], Provider | None],
        names: Callable[[], Collection[str]],
        autouse: list[Provider],
        declared: Callable[[str], Provider | None] | None = None,
    ) -> None:
        self._lookup = lookup
        self._declared = declared or lookup
        self._names = names
        self._autouse = autouse
        self._app_nodes: dict[str, AppNode] = {}  # by provider name, dependencies first
        self._app_visiting: list[str] = []

    def lookup(self, name: str) -> Provider | None:
        """The provider ``name`` resolves to, if any."""
        return self._lookup(name)

    def declared(self, name: str) -> Provider | None:
        """The provider ``name`` was registered as, not a test's override of it: the one
        whose type a parameter of that name must fit."""
        return self._declared(name) or self._lookup(name)

    def read(
        self,
        func: Callable[..., Any],
        *,
        where: str,
        path_params: Collection[str],
        skip_first: bool = False,
        field_prefix: str = "",
        allow_body: bool = True,
        implicit_headers: Collection[str] = (),
        kind: str = "a provider",
    ) -> SignatureParts:
        """``read_parameters`` for a handler or hook of a route, with this graph's
        providers: a parameter named after one is given it, and its type must fit."""
        return read_parameters(
            func,
            where=where,
            path_params=path_params,
            is_provider=self.is_provider,
            provider_of=self.declared,
            provider_names=self.names,
            skip_first=skip_first,
            field_prefix=field_prefix,
            allow_body=allow_body,
            implicit_headers=implicit_headers,
            kind=kind,
        )

    def is_provider(self, name: str) -> bool:
        """Whether ``name`` resolves to a provider."""
        return self._lookup(name) is not None

    def names(self) -> Collection[str]:
        """Every provider name (for did-you-mean suggestions)."""
        return self._names()

    @property
    def app_nodes(self) -> list[AppNode]:
        """Every app provider resolved so far, dependencies first."""
        return list(self._app_nodes.values())

    def where(self, provider: Provider) -> str:
        """The provider, for error messages."""
        if provider.kind is ProviderKind.VALUE:
            return f"provider {provider.name!r}"
        return f"provider {provider.name!r} in {describe(provider.func)}"

    # -- app scope -------------------------------------------------------------

    def resolve_app(self, provider: Provider, chain: list[str], where: str) -> AppNode:
        """The start-up node of app-scoped ``provider``, its dependencies resolved first."""
        node = self._app_nodes.get(provider.name)
        if node is not None and node.provider is provider:
            return node
        chain = [*chain, provider.name]
        if provider.name in self._app_visiting:
            raise ConfigurationError(f"{where}: providers depend on each other: {_chain(chain)}")
        self._app_visiting.append(provider.name)
        try:
            args = self._app_args(provider, chain, where)
        finally:
            self._app_visiting.pop()
        node = AppNode(provider, args)
        self._app_nodes[provider.name] = node
        return node

    def _app_args(self, provider: Provider, chain: list[str], where: str) -> list[ProviderArg]:
        """An app provider's arguments: other app providers only, no request data."""
        if provider.kind is ProviderKind.VALUE:
            return []
        parts = read_parameters(
            provider.func,
            where=self.where(provider),
            path_params=(),
            is_provider=self.is_provider,
            provider_of=self.declared,
            provider_names=self._names,
            allow_body=False,
        )
        data = [p.name for p in parts.params] + ([parts.request_arg] if parts.request_arg else [])
        if data:
            raise ConfigurationError(
                f"{where}: app-scoped {self.where(provider)} reads request data "
                f"(parameter {data[0]!r}); an app provider is made once, at start-up. "
                "Make it a request provider, or move that parameter to one."
            )
        args: list[ProviderArg] = []
        for arg, name in parts.providers:  # arg None: @useprovider, made first all the same
            dependency = self._lookup(name)
            assert dependency is not None
            if dependency.scope == "request":
                raise ConfigurationError(
                    f"{where}: app-scoped provider {provider.name!r} depends on "
                    f"request-scoped provider {name!r} ({_chain([*chain, name])}); an "
                    "app provider is made once and cannot hold a per-request value"
                )
            dep_node = self.resolve_app(dependency, chain, where)
            args.append(ProviderArg(arg, dep_node.key, from_app=True))
        return args

    def resolve_app_autouse(self) -> None:
        """Resolve the app-scoped autouse providers, which start whether used or not."""
        for provider in self._autouse:
            if provider.scope == "app":
                self.resolve_app(provider, [], self.where(provider))

    def app_closure(self, node: AppNode) -> list[AppNode]:
        """``node`` and every app node it depends on, dependencies first."""
        by_key = {n.key: n for n in self._app_nodes.values()}
        ordered: list[AppNode] = []

        def visit(current: AppNode) -> None:
            for arg in current.args:
                visit(by_key[arg.key])
            if current not in ordered:
                ordered.append(current)

        visit(node)
        return ordered

    # -- one route -------------------------------------------------------------

    def resolve_route(
        self,
        wanted: list[tuple[str | None, str]],
        *,
        path_params: Collection[str],
        where: str,
        autouse: bool = True,
    ) -> RouteProviders:
        """Resolve a handler's provider arguments ``(argument, provider name)``; an
        argument of None is a provider ``@useprovider`` names, made for its effect.

        ``autouse=False`` leaves out the autouse providers (the framework's own
        routes, such as the docs pages, do without them).
        """
        route = _RouteResolution(self, path_params, where)
        for provider in self._autouse if autouse else ():
            if provider.scope == "request":
                route.need(provider.name, [])
        handler_args: list[ProviderArg] = []
        for arg, name in wanted:
            if arg is None:  # @useprovider: made for its effect
                route.check_used(name, [])
            source = route.need(name, [])
            if arg is not None:
                handler_args.append(ProviderArg(arg, *source))
        return RouteProviders(
            route.steps,
            handler_args,
            route.params,
            route.request_needed,
            route.raises,
            list(route.app_nodes.values()),
        )


class _RouteResolution:
    """The providers of one route, walked from the handler: each request provider once,
    after everything it depends on."""

    def __init__(self, graph: ProviderGraph, path_params: Collection[str], where: str) -> None:
        self.graph = graph
        self.path_params = path_params
        self.where = where
        self.steps: list[ProviderStep] = []
        self.params: list[ParamSpec] = []
        self.raises: dict[int, str] = {}
        self.made: set[str] = set()
        self.visiting: list[str] = []
        self.app_nodes: dict[str, AppNode] = {}
        self.request_needed = False

    def need(self, name: str, chain: list[str]) -> tuple[Any, bool]:
        """Resolve provider ``name``; return where its value will be: (key, from_app)."""
        provider = self.graph.lookup(name)
        assert provider is not None, name
        self.raises.update(provider.raises)
        if provider.scope == "app":
            node = self.graph.resolve_app(provider, chain, self.where)
            for used in self.graph.app_closure(node):
                self.app_nodes[used.provider.name] = used
                self.raises.update(used.provider.raises)
            return node.key, True
        if name in self.made:
            return name, False
        if name in self.visiting:
            raise ConfigurationError(
                f"{self.where}: providers depend on each other: {_chain([*chain, name])}"
            )
        self.visiting.append(name)
        self.steps.append(self._step(provider, [*chain, name]))
        self.visiting.pop()
        self.made.add(name)
        return name, False

    def check_used(self, name: str, chain: list[str]) -> None:
        """A provider ``@useprovider`` names must be one that runs before the handler."""
        declared = self.graph.declared(name)
        if declared is not None and declared.lazy:
            raise ConfigurationError(
                f"{self.where}: @useprovider({name!r}) names a lazy provider, which is made "
                "only when a handler awaits it; take it as a parameter and await it, or "
                "make it not lazy"
            )

    def _step(self, provider: Provider, chain: list[str]) -> ProviderStep:
        """How to make a request provider: its request data, its providers, its Request."""
        declared = self.graph.declared(provider.name) or provider
        lazy = declared.lazy  # an override of a lazy provider is lazy too
        if provider.kind is ProviderKind.VALUE:
            return ProviderStep(
                provider, param_fields=[], provider_args=[], request_arg=None, lazy=lazy
            )
        parts = read_parameters(
            provider.func,
            where=f"{self.where}: {self.graph.where(provider)}",
            path_params=self.path_params,
            is_provider=self.graph.is_provider,
            provider_of=self.graph.declared,
            provider_names=self.graph.names,
            field_prefix=f"{provider.name}.",
            allow_body=False,
        )
        self.params.extend(parts.params)
        provider_args: list[ProviderArg] = []
        for arg, dependency in parts.providers:
            if arg is None:  # the provider's own @useprovider
                self.check_used(dependency, chain)
            source = self.need(dependency, chain)
            if arg is not None:
                provider_args.append(ProviderArg(arg, *source))
        self.request_needed = self.request_needed or parts.request_arg is not None
        return ProviderStep(
            provider,
            param_fields=[(spec.name, spec.field) for spec in parts.params],
            provider_args=provider_args,
            request_arg=parts.request_arg,
            lazy=lazy,
        )
