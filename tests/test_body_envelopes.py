"""Body envelopes: ``Body(embed=True)`` and several body parameters read one JSON object.

``{"user": {...}}`` (RealWorld's Conduit) without a wrapper model: the body is one
object whose keys are the body parameters (their names, or their markers' aliases),
validated in one pass, its errors located under ``["body", <key>, ...]``, and
documented as one object schema, ``Body_<handler>``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Annotated, Any

import pytest
import typesystem
from openapi_spec_validator import validate
from pydantic import BaseModel, ConfigDict, Field

from bocadillo import App, Body, ConfigurationError, Form, Header, WebSocket, provider
from bocadillo.testing import create_client, isolated_providers, run_contract


class UserIn(BaseModel):
    email: str = Field(min_length=3)
    password: str = Field(min_length=8)


class ArticleIn(BaseModel):
    title: str = Field(min_length=1)
    tags: list[str] = []


class Extra(BaseModel):
    note: str


class Lax(BaseModel):
    model_config = ConfigDict(strict=False)
    n: int


Note = typesystem.Schema(title="Note", fields={"text": typesystem.String()})


@dataclasses.dataclass
class Point:
    x: int
    y: int


USER = {"email": "ada@example.com", "password": "correct horse"}


def conduit() -> App:
    app = App(title="Conduit")

    @app.post("/users", status_code=201)
    async def register(user: Annotated[UserIn, Body(embed=True)]) -> UserIn:
        return user

    @app.post("/articles", status_code=201)
    async def create_article(article: ArticleIn = Body(embed=True)) -> ArticleIn:
        return article

    @app.post("/items")
    async def update_item(
        user: UserIn,
        extra: Extra | None = None,
        importance: Annotated[int, Field(ge=1, le=5)] = Body(3, alias="level"),
    ) -> dict[str, Any]:
        return {
            "user": user.email,
            "extra": None if extra is None else extra.note,
            "importance": importance,
        }

    return app


@pytest.fixture
def app() -> App:
    return conduit()


def post(app: App, path: str, **kwargs: Any) -> Any:
    with create_client(app) as client:
        return client.post(path, **kwargs)


# -- Body(embed=True) -------------------------------------------------------------------


def test_an_embedded_body_is_read_from_under_the_parameters_name(app: App) -> None:
    response = post(app, "/users", json={"user": USER})
    assert response.status_code == 201
    assert response.json() == USER


def test_embed_as_a_default_marker_reads_the_same_way(app: App) -> None:
    response = post(app, "/articles", json={"article": {"title": "Hi"}})
    assert response.status_code == 201
    assert response.json() == {"title": "Hi", "tags": []}


def test_the_bare_model_without_its_key_is_a_422_naming_the_key(app: App) -> None:
    response = post(app, "/users", json=USER)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {"loc": ["body", "user"], "msg": "Field required", "type": "missing"}
    ]


def test_an_invalid_field_is_located_under_the_key(app: App) -> None:
    response = post(app, "/users", json={"user": {"email": "ada@example.com", "password": "x"}})
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["loc"] == ["body", "user", "password"]
    assert error["type"] == "string_too_short"


def test_the_alias_names_the_key() -> None:
    app = App()

    @app.post("/login")
    async def login(credentials: UserIn = Body(embed=True, alias="user")) -> str:
        return credentials.email

    assert post(app, "/login", json={"user": USER}).json() == USER["email"]
    missing = post(app, "/login", json={"credentials": USER})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["loc"] == ["body", "user"]


def test_a_body_that_is_not_an_object_is_a_422(app: App) -> None:
    response = post(app, "/users", json=[USER])
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body"]


def test_non_json_bodies_keep_their_400_415_and_empty_422(app: App) -> None:
    malformed = post(
        app, "/users", content=b'{"user": ', headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.json()["errors"][0]["type"] == "json_invalid"
    wrong_type = post(app, "/users", content=b"user=x", headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415
    empty = post(app, "/users")
    assert empty.status_code == 422
    assert empty.json()["errors"] == [{"loc": ["body"], "msg": "Field required", "type": "missing"}]


def test_the_envelope_is_validated_strictly_as_json(app: App) -> None:
    response = post(app, "/items", json={"user": USER, "level": "2"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "level"]


# -- several body parameters ------------------------------------------------------------


def test_several_body_parameters_form_one_object(app: App) -> None:
    response = post(app, "/items", json={"user": USER, "extra": {"note": "hi"}, "level": 5})
    assert response.status_code == 200
    assert response.json() == {"user": USER["email"], "extra": "hi", "importance": 5}


def test_the_defaults_of_optional_body_parameters_apply(app: App) -> None:
    response = post(app, "/items", json={"user": USER})
    assert response.json() == {"user": USER["email"], "extra": None, "importance": 3}


def test_every_invalid_key_is_reported_in_one_answer(app: App) -> None:
    response = post(app, "/items", json={"extra": {}, "level": 9})
    assert response.status_code == 422
    locs = [error["loc"] for error in response.json()["errors"]]
    assert locs == [["body", "user"], ["body", "extra", "note"], ["body", "level"]]


def test_an_envelope_of_optional_keys_takes_an_empty_body_as_no_keys() -> None:
    app = App()

    @app.put("/prefs")
    async def prefs(
        tags: list[str] = Body([]), point: Point | None = None, limit: int = Body(10)
    ) -> dict[str, Any]:
        tags.append("seen")  # a default is the handler's own, never shared
        return {"tags": tags, "point": point, "limit": limit}

    with create_client(app) as client:
        for _ in range(2):
            response = client.put("/prefs")
            assert response.status_code == 200
            assert response.json() == {"tags": ["seen"], "point": None, "limit": 10}
        full = client.put("/prefs", json={"tags": ["a"], "point": {"x": 1, "y": 2}})
        assert full.json() == {"tags": ["a", "seen"], "point": {"x": 1, "y": 2}, "limit": 10}


def test_an_envelope_mixes_with_path_query_header_parameters_and_providers() -> None:
    with isolated_providers():
        app = App()

        @provider
        def store() -> dict[str, int]:
            return {"articles": 7}

        @app.put("/articles/{slug}")
        async def update(
            slug: str,
            store: dict[str, int],
            article: ArticleIn,
            user: UserIn,
            draft: bool = False,
            x_request_id: str = Header("none"),
        ) -> dict[str, Any]:
            return {
                "slug": slug,
                "title": article.title,
                "author": user.email,
                "draft": draft,
                "request": x_request_id,
                "count": store["articles"],
            }

        with create_client(app) as client:
            response = client.put(
                "/articles/hello?draft=true",
                json={"article": {"title": "Hello"}, "user": USER},
                headers={"X-Request-Id": "r1"},
            )
            assert response.status_code == 200
            assert response.json() == {
                "slug": "hello",
                "title": "Hello",
                "author": USER["email"],
                "draft": True,
                "request": "r1",
                "count": 7,
            }
            bad = client.put("/articles/hello?draft=maybe", json={"article": {}})
            assert bad.status_code == 422
            locs = [error["loc"] for error in bad.json()["errors"]]
            assert ["query", "draft"] in locs
            assert ["body", "article", "title"] in locs
            assert ["body", "user"] in locs


def test_a_view_method_takes_an_envelope() -> None:
    app = App()

    @app.route("/notes")
    class Notes:
        async def post(self, note: Extra = Body(embed=True)) -> str:
            return note.note

    assert post(app, "/notes", json={"note": {"note": "n"}}).json() == "n"
    with create_client(app) as client:
        schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert "Body_Notes_post" in schemas


# -- start-up errors --------------------------------------------------------------------


def check_error(handler: Any, kind: str = "post") -> str:
    app = App()
    getattr(app, kind)("/x")(handler)
    with pytest.raises(ConfigurationError) as info:
        app.check()
    return str(info.value)


def test_an_envelope_and_a_form_on_one_route_are_a_start_up_error() -> None:
    async def handler(user: UserIn = Body(embed=True), name: str = Form()) -> None: ...

    message = check_error(handler)
    assert "handler" in message
    assert "'user' reads a JSON body and 'name' a form; a request has one body" in message


def test_an_alias_without_embed_on_the_only_body_is_a_start_up_error() -> None:
    async def handler(user: UserIn = Body(alias="u")) -> None: ...

    assert "add embed=True" in check_error(handler)


def test_two_body_parameters_reading_one_key_are_a_start_up_error() -> None:
    async def handler(user: UserIn = Body(alias="u"), u: Extra = Body()) -> None: ...

    assert "'user' and 'u' both read the key 'u'" in check_error(handler)


def test_a_lax_model_and_a_strict_one_in_one_envelope_are_a_start_up_error() -> None:
    async def handler(lax: Lax, user: UserIn) -> None: ...

    assert "strict=False" in check_error(handler)


def test_an_envelope_of_lax_models_is_validated_leniently() -> None:
    app = App()

    @app.post("/lax")
    async def lax(a: Lax, b: Lax) -> int:
        return a.n + b.n

    assert post(app, "/lax", json={"a": {"n": "1"}, "b": {"n": 2}}).json() == 3


def test_a_typesystem_schema_cannot_be_a_key_of_an_envelope() -> None:
    async def handler(user: UserIn, note: Note) -> None:  # type: ignore[valid-type]
        ...

    assert "another schema library" in check_error(handler)


def test_embed_on_a_websocket_route_is_a_start_up_error() -> None:
    async def handler(ws: WebSocket[Extra, Extra], note: Extra = Body(embed=True)) -> None: ...

    message = check_error(handler, "websocket")
    assert "'note' reads the request body; a WebSocket handler cannot" in message


def test_embed_on_an_sse_route_is_a_start_up_error() -> None:
    async def handler(note: Extra = Body(embed=True)) -> AsyncIterator[Extra]:
        yield note

    assert "'note' reads a body; an SSE route is a GET" in check_error(handler, "sse")


# -- the document -----------------------------------------------------------------------


def test_the_document_describes_the_envelope_as_a_named_object(app: App) -> None:
    with create_client(app) as client:
        document = client.get("/openapi.json").json()
    validate(document)
    schemas = document["components"]["schemas"]
    operation = document["paths"]["/items"]["post"]
    assert operation["requestBody"]["required"] is True
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Body_update_item"
    }
    envelope = schemas["Body_update_item"]
    assert envelope["type"] == "object"
    assert envelope["required"] == ["user"]
    assert list(envelope["properties"]) == ["user", "extra", "level"]
    assert envelope["properties"]["user"] == {"$ref": "#/components/schemas/UserIn"}
    assert envelope["properties"]["level"]["default"] == 3
    assert envelope["properties"]["level"]["minimum"] == 1
    assert schemas["Body_register"]["properties"] == {
        "user": {"$ref": "#/components/schemas/UserIn"}
    }
    assert schemas["Body_register"]["required"] == ["user"]
    assert {"400", "413", "415", "422"} <= set(operation["responses"])


def test_an_envelope_of_optional_keys_is_an_optional_body() -> None:
    app = App()

    @app.patch("/prefs")
    async def prefs(
        limit: int = Body(10, description="Page size", examples=[20]),
        extra: Extra | None = None,
    ) -> int:
        return limit

    with create_client(app) as client:
        document = client.get("/openapi.json").json()
    validate(document)
    assert document["paths"]["/prefs"]["patch"]["requestBody"]["required"] is False
    envelope = document["components"]["schemas"]["Body_prefs"]
    assert "required" not in envelope
    assert envelope["properties"]["limit"] == {
        "default": 10,
        "description": "Page size",
        "examples": [20],
        "title": "Limit",
        "type": "integer",
    }


def test_the_contract_holds_on_an_app_with_envelopes(app: App) -> None:
    report = run_contract(app, max_examples=15, stateful=False)
    assert report.ok, report.failure_text()
