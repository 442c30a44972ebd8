"""The API documents (OpenAPI, AsyncAPI) and the docs pages, built from an API model.

``model.py`` (the ``ApiModel`` the app builds once from its compiled plans),
``openapi.py`` and ``asyncapi.py`` (the builders, reading only that model;
``asyncapi_servers.py`` and ``asyncapi_schemas.py`` beside the latter),
``components.py`` and ``text.py`` (what both builders share), ``documents.py``
(the one cache), ``routes.py`` (the routes that serve them), ``pages.py``,
``channels_page.py`` and ``templates/`` (the HTML pages, Jinja2 with autoescape).
"""
