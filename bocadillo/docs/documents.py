"""The API's documents and docs pages, built on first use and kept until the
routes change: the one cache of everything ``docs/`` makes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from bocadillo.docs.asyncapi import build_asyncapi
from bocadillo.docs.model import ApiModel
from bocadillo.docs.openapi import build_openapi, render_openapi

__all__ = ["ApiDocuments", "as_openapi_31"]

T = TypeVar("T")


def as_openapi_31(document: dict[str, Any]) -> dict[str, Any]:
    """A 3.2 document as 3.1: what Bocadillo writes differently in 3.2 is a media
    type's ``itemSchema`` (an event stream's one event), which 3.1 says as its
    ``schema``; ``itemEncoding`` and ``prefixEncoding`` have no 3.1 form."""

    def convert(node: Any, key: str | None = None) -> Any:
        if isinstance(node, list):
            return [convert(item) for item in node]
        if not isinstance(node, dict):
            return node
        if key == "content":
            # A map of media types to media type objects.
            media_types = {}
            for name, media in node.items():
                media = convert(media)
                if isinstance(media, dict) and "itemSchema" in media:
                    item = media["itemSchema"]
                    media = {k: v for k, v in media.items() if k not in _ONLY_32}
                    media["schema"] = item
                media_types[name] = media
            return media_types
        return {k: convert(v, k) for k, v in node.items()}

    converted: dict[str, Any] = convert(document)
    converted["openapi"] = "3.1.0"
    return converted


_ONLY_32 = ("itemSchema", "itemEncoding", "prefixEncoding")


class ApiDocuments:
    """The OpenAPI and AsyncAPI documents of an API, their bytes, and the docs pages.

    ``model`` builds the API model (it compiles the app); it is called on first
    use, and again after ``clear()``, which the app calls when its routes change.
    """

    def __init__(self, model: Callable[[], ApiModel]) -> None:
        self._build_model = model
        self._cache: dict[str, Any] = {}

    def clear(self) -> None:
        """Forget everything built: the next use builds from a fresh model."""
        self._cache.clear()

    def cached(self, key: str, build: Callable[[], T]) -> T:
        """What ``build()`` returns, built once under ``key`` until ``clear()``."""
        if key not in self._cache:
            self._cache[key] = build()
        found: T = self._cache[key]
        return found

    def model(self) -> ApiModel:
        """The API model the documents are built from."""
        return self.cached("model", self._build_model)

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI document, of the model's ``openapi_version``."""
        return self.cached("openapi", lambda: build_openapi(self.model()))

    def openapi_for_page(
        self, document: Callable[[], dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """The document the Swagger UI page reads: ``document()`` (the one served at
        the OpenAPI URL, an ``App`` subclass's ``openapi()`` included; by default the
        API's), in its 3.1 form when it is 3.2 (Swagger UI reads 3.0 and 3.1 only)."""
        served = (document or self.openapi)()
        if str(served.get("openapi", "")).startswith("3.1."):
            return served
        return as_openapi_31(served)

    def asyncapi(self) -> dict[str, Any]:
        """The AsyncAPI 3.0 document: a channel per WebSocket route and per SSE route."""
        return self.cached("asyncapi", lambda: build_asyncapi(self.model()))

    def page(self, name: str, variant: str, render: Callable[[], str]) -> str:
        """A docs page's HTML for ``variant`` (the root path its links start with, and
        what else it shows of the request): kept for the last variant only, so one
        that changes per request keeps one page."""
        key = "page:" + name
        cached: tuple[str, str] | None = self._cache.get(key)
        if cached is None or cached[0] != variant:
            cached = self._cache[key] = (variant, render())
        return cached[1]

    def rendered(self, key: str, document: Callable[[], dict[str, Any]]) -> bytes:
        """A document's bytes as served: YAML when ``key`` ends with ``.yaml``."""
        return self.cached(
            "bytes:" + key,
            lambda: render_openapi(document(), as_yaml=key.endswith(".yaml")),
        )
