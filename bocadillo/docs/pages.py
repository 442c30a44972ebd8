"""The docs pages, rendered from Jinja2 templates (``docs/templates/``) with autoescape.

The Swagger UI page is served with its assets by the app, no network needed:
they come from the ``swagger-ui-bundle-v2`` package (Swagger UI 5, which
renders OpenAPI 3.1). ReDoc ships no offline package on PyPI (only on npm),
so there is no ReDoc page.
"""

from __future__ import annotations

import html
from typing import Any

import jinja2
from markupsafe import Markup
from swagger_ui_bundle import swagger_ui_path

__all__ = ["SWAGGER_UI_ASSETS", "render_page", "swagger_ui_page"]

SWAGGER_UI_ASSETS = swagger_ui_path


def _escaped(value: Any) -> Any:
    # Text is escaped as the standard library does it (``&quot;``, ``&#x27;``), the
    # entities the pages have always had; markup (a macro's output, ``tojson``) passes.
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


_PAGES = jinja2.Environment(
    loader=jinja2.PackageLoader("bocadillo.docs", "templates"),
    autoescape=True,
    finalize=_escaped,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)
# Keys in the order given: the Swagger UI config reads as it is written.
_PAGES.policies["json.dumps_kwargs"] = {}


def render_page(template: str, **context: Any) -> str:
    """The HTML of ``docs/templates/<template>``, every value in ``context`` escaped."""
    return _PAGES.get_template(template).render(**context)


def swagger_ui_page(
    *, title: str, openapi_url: str, assets_url: str, channels_url: str | None = None
) -> str:
    """The HTML of the Swagger UI page for the document at ``openapi_url``; with
    ``channels_url``, a link to the channels page (WebSocket and SSE) above it."""
    config = {
        "url": openapi_url,
        "dom_id": "#swagger-ui",
        "deepLinking": True,
        "validatorUrl": None,  # never call out to a validator service
        "layout": "BaseLayout",
    }
    return render_page(
        "swagger_ui.html",
        title=title,
        assets_url=assets_url,
        config=config,
        channels_url=channels_url,
    )
