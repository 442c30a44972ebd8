"""The OpenAPI 3.1 document and the docs page: serving, caching, operations,
parameters, bodies, responses, components, and Swagger UI offline."""

import re
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any, Literal

import jsonschema
import yaml
from openapi_spec_validator import validate
from pydantic import BaseModel, Field, computed_field
from starlette.testclient import TestClient

from bocadillo import (
    App,
    Body,
    Cookie,
    Header,
    HTTPError,
    PlainTextResponse,
    Query,
    Router,
)

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_JSON = "application/problem+json"


def document_of(app: App) -> dict[str, Any]:
    """The app's document, checked against the OpenAPI 3.1 specification."""
    document = app.openapi()
    validate(document)
    return document


def operation_of(app: App, path: str, method: str = "get") -> dict[str, Any]:
    operation: dict[str, Any] = document_of(app)["paths"][path][method]
    return operation


def parameters_of(app: App, path: str, method: str = "get") -> dict[str, dict[str, Any]]:
    """The operation's parameters by name."""
    return {p["name"]: p for p in operation_of(app, path, method).get("parameters", [])}


def walk(node: Any) -> Iterator[tuple[Any, Any]]:
    """Every (key, value) pair of every mapping in ``node``, at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


# -- models used by the handlers below ------------------------------------------------


class Tag(BaseModel):
    name: str


class Article(BaseModel):
    title: str
    tags: list[Tag] = []


class Rectangle(BaseModel):
    width: int
    height: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def area(self) -> int:
        return self.width * self.height


class Renamed(BaseModel):
    internal: int = Field(serialization_alias="external")


class Cat(BaseModel):
    kind: Literal["cat"]
    meows: bool


class Dog(BaseModel):
    kind: Literal["dog"]
    barks: bool


class Pet(BaseModel):
    animal: Cat | Dog = Field(discriminator="kind")


# -- serving the document -----------------------------------------------------------------


def test_openapi_json_is_served_as_json(app, client):
    response = client.get("/openapi.json")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["openapi"] == "3.1.0"
    validate(response.json())


def test_openapi_yaml_is_served_as_yaml_with_the_same_content(app, client):
    @app.get("/items/{id}")
    async def get_item(id: int, q: Literal["on", "off", "yes"] = "on") -> Article:
        """Read one."""
        return Article(title="x")

    response = client.get("/openapi.yaml")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/yaml"
    assert response.text.startswith("openapi: 3.1.0")
    assert yaml.safe_load(response.text) == document_of(app)


def test_document_is_built_once_and_cached(app):
    @app.get("/ping")
    async def ping() -> str:
        return "pong"

    assert document_of(app) is app.openapi()


def test_document_is_rebuilt_after_a_route_is_added(app, client):
    @app.get("/first")
    async def first() -> int:
        return 1

    assert set(client.get("/openapi.json").json()["paths"]) == {"/first"}

    @app.get("/second")
    async def second() -> int:
        return 2

    rebuilt = client.get("/openapi.json").json()
    validate(rebuilt)
    assert set(rebuilt["paths"]) == {"/first", "/second"}
    assert set(yaml.safe_load(client.get("/openapi.yaml").text)["paths"]) == {
        "/first",
        "/second",
    }


def test_document_is_rebuilt_after_a_route_is_added_to_an_included_router(app, client):
    books = Router(prefix="/books")

    @books.get("/")
    async def list_books() -> list[int]:
        return []

    app.include_router(books)
    assert set(client.get("/openapi.json").json()["paths"]) == {"/books"}

    @books.get("/{id}")
    async def get_book(id: int) -> int:
        return id

    assert set(client.get("/openapi.json").json()["paths"]) == {"/books", "/books/{id}"}


def test_document_is_rebuilt_after_a_provider_is_registered(app):
    @app.get("/me")
    async def me(user) -> str:
        return str(user)

    @app.provider(raises={403: "Not you."})
    async def user() -> str:
        return "ada"

    assert "403" in operation_of(app, "/me")["responses"]

    @app.provider(name="user", raises={409: "Busy."})
    async def other_user() -> str:
        return "bob"

    responses = operation_of(app, "/me")["responses"]
    assert "409" in responses
    assert "403" not in responses


def test_title_version_description_and_servers_are_in_the_document():
    servers = [
        {"url": "https://shop.example", "description": "production"},
        {"url": "http://127.0.0.1:8000"},
    ]
    app = App(title="Shop", version="2.1.0", description="Sells tea.", servers=servers)

    document = document_of(app)

    assert document["info"] == {"title": "Shop", "version": "2.1.0", "description": "Sells tea."}
    assert document["servers"] == servers


def test_default_info_has_no_description_and_there_are_no_servers(app):
    document = document_of(app)

    assert document["info"] == {"title": "Bocadillo", "version": "0.1.0"}
    assert "servers" not in document


def test_openapi_url_none_turns_off_the_document_the_yaml_and_the_docs_page():
    app = App(openapi_url=None)
    client = TestClient(app)

    for url in ("/openapi.json", "/openapi.yaml", "/docs", "/docs/assets/swagger-ui-bundle.js"):
        assert client.get(url).status_code == 404, url


def test_docs_url_none_turns_off_only_the_docs_page():
    app = App(docs_url=None)
    client = TestClient(app)

    assert client.get("/docs").status_code == 404
    assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 404
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/openapi.yaml").status_code == 200


def test_another_openapi_url_moves_the_yaml_and_the_page_link():
    app = App(openapi_url="/spec.json", docs_url="/api-docs")
    client = TestClient(app)

    assert client.get("/spec.json").status_code == 200
    assert client.get("/spec.yaml").text.startswith("openapi: 3.1.0")
    assert client.get("/openapi.json").status_code == 404
    page = client.get("/api-docs").text
    assert '"url": "/spec.json"' in page
    assert "/api-docs/assets/swagger-ui-bundle.js" in page


def test_framework_routes_never_appear_in_paths(app):
    @app.get("/")
    async def index() -> str:
        return "home"

    assert set(document_of(app)["paths"]) == {"/"}


def test_include_in_schema_false_hides_a_route_that_is_still_served(app, client):
    @app.get("/secret", include_in_schema=False)
    async def secret() -> str:
        return "shh"

    @app.get("/public")
    async def public() -> str:
        return "hi"

    assert set(document_of(app)["paths"]) == {"/public"}
    assert client.get("/secret").json() == "shh"


# -- operation ids, summaries, tags -------------------------------------------------------


def test_same_function_name_in_two_routers_gets_two_operation_ids(app):
    books = Router(prefix="/books")
    films = Router(prefix="/films")

    @books.get("/")
    async def listing() -> list[str]:
        return []

    @films.get("/")
    async def listing() -> list[str]:  # noqa: F811 - the same name on purpose
        return []

    app.include_router(books)
    app.include_router(films)
    paths = document_of(app)["paths"]

    ids = [paths["/books"]["get"]["operationId"], paths["/films"]["get"]["operationId"]]
    assert ids[0] == "listing"
    assert ids[1] != ids[0]
    assert ids[1].startswith("listing")


def test_operation_ids_are_the_same_in_every_build():
    def build() -> dict[str, str]:
        app = App()
        other = Router(prefix="/other")

        @app.get("/a")
        async def read() -> int:
            return 1

        @app.post("/a")
        async def read_post() -> int:
            return 1

        @other.get("/a")
        async def read() -> int:  # noqa: F811 - the same name on purpose
            return 1

        app.include_router(other)
        paths = document_of(app)["paths"]
        return {
            f"{method} {path}": operation["operationId"]
            for path, operations in paths.items()
            for method, operation in operations.items()
        }

    first = build()
    assert first == build()
    assert len(set(first.values())) == len(first) == 3


def test_class_based_view_methods_get_class_and_method_operation_ids(app):
    class ItemView:
        async def get(self) -> int:
            return 1

        async def delete(self) -> None:
            pass

    app.add_route("/item", ItemView)
    operations = document_of(app)["paths"]["/item"]

    assert operations["get"]["operationId"] == "ItemView_get"
    assert operations["delete"]["operationId"] == "ItemView_delete"


def test_operation_id_argument_overrides_the_function_name(app):
    @app.get("/things", operation_id="listThings")
    async def things() -> list[int]:
        return []

    assert operation_of(app, "/things")["operationId"] == "listThings"


def test_explicit_operation_id_is_kept_when_a_function_has_that_name(app):
    @app.get("/old")
    async def list_things() -> list[int]:
        return []

    @app.get("/things", operation_id="list_things")
    async def things() -> list[int]:
        return []

    assert operation_of(app, "/things")["operationId"] == "list_things"


def test_docstring_gives_the_summary_and_the_description(app):
    @app.get("/items")
    async def list_items() -> list[int]:
        """List the items,
        newest first.

        Paginated with `limit`.

        At most 100 at a time.
        """
        return []

    operation = operation_of(app, "/items")

    assert operation["summary"] == "List the items, newest first."
    assert operation["description"] == "Paginated with `limit`.\n\nAt most 100 at a time."


def test_one_line_docstring_gives_a_summary_and_no_description(app):
    @app.get("/items")
    async def list_items() -> list[int]:
        """List the items."""
        return []

    operation = operation_of(app, "/items")

    assert operation["summary"] == "List the items."
    assert "description" not in operation


def test_summary_and_description_arguments_override_the_docstring(app):
    @app.get("/items", summary="All items.", description="Every one of them.")
    async def list_items() -> list[int]:
        """Docstring summary.

        Docstring description.
        """
        return []

    operation = operation_of(app, "/items")

    assert operation["summary"] == "All items."
    assert operation["description"] == "Every one of them."


def test_summary_is_the_humanized_function_name_without_a_docstring(app):
    @app.get("/items")
    async def list_all_items() -> list[int]:
        return []

    operation = operation_of(app, "/items")

    assert operation["summary"] == "List all items"
    assert "description" not in operation


def test_tags_come_from_the_router_and_include_router(app):
    items = Router(prefix="/items", tags=["items"])

    @items.get("/")
    async def list_items() -> list[int]:
        return []

    app.include_router(items, tags=["v1"])

    assert operation_of(app, "/items")["tags"] == ["v1", "items"]


def test_tags_of_the_route_add_to_the_router_tags(app):
    items = Router(prefix="/items", tags=["items"])

    @items.get("/", tags=["reading"])
    async def list_items() -> list[int]:
        return []

    app.include_router(items)

    assert operation_of(app, "/items")["tags"] == ["items", "reading"]


def test_document_lists_every_tag_once_in_order_of_first_use(app):
    items = Router(prefix="/items", tags=["items"])
    users = Router(prefix="/users", tags=["users", "items"])

    @items.get("/")
    async def list_items() -> list[int]:
        return []

    @users.get("/")
    async def list_users() -> list[int]:
        return []

    @app.get("/health")
    async def health() -> str:
        return "ok"

    app.include_router(items)
    app.include_router(users)
    document = document_of(app)

    assert document["tags"] == [{"name": "items"}, {"name": "users"}]
    assert "tags" not in document["paths"]["/health"]["get"]


def test_document_without_tags_has_no_tags_list(app):
    @app.get("/health")
    async def health() -> str:
        return "ok"

    assert "tags" not in document_of(app)


def test_deprecated_route_is_marked_deprecated(app):
    @app.get("/old", deprecated=True)
    async def old() -> int:
        return 1

    @app.get("/new")
    async def new() -> int:
        return 1

    assert operation_of(app, "/old")["deprecated"] is True
    assert "deprecated" not in operation_of(app, "/new")


# -- parameters ------------------------------------------------------------------------------


def test_path_parameter_is_required(app):
    @app.get("/items/{id}")
    async def get_item(id: int) -> int:
        return id

    assert parameters_of(app, "/items/{id}")["id"] == {
        "name": "id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer"},
    }


def test_query_parameter_without_default_is_required_and_with_one_is_not(app):
    @app.get("/search")
    async def search(q: str, page: int = 1) -> int:
        return page

    parameters = parameters_of(app, "/search")

    assert parameters["q"]["in"] == "query"
    assert parameters["q"]["required"] is True
    assert parameters["page"]["required"] is False


def test_query_constraints_are_in_the_schema(app):
    @app.get("/search")
    async def search(
        q: str = Query(min_length=2, max_length=20, pattern="^[a-z]+$"),
        limit: int = Query(10, ge=1, le=100),
    ) -> int:
        return limit

    parameters = parameters_of(app, "/search")

    assert parameters["q"]["schema"] == {
        "type": "string",
        "minLength": 2,
        "maxLength": 20,
        "pattern": "^[a-z]+$",
    }
    assert parameters["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
        "default": 10,
    }


def test_literal_query_parameter_is_an_enum(app):
    @app.get("/items")
    async def list_items(order: Literal["asc", "desc"] = "asc") -> str:
        return order

    assert parameters_of(app, "/items")["order"]["schema"] == {
        "type": "string",
        "enum": ["asc", "desc"],
        "default": "asc",
    }


def test_alias_is_the_parameter_name(app):
    @app.get("/items")
    async def list_items(page_size: int = Query(10, alias="page-size")) -> int:
        return page_size

    parameters = parameters_of(app, "/items")

    assert set(parameters) == {"page-size"}
    assert parameters["page-size"]["in"] == "query"


def test_list_query_parameter_is_an_array(app):
    @app.get("/items")
    async def list_items(tag: list[int] = Query([])) -> list[int]:
        return tag

    assert parameters_of(app, "/items")["tag"]["schema"] == {
        "type": "array",
        "items": {"type": "integer"},
        "default": [],
    }


def test_header_parameter_has_the_header_name(app):
    @app.get("/items")
    async def list_items(
        x_request_id: str = Header(), if_match: str = Header(alias="If-Match")
    ) -> str:
        return x_request_id

    parameters = parameters_of(app, "/items")

    assert set(parameters) == {"x-request-id", "if-match"}
    assert parameters["x-request-id"]["in"] == "header"
    assert parameters["x-request-id"]["required"] is True


def test_cookie_parameter_is_in_cookie(app):
    @app.get("/items")
    async def list_items(session: str | None = Cookie(None)) -> str | None:
        return session

    parameter = parameters_of(app, "/items")["session"]

    assert parameter["in"] == "cookie"
    assert parameter["required"] is False


def test_marker_description_deprecated_and_examples_are_documented(app):
    @app.get("/items")
    async def list_items(
        limit: int = Query(10, description="Page size.", deprecated=True, examples=[10, 50]),
    ) -> int:
        return limit

    parameter = parameters_of(app, "/items")["limit"]

    assert parameter["description"] == "Page size."
    assert parameter["deprecated"] is True
    assert parameter["examples"] == {"example1": {"value": 10}, "example2": {"value": 50}}


def test_hidden_query_parameter_is_not_listed_but_still_read(app, client):
    @app.get("/items")
    async def list_items(
        debug: bool = Query(False, include_in_schema=False), page: int = 1
    ) -> bool:
        return debug

    assert set(parameters_of(app, "/items")) == {"page"}
    assert client.get("/items?debug=true").json() is True


def test_hidden_parameter_still_documents_the_422_it_can_give(app, client):
    @app.get("/items")
    async def list_items(debug: bool = Query(False, include_in_schema=False)) -> bool:
        return debug

    assert client.get("/items?debug=maybe").status_code == 422
    assert "422" in operation_of(app, "/items")["responses"]


def test_annotated_marker_form_is_documented_like_the_default_form(app):
    @app.get("/items")
    async def list_items(limit: Annotated[int, Query(ge=1, description="How many.")] = 5) -> int:
        return limit

    parameter = parameters_of(app, "/items")["limit"]

    assert parameter["schema"] == {"type": "integer", "minimum": 1, "default": 5}
    assert parameter["description"] == "How many."
    assert parameter["required"] is False


def test_provider_parameters_are_listed_in_every_operation_using_it(app):
    @app.provider
    async def paging(page: int = Query(1, ge=1), x_tenant: str = Header()) -> int:
        return page

    @app.get("/books")
    async def books(paging) -> int:
        return paging

    @app.get("/films")
    async def films(paging) -> int:
        return paging

    @app.get("/health")
    async def health() -> str:
        return "ok"

    for path in ("/books", "/films"):
        parameters = parameters_of(app, path)
        assert {(p["name"], p["in"]) for p in parameters.values()} == {
            ("page", "query"),
            ("x-tenant", "header"),
        }
        assert parameters["page"]["schema"] == {"type": "integer", "minimum": 1, "default": 1}
    assert "parameters" not in operation_of(app, "/health")


def test_parameter_read_by_a_handler_and_its_provider_is_listed_once(app):
    @app.provider
    async def tenant(x_tenant: str = Header()) -> str:
        return x_tenant

    @app.get("/books")
    async def books(tenant, x_tenant: str = Header()) -> str:
        return tenant

    parameters = operation_of(app, "/books")["parameters"]

    assert [(p["name"], p["in"]) for p in parameters] == [("x-tenant", "header")]


def test_parameter_required_by_the_handler_is_required_even_if_a_provider_reads_it_optionally(
    app, client
):
    @app.provider
    async def search_term(q: str | None = None) -> str | None:
        return q

    @app.get("/search")
    async def search(search_term, q: str) -> str:
        return q

    assert client.get("/search").status_code == 422
    assert parameters_of(app, "/search")["q"]["required"] is True


# -- request bodies -------------------------------------------------------------------------


def test_model_body_is_required_and_references_its_component(app):
    @app.post("/articles")
    async def create(article: Article) -> int:
        return 1

    request_body = operation_of(app, "/articles", "post")["requestBody"]

    assert request_body == {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Article"}}},
    }


def test_optional_body_is_not_required(app):
    @app.post("/articles")
    async def create(article: Article | None = None) -> int:
        return 1

    request_body = operation_of(app, "/articles", "post")["requestBody"]
    schema = request_body["content"]["application/json"]["schema"]

    assert request_body["required"] is False
    assert {"$ref": "#/components/schemas/Article"} in schema["anyOf"]


def test_list_body_is_an_array_of_references(app):
    @app.post("/articles")
    async def create(articles: list[Article] = Body()) -> int:
        return len(articles)

    request_body = operation_of(app, "/articles", "post")["requestBody"]

    assert request_body["content"]["application/json"]["schema"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Article"},
    }


def test_body_marker_description_and_examples_are_documented(app):
    @app.post("/counts")
    async def counts(
        payload: dict[str, int] = Body(description="Counts by name.", examples=[{"a": 1}]),
    ) -> int:
        return 1

    request_body = operation_of(app, "/counts", "post")["requestBody"]

    assert request_body["description"] == "Counts by name."
    assert request_body["content"]["application/json"]["examples"] == {
        "example1": {"value": {"a": 1}}
    }


# -- responses -----------------------------------------------------------------------------


def test_success_response_has_the_return_type_schema(app):
    @app.get("/article")
    async def article() -> Article:
        return Article(title="x")

    assert operation_of(app, "/article")["responses"]["200"] == {
        "description": "OK",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Article"}}},
    }


def test_status_code_argument_is_the_documented_success_status(app):
    @app.post("/articles", status_code=201)
    async def create(article: Article) -> Article:
        return article

    responses = operation_of(app, "/articles", "post")["responses"]

    assert "201" in responses
    assert "200" not in responses
    assert responses["201"]["description"] == "Created"


def test_none_return_is_a_204_without_content(app):
    @app.delete("/articles/{id}")
    async def delete(id: int) -> None:
        pass

    responses = operation_of(app, "/articles/{id}", "delete")["responses"]

    assert responses["204"] == {"description": "No Content"}
    assert "200" not in responses


def test_untyped_return_is_json_with_an_empty_schema(app):
    @app.get("/anything")
    async def anything():  # type: ignore[no-untyped-def]
        return {"a": 1}

    assert operation_of(app, "/anything")["responses"]["200"]["content"] == {
        "application/json": {"schema": {}}
    }


def test_plain_text_response_return_is_text_plain(app, client):
    @app.get("/hello")
    async def hello() -> PlainTextResponse:
        return PlainTextResponse("hi")

    content = operation_of(app, "/hello")["responses"]["200"]["content"]

    assert content == {"text/plain": {"schema": {"type": "string"}}}
    assert client.get("/hello").headers["content-type"].startswith("text/plain")


def test_route_without_inputs_lists_only_its_success_and_500(app):
    @app.get("/health")
    async def health() -> str:
        return "ok"

    assert set(operation_of(app, "/health")["responses"]) == {"200", "500"}


def test_query_parameters_bring_a_422_but_no_body_errors(app):
    @app.get("/search")
    async def search(q: str) -> str:
        return q

    assert set(operation_of(app, "/search")["responses"]) == {"200", "422", "500"}


def test_body_brings_400_413_415_and_422(app):
    @app.post("/articles")
    async def create(article: Article) -> int:
        return 1

    assert set(operation_of(app, "/articles", "post")["responses"]) == {
        "200",
        "400",
        "413",
        "415",
        "422",
        "500",
    }


def test_path_parameters_bring_a_404(app):
    @app.get("/articles/{id}")
    async def read(id: int) -> int:
        return id

    responses = operation_of(app, "/articles/{id}")["responses"]

    assert set(responses) == {"200", "404", "422", "500"}
    assert responses["404"]["content"] == {PROBLEM_JSON: {"schema": PROBLEM_REF}}


def test_raises_on_a_route_documents_its_status(app):
    @app.get("/articles/{id}", raises={404: "There is no such article.", 410: "It was removed."})
    async def read(id: int) -> int:
        raise HTTPError(404)

    responses = operation_of(app, "/articles/{id}")["responses"]

    assert responses["404"]["description"].startswith("There is no such article.")
    assert responses["410"] == {
        "description": "It was removed.",
        "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
    }


def test_declared_404_without_path_parameters_is_listed(app):
    @app.get("/latest", raises={404: "Nothing yet."})
    async def latest() -> int:
        raise HTTPError(404)

    responses = operation_of(app, "/latest")["responses"]

    assert responses["404"]["description"] == "Nothing yet."


def test_raises_on_a_provider_is_documented_on_the_routes_using_it(app):
    @app.provider(raises={403: "Not allowed."})
    async def user() -> str:
        return "ada"

    @app.get("/me")
    async def me(user) -> str:
        return user

    @app.get("/health")
    async def health() -> str:
        return "ok"

    assert operation_of(app, "/me")["responses"]["403"] == {
        "description": "Not allowed.",
        "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
    }
    assert "403" not in operation_of(app, "/health")["responses"]


def test_raises_on_a_provider_reached_through_another_provider_is_documented(app):
    @app.provider(raises={403: "Not allowed."})
    async def user() -> str:
        return "ada"

    @app.provider(raises={409: "Locked."})
    async def account(user) -> str:
        return user

    @app.get("/account")
    async def read(account) -> str:
        return account

    responses = operation_of(app, "/account")["responses"]

    assert responses["403"]["description"] == "Not allowed."
    assert responses["409"]["description"] == "Locked."


def test_responses_with_a_description_string_add_a_problem_response(app):
    @app.get("/articles", responses={409: "Being rebuilt."})
    async def articles() -> list[int]:
        return []

    assert operation_of(app, "/articles")["responses"]["409"] == {
        "description": "Being rebuilt.",
        "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
    }


def test_responses_with_a_description_and_a_model(app):
    @app.get("/articles", responses={202: {"description": "Queued.", "model": Tag}})
    async def articles() -> list[int]:
        return []

    document = document_of(app)

    assert document["paths"]["/articles"]["get"]["responses"]["202"] == {
        "description": "Queued.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Tag"}}},
    }
    assert "Tag" in document["components"]["schemas"]


def test_every_error_response_is_a_problem(app):
    @app.post("/articles/{id}", raises={409: "Locked."}, responses={418: "Teapot."})
    async def update(id: int, article: Article) -> int:
        return id

    responses = operation_of(app, "/articles/{id}", "post")["responses"]
    errors = {status: r for status, r in responses.items() if int(status) >= 400}

    assert set(errors) == {"400", "404", "409", "413", "415", "418", "422", "500"}
    for status, response in errors.items():
        assert response["content"] == {PROBLEM_JSON: {"schema": PROBLEM_REF}}, status


def test_problem_and_validation_issue_schemas_are_components(app):
    schemas = document_of(app)["components"]["schemas"]

    assert schemas["Problem"]["required"] == ["type", "title", "status"]
    assert schemas["Problem"]["properties"]["errors"]["items"] == {
        "$ref": "#/components/schemas/ValidationIssue"
    }
    assert schemas["ValidationIssue"]["required"] == ["loc", "msg", "type"]


def test_error_responses_of_the_app_validate_against_the_problem_schema(app, client):
    @app.post("/articles/{id}", raises={409: "Locked."})
    async def update(id: int, article: Article) -> int:
        if id == 409:
            raise HTTPError(409, detail="Locked.")
        if id == 500:
            raise RuntimeError("boom")
        return id

    components = document_of(app)["components"]
    validator = jsonschema.Draft202012Validator({**PROBLEM_REF, "components": components})
    answers = {
        400: client.post("/articles/1", content=b"{", headers={"content-type": "application/json"}),
        404: client.post("/articles/a/b", json={"title": "x"}),
        405: client.get("/articles/1"),
        409: client.post("/articles/409", json={"title": "x"}),
        413: client.post("/articles/1", json={"title": "x" * 2_000_000}),
        415: client.post("/articles/1", content=b"{}", headers={"content-type": "text/plain"}),
        422: client.post("/articles/x", json={"tags": "no"}),
        500: client.post("/articles/500", json={"title": "x"}),
    }

    for status, response in answers.items():
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == PROBLEM_JSON
        validator.validate(response.json())
    assert answers[422].json()["errors"]


# -- components ----------------------------------------------------------------------------


def test_nested_model_is_a_component_of_its_own(app):
    @app.post("/articles")
    async def create(article: Article) -> int:
        return 1

    schemas = document_of(app)["components"]["schemas"]

    assert schemas["Article"]["properties"]["tags"]["items"] == {"$ref": "#/components/schemas/Tag"}
    assert schemas["Tag"]["properties"]["name"]["type"] == "string"


def test_model_with_a_computed_field_gets_an_output_component(app):
    @app.post("/rectangles")
    async def create(rectangle: Rectangle) -> Rectangle:
        return rectangle

    document = document_of(app)
    operation = document["paths"]["/rectangles"]["post"]
    schemas = document["components"]["schemas"]

    body = operation["requestBody"]["content"]["application/json"]["schema"]
    success = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Rectangle-Input"}
    assert success == {"$ref": "#/components/schemas/Rectangle-Output"}
    assert "area" not in schemas["Rectangle-Input"]["properties"]
    assert "area" in schemas["Rectangle-Output"]["required"]


def test_model_with_a_serialization_alias_gets_an_output_component(app):
    @app.post("/renamed")
    async def create(item: Renamed) -> Renamed:
        return item

    schemas = document_of(app)["components"]["schemas"]

    assert set(schemas["Renamed-Input"]["properties"]) == {"internal"}
    assert set(schemas["Renamed-Output"]["properties"]) == {"external"}


def test_model_with_the_same_shape_both_ways_is_stored_once(app):
    @app.post("/pets")
    async def create(pet: Pet) -> Pet:
        return pet

    @app.get("/pets")
    async def pets() -> list[Pet]:
        return []

    document = document_of(app)
    schemas = document["components"]["schemas"]

    assert set(schemas) == {"Pet", "Cat", "Dog", "Problem", "ValidationIssue"}
    listing = document["paths"]["/pets"]["get"]["responses"]["200"]["content"]
    assert listing["application/json"]["schema"]["items"] == {"$ref": "#/components/schemas/Pet"}


def test_no_defs_anywhere_in_the_document(app):
    @app.post("/articles")
    async def create(article: Article) -> list[Article]:
        return [article]

    @app.put("/tags")
    async def tags(tags: list[Tag] | None = Body(None)) -> dict[str, Tag]:
        return {}

    @app.post("/pets")
    async def pet(pet: Pet) -> Pet:
        return pet

    document = document_of(app)

    assert not {key for key, _ in walk(document)} & {"$defs", "definitions"}
    refs = [value for key, value in walk(document) if key == "$ref"]
    assert refs
    assert all(ref.startswith("#/components/schemas/") for ref in refs)


def test_discriminator_mapping_points_at_components(app):
    @app.post("/pets")
    async def pet(pet: Pet) -> Pet:
        return pet

    document = document_of(app)
    mapping = document["components"]["schemas"]["Pet"]["properties"]["animal"]["discriminator"]

    assert mapping["mapping"] == {
        "cat": "#/components/schemas/Cat",
        "dog": "#/components/schemas/Dog",
    }
    assert not [s for s in strings(document) if s.startswith("#/$defs/")]


# -- the docs page ---------------------------------------------------------------------------

_LINK = re.compile(r'(?:src|href)="([^"]*)"')


def test_docs_page_references_only_same_origin_urls(app, client):
    page = client.get("/docs")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    links = _LINK.findall(page.text)
    assert links
    assert all(link.startswith("/") and not link.startswith("//") for link in links)
    assert '"url": "/openapi.json"' in page.text
    assert "http://" not in page.text
    assert "https://" not in page.text
    assert '"validatorUrl": null' in page.text


def test_docs_page_assets_are_served(app, client):
    links = _LINK.findall(client.get("/docs").text)
    script = client.get("/docs/assets/swagger-ui-bundle.js")

    assert "/docs/assets/swagger-ui-bundle.js" in links
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "SwaggerUIBundle" in script.text
    for link in links:
        assert client.get(link).status_code == 200, link


def test_docs_page_links_follow_the_root_path(app):
    client = TestClient(app, root_path="/api")
    page = client.get("/api/docs")

    links = _LINK.findall(page.text)
    assert "/api/docs/assets/swagger-ui-bundle.js" in links
    assert all(link.startswith("/api/docs/assets/") for link in links)
    assert '"url": "/api/openapi.json"' in page.text
    for link in [*links, "/api/openapi.json"]:
        assert client.get(link).status_code == 200, link


def test_docs_page_title_is_the_app_title_escaped():
    client = TestClient(App(title="Tea & <Cakes>"))

    assert "<title>Tea &amp; &lt;Cakes&gt; - API docs</title>" in client.get("/docs").text


def test_missing_docs_asset_is_a_404(app, client):
    response = client.get("/docs/assets/no-such-file.js")

    assert response.status_code == 404


# -- everything at once -----------------------------------------------------------------------


def test_document_of_an_app_with_every_feature_validates():
    app = App(
        title="Everything",
        version="3.0.0",
        description="All of it.",
        servers=[{"url": "https://everything.example"}],
    )
    shop = Router(prefix="/shop", tags=["shop"])

    @app.provider(raises={403: "Not allowed."})
    async def tenant(x_tenant: str = Header(description="The tenant.")) -> str:
        return x_tenant

    @shop.get("/articles", summary="Articles.", deprecated=True)
    async def articles(
        tenant,
        limit: Annotated[int, Query(ge=1, le=100, examples=[10])] = 10,
        tag: list[str] = Query([]),
        order: Literal["asc", "desc"] = "asc",
        session: str | None = Cookie(None),
        debug: bool = Query(False, include_in_schema=False),
    ) -> list[Article]:
        """List articles."""
        return []

    @shop.post("/articles", status_code=201, responses={409: "Duplicate."})
    async def create(article: Article) -> Article:
        return article

    @shop.put("/articles/{id}", raises={404: "No such article."})
    async def replace(id: int, article: Article | None = None) -> Rectangle:
        return Rectangle(width=1, height=1)

    @shop.delete("/articles/{id}")
    async def remove(id: int) -> None:
        pass

    @app.post("/pets", responses={202: {"description": "Queued.", "model": Renamed}})
    async def pets(pets: list[Pet] = Body(description="Pets.")) -> PlainTextResponse:
        return PlainTextResponse("ok")

    class Things:
        async def get(self) -> dict[str, int]:
            return {}

        async def patch(self, things: dict[str, int] = Body()):  # type: ignore[no-untyped-def]
            return things

    app.add_route("/things", Things)
    app.include_router(shop, tags=["v1"])

    document = document_of(app)

    assert set(document["paths"]) == {"/shop/articles", "/shop/articles/{id}", "/pets", "/things"}
    yaml_document = yaml.safe_load(TestClient(app).get("/openapi.yaml").text)
    assert yaml_document == document


def test_a_user_model_named_problem_does_not_replace_the_problem_schema(app, client):
    from pydantic import BaseModel as Model

    class Problem(Model):
        question: str

    @app.post("/problems")
    async def add_problem(problem: Problem) -> Problem:
        return problem

    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert schemas["Problem"]["required"] == ["type", "title", "status"]
    body_ref = document["paths"]["/problems"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]["$ref"]
    assert body_ref != "#/components/schemas/Problem"
    assert "question" in schemas[body_ref.rsplit("/", 1)[1]]["properties"]


def test_a_path_converter_is_written_as_a_plain_template(app):
    # OpenAPI names the parameter alone in the template: /files/{rest}, not {rest:path}.
    @app.get("/files/{rest:path}")
    async def read_file(rest: str) -> str:
        return rest

    document = app.openapi()
    assert list(document["paths"]) == ["/files/{rest}"]
    (parameter,) = document["paths"]["/files/{rest}"]["get"]["parameters"]
    assert parameter["name"] == "rest" and parameter["in"] == "path"


# -- built from the API model, not from the app ---------------------------------------------


def test_the_document_is_built_from_an_api_model_alone() -> None:
    from bocadillo.docs.model import ApiModel
    from bocadillo.docs.openapi import build_openapi

    model = ApiModel(
        title="Bare",
        version="2.0",
        description="No app behind it.",
        servers=[{"url": "https://api.example.com"}],
        openapi_version="3.2.0",
        http=[],
        websockets=[],
    )
    document = build_openapi(model)
    assert document["openapi"] == "3.2.0"
    assert document["info"] == {
        "title": "Bare",
        "version": "2.0",
        "description": "No app behind it.",
    }
    assert document["servers"] == [{"url": "https://api.example.com"}]
    assert document["paths"] == {}
    assert set(document["components"]["schemas"]) == {"Problem", "ValidationIssue"}
    assert build_openapi(model, "3.1.0")["openapi"] == "3.1.0"


def test_an_apps_model_gives_the_apps_document() -> None:
    from bocadillo.docs.openapi import build_openapi

    app = App(title="Todos")

    @app.get("/todos/{id}")
    async def get_todo(id: int) -> dict[str, int]:
        return {"id": id}

    assert build_openapi(app.api_model()) == app.openapi()


def test_parameter_defaults_are_in_the_document() -> None:
    app = App()

    @app.get("/items")
    async def items(
        limit: int = Query(20, ge=1),
        page: Annotated[int, Query(ge=1)] = 2,
        q: str = "all",
        tags: list[str] = ["a"],  # noqa: B006
        after: int | None = None,
        bad: Annotated[int, Query(ge=1)] = 0,
        lang: str = Header("en"),
        theme: Literal["dark", "light"] = Cookie("light"),
    ) -> dict[str, int]:
        return {"limit": limit, "page": page}

    schemas = {p["name"]: p["schema"] for p in operation_of(app, "/items")["parameters"]}
    assert schemas["limit"] == {"type": "integer", "minimum": 1, "default": 20}
    assert schemas["page"]["default"] == 2
    assert schemas["q"]["default"] == "all"
    assert schemas["tags"]["default"] == ["a"]
    assert schemas["lang"]["default"] == "en"
    assert schemas["theme"]["default"] == "light"
    # None means "left out", and a default its own type refuses is not shown.
    assert "default" not in schemas["after"]
    assert "default" not in schemas["bad"]
    with TestClient(app) as client:
        assert client.get("/items").json() == {"limit": 20, "page": 2}


class Quota(BaseModel):
    remaining: int


def test_responses_shared_by_the_app_and_routers_merge_into_each_operation() -> None:
    app = App(responses={429: {"description": "Slow down.", "model": Quota}, 503: "Down."})
    pets = Router(prefix="/pets", responses={503: "Pets are asleep.", 404: "No such pet."})
    owners = Router(prefix="/owners")

    @pets.get("/{id}", responses={404: "That pet ran away."})
    async def get_pet(id: int) -> dict[str, int]:
        return {"id": id}

    @pets.sse("/feed")
    async def feed() -> AsyncIterator[str]:
        yield "hi"

    @owners.get("/{id}")
    async def get_owner(id: int) -> dict[str, int]:
        return {"id": id}

    @app.get("/health", responses={500: "Broken.", 429: "Never limited."})
    async def health() -> str:
        return "ok"

    app.include_router(pets)
    app.include_router(owners, responses={503: "Owners are out."})

    pet = operation_of(app, "/pets/{id}")["responses"]
    assert pet["404"]["description"].startswith("That pet ran away.")  # the route wins
    assert pet["503"]["description"] == "Pets are asleep."  # its router beats the app
    assert pet["429"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Quota"
    }
    assert pet["422"]["content"][PROBLEM_JSON]["schema"] == PROBLEM_REF  # framework's kept
    assert "500" in pet
    stream = operation_of(app, "/pets/feed")["responses"]
    assert stream["404"]["description"] == "No such pet."
    assert stream["503"]["description"] == "Pets are asleep."
    owner = operation_of(app, "/owners/{id}")["responses"]
    assert owner["503"]["description"] == "Owners are out."  # the include call beats the app
    assert not owner["404"]["description"].startswith("No such pet.")  # not the pets router's
    assert owner["429"]["description"] == "Slow down."
    health_responses = operation_of(app, "/health")["responses"]
    assert health_responses["500"]["description"].startswith("Broken.")
    assert health_responses["429"]["description"] == "Never limited."
    assert health_responses["503"]["description"] == "Down."


def test_a_route_raises_beats_a_shared_response() -> None:
    app = App(responses={409: "Conflict somewhere."})

    @app.post("/articles", raises={409: "Duplicate slug."})
    async def create() -> None:
        return None

    @app.post("/tags")
    async def tag() -> None:
        return None

    assert operation_of(app, "/articles", "post")["responses"]["409"]["description"] == (
        "Duplicate slug."
    )
    assert operation_of(app, "/tags", "post")["responses"]["409"]["description"] == (
        "Conflict somewhere."
    )
