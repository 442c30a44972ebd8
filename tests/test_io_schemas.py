"""Input and output schemas: what a client may send and what the app always sends.

A field with a default is optional in a request and required in a response (the
app always sends it); a computed field and a serialization alias exist on the
way out only. Where a model's two shapes differ and the documents show both,
they are two components, ``Name-Input`` and ``Name-Output``; elsewhere one,
under the model's name.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jsonschema
import typesystem
from openapi_spec_validator import validate as validate_openapi
from pydantic import BaseModel, Field, computed_field
from starlette.testclient import TestClient

from bocadillo import App, Body, Query, WebSocket
from bocadillo.testing import run_contract

DATA = Path(__file__).resolve().parent / "data"
ASYNCAPI = jsonschema.Draft7Validator(
    json.loads((DATA / "asyncapi-3.0.0-without-id.json").read_text())
)
REF = "#/components/schemas/"
COMPONENT_NAME = re.compile(r"^[a-zA-Z0-9._-]+$")  # what OpenAPI allows as a component key


class TodoIn(BaseModel):
    title: str = Field(min_length=1, max_length=100)
    done: bool = False
    tags: list[str] = []


class Todo(TodoIn):
    id: int


class Tag(BaseModel):
    name: str
    color: str = "grey"


class Note(BaseModel):
    text: str
    tag: Tag  # no default of its own: its shapes differ only through Tag's


class Point(BaseModel):
    x: int
    y: int


class Rectangle(BaseModel):
    width: int
    height: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def area(self) -> int:
        return self.width * self.height


class Account(BaseModel):
    user_name: str = Field(alias="userName")


class Renamed(BaseModel):
    internal: int = Field(serialization_alias="external")


class Node(BaseModel):
    value: int
    children: list[Node] = []


class User(BaseModel):
    name: str
    admin: bool = False


class Post(BaseModel):
    text: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def author(self) -> User:
        return User(name="ada")


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Profile(BaseModel):
    name: str
    bio: str | None = None
    tags: list[str] = []


class Page(BaseModel):
    items: list[int]
    cursor: str | None = Field(None, exclude_if=lambda value: value is None)


class NotFound(BaseModel):
    detail: str
    code: int = 404


Item = typesystem.Schema(
    title="Item",
    fields={"name": typesystem.String(), "count": typesystem.Integer(default=0)},
)


def schemas(document: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = document["components"]["schemas"]
    return found


def body_ref(document: dict[str, Any], path: str, method: str = "post") -> str:
    content = document["paths"][path][method]["requestBody"]["content"]
    ref: str = next(iter(content.values()))["schema"]["$ref"]
    return ref.removeprefix(REF)


def response_ref(document: dict[str, Any], path: str, method: str = "post") -> str:
    response = document["paths"][path][method]["responses"]
    success = next(response[status] for status in ("200", "201") if status in response)
    ref: str = success["content"]["application/json"]["schema"]["$ref"]
    return ref.removeprefix(REF)


def todo_app() -> App:
    app = App(title="Todos", version="1")

    @app.post("/todos", status_code=201)
    async def create(todo: TodoIn) -> Todo:
        return Todo(id=1, **todo.model_dump())

    @app.get("/todos/{id}")
    async def read(id: int) -> Todo:
        return Todo(id=id, title="x")

    @app.put("/todos/{id}")
    async def replace(id: int, todo: Todo) -> Todo:
        return todo

    return app


# -- required fields ------------------------------------------------------------------


def test_a_default_is_optional_in_a_request_and_required_in_a_response() -> None:
    app = App()

    @app.post("/todos", status_code=201)
    async def create(todo: TodoIn) -> Todo:
        return Todo(id=1, **todo.model_dump())

    document = app.openapi()

    assert body_ref(document, "/todos") == "TodoIn"
    assert response_ref(document, "/todos") == "Todo"  # one shape each: no suffix
    assert schemas(document)["TodoIn"]["required"] == ["title"]
    assert schemas(document)["Todo"]["required"] == ["title", "done", "tags", "id"]


def test_the_output_schema_lists_every_key_the_app_sends() -> None:
    app = App()

    @app.get("/profile")
    async def profile() -> Profile:
        return Profile(name="ada")

    schema = schemas(app.openapi())["Profile"]
    sent = TestClient(app).get("/profile").json()

    assert sent == {"name": "ada", "bio": None, "tags": []}
    assert schema["required"] == list(sent)
    assert {"type": "null"} in schema["properties"]["bio"]["anyOf"]


def test_a_field_left_out_when_it_is_its_default_stays_optional() -> None:
    app = App()

    @app.get("/page")
    async def page() -> Page:
        return Page(items=[1])

    schema = schemas(app.openapi())["Page"]

    assert TestClient(app).get("/page").json() == {"items": [1]}
    assert schema["required"] == ["items"]
    assert "cursor" in schema["properties"]


# -- one component or two -------------------------------------------------------------


def test_a_model_read_and_sent_in_different_shapes_is_two_components() -> None:
    document = todo_app().openapi()
    found = schemas(document)

    assert body_ref(document, "/todos") == "TodoIn"
    assert body_ref(document, "/todos/{id}", "put") == "Todo-Input"
    assert response_ref(document, "/todos/{id}", "put") == "Todo-Output"
    assert response_ref(document, "/todos/{id}", "get") == "Todo-Output"
    assert response_ref(document, "/todos") == "Todo-Output"
    assert "Todo" not in found
    assert found["Todo-Input"]["required"] == ["title", "id"]
    assert found["Todo-Output"]["required"] == ["title", "done", "tags", "id"]
    assert found["Todo-Input"]["title"] == found["Todo-Output"]["title"] == "Todo"
    validate_openapi(document)


def test_a_model_with_one_shape_is_one_component_under_its_name() -> None:
    app = App()

    @app.post("/points")
    async def create(point: Point) -> Point:
        return point

    @app.get("/points")
    async def listing() -> list[Point]:
        return []

    document = app.openapi()

    assert body_ref(document, "/points") == response_ref(document, "/points") == "Point"
    assert "Point-Input" not in schemas(document)
    assert "Point-Output" not in schemas(document)


def test_names_do_not_depend_on_which_route_comes_first() -> None:
    app = App()

    @app.get("/todos/{id}")  # sent before it is read
    async def read(id: int) -> Todo:
        return Todo(id=id, title="x")

    @app.put("/todos/{id}")
    async def replace(id: int, todo: Todo) -> Todo:
        return todo

    document = app.openapi()

    assert response_ref(document, "/todos/{id}", "get") == "Todo-Output"
    assert body_ref(document, "/todos/{id}", "put") == "Todo-Input"
    assert set(schemas(document)) == {"Todo-Input", "Todo-Output", "Problem", "ValidationIssue"}


def test_names_and_bytes_are_the_same_on_every_build() -> None:
    first, second = todo_app().openapi(), todo_app().openapi()

    assert json.dumps(first) == json.dumps(second)
    assert all(COMPONENT_NAME.match(name) for name in schemas(first))


def test_a_nested_model_splits_its_parents() -> None:
    app = App()

    @app.post("/notes")
    async def create(note: Note) -> Note:
        return note

    document = app.openapi()
    found = schemas(document)

    assert body_ref(document, "/notes") == "Note-Input"
    assert response_ref(document, "/notes") == "Note-Output"
    assert found["Note-Input"]["properties"]["tag"] == {"$ref": REF + "Tag-Input"}
    assert found["Note-Output"]["properties"]["tag"] == {"$ref": REF + "Tag-Output"}
    assert found["Tag-Input"]["required"] == ["name"]
    assert found["Tag-Output"]["required"] == ["name", "color"]
    assert not {"Note", "Tag"} & set(found)
    validate_openapi(document)


def test_a_nested_model_read_only_keeps_its_name() -> None:
    app = App()

    @app.post("/notes")
    async def create(note: Note) -> int:
        return 1

    @app.get("/tags")
    async def tags() -> list[Point]:
        return []

    found = schemas(app.openapi())

    assert found["Note"]["properties"]["tag"] == {"$ref": REF + "Tag"}
    assert found["Tag"]["required"] == ["name"]


def test_a_computed_field_is_in_the_output_component_only() -> None:
    app = App()

    @app.post("/rectangles")
    async def create(rectangle: Rectangle) -> Rectangle:
        return rectangle

    document = app.openapi()
    found = schemas(document)

    assert body_ref(document, "/rectangles") == "Rectangle-Input"
    assert response_ref(document, "/rectangles") == "Rectangle-Output"
    assert "area" not in found["Rectangle-Input"]["properties"]
    assert found["Rectangle-Output"]["properties"]["area"]["readOnly"] is True
    assert found["Rectangle-Output"]["required"] == ["width", "height", "area"]


def test_a_recursive_model_refers_to_its_own_shape() -> None:
    app = App()

    @app.post("/trees")
    async def create(tree: Node) -> Node:
        return tree

    document = app.openapi()
    found = schemas(document)

    assert body_ref(document, "/trees") == "Node-Input"
    assert found["Node-Input"]["properties"]["children"]["items"] == {"$ref": REF + "Node-Input"}
    assert found["Node-Output"]["properties"]["children"]["items"] == {"$ref": REF + "Node-Output"}
    validate_openapi(document)


def test_a_model_a_computed_field_returns_is_the_same_model_elsewhere() -> None:
    app = App()

    @app.post("/posts")
    async def create(post: Post) -> Post:
        return post

    @app.post("/users")
    async def register(user: User) -> User:
        return user

    document = app.openapi()
    found = schemas(document)

    assert found["Post-Output"]["properties"]["author"]["$ref"] == REF + "User-Output"
    assert response_ref(document, "/users") == "User-Output"
    assert set(found) == {
        "Post-Input",
        "Post-Output",
        "User-Input",
        "User-Output",
        "Problem",
        "ValidationIssue",
    }


def test_an_alias_both_ways_is_one_component_a_serialization_alias_two() -> None:
    app = App()

    @app.post("/accounts")
    async def account(account: Account) -> Account:
        return account

    @app.post("/renamed")
    async def renamed(item: Renamed) -> Renamed:
        return item

    document = app.openapi()
    found = schemas(document)
    client = TestClient(app)

    assert body_ref(document, "/accounts") == response_ref(document, "/accounts") == "Account"
    assert list(found["Account"]["properties"]) == ["userName"]
    assert client.post("/accounts", json={"userName": "ada"}).json() == {"userName": "ada"}
    assert list(found["Renamed-Input"]["properties"]) == ["internal"]
    assert list(found["Renamed-Output"]["properties"]) == ["external"]
    assert client.post("/renamed", json={"internal": 1}).json() == {"external": 1}


def test_parameters_and_declared_responses_use_the_right_shape() -> None:
    app = App()

    @app.get("/todos", responses={404: {"description": "None.", "model": NotFound}})
    async def search(color: Color = Query(Color.RED)) -> list[Todo]:
        return []

    @app.post("/colors")
    async def paint(colors: list[Color] = Body()) -> list[Color]:
        return colors

    @app.post("/errors")
    async def report(error: NotFound) -> int:
        return 1

    document = app.openapi()
    operation = document["paths"]["/todos"]["get"]
    missing = operation["responses"]["404"]["content"]["application/json"]["schema"]

    assert operation["parameters"][0]["schema"]["enum"] == ["red", "blue"]
    assert missing == {"$ref": REF + "NotFound-Output"}
    assert body_ref(document, "/errors") == "NotFound-Input"
    assert schemas(document)["NotFound-Output"]["required"] == ["detail", "code"]
    painted = document["paths"]["/colors"]["post"]
    assert painted["requestBody"]["content"]["application/json"]["schema"]["items"] == {
        "$ref": REF + "Color"  # an enum has one shape: one component
    }
    assert painted["responses"]["200"]["content"]["application/json"]["schema"]["items"] == {
        "$ref": REF + "Color"
    }


def test_typesystem_schemas_split_too() -> None:
    app = App()

    @app.post("/items")
    async def create(body: Item) -> Item:  # type: ignore[valid-type]
        return body

    document = app.openapi()
    found = schemas(document)

    assert body_ref(document, "/items") == "Item-Input"
    assert response_ref(document, "/items") == "Item-Output"
    assert found["Item-Input"]["required"] == ["name"]
    assert found["Item-Output"]["required"] == ["name", "count"]
    assert TestClient(app).post("/items", json={"name": "a"}).json() == {"name": "a", "count": 0}


# -- channels -------------------------------------------------------------------------


class Message(BaseModel):
    text: str
    urgent: bool = False


class Tick(BaseModel):
    n: int
    unit: str = "s"


def channels_app() -> App:
    app = App(title="Chat", version="1")

    @app.websocket("/echo")
    async def echo(ws: WebSocket[Message, Message]) -> None:
        async for message in ws:
            await ws.send(message)

    @app.get("/last")
    async def last() -> Message:
        return Message(text="hi")

    @app.sse("/ticks")
    async def ticks() -> AsyncIterator[Tick]:
        yield Tick(n=1)

    return app


def test_websocket_messages_received_are_input_and_sent_are_output() -> None:
    document = channels_app().asyncapi()
    messages = document["channels"]["echo"]["messages"]
    found = schemas(document)

    assert messages["in"]["payload"] == {"$ref": REF + "Message-Input"}
    assert messages["out"]["payload"] == {"$ref": REF + "Message-Output"}
    assert found["Message-Input"]["required"] == ["text"]
    assert found["Message-Output"]["required"] == ["text", "urgent"]
    ASYNCAPI.validate(document)


def test_a_model_has_the_same_name_in_both_documents() -> None:
    app = channels_app()
    openapi, asyncapi = app.openapi(), app.asyncapi()

    assert response_ref(openapi, "/last", "get") == "Message-Output"
    assert schemas(openapi)["Message-Output"] == schemas(asyncapi)["Message-Output"]
    validate_openapi(openapi)


def test_server_sent_events_are_output() -> None:
    app = channels_app()
    asyncapi = app.asyncapi()
    openapi = json.dumps(app.openapi())

    tick = asyncapi["channels"]["ticks"]["messages"]["Tick"]["payload"]
    assert tick == {"$ref": REF + "Tick"}
    assert schemas(asyncapi)["Tick"]["required"] == ["n", "unit"]
    assert schemas(app.openapi())["Tick"]["required"] == ["n", "unit"]
    assert f'"{REF}Tick"' in openapi


# -- the contract ---------------------------------------------------------------------


def test_the_contract_holds_with_two_shapes() -> None:
    report = run_contract(todo_app(), max_examples=15, stateful=False)

    assert report.ok, report.failure_text()
