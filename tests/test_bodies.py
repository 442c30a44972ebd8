"""JSON request bodies: types, content types, strict validation, size limits."""

import dataclasses
import datetime
import uuid
from typing import Any

import anyio
import pytest
from pydantic import BaseModel, Field
from starlette.testclient import TestClient
from typing_extensions import TypedDict

from bocadillo import App, Body, Request


class TodoIn(BaseModel):
    title: str = Field(min_length=1)
    priority: int = 0


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Shape(BaseModel):
    point: Point
    extra: list[int] = []


class Movie(TypedDict):
    name: str
    year: int


def locs(body: dict[str, Any]) -> list[list[Any]]:
    return [error["loc"] for error in body["errors"]]


@pytest.fixture
def echo_todo(app):
    @app.post("/todos")
    async def create(todo: TodoIn) -> TodoIn:
        return todo


# -- body types ----------------------------------------------------------------


def test_pydantic_model_parameter_is_the_json_body(app, client):
    @app.post("/todos")
    async def create(todo: TodoIn) -> dict[str, Any]:
        return {"type": type(todo).__name__, "title": todo.title, "priority": todo.priority}

    response = client.post("/todos", json={"title": "milk", "priority": 2})

    assert response.json() == {"type": "TodoIn", "title": "milk", "priority": 2}


def test_dataclass_parameter_is_the_json_body(app, client):
    @app.post("/points")
    async def create(point: Point) -> dict[str, Any]:
        return {"type": type(point).__name__, "sum": point.x + point.y}

    response = client.post("/points", json={"x": 1, "y": 2})

    assert response.json() == {"type": "Point", "sum": 3}


def test_typeddict_parameter_is_the_json_body(app, client):
    @app.post("/movies")
    async def create(movie: Movie) -> dict[str, Any]:
        return {"name": movie["name"], "next_year": movie["year"] + 1}

    response = client.post("/movies", json={"name": "Alien", "year": 1979})

    assert response.json() == {"name": "Alien", "next_year": 1980}


def test_typeddict_body_is_validated(app, client, problem):
    @app.post("/movies")
    async def create(movie: Movie) -> dict[str, Any]:
        return dict(movie)

    body = problem(client.post("/movies", json={"name": "Alien"}), 422)

    assert locs(body) == [["body", "year"]]


def test_list_of_models_parameter_is_the_json_body(app, client):
    @app.post("/todos/bulk")
    async def create(todos: list[TodoIn]) -> dict[str, Any]:
        return {"titles": [t.title for t in todos]}

    response = client.post("/todos/bulk", json=[{"title": "a"}, {"title": "b"}])

    assert response.json() == {"titles": ["a", "b"]}


def test_list_of_models_errors_are_located_by_index(app, client, problem):
    @app.post("/todos/bulk")
    async def create(todos: list[TodoIn]) -> dict[str, Any]:
        return {}

    body = problem(client.post("/todos/bulk", json=[{"title": "a"}, {"title": ""}]), 422)

    assert locs(body) == [["body", 1, "title"]]


def test_body_marker_makes_a_dict_the_json_body(app, client):
    @app.post("/scores")
    async def scores(scores: dict[str, int] = Body()) -> dict[str, int]:
        return {"total": sum(scores.values())}

    assert client.post("/scores", json={"a": 1, "b": 2}).json() == {"total": 3}


def test_body_marker_dict_values_are_validated(app, client, problem):
    @app.post("/scores")
    async def scores(scores: dict[str, int] = Body()) -> dict[str, int]:
        return {"total": sum(scores.values())}

    body = problem(client.post("/scores", json={"a": 1, "b": "two"}), 422)

    assert locs(body) == [["body", "b"]]


def test_body_fields_accept_json_strings_for_dates_and_uuids(app, client):
    class Event(BaseModel):
        id: uuid.UUID
        on: datetime.date

    @app.post("/events")
    async def create(event: Event) -> dict[str, str]:
        return {"id_type": type(event.id).__name__, "on_type": type(event.on).__name__}

    response = client.post("/events", json={"id": str(uuid.uuid4()), "on": "2024-05-01"})

    assert response.json() == {"id_type": "UUID", "on_type": "date"}


# -- optional and required bodies ----------------------------------------------


def test_optional_body_absent_is_the_default(app, client):
    @app.post("/todos")
    async def create(todo: TodoIn | None = None) -> dict[str, Any]:
        return {"todo": None if todo is None else todo.title}

    assert client.post("/todos").json() == {"todo": None}


def test_optional_body_present_is_validated(app, client):
    @app.post("/todos")
    async def create(todo: TodoIn | None = None) -> dict[str, Any]:
        return {"todo": None if todo is None else todo.title}

    assert client.post("/todos", json={"title": "milk"}).json() == {"todo": "milk"}


def test_required_body_missing_is_a_422(app, client, problem, echo_todo):
    body = problem(client.post("/todos"), 422)

    assert body["errors"] == [{"loc": ["body"], "msg": "Field required", "type": "missing"}]


def test_body_validation_failure_is_a_422_located_in_the_body(app, client, problem, echo_todo):
    body = problem(client.post("/todos", json={"title": ""}), 422)

    [error] = body["errors"]
    assert error["loc"] == ["body", "title"]
    assert error["type"] == "string_too_short"
    assert error["msg"]


def test_body_that_is_not_an_object_is_a_422(app, client, problem, echo_todo):
    body = problem(client.post("/todos", json=[1, 2]), 422)

    assert locs(body) == [["body"]]


# -- strict JSON ---------------------------------------------------------------


@pytest.mark.parametrize("priority", ["1", False, 1.5], ids=["string", "false", "fraction"])
def test_json_body_is_validated_strictly(app, client, problem, echo_todo, priority):
    response = client.post("/todos", json={"title": "milk", "priority": priority})

    body = problem(response, 422)
    assert locs(body) == [["body", "priority"]]


# -- malformed bodies ----------------------------------------------------------


def test_malformed_json_is_a_400_problem(app, client, problem, echo_todo):
    response = client.post(
        "/todos", content=b'{"title": "milk"', headers={"Content-Type": "application/json"}
    )

    body = problem(response, 400)
    assert body["errors"][0]["loc"] == ["body"]
    assert body["errors"][0]["type"] == "json_invalid"


def test_body_that_is_not_utf8_is_a_400_problem(app, client, problem, echo_todo):
    response = client.post(
        "/todos", content=b'{"title": "caf\xe9"}', headers={"Content-Type": "application/json"}
    )

    problem(response, 400)


# -- content types -------------------------------------------------------------


def test_text_plain_body_is_a_415_problem(app, client, problem, echo_todo):
    response = client.post(
        "/todos", content=b'{"title": "milk"}', headers={"Content-Type": "text/plain"}
    )

    problem(response, 415)


def test_body_without_content_type_is_a_415_problem(app, client, problem, echo_todo):
    response = client.post("/todos", content=b'{"title": "milk"}')

    assert "content-type" not in response.request.headers
    problem(response, 415)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/merge-patch+json",
        "application/json; charset=utf-8",
        "Application/JSON; charset=UTF-8",
    ],
)
def test_json_content_types_are_accepted(app, client, echo_todo, content_type):
    response = client.post(
        "/todos", content=b'{"title": "milk"}', headers={"Content-Type": content_type}
    )

    assert response.status_code == 200
    assert response.json() == {"title": "milk", "priority": 0}


def test_json_in_another_charset_is_a_415_problem(app, client, problem, echo_todo):
    response = client.post(
        "/todos",
        content=b'{"title": "milk"}',
        headers={"Content-Type": "application/json; charset=latin-1"},
    )

    problem(response, 415)


def test_empty_body_with_a_wrong_content_type_is_just_missing(app, client, problem, echo_todo):
    response = client.post("/todos", headers={"Content-Type": "text/plain"})

    body = problem(response, 422)
    assert locs(body) == [["body"]]


# -- size limits ---------------------------------------------------------------


def padded(size: int) -> bytes:
    """A valid TodoIn body of exactly ``size`` bytes."""
    head, tail = b'{"title": "', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def test_body_over_the_app_limit_is_a_413_problem(problem):
    app = App(max_body_size=100)

    @app.post("/todos")
    async def create(todo: TodoIn) -> TodoIn:
        return todo

    client = TestClient(app)
    json = {"Content-Type": "application/json"}

    assert client.post("/todos", content=padded(100), headers=json).status_code == 200
    problem(client.post("/todos", content=padded(101), headers=json), 413)


def test_route_limit_overrides_the_app_limit(app, client, problem):
    @app.post("/small", max_body_size=10)
    async def small(data: dict[str, int] = Body()) -> dict[str, int]:
        return data

    @app.post("/big")
    async def big(data: dict[str, int] = Body()) -> dict[str, int]:
        return data

    payload = {"abcdef": 1}  # 13 bytes of JSON

    problem(client.post("/small", json=payload), 413)
    assert client.post("/big", json=payload).json() == payload


def test_declared_content_length_over_the_limit_is_a_413_before_reading(call_asgi):
    app = App(max_body_size=100)

    @app.post("/todos")
    async def create(todo: TodoIn) -> TodoIn:
        return todo

    response = call_asgi(
        app,
        "POST",
        "/todos",
        headers=[("content-type", "application/json"), ("content-length", "1000")],
        chunks=[b'{"title": "x"}'],
    )

    assert response.status == 413
    assert response.headers["content-type"] == "application/problem+json"


def test_chunked_body_over_the_limit_is_a_413(problem):
    app = App(max_body_size=100)

    @app.post("/todos")
    async def create(todo: TodoIn) -> TodoIn:
        return todo

    def chunks():
        yield b'{"title": "'
        for _ in range(20):
            yield b"xxxxxxxxxx"
        yield b'"}'

    response = TestClient(app).post(
        "/todos", content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert "content-length" not in response.request.headers
    problem(response, 413)


def test_body_streamed_in_chunks_over_the_limit_is_a_413(call_asgi):
    app = App(max_body_size=100)

    @app.post("/todos")
    async def create(todo: TodoIn) -> TodoIn:
        return todo

    response = call_asgi(
        app,
        "POST",
        "/todos",
        headers=[("content-type", "application/json")],
        chunks=[b'{"title": "', *[b"x" * 30] * 4, b'"}'],
    )

    assert response.status == 413


def test_body_streamed_in_chunks_under_the_limit_is_read_whole(call_asgi):
    app = App(max_body_size=100)

    @app.post("/todos")
    async def create(todo: TodoIn) -> TodoIn:
        return todo

    response = call_asgi(
        app,
        "POST",
        "/todos",
        headers=[("content-type", "application/json")],
        chunks=[b'{"title": "', b"milk", b'"}'],
    )

    assert response.status == 200
    assert response.body == b'{"title":"milk","priority":0}'


@pytest.mark.parametrize("content_length", ["ten", "-1"])
def test_bad_content_length_is_a_400(app, call_asgi, echo_todo, content_length):
    response = call_asgi(
        app,
        "POST",
        "/todos",
        headers=[("content-type", "application/json"), ("content-length", content_length)],
        chunks=[b'{"title": "x"}'],
    )

    assert response.status == 400
    assert response.headers["content-type"] == "application/problem+json"


# -- the body and the Request --------------------------------------------------


def test_request_after_a_body_parameter_reads_the_same_bytes(app, client):
    @app.post("/todos")
    async def create(todo: TodoIn, request: Request) -> dict[str, str]:
        with anyio.fail_after(5):  # fail, not hang, if the body was not kept
            raw = await request.body()
        return {"raw": raw.decode(), "title": todo.title}

    content = b'{"title":  "milk"}'
    response = client.post("/todos", content=content, headers={"Content-Type": "application/json"})

    assert response.json() == {"raw": content.decode(), "title": "milk"}


def test_request_json_after_a_body_parameter(app, client):
    @app.post("/todos")
    async def create(todo: TodoIn, request: Request) -> dict[str, Any]:
        with anyio.fail_after(5):
            data: dict[str, Any] = await request.json()
        return data

    assert client.post("/todos", json={"title": "milk"}).json() == {"title": "milk"}


def test_handler_reading_the_body_itself_gets_it(app, client):
    @app.post("/raw")
    async def raw(request: Request) -> dict[str, str]:
        return {"raw": (await request.body()).decode()}

    assert client.post("/raw", content=b"hello").json() == {"raw": "hello"}


def test_handler_reading_a_body_over_the_limit_itself_is_a_413(problem):
    app = App(max_body_size=10)

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    client = TestClient(app)

    assert client.post("/raw", content=b"x" * 10).json() == {"size": 10}
    problem(client.post("/raw", content=b"x" * 11), 413)


def test_handler_streaming_a_body_over_the_limit_itself_is_a_413(problem):
    app = App(max_body_size=10)

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return {"size": size}

    problem(TestClient(app).post("/raw", content=b"x" * 50), 413)


def test_a_whole_number_sent_as_a_float_is_an_int(app, client, problem):
    # JSON Schema, and so the OpenAPI document, counts 2.0 as an integer.
    @app.post("/points")
    async def create(shape: Shape) -> dict[str, Any]:
        return {"x": shape.point.x, "y": shape.point.y, "extra": shape.extra}

    response = client.post("/points", json={"point": {"x": 2.0, "y": -3.0}, "extra": [1.0, 4]})
    assert response.status_code == 200, response.text
    assert response.status_code == 200
    assert response.json() == {"x": 2, "y": -3, "extra": [1, 4]}
    assert type(response.json()["x"]) is int

    response = client.post("/points", json={"point": {"x": 2.5, "y": 1}})
    assert problem(response, 422)["errors"][0]["loc"] == ["body", "point", "x"]
