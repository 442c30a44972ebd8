"""Schema backends: a pydantic model and its typesystem twin behave the same.

Every behaviour test runs once per backend (the ``backend`` fixture gives the
pair of types); the typesystem-only and custom-backend tests follow.
"""

import dataclasses
import logging
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
import typesystem
from pydantic import BaseModel, Field
from starlette.testclient import TestClient

from bocadillo import (
    App,
    ConfigurationError,
    MalformedInput,
    Path,
    Query,
    SchemaValidationError,
    register_backend,
)
from bocadillo.docs.components import SchemaComponents
from bocadillo.schemas.registry import adapter_for

# -- the two twins ---------------------------------------------------------------


class PydanticTodoIn(BaseModel):
    title: str = Field(min_length=1, max_length=20)
    count: int
    price: float = 0.0


class PydanticTodo(BaseModel):
    id: int
    title: str
    done: bool = False


TypesystemTodoIn = typesystem.Schema(
    title="TodoIn",
    fields={
        "title": typesystem.String(max_length=20),
        "count": typesystem.Integer(),
        "price": typesystem.Float(default=0.0),
    },
)
TypesystemTodo = typesystem.Schema(
    title="Todo",
    fields={
        "id": typesystem.Integer(),
        "title": typesystem.String(),
        "done": typesystem.Boolean(default=False),
    },
)


async def pydantic_qty_query(qty: int = Query(ge=0)) -> dict[str, Any]:
    return {"qty": qty, "type": type(qty).__name__}


async def pydantic_qty_path(qty: int = Path(ge=0)) -> dict[str, Any]:
    return {"qty": qty, "type": type(qty).__name__}


async def typesystem_qty(qty: typesystem.Integer(minimum=0)) -> dict[str, Any]:
    return {"qty": qty, "type": type(qty).__name__}


@dataclasses.dataclass(frozen=True)
class Backend:
    name: str
    todo_in: Any  # the body type: title (max 20 characters), count (int), price (float = 0)
    todo: Any  # the response type: id, title, done (= False), in that order
    as_dict: Callable[[Any], dict[str, Any]]  # a validated body as a plain dict
    qty_query: Callable[..., Any]  # a handler taking `qty` (>= 0) from the query string
    qty_path: Callable[..., Any]  # the same, from the path


BACKENDS = [
    Backend(
        "pydantic",
        PydanticTodoIn,
        PydanticTodo,
        lambda value: value.model_dump(),
        pydantic_qty_query,
        pydantic_qty_path,
    ),
    Backend("typesystem", TypesystemTodoIn, TypesystemTodo, dict, typesystem_qty, typesystem_qty),
]


@pytest.fixture(params=BACKENDS, ids=[b.name for b in BACKENDS])
def backend(request: pytest.FixtureRequest) -> Backend:
    chosen: Backend = request.param
    return chosen


def todo_app(backend: Backend) -> tuple[App, list[Any]]:
    """``POST /todos`` (body ``todo_in``, returns ``todo`` with 201); the bodies it got."""
    app = App()
    received: list[Any] = []

    async def create_todo(todo: backend.todo_in) -> backend.todo:  # type: ignore[name-defined]
        received.append(todo)
        return {"id": len(received), "title": backend.as_dict(todo)["title"]}

    app.post("/todos", status_code=201)(create_todo)
    return app, received


def post_json(client: TestClient, path: str, content: bytes) -> Any:
    return client.post(path, content=content, headers={"Content-Type": "application/json"})


def locs(body: dict[str, Any]) -> list[list[Any]]:
    return [error["loc"] for error in body["errors"]]


# -- JSON bodies -------------------------------------------------------------------


def test_valid_body_is_validated_into_the_type(backend: Backend) -> None:
    app, received = todo_app(backend)

    response = TestClient(app).post("/todos", json={"title": "Buy bread", "count": 2})

    assert response.status_code == 201
    assert response.json() == {"id": 1, "title": "Buy bread", "done": False}
    [todo] = received
    assert backend.as_dict(todo) == {"title": "Buy bread", "count": 2, "price": 0.0}


@pytest.mark.parametrize(
    ("sent", "loc"),
    [
        pytest.param({"title": "x" * 21, "count": 1}, ["body", "title"], id="too-long"),
        pytest.param({"title": "x", "count": "5"}, ["body", "count"], id="string-for-int"),
        pytest.param({"title": "x", "count": 1, "price": False}, ["body", "price"], id="false"),
        pytest.param({"title": "x", "count": 1.5}, ["body", "count"], id="fraction-for-int"),
        pytest.param({"title": None, "count": 1}, ["body", "title"], id="null"),
        pytest.param({"title": 5, "count": 1}, ["body", "title"], id="number-for-string"),
        pytest.param({"title": "x"}, ["body", "count"], id="missing"),
        pytest.param([{"title": "x", "count": 1}], ["body"], id="not-an-object"),
    ],
)
def test_invalid_body_is_a_422_problem_located_in_the_body(
    backend: Backend, problem: Any, sent: Any, loc: list[Any]
) -> None:
    app, received = todo_app(backend)

    response = TestClient(app).post("/todos", json=sent)

    body = problem(response, 422)
    assert locs(body) == [loc]
    assert received == []


def test_strict_json_types_hold_for_both_backends(backend: Backend, problem: Any) -> None:
    """JSON has types: "5" is not an integer and false is not a number, unlike in a query."""
    app, _ = todo_app(backend)
    client = TestClient(app)

    for raw in (b'{"title": "x", "count": "5"}', b'{"title": "x", "count": 1, "price": false}'):
        assert problem(post_json(client, "/todos", raw), 422)["errors"][0]["loc"][0] == "body"
    assert post_json(client, "/todos", b'{"title": "x", "count": 5}').status_code == 201


@pytest.mark.parametrize("raw", [b'{"title": ', b"{'title': 'x'}", b"\xff\xfe"])
def test_malformed_json_is_a_400_problem(backend: Backend, problem: Any, raw: bytes) -> None:
    app, received = todo_app(backend)

    body = problem(post_json(TestClient(app), "/todos", raw), 400)

    assert body["errors"][0]["loc"] == ["body"]
    assert body["errors"][0]["type"] == "json_invalid"
    assert received == []


def test_missing_field_error_names_the_field(backend: Backend, problem: Any) -> None:
    app, _ = todo_app(backend)

    body = problem(TestClient(app).post("/todos", json={"count": 1}), 422)

    [error] = body["errors"]
    assert error["loc"] == ["body", "title"]
    assert error["type"] in {"missing", "required"}


def test_errors_have_the_same_shape_for_both_backends(problem: Any) -> None:
    bodies = []
    for backend in BACKENDS:
        app, _ = todo_app(backend)
        response = TestClient(app).post("/todos", json={"title": "x" * 21, "count": "5"})
        bodies.append(problem(response, 422))

    pydantic_body, typesystem_body = bodies
    assert set(pydantic_body) == set(typesystem_body)
    assert {k: v for k, v in pydantic_body.items() if k != "errors"} == {
        k: v for k, v in typesystem_body.items() if k != "errors"
    }
    for body in bodies:
        assert sorted(locs(body)) == [["body", "count"], ["body", "title"]]
        for error in body["errors"]:
            assert set(error) == {"loc", "msg", "type"}
            assert isinstance(error["msg"], str) and error["msg"]
            assert isinstance(error["type"], str) and error["type"]


# -- responses ---------------------------------------------------------------------


class TodoObject:
    """Not a dict: the response type reads its attributes."""

    def __init__(self) -> None:
        self.secret = "hunter2"
        self.done = True
        self.title = "Write"
        self.id = 3


@pytest.mark.parametrize(
    "value",
    [
        pytest.param({"secret": "hunter2", "done": True, "title": "Write", "id": 3}, id="dict"),
        pytest.param(TodoObject(), id="object"),
    ],
)
def test_response_has_only_declared_fields_in_declaration_order(
    backend: Backend, value: Any
) -> None:
    app = App()

    async def read_todo() -> backend.todo:  # type: ignore[name-defined]
        return value

    app.get("/todo")(read_todo)

    response = TestClient(app).get("/todo")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == b'{"id":3,"title":"Write","done":true}'


@pytest.mark.parametrize(
    "value",
    [
        pytest.param({"id": "secret-value-123", "title": "t"}, id="wrong-type"),
        pytest.param({"id": 1, "secret": "secret-value-123"}, id="missing-field"),
        pytest.param(["secret-value-123"], id="not-an-object"),
    ],
)
def test_response_not_fitting_the_type_is_a_500_problem_without_leaks(
    backend: Backend, problem: Any, caplog: pytest.LogCaptureFixture, value: Any
) -> None:
    app = App()

    async def leaky_handler() -> backend.todo:  # type: ignore[name-defined]
        return value

    app.get("/todo")(leaky_handler)

    with caplog.at_level(logging.ERROR, logger="bocadillo"):
        response = TestClient(app).get("/todo")

    body = problem(response, 500)
    assert set(body) == {"type", "title", "status", "detail"}
    for leak in ("Traceback", "secret-value-123", "leaky_handler", "Todo"):
        assert leak not in response.text
    assert any("leaky_handler" in r.getMessage() for r in caplog.records)


# -- parameters --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "url", "source"),
    [("/items", "/items?qty={}", "query"), ("/items/{qty}", "/items/{}", "path")],
    ids=["query", "path"],
)
def test_scalar_parameter_is_converted_and_constrained(
    backend: Backend, problem: Any, path: str, url: str, source: str
) -> None:
    app = App()
    app.get(path)(backend.qty_query if source == "query" else backend.qty_path)
    client = TestClient(app)

    assert client.get(url.format("5")).json() == {"qty": 5, "type": "int"}
    assert client.get(url.format("0")).json() == {"qty": 0, "type": "int"}
    for raw in ("-1", "x", "1.5"):
        body = problem(client.get(url.format(raw)), 422)
        [error] = body["errors"]
        assert error["loc"] == [source, "qty"]
        assert set(error) == {"loc", "msg", "type"}


def test_missing_query_parameter_is_a_422(backend: Backend, problem: Any) -> None:
    app = App()
    app.get("/items")(backend.qty_query)

    body = problem(TestClient(app).get("/items"), 422)

    assert body["errors"] == [{"loc": ["query", "qty"], "msg": "Field required", "type": "missing"}]


def test_typesystem_parameter_errors_gather_with_pydantic_ones(problem: Any) -> None:
    app = App()

    @app.get("/items/{id}")
    async def read_item(
        id: int,
        qty: typesystem.Integer(minimum=0),
        limit: int = Query(10, le=100),
    ) -> int:
        return id

    body = problem(TestClient(app).get("/items/x?qty=-1&limit=500"), 422)

    assert sorted(locs(body)) == [["path", "id"], ["query", "limit"], ["query", "qty"]]


def test_typesystem_parameter_with_a_python_default(app: App, client: TestClient) -> None:
    @app.get("/items")
    async def list_items(qty: typesystem.Integer(minimum=0) = 3) -> int:
        return qty  # type: ignore[no-any-return]

    assert client.get("/items").json() == 3
    assert client.get("/items?qty=7").json() == 7


def test_marker_constraints_on_a_typesystem_field_fail_at_start_up(app: App) -> None:
    @app.get("/items")
    async def constrained_qty(qty: typesystem.Integer() = Query(ge=0)) -> int:
        return qty  # type: ignore[no-any-return]

    with pytest.raises(ConfigurationError) as info:
        app.check()

    message = str(info.value)
    assert "['ge']" in message
    assert constrained_qty.__qualname__ in message
    assert __file__ in message
    assert "'qty'" in message


def test_marker_constraints_on_a_typesystem_field_stop_the_app(app: App) -> None:
    @app.get("/items")
    async def constrained_qty(qty: typesystem.Integer() = Query(ge=0)) -> int:
        return qty  # type: ignore[no-any-return]

    with pytest.raises(ConfigurationError, match="constrained_qty"), TestClient(app):
        pass


def test_typesystem_marker_without_constraints_is_accepted(app: App, client: TestClient) -> None:
    @app.get("/items")
    async def list_items(
        count: typesystem.Integer(minimum=1) = Query(alias="n", description="How many."),
    ) -> int:
        return count  # type: ignore[no-any-return]

    assert client.get("/items?n=2").json() == 2
    assert client.get("/items?n=0").json()["errors"][0]["loc"] == ["query", "n"]


# -- typesystem: arrays, nested references, read-only fields, JSON Schema ----------


def test_typesystem_array_of_schema_as_body_and_response(problem: Any) -> None:
    todos = typesystem.Array(items=TypesystemTodoIn)
    app = App()

    @app.post("/todos")
    async def create_todos(items: todos) -> todos:
        return [{**item, "secret": "x"} for item in items]  # type: ignore[attr-defined]

    client = TestClient(app)

    response = client.post("/todos", json=[{"count": 1, "title": "a"}, {"title": "b", "count": 2}])
    assert response.status_code == 200
    assert response.content == (
        b'[{"title":"a","count":1,"price":0.0},{"title":"b","count":2,"price":0.0}]'
    )
    wrong = client.post("/todos", json=[{"title": "a", "count": 1}, {"title": "b", "count": "2"}])
    assert locs(problem(wrong, 422)) == [["body", 1, "count"]]
    assert locs(problem(client.post("/todos", json={"title": "a"}), 422)) == [["body"]]


ARTISTS = typesystem.Definitions()
Artist = typesystem.Schema(title="Artist", fields={"name": typesystem.String(max_length=50)})
ARTISTS["Artist"] = Artist
Album = typesystem.Schema(
    title="Album",
    fields={
        "title": typesystem.String(),
        "artist": typesystem.Reference("Artist", definitions=ARTISTS),
        "guests": typesystem.Array(
            items=typesystem.Reference("Artist", definitions=ARTISTS), default=list
        ),
    },
)
ARTISTS["Album"] = Album


def test_typesystem_nested_reference_as_body(problem: Any) -> None:
    app = App()

    @app.post("/albums", status_code=201)
    async def create_album(album: Album) -> Album:
        return album

    client = TestClient(app)

    sent = {"title": "Kind of Blue", "artist": {"name": "Miles", "x": 1}, "guests": [{"name": "B"}]}
    response = client.post("/albums", json=sent)
    assert response.status_code == 201
    assert response.json() == {
        "title": "Kind of Blue",
        "artist": {"name": "Miles"},
        "guests": [{"name": "B"}],
    }

    too_long = client.post("/albums", json={"title": "t", "artist": {"name": "x" * 51}})
    assert locs(problem(too_long, 422)) == [["body", "artist", "name"]]
    not_a_string = client.post("/albums", json={"title": "t", "artist": {"name": 5}})
    assert locs(problem(not_a_string, 422)) == [["body", "artist", "name"]]
    guest = client.post("/albums", json={"title": "t", "artist": {"name": "a"}, "guests": [{}]})
    assert locs(problem(guest, 422)) == [["body", "guests", 0, "name"]]


def test_typesystem_nested_reference_as_response_drops_undeclared_keys() -> None:
    app = App()

    @app.get("/album")
    async def read_album() -> Album:
        return {
            "guests": [{"secret": 1, "name": "B"}],
            "artist": {"secret": 1, "name": "M"},
            "title": "T",
            "secret": 1,
        }

    response = TestClient(app).get("/album")

    assert response.content == (b'{"title":"T","artist":{"name":"M"},"guests":[{"name":"B"}]}')


def walk(node: Any) -> Iterator[Any]:
    """Every dict and list inside a JSON document, the document included."""
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        yield from walk(child)


def refs(node: Any) -> list[str]:
    return [n["$ref"] for n in walk(node) if isinstance(n, dict) and "$ref" in n]


def keys(node: Any) -> set[str]:
    return {key for n in walk(node) if isinstance(n, dict) for key in n}


@pytest.mark.parametrize("mode", ["validation", "serialization"])
def test_typesystem_nested_reference_json_schema_is_2020_12(mode: Any) -> None:
    schema = adapter_for(Album).json_schema(mode)

    assert schema["title"] == "Album"
    assert schema["type"] == "object"
    assert list(schema["properties"]) == ["title", "artist", "guests"]
    assert schema["properties"]["artist"] == {"$ref": "#/$defs/Artist"}
    assert schema["properties"]["guests"]["items"] == {"$ref": "#/$defs/Artist"}
    assert set(schema["$defs"]) == {"Artist"}
    assert schema["$defs"]["Artist"]["title"] == "Artist"
    assert schema["$defs"]["Artist"]["properties"]["name"]["maxLength"] == 50
    assert "default" not in schema["properties"]["guests"]  # `default=list` has no JSON value
    # draft-07 and OpenAPI 3.0 spellings are gone
    assert not keys(schema) & {"definitions", "components", "additionalItems"}
    assert all(ref.startswith("#/$defs/") for ref in refs(schema))


def test_typesystem_nested_schema_is_the_same_as_the_top_level_one() -> None:
    nested = adapter_for(Album).json_schema()["$defs"]["Artist"]

    assert nested == adapter_for(Artist).json_schema()


def test_typesystem_tuple_array_json_schema_uses_prefix_items() -> None:
    pair = typesystem.Array(items=[typesystem.String(), typesystem.Integer()])

    schema = adapter_for(pair).json_schema()

    assert schema["prefixItems"] == [
        {"type": "string", "minLength": 1, "pattern": "^[^\\u0000]*$"},
        {"type": "integer"},
    ]
    assert schema.get("items") is False
    assert "additionalItems" not in keys(schema)


def test_typesystem_read_only_field_is_ignored_in_a_body_and_kept_in_a_response() -> None:
    note = typesystem.Schema(
        title="Note",
        fields={"id": typesystem.Integer(read_only=True), "text": typesystem.String()},
    )
    app = App()
    received: list[Any] = []

    @app.post("/notes", status_code=201)
    async def create_note(body: note) -> note:
        received.append(body)
        return {"text": body["text"], "id": 7}  # type: ignore[index]

    client = TestClient(app)

    response = client.post("/notes", json={"id": "not a number, and ignored", "text": "hi"})
    assert response.status_code == 201
    assert response.content == b'{"id":7,"text":"hi"}'
    assert received == [{"text": "hi"}]
    # the schema itself is unchanged: a body still does not set the id
    assert note.validate({"id": 3, "text": "x"}) == {"text": "x"}


def test_typesystem_decimal_is_dumped_as_a_number() -> None:
    price = typesystem.Schema(fields={"amount": typesystem.Decimal(precision="0.01")})

    dumped = adapter_for(price).dump_json({"amount": "12.5"})

    assert orjson.loads(dumped) == {"amount": 12.5}
    assert adapter_for(price).json_schema()["properties"]["amount"]["type"] == "number"


def test_typesystem_dates_round_trip() -> None:
    event = typesystem.Schema(fields={"on": typesystem.Date(), "at": typesystem.DateTime()})
    adapter = adapter_for(event)

    value = adapter.validate_json(b'{"on": "2024-02-29", "at": "2024-02-29T12:30:00"}')

    assert orjson.loads(adapter.dump_json(value)) == {
        "on": "2024-02-29",
        "at": "2024-02-29T12:30:00",
    }
    with pytest.raises(SchemaValidationError) as info:
        adapter.validate_json(b'{"on": 20240229, "at": "2024-02-29T12:30:00"}')
    assert info.value.errors[0]["loc"] == ["on"]


# -- the API docs' components ----------------------------------------------------------


class Todo(BaseModel):
    title: str
    done: bool = False


class TodoPage(BaseModel):
    items: list[Todo]
    total: int


TypesystemNamedTodo = typesystem.Schema(
    title="Todo",
    fields={"title": typesystem.String(), "done": typesystem.Boolean(default=False)},
)


def assert_hoisted(components: SchemaComponents, *operation_schemas: dict[str, Any]) -> None:
    """No nested-schema key survives; every reference points at a stored component."""
    assert not keys(components.schemas) & {"$defs", "definitions"}
    for schema in operation_schemas:
        assert not keys(schema) & {"$defs", "definitions"}
    for ref in refs([components.schemas, *operation_schemas]):
        assert ref.startswith("#/components/schemas/")
        assert ref.removeprefix("#/components/schemas/") in components.schemas


def test_pydantic_and_typesystem_todo_get_different_components() -> None:
    components = SchemaComponents()

    pydantic_ref = components.add(adapter_for(Todo), "validation")
    typesystem_ref = components.add(adapter_for(TypesystemNamedTodo), "validation")

    assert pydantic_ref != typesystem_ref
    pydantic_name = pydantic_ref["$ref"].removeprefix("#/components/schemas/")
    typesystem_name = typesystem_ref["$ref"].removeprefix("#/components/schemas/")
    assert components.schemas[pydantic_name] == adapter_for(Todo).json_schema()
    assert components.schemas[typesystem_name] == adapter_for(TypesystemNamedTodo).json_schema()
    assert_hoisted(components, pydantic_ref, typesystem_ref)


def test_identical_schemas_are_stored_once() -> None:
    components = SchemaComponents()

    added = [
        components.add(adapter_for(Todo), "validation"),
        components.add(adapter_for(TodoPage), "serialization"),
        components.add(adapter_for(list[Todo]), "serialization"),
        components.add(adapter_for(Todo), "serialization"),
        components.add(adapter_for(Artist), "validation"),
        components.add(adapter_for(Album), "validation"),
        components.add(adapter_for(Album), "serialization"),
        components.add(adapter_for(typesystem.Array(items=Artist)), "serialization"),
    ]

    # Todo and Album have defaults: always sent, so their output shapes differ; each
    # added one by one, the first shape keeps the name and the other gets a suffix.
    assert sorted(components.schemas) == [
        "Album",
        "Album-Output",
        "Artist",
        "Todo",
        "Todo-Output",
        "TodoPage",
    ]
    assert added[0] == {"$ref": "#/components/schemas/Todo"}
    assert added[3] == {"$ref": "#/components/schemas/Todo-Output"}
    assert added[2] == {"type": "array", "items": added[3]}
    assert added[5] == {"$ref": "#/components/schemas/Album"}
    assert added[6] == {"$ref": "#/components/schemas/Album-Output"}
    for album in (components.schemas["Album"], components.schemas["Album-Output"]):
        assert album["properties"]["artist"] == {"$ref": "#/components/schemas/Artist"}
    assert components.schemas["TodoPage"]["properties"]["items"]["items"] == added[3]
    assert_hoisted(components, *added)


def test_hoisting_leaves_no_nested_definitions_with_both_backends() -> None:
    components = SchemaComponents()
    operations = [
        components.add(adapter_for(tp), mode)
        for tp in (TodoPage, Album, TypesystemNamedTodo, typesystem.Array(items=Album), Todo)
        for mode in ("validation", "serialization")
    ]

    assert_hoisted(components, *operations)
    todos = [schema for schema in components.schemas.values() if schema.get("title") == "Todo"]
    assert adapter_for(Todo).json_schema() in todos
    assert adapter_for(TypesystemNamedTodo).json_schema() in todos


def _albums(name_type: type) -> type[BaseModel]:
    """An ``Album`` model nesting an ``Artist`` model whose field has ``name_type``."""
    artist = type("Artist", (BaseModel,), {"__annotations__": {"name": name_type}})
    album: type[BaseModel] = type("Album", (BaseModel,), {"__annotations__": {"artist": artist}})
    return album


def test_same_named_parents_of_different_children_stay_apart() -> None:
    components = SchemaComponents()
    first = components.add(adapter_for(_albums(str)), "validation")
    second = components.add(adapter_for(_albums(int)), "validation")

    def artist_name_type(operation: dict[str, Any]) -> Any:
        album = components.schemas[operation["$ref"].removeprefix("#/components/schemas/")]
        artist_ref = album["properties"]["artist"]["$ref"]
        artist = components.schemas[artist_ref.removeprefix("#/components/schemas/")]
        return artist["properties"]["name"]["type"]

    assert artist_name_type(first) == "string"
    assert artist_name_type(second) == "integer"


def test_a_schema_used_in_both_modes_beside_a_namesake_is_stored_once() -> None:
    components = SchemaComponents()
    titled = typesystem.Schema(title="Todo", fields={"title": typesystem.String()})
    components.add(adapter_for(Todo), "validation")
    as_input = components.add(adapter_for(titled), "validation")
    as_output = components.add(adapter_for(titled), "serialization")

    assert as_input == as_output == {"$ref": "#/components/schemas/Todo2"}
    assert len(components.schemas) == 2


# -- a third backend ---------------------------------------------------------------------


class Shape:
    """A minimal schema library: ``Shape("Point", x=int, y=int)``."""

    def __init__(self, name: str, **fields: type) -> None:
        self.name = name
        self.fields = fields


_JSON_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean"}


class ShapeAdapter:
    def __init__(self, shape: Shape) -> None:
        self.shape = shape

    def validate_json(self, data: bytes) -> Any:
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise MalformedInput(str(exc)) from None
        return self.validate_python(value)

    def validate_python(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise SchemaValidationError([{"loc": [], "msg": "Not an object", "type": "object"}])
        errors = []
        for key, tp in self.shape.fields.items():
            if key not in data:
                errors.append({"loc": [key], "msg": "Missing", "type": "missing"})
            elif type(data[key]) is not tp:
                errors.append({"loc": [key], "msg": f"Not a {tp.__name__}", "type": "type"})
        if errors:
            raise SchemaValidationError(errors)
        return {key: data[key] for key in self.shape.fields}

    def dump_json(self, value: Any) -> bytes:
        return orjson.dumps(self.validate_python(value))

    def json_schema(self, mode: Any = "validation") -> dict[str, Any]:
        return {
            "type": "object",
            "title": self.shape.name,
            "properties": {k: {"type": _JSON_TYPES[t]} for k, t in self.shape.fields.items()},
            "required": list(self.shape.fields),
        }


@pytest.fixture(scope="session")
def shape_backend() -> None:
    # Registered once for the run and left there (there is no public way to remove a
    # backend): it claims only Shape instances, which no other test uses.
    register_backend(
        lambda tp: ShapeAdapter(tp) if isinstance(tp, Shape) else None,
        is_model=lambda tp: isinstance(tp, Shape),
    )


Point = Shape("Point", x=int, y=int)


@pytest.mark.usefixtures("shape_backend")
def test_a_registered_backend_serves_bodies_and_responses(problem: Any) -> None:
    app = App()

    @app.post("/points", status_code=201)
    async def create_point(point: Point) -> Point:
        return {**point, "secret": "x"}  # type: ignore[dict-item]

    @app.get("/bad")
    async def bad_point() -> Point:
        return {"x": "one", "y": 2}

    client = TestClient(app)

    created = client.post("/points", json={"y": 2, "x": 1, "z": 3})
    assert created.status_code == 201
    assert created.content == b'{"x":1,"y":2}'
    invalid = problem(client.post("/points", json={"x": "1"}), 422)
    assert invalid["errors"] == [
        {"loc": ["body", "x"], "msg": "Not a int", "type": "type"},
        {"loc": ["body", "y"], "msg": "Missing", "type": "missing"},
    ]
    malformed = problem(post_json(client, "/points", b"{"), 400)
    assert malformed["errors"][0]["type"] == "json_invalid"
    assert problem(client.get("/bad"), 500)["detail"]

    components = SchemaComponents()
    assert components.add(adapter_for(Point), "validation") == {
        "$ref": "#/components/schemas/Point"
    }
    assert components.schemas["Point"]["properties"]["x"] == {"type": "integer"}


@pytest.mark.usefixtures("shape_backend")
def test_a_registered_backend_is_asked_before_pydantic() -> None:
    assert isinstance(adapter_for(Point), ShapeAdapter)
    assert type(adapter_for(int)).__name__ == "PydanticAdapter"
    assert type(adapter_for(TypesystemTodo)).__name__ == "TypesystemAdapter"


def test_typesystem_body_strings_are_taken_as_sent() -> None:
    from bocadillo import App

    app = App()
    Note = typesystem.Schema(fields={"text": typesystem.String(max_length=5)})

    @app.post("/notes")
    async def add(note: Note) -> Note:
        return note

    client = TestClient(app)
    # Not trimmed: a blank-looking string is kept, an over-long padded one refused,
    # as the published schema (minLength 1, maxLength 5) says.
    assert client.post("/notes", json={"text": " "}).json() == {"text": " "}
    assert client.post("/notes", json={"text": "a" + " " * 10}).status_code == 422


def test_typesystem_body_string_with_a_nul_character_is_refused() -> None:
    from bocadillo import App

    app = App()
    Note = typesystem.Schema(fields={"text": typesystem.String()})

    @app.post("/notes")
    async def add(note: Note) -> Note:
        return note

    response = TestClient(app).post("/notes", json={"text": "a\u0000b"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "text"]
