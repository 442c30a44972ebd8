"""The routes that serve the documents and the docs pages.

``/openapi.json`` and ``/asyncapi.json`` (each with its ``.yaml`` twin), the
Swagger UI page at ``/docs`` with its assets, and the channels page at
``/docs/channels``: each URL is a setting of the app, ``None`` turning it off.
What they serve comes from one ``ApiDocuments``, its one cache.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send

from bocadillo.docs.channels_page import render_channels_page
from bocadillo.docs.documents import ApiDocuments
from bocadillo.docs.pages import SWAGGER_UI_ASSETS, swagger_ui_page
from bocadillo.http.static import ProblemStaticFiles
from bocadillo.routing.router import Router

__all__ = ["add_docs_routes"]

_OWN: dict[str, Any] = {"include_in_schema": False, "framework": True}


class _Page(Response):
    """A docs page whose links start with the root path it is served under (a
    proxy's prefix, a mount's path): the scope tells that root path, so the page
    is found in the cache, or rendered, when it is sent. A page that shows where
    the app is served (``per_host``) is rendered for the request's ``Host`` too."""

    def __init__(
        self,
        documents: ApiDocuments,
        name: str,
        render: Callable[[PageRequest], str],
        *,
        per_host: bool = False,
    ) -> None:
        super().__init__(media_type="text/html")
        self.documents = documents
        self.name = name
        self.render_for = render
        self.per_host = per_host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = PageRequest(root=scope.get("root_path", ""))
        if self.per_host:
            host = Headers(scope=scope).get("host")
            request = PageRequest(
                root=request.root,
                host=host or None,
                secure=scope.get("scheme") in ("https", "wss"),
            )
        key = f"{request.root}\n{request.host}\n{request.secure}"
        html = self.documents.page(self.name, key, lambda: self.render_for(request))
        await HTMLResponse(html)(scope, receive, send)


@dataclasses.dataclass(frozen=True, slots=True)
class PageRequest:
    """What a docs page is rendered for: the root path, and (for a page that says
    where the app is served) the ``Host`` it was asked with, over TLS or not."""

    root: str
    host: str | None = None
    secure: bool = False


def _document_route(documents: ApiDocuments, key: str, document: Callable[[], Any]) -> Any:
    media_type = "application/yaml" if key.endswith(".yaml") else "application/json"

    async def serve_document() -> Response:
        return Response(documents.rendered(key, document), media_type=media_type)

    return serve_document


def add_docs_routes(
    router: Router,
    documents: ApiDocuments,
    *,
    openapi_url: str | None,
    openapi_version: str,
    asyncapi_url: str | None,
    docs_url: str | None,
    openapi: Callable[[], dict[str, Any]] | None = None,
    asyncapi: Callable[[], dict[str, Any]] | None = None,
) -> str | None:
    """Add the document and docs page routes to ``router``; return the channels
    page's URL (``docs_url`` + ``/channels``), or None when there is none.

    ``openapi`` and ``asyncapi`` make the served documents (the app's own methods, so
    a subclass's override is what is served); by default, ``documents``'."""
    for url, name, document in (
        (openapi_url, "openapi", openapi or documents.openapi),
        (asyncapi_url, "asyncapi", asyncapi or documents.asyncapi),
    ):
        if url is None:
            continue
        router.add_route(url, _document_route(documents, f"{name}.json", document), **_OWN)
        yaml_url = url.removesuffix(".json") + ".yaml"
        if yaml_url != url:
            router.add_route(yaml_url, _document_route(documents, f"{name}.yaml", document), **_OWN)

    if docs_url is None:
        return None
    swagger_url = docs_url if openapi_url is not None else None
    channels_url = docs_url.rstrip("/") + "/channels" if asyncapi_url is not None else None

    served_openapi = openapi or documents.openapi
    served_asyncapi = asyncapi or documents.asyncapi
    if openapi_url is not None:
        assets_path = docs_url.rstrip("/") + "/assets"
        page_document_url = openapi_url
        if not openapi_version.startswith("3.1."):
            # Swagger UI reads 3.0 and 3.1: the page gets the document in 3.1 form.
            page_document_url = docs_url.rstrip("/") + "/openapi-3.1.json"
            router.add_route(
                page_document_url,
                _document_route(
                    documents, "page.json", lambda: documents.openapi_for_page(served_openapi)
                ),
                **_OWN,
            )

        def swagger_page(request: PageRequest) -> str:
            root = request.root
            model = documents.model()
            link = root + channels_url if channels_url and model.has_channels() else None
            return swagger_ui_page(
                title=model.title,
                openapi_url=root + page_document_url,
                assets_url=root + assets_path,
                channels_url=link,
            )

        async def docs_page() -> Response:
            return _Page(documents, "swagger", swagger_page)

        router.add_route(docs_url, docs_page, **_OWN)
        router.mount(assets_path, ProblemStaticFiles(directory=SWAGGER_UI_ASSETS))

    if channels_url is not None and asyncapi_url is not None:

        def channels_page(request: PageRequest) -> str:
            root = request.root
            # An app that declares no servers is documented at localhost: the page
            # says where it was asked from instead.
            declared = bool(documents.model().servers)
            return render_channels_page(
                served_asyncapi(),
                asyncapi_url=root + asyncapi_url,
                docs_url=root + swagger_url if swagger_url is not None else None,
                here=None if declared else request.host,
                secure=request.secure,
                root=root,
            )

        async def serve_channels_page() -> Response:
            return _Page(documents, "channels", channels_page, per_host=True)

        router.add_route(channels_url, serve_channels_page, **_OWN)
    return channels_url
