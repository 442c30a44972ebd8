"""Path, query, header and cookie parameters: conversion, defaults, constraints, errors."""

import datetime
import enum
import uuid
from typing import Annotated, Any, Literal

import pytest
import starlette.requests
from pydantic import BaseModel, Field
from starlette.testclient import TestClient

from bocadillo import App, ConfigurationError, Cookie, Header, Path, Query, Request


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class TodoIn(BaseModel):
    title: str


def locs(body: dict[str, Any]) -> list[list[Any]]:
    return [error["loc"] for error in body["errors"]]


def route_with_annotation(app: App, annotation: Any) -> None:
    """Register ``GET /things/{thing}`` whose handler takes ``thing: annotation``."""

    async def handler(thing):  # type: ignore[no-untyped-def]
        return {"value": thing, "type": type(thing).__name__}

    handler.__annotations__ = {"thing": annotation, "return": dict[str, Any]}
    app.get("/things/{thing}")(handler)


# -- path parameters -----------------------------------------------------------

UUID = uuid.UUID("12345678-1234-5678-1234-567812345678")

PATH_CASES = [
    pytest.param(int, "42", 42, "int", id="int"),
    pytest.param(float, "2.5", 2.5, "float", id="float"),
    pytest.param(str, "hello", "hello", "str", id="str"),
    pytest.param(uuid.UUID, str(UUID), str(UUID), "UUID", id="uuid"),
    pytest.param(datetime.date, "2024-02-29", "2024-02-29", "date", id="date"),
    pytest.param(
        datetime.datetime, "2024-02-29T12:30:00", "2024-02-29T12:30:00", "datetime", id="datetime"
    ),
    pytest.param(Color, "green", "green", "Color", id="enum"),
    pytest.param(Literal["asc", "desc"], "desc", "desc", "str", id="literal"),
]


@pytest.mark.parametrize(("annotation", "raw", "value", "type_name"), PATH_CASES)
def test_path_param_is_converted_to_its_annotation(app, client, annotation, raw, value, type_name):
    route_with_annotation(app, annotation)

    response = client.get(f"/things/{raw}")

    assert response.status_code == 200
    assert response.json() == {"value": value, "type": type_name}


BAD_PATH_CASES = [
    pytest.param(int, "4x2", id="int"),
    pytest.param(float, "two", id="float"),
    pytest.param(uuid.UUID, "not-a-uuid", id="uuid"),
    pytest.param(datetime.date, "2023-02-29", id="date"),
    pytest.param(datetime.datetime, "yesterday", id="datetime"),
    pytest.param(Color, "purple", id="enum"),
    pytest.param(Literal["asc", "desc"], "up", id="literal"),
]


@pytest.mark.parametrize(("annotation", "raw"), BAD_PATH_CASES)
def test_path_param_that_does_not_convert_is_a_422(app, client, problem, annotation, raw):
    route_with_annotation(app, annotation)

    body = problem(client.get(f"/things/{raw}"), 422)

    assert locs(body) == [["path", "thing"]]


def test_path_param_with_path_marker_constraints(app, client, problem):
    @app.get("/items/{id}")
    async def get_item(id: int = Path(ge=1)) -> dict[str, int]:
        return {"id": id}

    assert client.get("/items/1").json() == {"id": 1}
    body = problem(client.get("/items/0"), 422)
    assert body["errors"][0]["loc"] == ["path", "id"]
    assert body["errors"][0]["type"] == "greater_than_equal"


def test_unannotated_path_param_is_a_string(app, client):
    @app.get("/items/{id}")
    async def get_item(id) -> dict[str, str]:  # type: ignore[no-untyped-def]
        return {"type": type(id).__name__}

    assert client.get("/items/5").json() == {"type": "str"}


# -- query parameters ----------------------------------------------------------


def test_query_param_with_default_uses_the_default_when_absent(app, client):
    @app.get("/items")
    async def items(limit: int = 10) -> dict[str, int]:
        return {"limit": limit}

    assert client.get("/items").json() == {"limit": 10}


def test_query_param_with_default_reads_the_query_string(app, client):
    @app.get("/items")
    async def items(limit: int = 10) -> dict[str, int]:
        return {"limit": limit}

    assert client.get("/items?limit=3").json() == {"limit": 3}


@pytest.mark.parametrize(
    ("query", "expected"),
    [("", None), ("?q=cat", "cat"), ("?q=", "")],
    ids=["absent", "present", "blank"],
)
def test_optional_query_param(app, client, query, expected):
    @app.get("/search")
    async def search(q: str | None = None) -> dict[str, str | None]:
        return {"q": q}

    assert client.get(f"/search{query}").json() == {"q": expected}


def test_missing_required_query_param_is_a_422(app, client, problem):
    @app.get("/search")
    async def search(q: str) -> dict[str, str]:
        return {"q": q}

    body = problem(client.get("/search"), 422)

    assert len(body["errors"]) == 1
    [error] = body["errors"]
    assert error["loc"] == ["query", "q"]
    assert error["type"] == "missing"
    assert error["msg"]


@pytest.mark.parametrize("limit", [1, 50, 100])
def test_query_value_within_constraints_is_accepted(app, client, limit):
    @app.get("/items")
    async def items(limit: int = Query(10, ge=1, le=100)) -> dict[str, int]:
        return {"limit": limit}

    assert client.get(f"/items?limit={limit}").json() == {"limit": limit}


@pytest.mark.parametrize("limit", ["0", "101", "ten"])
def test_query_value_outside_constraints_is_a_422(app, client, problem, limit):
    @app.get("/items")
    async def items(limit: int = Query(10, ge=1, le=100)) -> dict[str, int]:
        return {"limit": limit}

    body = problem(client.get(f"/items?limit={limit}"), 422)

    assert locs(body) == [["query", "limit"]]


def test_query_constraint_error_names_the_constraint(app, client, problem):
    @app.get("/items")
    async def items(limit: int = Query(10, ge=1, le=100)) -> dict[str, int]:
        return {"limit": limit}

    body = problem(client.get("/items?limit=101"), 422)

    assert body["errors"][0]["type"] == "less_than_equal"


def test_query_string_constraints_are_enforced(app, client, problem):
    @app.get("/search")
    async def search(q: str = Query(min_length=2)) -> dict[str, str]:
        return {"q": q}

    assert client.get("/search?q=ab").json() == {"q": "ab"}
    body = problem(client.get("/search?q=a"), 422)
    assert body["errors"][0]["type"] == "string_too_short"


def test_query_alias_reads_the_aliased_key(app, client):
    @app.get("/items")
    async def items(page_size: int = Query(20, alias="page-size")) -> dict[str, int]:
        return {"page_size": page_size}

    assert client.get("/items?page-size=5").json() == {"page_size": 5}
    assert client.get("/items?page_size=5").json() == {"page_size": 20}


def test_query_alias_is_the_error_loc(app, client, problem):
    @app.get("/items")
    async def items(page_size: int = Query(20, alias="page-size")) -> dict[str, int]:
        return {"page_size": page_size}

    body = problem(client.get("/items?page-size=big"), 422)

    assert locs(body) == [["query", "page-size"]]


def test_list_query_param_collects_repeated_keys(app, client):
    @app.get("/items")
    async def items(tags: list[str] = Query([])) -> dict[str, list[str]]:
        return {"tags": tags}

    assert client.get("/items?tags=a&tags=b").json() == {"tags": ["a", "b"]}


def test_list_query_param_absent_is_its_default(app, client):
    @app.get("/items")
    async def items(tags: list[str] = Query([])) -> dict[str, list[str]]:
        return {"tags": tags}

    assert client.get("/items").json() == {"tags": []}


def test_list_query_param_with_one_value_is_a_list(app, client):
    @app.get("/items")
    async def items(tags: list[str] = Query([])) -> dict[str, list[str]]:
        return {"tags": tags}

    assert client.get("/items?tags=a").json() == {"tags": ["a"]}


def test_list_query_param_items_are_validated(app, client, problem):
    @app.get("/items")
    async def items(ids: list[int] = Query([])) -> dict[str, list[int]]:
        return {"ids": ids}

    assert client.get("/items?ids=1&ids=2").json() == {"ids": [1, 2]}
    body = problem(client.get("/items?ids=1&ids=x"), 422)
    assert locs(body) == [["query", "ids", 1]]


def test_list_default_changed_by_a_handler_is_fresh_on_the_next_request(app, client):
    @app.get("/items")
    async def items(tags: list[str] = Query([])) -> list[str]:
        tags.append("seen")
        return tags

    assert client.get("/items").json() == ["seen"]
    assert client.get("/items").json() == ["seen"]


def test_annotated_query_marker_uses_the_parameter_default(app, client):
    @app.get("/items")
    async def items(limit: Annotated[int, Query(ge=1)] = 10) -> dict[str, int]:
        return {"limit": limit}

    assert client.get("/items").json() == {"limit": 10}
    assert client.get("/items?limit=4").json() == {"limit": 4}


def test_annotated_query_marker_enforces_its_constraints(app, client, problem):
    @app.get("/items")
    async def items(limit: Annotated[int, Query(ge=1)] = 10) -> dict[str, int]:
        return {"limit": limit}

    body = problem(client.get("/items?limit=0"), 422)

    assert locs(body) == [["query", "limit"]]


def test_unknown_query_keys_are_ignored(app, client):
    @app.get("/items")
    async def items(limit: int = 10) -> dict[str, int]:
        return {"limit": limit}

    assert client.get("/items?other=1&limit=2").json() == {"limit": 2}


def test_percent_encoded_query_value_is_decoded(app, client):
    @app.get("/search")
    async def search(q: str) -> dict[str, str]:
        return {"q": q}

    assert client.get("/search", params={"q": "café & co"}).json() == {"q": "café & co"}


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("0", False), ("yes", True)])
def test_bool_query_param_reads_common_spellings(app, client, raw, expected):
    @app.get("/items")
    async def items(done: bool = False) -> dict[str, bool]:
        return {"done": done}

    assert client.get(f"/items?done={raw}").json() == {"done": expected}


# -- headers -------------------------------------------------------------------


def test_header_param_reads_the_hyphenated_header(app, client):
    @app.get("/me")
    async def me(x_token: str = Header()) -> dict[str, str]:
        return {"token": x_token}

    assert client.get("/me", headers={"X-Token": "secret"}).json() == {"token": "secret"}


def test_header_alias_is_matched_case_insensitively(app, client):
    @app.get("/me")
    async def me(request_id: str = Header(alias="X-Request-ID")) -> dict[str, str]:
        return {"id": request_id}

    response = client.get("/me", headers={"x-request-id": "abc"})

    assert response.json() == {"id": "abc"}


def test_missing_header_is_a_422_with_the_header_name(app, client, problem):
    @app.get("/me")
    async def me(x_token: str = Header()) -> dict[str, str]:
        return {"token": x_token}

    body = problem(client.get("/me"), 422)

    assert body["errors"][0]["loc"] == ["header", "x-token"]
    assert body["errors"][0]["type"] == "missing"


def test_header_with_default_is_optional(app, client):
    @app.get("/me")
    async def me(x_token: str | None = Header(None)) -> dict[str, str | None]:
        return {"token": x_token}

    assert client.get("/me").json() == {"token": None}


def test_header_value_is_converted_and_validated(app, client, problem):
    @app.get("/items")
    async def items(x_page: int = Header(ge=1)) -> dict[str, int]:
        return {"page": x_page}

    assert client.get("/items", headers={"X-Page": "3"}).json() == {"page": 3}
    body = problem(client.get("/items", headers={"X-Page": "zero"}), 422)
    assert locs(body) == [["header", "x-page"]]


# -- cookies -------------------------------------------------------------------


def test_cookie_param_reads_the_cookie(app, client):
    @app.get("/me")
    async def me(session: str = Cookie()) -> dict[str, str]:
        return {"session": session}

    response = client.get("/me", headers={"Cookie": "other=1; session=abc123"})

    assert response.json() == {"session": "abc123"}


def test_missing_cookie_is_a_422_with_the_cookie_name(app, client, problem):
    @app.get("/me")
    async def me(session: str = Cookie()) -> dict[str, str]:
        return {"session": session}

    body = problem(client.get("/me", headers={"Cookie": "other=1"}), 422)

    assert locs(body) == [["cookie", "session"]]


def test_cookie_alias_reads_the_aliased_cookie(app, client):
    @app.get("/me")
    async def me(session_id: str = Cookie(alias="sid")) -> dict[str, str]:
        return {"session": session_id}

    assert client.get("/me", headers={"Cookie": "sid=xyz"}).json() == {"session": "xyz"}


# -- errors --------------------------------------------------------------------


def test_validation_error_entries_have_loc_msg_and_type(app, client, problem):
    @app.get("/items")
    async def items(limit: int) -> dict[str, int]:
        return {"limit": limit}

    body = problem(client.get("/items?limit=lots"), 422)

    [error] = body["errors"]
    assert error["loc"] == ["query", "limit"]
    assert error["type"] == "int_parsing"
    assert isinstance(error["msg"], str)
    assert error["msg"]


def test_every_bad_parameter_is_reported_in_one_422(app, client, problem):
    @app.get("/items/{id}")
    async def get_item(
        id: int,
        limit: int = 10,
        x_token: str = Header(),
        session: str = Cookie(),
    ) -> dict[str, int]:
        return {"id": id}

    response = client.get("/items/abc?limit=lots")

    body = problem(response, 422)
    assert sorted(locs(body)) == sorted(
        [["path", "id"], ["query", "limit"], ["header", "x-token"], ["cookie", "session"]]
    )


def test_bad_parameters_and_bad_body_are_reported_together(app, client, problem):
    @app.post("/items")
    async def create_item(todo: TodoIn, limit: int = 10) -> dict[str, int]:
        return {"limit": limit}

    response = client.post("/items?limit=x", json={"title": 5})

    body = problem(response, 422)
    assert sorted(locs(body)) == [["body", "title"], ["query", "limit"]]


# -- the request ---------------------------------------------------------------


def test_request_parameter_receives_the_starlette_request(app, client):
    @app.get("/items/{id}")
    async def get_item(id: int, request: Request) -> dict[str, Any]:
        return {
            "is_request": isinstance(request, starlette.requests.Request),
            "path": request.url.path,
            "query": request.query_params["q"],
        }

    response = client.get("/items/3?q=x")

    assert response.json() == {
        "is_request": True,
        "path": "/items/3",
        "query": "x",
    }


def test_request_parameter_sees_the_raw_path_params(app, client):
    @app.get("/items/{id}")
    async def get_item(id: int, request: Request) -> dict[str, Any]:
        return dict(request.path_params)

    assert client.get("/items/3").json() == {"id": "3"}


def test_request_parameter_may_have_any_name(app, client):
    @app.get("/whoami")
    async def whoami(req: Request) -> dict[str, str]:
        return {"method": req.method}

    assert client.get("/whoami").json() == {"method": "GET"}


# -- start-up errors -----------------------------------------------------------


async def unannotated_query(q):  # type: ignore[no-untyped-def]
    return q


async def path_marker_without_placeholder(item_id: int = Path()) -> int:
    return item_id


async def star_args(*args: int) -> int:
    return 0


async def star_kwargs(**kwargs: int) -> int:
    return 0


async def dict_without_body(filters: dict[str, int]) -> int:
    return 0


async def field_as_default(id: int, limit: int = Field(10, ge=1)) -> None:
    pass


START_UP_ERRORS = [
    pytest.param(unannotated_query, "'q' names no provider", id="unannotated"),
    pytest.param(path_marker_without_placeholder, "no {item_id} placeholder", id="path-marker"),
    pytest.param(star_args, "'args'", id="star-args"),
    pytest.param(star_kwargs, "'kwargs'", id="star-kwargs"),
    pytest.param(dict_without_body, "Body()", id="dict-without-body"),
    pytest.param(field_as_default, "has a pydantic Field() as its default", id="field-default"),
]


@pytest.mark.parametrize(("handler", "message"), START_UP_ERRORS)
def test_check_raises_a_configuration_error_naming_the_handler(app, handler, message):
    app.post("/items/{id}")(handler)

    with pytest.raises(ConfigurationError) as info:
        app.check()

    assert handler.__qualname__ in str(info.value)
    assert __file__ in str(info.value)
    assert message in str(info.value)


@pytest.mark.parametrize(("handler", "message"), START_UP_ERRORS)
def test_starting_the_app_raises_the_configuration_error(app, handler, message):
    app.post("/items/{id}")(handler)

    with pytest.raises(ConfigurationError, match=handler.__qualname__), TestClient(app):
        pass


def test_path_marker_alias_names_the_placeholder(app, client):
    @app.get("/items/{itemId}")
    async def get_item(item_id: int = Path(alias="itemId")) -> dict[str, int]:
        return {"id": item_id}

    assert client.get("/items/4").json() == {"id": 4}


def test_a_single_query_value_sent_twice_is_a_422(app, client):
    @app.get("/search")
    async def search(q: str) -> str:
        return q

    response = client.get("/search?q=a&q=b")

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"loc": ["query", "q"], "msg": "Expected one value, got several.", "type": "repeated"}
    ]
