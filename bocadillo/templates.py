"""HTML pages from Jinja2 templates: ``Templates`` and its ``render``."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2

from bocadillo.errors import ConfigurationError
from bocadillo.runtime.responses import HTMLResponse

__all__ = ["Templates"]

TemplateDirectory = str | os.PathLike[str]


class Templates:
    """Jinja2 templates read from ``directory`` (or several, searched in order),
    rendered into HTML responses.

    ::

        templates = Templates(Path(__file__).parent / "templates")

        @app.get("/", include_in_schema=False)
        async def index() -> HTMLResponse:
            return await templates.render("index.html", title="Home")

    Values are escaped in ``.html``, ``.htm`` and ``.xml`` templates (mark
    trusted markup with ``|safe`` or ``markupsafe.Markup``). Templates are
    rendered asynchronously, so a template may call async functions put in
    its context or in ``templates.env.globals``. Add filters and globals on
    ``templates.env``, a ``jinja2.Environment``.

    Without a directory, templates are read from the ``templates`` folder
    beside the module that makes the ``Templates`` (the working directory's, if
    that module has no file). A directory that does not exist is a
    ``ConfigurationError`` here. A
    template that does not exist is ``jinja2.TemplateNotFound`` from
    ``render``: a bug in the app, answered with a 500 problem and logged.
    """

    def __init__(
        self,
        directory: TemplateDirectory | Sequence[TemplateDirectory] | None = None,
        *,
        auto_reload: bool = True,
        **env_options: Any,
    ) -> None:
        if directory is None:  # the templates/ folder beside the module making this
            file = sys._getframe(1).f_globals.get("__file__")
            directory = (Path(file).parent if file else Path.cwd()) / "templates"
        if isinstance(directory, str | os.PathLike):
            directories = [Path(directory)]
        else:
            directories = [Path(d) for d in directory]
        if not directories:
            raise ConfigurationError("Templates needs at least one directory")
        for folder in directories:
            if not folder.is_dir():
                raise ConfigurationError(
                    f"templates directory {str(folder)!r} does not exist (relative paths are "
                    f"read from the working directory, {os.getcwd()!r}; build it from __file__ "
                    "to be independent of it)"
                )
        self.directories = directories
        env_options.setdefault("autoescape", jinja2.select_autoescape(("html", "htm", "xml")))
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(directories),
            enable_async=True,
            auto_reload=auto_reload,
            **env_options,
        )
        self._sync_env: jinja2.Environment | None = None

    def get_template(self, name: str) -> jinja2.Template:
        """The template ``name``, loaded (and cached by the environment).

        Raises ``jinja2.TemplateNotFound`` naming the directories searched.
        """
        try:
            return self.env.get_template(name)
        except jinja2.TemplateNotFound as exc:
            raise self._not_found(exc, name) from None

    async def render_text(
        self, name: str, context: Mapping[str, Any] | None = None, /, **values: Any
    ) -> str:
        """The template ``name`` rendered with ``context`` (a dict) and ``values``
        (the keywords, which win), as text."""
        template = self.get_template(name)
        try:
            return await template.render_async({**(context or {}), **values})
        except jinja2.TemplateNotFound as exc:  # an {% include %} or {% extends %}
            raise self._not_found(exc, name) from None

    def render_sync(
        self, name: str, context: Mapping[str, Any] | None = None, /, **values: Any
    ) -> str:
        """``render_text`` without ``await``, for code that is not async (a script,
        a sync handler, a background task); the template must not call async
        functions."""
        try:
            template = self._sync().get_template(name)
            return template.render({**(context or {}), **values})
        except jinja2.TemplateNotFound as exc:
            raise self._not_found(exc, name) from None

    def render_string(
        self, source: str, context: Mapping[str, Any] | None = None, /, **values: Any
    ) -> str:
        """The template text ``source`` rendered with ``context`` and ``values``, at
        once (no ``await``). Values are escaped, as in an ``.html`` template; an
        ``{% include %}`` or ``{% extends %}`` reads the directories."""
        try:
            return self._sync().from_string(source).render({**(context or {}), **values})
        except jinja2.TemplateNotFound as exc:
            raise self._not_found(exc, "<string>") from None

    def _sync(self) -> jinja2.Environment:
        """The same templates, filters and globals, rendered without an event loop."""
        if self._sync_env is None:
            sync_env = self.env.overlay(cache_size=400)  # its own cache of compiled templates
            sync_env.is_async = False
            self._sync_env = sync_env
        return self._sync_env

    def _not_found(self, exc: jinja2.TemplateNotFound, name: str) -> jinja2.TemplateNotFound:
        searched = ", ".join(repr(str(d)) for d in self.directories)
        message = f"template {exc.name!r} not found in {searched}"
        if exc.name != name:
            message += f" (needed by {name!r})"
        return jinja2.TemplateNotFound(exc.name, message=message)

    async def render(
        self,
        name: str,
        /,
        context: Mapping[str, Any] | None = None,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        **values: Any,
    ) -> HTMLResponse:
        """An ``HTMLResponse`` of the template ``name`` rendered with ``context``
        (a dict, positional or ``context={...}``) and ``values`` (which win).

        ``status_code`` and ``headers`` set the response's; a value whose name is
        one of these (or ``context``) can be passed in the ``context`` dict.
        """
        text = await self.render_text(name, context, **values)
        return HTMLResponse(text, status_code=status_code, headers=headers)
