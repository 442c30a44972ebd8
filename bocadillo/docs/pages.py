"""The docs pages: Swagger UI, served with its assets by the app, no network needed.

The assets come from the ``swagger-ui-bundle-v2`` package (Swagger UI 5, which
renders OpenAPI 3.1). ReDoc ships no offline package on PyPI (only on npm),
so there is no ReDoc page.
"""

from __future__ import annotations

import html
import json

from swagger_ui_bundle import swagger_ui_path

__all__ = ["SWAGGER_UI_ASSETS", "swagger_ui_page"]

SWAGGER_UI_ASSETS = swagger_ui_path


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
    safe_title = html.escape(title)
    assets = html.escape(assets_url, quote=True)
    # json.dumps output cannot close the <script> element: "<" is escaped.
    config_js = json.dumps(config).replace("<", "\\u003c")
    channels = ""
    if channels_url is not None:
        href = html.escape(channels_url, quote=True)
        channels = (
            '\n  <nav class="bocadillo-channels" style="font-family: sans-serif; '
            'max-width: 1460px; margin: 12px auto 0; padding: 0 20px;">'
            f'<a href="{href}">Channels: WebSocket and server-sent events</a> (AsyncAPI)</nav>'
        )
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{safe_title} - API docs</title>
  <link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
  <link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>{channels}
  <div id="swagger-ui"></div>
  <script src="{assets}/swagger-ui-bundle.js"></script>
  <script>
    const config = {config_js};
    config.presets = [SwaggerUIBundle.presets.apis];
    window.ui = SwaggerUIBundle(config);
  </script>
</body>
</html>
"""
