"""Mounting a WSGI app (a Flask or Django app during a migration) through a2wsgi."""

import sys
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from starlette.testclient import TestClient

from bocadillo import App, ConfigurationError, Router

StartResponse = Callable[..., Any]


def legacy(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """A tiny WSGI app that tells what it was asked."""
    if environ["PATH_INFO"] == "/boom":
        raise RuntimeError("the old app broke")
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length).decode()
    text = "|".join(
        [
            environ["REQUEST_METHOD"],
            environ["SCRIPT_NAME"],
            environ["PATH_INFO"],
            environ["QUERY_STRING"],
            body,
        ]
    )
    start_response("201 Created", [("Content-Type", "text/plain"), ("X-Old", "yes")])
    return [text.encode()]


class LegacyApp:
    """A WSGI app as an object, like Flask's or Django's."""

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"object " + environ["PATH_INFO"].encode()]


def test_a_mounted_wsgi_app_answers_under_its_path() -> None:
    app = App()
    app.mount("/old", legacy)

    response = TestClient(app).get("/old/pages/1?x=2")

    assert response.status_code == 201
    assert response.headers["x-old"] == "yes"
    assert response.text == "GET|/old|/pages/1|x=2|"


def test_a_mounted_wsgi_app_reads_the_request_body() -> None:
    app = App()
    app.mount("/old", legacy)

    response = TestClient(app).post("/old/form", content=b"name=ada")

    assert response.text == "POST|/old|/form||name=ada"


def test_a_wsgi_app_object_is_mounted_too() -> None:
    app = App()
    app.mount("/old", LegacyApp())

    assert TestClient(app).get("/old/x").text == "object /x"


def test_a_wsgi_app_mounted_on_an_included_router_gets_both_prefixes() -> None:
    router = Router(prefix="/v1")
    router.mount("/old", legacy)
    app = App()
    app.include_router(router, prefix="/api")

    assert TestClient(app).get("/api/v1/old/a").text == "GET|/api/v1/old|/a||"


def test_the_apps_own_routes_still_answer_beside_the_mount() -> None:
    app = App()
    app.mount("/old", legacy)

    @app.get("/new")
    async def new() -> str:
        return "new"

    client = TestClient(app)
    assert client.get("/new").json() == "new"
    assert client.get("/old").text == "GET|/old|||"


def test_an_error_in_the_wsgi_app_is_a_500_problem_without_a_traceback() -> None:
    app = App()
    app.mount("/old", legacy)

    response = TestClient(app, raise_server_exceptions=False).get("/old/boom")

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "the old app broke" not in response.text


def test_an_asgi_app_is_mounted_as_it_is() -> None:
    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"asgi"})

    app = App()
    app.mount("/asgi", asgi)

    assert TestClient(app).get("/asgi/x").text == "asgi"


def test_without_a2wsgi_mounting_a_wsgi_app_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "a2wsgi", None)  # import a2wsgi now fails
    app = App()

    with pytest.raises(ConfigurationError, match=r"bocadillo\[wsgi\]"):
        app.mount("/old", legacy)
