"""What a handler's result becomes: typed and untyped JSON, 204, Response objects."""

import dataclasses
import logging
from typing import Any

import pytest
from pydantic import BaseModel

from bocadillo import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)


class Todo(BaseModel):
    id: int
    title: str


class User(BaseModel):
    name: str


class UserWithPassword(User):
    password: str


@dataclasses.dataclass
class Point:
    x: int
    y: int


# -- typed results -------------------------------------------------------------


def test_model_return_is_sent_as_json(app, client):
    @app.get("/todo")
    async def get_todo() -> Todo:
        return Todo(id=1, title="milk")

    response = client.get("/todo")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"id": 1, "title": "milk"}


def test_typed_response_has_the_right_content_length(app, client):
    @app.get("/todo")
    async def get_todo() -> Todo:
        return Todo(id=1, title="café")

    response = client.get("/todo")

    assert response.headers["content-length"] == str(len(response.content))


def test_list_of_models_return_is_sent_as_a_json_array(app, client):
    @app.get("/todos")
    async def list_todos() -> list[Todo]:
        return [Todo(id=1, title="a"), Todo(id=2, title="b")]

    assert client.get("/todos").json() == [{"id": 1, "title": "a"}, {"id": 2, "title": "b"}]


def test_dict_return_type_is_sent_as_a_json_object(app, client):
    @app.get("/counts")
    async def counts() -> dict[str, int]:
        return {"a": 1, "b": 2}

    assert client.get("/counts").json() == {"a": 1, "b": 2}


def test_dataclass_return_is_sent_as_json(app, client):
    @app.get("/point")
    async def point() -> Point:
        return Point(x=1, y=2)

    assert client.get("/point").json() == {"x": 1, "y": 2}


def test_typed_return_accepts_a_dict_of_the_right_shape(app, client):
    @app.get("/todo")
    async def get_todo() -> Todo:
        return {"id": 1, "title": "milk"}  # type: ignore[return-value]

    assert client.get("/todo").json() == {"id": 1, "title": "milk"}


# -- untyped results -----------------------------------------------------------


def test_untyped_dict_return_is_sent_as_json(app, client):
    @app.get("/untyped")
    async def untyped():  # type: ignore[no-untyped-def]
        return {"a": [1, 2], "b": None}

    response = client.get("/untyped")

    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == str(len(response.content))
    assert response.json() == {"a": [1, 2], "b": None}


def test_untyped_list_return_is_sent_as_json(app, client):
    @app.get("/untyped")
    async def untyped():  # type: ignore[no-untyped-def]
        return [1, "two", 3.5]

    assert client.get("/untyped").json() == [1, "two", 3.5]


def test_untyped_list_of_models_is_sent_as_json(app, client):
    @app.get("/untyped")
    async def untyped():  # type: ignore[no-untyped-def]
        return [Todo(id=1, title="milk")]

    assert client.get("/untyped").json() == [{"id": 1, "title": "milk"}]


def test_sync_handler_result_is_sent_as_json(app, client):
    @app.get("/sync")
    def sync_handler() -> Todo:
        return Todo(id=1, title="milk")

    assert client.get("/sync").json() == {"id": 1, "title": "milk"}


# -- status codes --------------------------------------------------------------


def test_none_return_type_is_a_204_with_no_body(app, client):
    @app.delete("/todos/{id}")
    async def delete_todo(id: int) -> None:
        return None

    response = client.delete("/todos/1")

    assert response.status_code == 204
    assert response.content == b""
    assert "content-type" not in response.headers


def test_status_code_on_the_decorator_is_sent(app, client):
    @app.post("/todos", status_code=201)
    async def create_todo() -> Todo:
        return Todo(id=1, title="milk")

    response = client.post("/todos")

    assert response.status_code == 201
    assert response.json() == {"id": 1, "title": "milk"}


def test_status_code_on_a_none_route_is_sent(app, client):
    @app.post("/jobs", status_code=202)
    async def start_job() -> None:
        return None

    response = client.post("/jobs")

    assert response.status_code == 202
    assert response.content == b""


# -- Response objects ----------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "content_type", "content"),
    [
        (Response(b"raw", status_code=202, media_type="application/x-thing"),
         "application/x-thing", b"raw"),
        (JSONResponse({"a": 1}, status_code=202), "application/json", b'{"a":1}'),
        (PlainTextResponse("hi", status_code=202), "text/plain; charset=utf-8", b"hi"),
        (HTMLResponse("<p>hi</p>", status_code=202), "text/html; charset=utf-8", b"<p>hi</p>"),
    ],
    ids=["Response", "JSONResponse", "PlainTextResponse", "HTMLResponse"],
)  # fmt: skip
def test_returned_response_is_sent_untouched(app, client, response, content_type, content):
    response.headers["X-Custom"] = "yes"

    @app.get("/custom")
    async def custom() -> Todo:
        return response  # type: ignore[return-value]

    sent = client.get("/custom")

    assert sent.status_code == 202
    assert sent.headers["content-type"] == content_type
    assert sent.headers["x-custom"] == "yes"
    assert sent.content == content


def test_returned_response_on_a_none_route_is_sent_untouched(app, client):
    @app.get("/custom")
    async def custom() -> None:
        return PlainTextResponse("body", status_code=200)  # type: ignore[return-value]

    response = client.get("/custom")

    assert response.status_code == 200
    assert response.text == "body"


def test_redirect_response_is_sent(app, client):
    @app.get("/old")
    async def old() -> Response:
        return RedirectResponse("/new", status_code=301)

    response = client.get("/old", follow_redirects=False)

    assert response.status_code == 301
    assert response.headers["location"] == "/new"


def test_streaming_response_is_sent(app, client):
    @app.get("/stream")
    async def stream() -> Response:
        async def parts():
            yield b"one,"
            yield b"two"

        return StreamingResponse(parts(), media_type="text/csv")

    response = client.get("/stream")

    assert response.headers["content-type"].startswith("text/csv")
    assert response.content == b"one,two"


def test_model_or_response_union_sends_the_model(app, client):
    @app.get("/todos/{id}")
    async def get_todo(id: int) -> Todo | JSONResponse:
        if id == 0:
            return JSONResponse({"gone": True}, status_code=410)
        return Todo(id=id, title="milk")

    assert client.get("/todos/1").json() == {"id": 1, "title": "milk"}


def test_model_or_response_union_sends_the_response(app, client):
    @app.get("/todos/{id}")
    async def get_todo(id: int) -> Todo | JSONResponse:
        if id == 0:
            return JSONResponse({"gone": True}, status_code=410)
        return Todo(id=id, title="milk")

    response = client.get("/todos/0")

    assert response.status_code == 410
    assert response.json() == {"gone": True}


def test_json_response_renders_pydantic_models(app, client):
    @app.get("/todo")
    async def get_todo() -> JSONResponse:
        return JSONResponse([Todo(id=1, title="milk")], headers={"X-Count": "1"})

    response = client.get("/todo")

    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-count"] == "1"
    assert response.json() == [{"id": 1, "title": "milk"}]


# -- the declared type filters and guards --------------------------------------


def test_subclass_fields_are_not_leaked_by_the_declared_type(app, client):
    @app.get("/me")
    async def me() -> User:
        return UserWithPassword(name="ada", password="hunter2")

    response = client.get("/me")

    assert response.json() == {"name": "ada"}
    assert b"hunter2" not in response.content


def test_dict_extra_keys_are_not_leaked_by_the_declared_type(app, client):
    @app.get("/me")
    async def me() -> User:
        return {"name": "ada", "password": "hunter2"}  # type: ignore[return-value]

    response = client.get("/me")

    assert response.json() == {"name": "ada"}


def test_list_items_are_filtered_by_the_declared_type(app, client):
    @app.get("/users")
    async def users() -> list[User]:
        return [UserWithPassword(name="ada", password="hunter2")]

    assert client.get("/users").json() == [{"name": "ada"}]


def test_return_value_not_matching_the_type_is_a_500_problem(app, client, problem):
    @app.get("/me")
    async def leaky_handler() -> User:
        return {"nom": "secret-value-123"}  # type: ignore[return-value]

    response = client.get("/me")

    body = problem(response, 500)
    assert set(body) == {"type", "title", "status", "detail"}
    for leak in ("Traceback", "secret-value-123", "leaky_handler", "nom", "name"):
        assert leak not in response.text


def test_return_value_not_matching_the_type_is_logged(app, client, caplog):
    @app.get("/me")
    async def leaky_handler() -> User:
        return {"nom": "ada"}  # type: ignore[return-value]

    with caplog.at_level(logging.ERROR, logger="bocadillo"):
        client.get("/me")

    [record] = [r for r in caplog.records if r.name == "bocadillo"]
    assert "leaky_handler" in record.getMessage()
    assert "/me" in record.getMessage()


def test_wrong_scalar_return_is_a_500_problem(app, client, problem):
    @app.get("/count")
    async def count() -> int:
        return "many"  # type: ignore[return-value]

    problem(client.get("/count"), 500)


def test_unserializable_untyped_return_is_a_500_problem(app, client, problem):
    @app.get("/thing")
    async def thing() -> Any:
        return object()

    response = client.get("/thing")

    problem(response, 500)
    assert "object" not in response.text


def test_a_raised_redirect_redirects_like_a_returned_one(app, client):
    from bocadillo import Redirect

    @app.get("/private")
    async def private(token: str = "") -> dict[str, str]:
        if not token:
            raise Redirect("/login", permanent=True)
        return {"ok": "yes"}

    response = client.get("/private", follow_redirects=False)
    assert response.status_code == 308
    assert response.headers["location"] == "/login"
    assert client.get("/private?token=t").json() == {"ok": "yes"}


def test_a_redirect_raised_by_a_provider_redirects_and_the_provider_sees_it(app, client):
    from bocadillo import Redirect

    seen: list[str] = []

    @app.provider
    async def session():
        try:
            yield None
        except Redirect:
            seen.append("redirected")
            raise

    @app.get("/needs-login")
    async def needs_login(session: None) -> dict[str, str]:
        raise Redirect("/login")

    response = client.get("/needs-login", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == "/login"
    assert seen == ["redirected"]
