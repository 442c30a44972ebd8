"""The 0.18 features of issue 21 as users type them: plugins, ``methods="*"``, the
template renders and ``App(static=...)``; checked by ``mypy --strict tests/typing``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import assert_type

from bocadillo import App, HTMLResponse, Request, Templates

Plugin = Callable[[App], None]


def health(app: App) -> None:
    @app.get("/health")
    async def healthcheck() -> dict[str, str]:
        return {"status": "ok"}


def request_id(header: str = "X-Request-ID") -> Plugin:
    def plugin(app: App) -> None:
        app.on_startup(lambda: print(header))

    return plugin


app = App(plugins=[health, request_id("X-Trace"), {health: False}], static=True)
App(static=Path("assets"))


@app.route("/echo", methods="*")
async def echo(request: Request) -> str:
    return request.method


templates = Templates()
assert_type(templates.render_sync("a.html", {"x": 1}, y=2), str)
assert_type(templates.render_string("{{ x }}", x=1), str)


async def page() -> HTMLResponse:
    assert_type(await templates.render_text("a.html", {"x": 1}), str)
    return await templates.render("a.html", {"x": 1}, status_code=201)


App(plugins=[request_id])  # type: ignore[list-item]
