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

from bocadillo.compile.signature import describe, read_parameters
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
    ) -> None:
        self._lookup = lookup
        self._names = names
        self._autouse = autouse
        self._app_nodes: dict[str, AppNode] = {}  # by provider name, dependencies first
        self._app_visiting: list[str] = []

    def is_provider(self, name: str) -> bool:
        return self._lookup(name) is not None

    def names(self) -> Collection[str]:
        return self._names()

    @property
    def app_nodes(self) -> list[AppNode]:
        """Every app provider resolved so far, dependencies first."""
        return list(self._app_nodes.values())

    def _where(self, provider: Provider) -> str:
        if provider.kind is ProviderKind.VALUE:
            return f"provider {provider.name!r}"
        return f"provider {provider.name!r} in {describe(provider.func)}"

    # -- app scope -------------------------------------------------------------

    def resolve_app(self, provider: Provider, chain: list[str], where: str) -> AppNode:
        node = self._app_nodes.get(provider.name)
        if node is not None and node.provider is provider:
            return node
        chain = [*chain, provider.name]
        if provider.name in self._app_visiting:
            raise ConfigurationError(f"{where}: providers depend on each other: {_chain(chain)}")
        self._app_visiting.append(provider.name)
        try:
            args: list[ProviderArg] = []
            if provider.kind is not ProviderKind.VALUE:
                parts = read_parameters(
                    provider.func,
                    where=self._where(provider),
                    path_params=(),
                    is_provider=self.is_provider,
                    provider_names=self._names,
                    allow_body=False,
                )
                data = [p.name for p in parts.params] + (
                    [parts.request_arg] if parts.request_arg else []
                )
                if data:
                    raise ConfigurationError(
                        f"{where}: app-scoped {self._where(provider)} reads request data "
                        f"(parameter {data[0]!r}); an app provider is made once, at start-up. "
                        "Make it a request provider, or move that parameter to one."
                    )
                for arg, name in parts.providers:
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
        finally:
            self._app_visiting.pop()
        node = AppNode(provider, args)
        self._app_nodes[provider.name] = node
        return node

    def resolve_app_autouse(self) -> None:
        """Resolve the app-scoped autouse providers, which start whether used or not."""
        for provider in self._autouse:
            if provider.scope == "app":
                self.resolve_app(provider, [], self._where(provider))

    # -- one route -------------------------------------------------------------

    def resolve_route(
        self,
        wanted: list[tuple[str, str]],
        *,
        path_params: Collection[str],
        where: str,
        autouse: bool = True,
    ) -> RouteProviders:
        """Resolve a handler's provider arguments ``(argument, provider name)``.

        ``autouse=False`` leaves out the autouse providers (the framework's own
        routes, such as the docs pages, do without them).
        """
        steps: list[ProviderStep] = []
        params: list[ParamSpec] = []
        raises: dict[int, str] = {}
        made: set[str] = set()
        visiting: list[str] = []
        app_nodes: dict[str, AppNode] = {}
        request_needed = False

        def need(name: str, chain: list[str]) -> tuple[Any, bool]:
            """Resolve provider ``name``; return where its value will be: (key, from_app)."""
            nonlocal request_needed
            provider = self._lookup(name)
            assert provider is not None, name
            raises.update(provider.raises)
            if provider.scope == "app":
                node = self.resolve_app(provider, chain, where)
                for used in self._app_closure(node):
                    app_nodes[used.provider.name] = used
                    raises.update(used.provider.raises)
                return node.key, True
            if name in made:
                return name, False
            if name in visiting:
                raise ConfigurationError(
                    f"{where}: providers depend on each other: {_chain([*chain, name])}"
                )
            visiting.append(name)
            param_fields: list[tuple[str, str]] = []
            provider_args: list[ProviderArg] = []
            request_arg = None
            if provider.kind is not ProviderKind.VALUE:
                parts = read_parameters(
                    provider.func,
                    where=f"{where}: {self._where(provider)}",
                    path_params=path_params,
                    is_provider=self.is_provider,
                    provider_names=self._names,
                    field_prefix=f"{name}.",
                    allow_body=False,
                )
                params.extend(parts.params)
                param_fields = [(spec.name, spec.field) for spec in parts.params]
                for arg, dependency in parts.providers:
                    provider_args.append(ProviderArg(arg, *need(dependency, [*chain, name])))
                request_arg = parts.request_arg
                request_needed = request_needed or request_arg is not None
            visiting.pop()
            steps.append(
                ProviderStep(
                    provider,
                    param_fields=param_fields,
                    provider_args=provider_args,
                    request_arg=request_arg,
                )
            )
            made.add(name)
            return name, False

        for provider in self._autouse if autouse else ():
            if provider.scope == "request":
                need(provider.name, [])
        handler_args = [ProviderArg(arg, *need(name, [])) for arg, name in wanted]
        return RouteProviders(
            steps, handler_args, params, request_needed, raises, list(app_nodes.values())
        )

    def _app_closure(self, node: AppNode) -> list[AppNode]:
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
