"""Routes as Bocadillo 0.18 declared them: ``methods="*"``, wildcards, routes that
answer no method."""

import pytest
from starlette.testclient import TestClient

from bocadillo import App, ConfigurationError, Request, Router

EVERY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@pytest.mark.parametrize("method", EVERY_METHOD)
def test_methods_star_answers_every_method(method: str) -> None:
    app = App()

    @app.route("/echo", methods="*")
    async def echo(request: Request) -> str:
        return request.method

    response = TestClient(app).request(method, "/echo")

    assert response.status_code == 200
    assert response.json() == method


def test_methods_star_answers_head_with_its_get() -> None:
    app = App()

    @app.route("/echo", methods="*")
    async def echo(request: Request) -> str:
        return request.method

    response = TestClient(app).head("/echo")

    assert response.status_code == 200
    assert response.content == b""


def test_methods_star_is_one_operation_per_method_in_openapi() -> None:
    app = App()

    @app.route("/echo", methods="*")
    async def echo() -> str:
        return "hi"

    operations = app.openapi()["paths"]["/echo"]

    assert sorted(operations) == sorted(m.lower() for m in EVERY_METHOD)
    assert len({op["operationId"] for op in operations.values()}) == len(EVERY_METHOD)


def test_methods_star_on_a_router_and_add_route() -> None:
    router = Router(prefix="/api")

    async def anything(request: Request) -> str:
        return request.method

    router.add_route("/any", anything, methods="*")
    app = App()
    app.include_router(router)

    assert TestClient(app).delete("/api/any").json() == "DELETE"


def test_methods_all_names_the_new_spelling() -> None:
    app = App()

    with pytest.raises(ConfigurationError, match=r"methods=all .* write methods=\"\*\""):
        app.route("/old", methods=all)  # type: ignore[arg-type]


def test_an_empty_methods_list_is_a_configuration_error_naming_the_route() -> None:
    app = App()

    with pytest.raises(ConfigurationError, match=r"route '/nothing' has methods=\[\]"):

        @app.route("/nothing", methods=[])
        async def nothing() -> None: ...


def test_an_empty_view_class_is_a_configuration_error_naming_the_class() -> None:
    app = App()

    with pytest.raises(ConfigurationError, match=r"view class .*Empty at '/empty' defines none"):

        @app.route("/empty")
        class Empty:
            pass


def test_an_anonymous_wildcard_is_a_configuration_error_naming_the_equivalent() -> None:
    app = App()

    with pytest.raises(ConfigurationError, match=r"anonymous placeholder \{\}.*\{rest\}"):

        @app.get("/foo/{}-bar")
        async def foo() -> None: ...


def test_the_018_catch_all_names_the_equivalent() -> None:
    app = App()

    with pytest.raises(ConfigurationError, match=r"is \"/\{rest:path\}\" here"):

        @app.get("{}")
        async def everything() -> None: ...


def test_a_named_path_placeholder_is_the_catch_all() -> None:
    app = App()

    @app.get("/about")
    async def about() -> str:
        return "about"

    @app.get("/{rest:path}")
    async def everything(rest: str) -> str:
        return f"caught {rest!r}"

    client = TestClient(app)

    assert client.get("/").json() == "caught ''"
    assert client.get("/a/b").json() == "caught 'a/b'"
    assert client.get("/about").json() == "about"  # a static path wins, whatever the order


@pytest.mark.parametrize("method", EVERY_METHOD)
def test_a_view_class_handle_method_answers_every_method(method: str) -> None:
    app = App()

    @app.route("/items/{id}")
    class Item:
        async def handle(self, id: int, request: Request) -> str:
            return f"{request.method} {id}"

    response = TestClient(app).request(method, "/items/3")

    assert response.status_code == 200
    assert response.json() == f"{method} 3"


def test_a_view_class_handle_method_is_one_operation_per_method() -> None:
    app = App()

    @app.route("/items/{id}")
    class Item:
        async def handle(self, id: int) -> str:
            return "item"

    operations = app.openapi()["paths"]["/items/{id}"]

    assert sorted(operations) == sorted(m.lower() for m in EVERY_METHOD)
    assert operations["put"]["operationId"] == "Item_put"


def test_a_view_class_with_handle_and_a_verb_method_is_a_configuration_error() -> None:
    app = App()

    with pytest.raises(ConfigurationError, match=r"Both at '/both' defines handle and get"):

        @app.route("/both")
        class Both:
            async def handle(self) -> None: ...

            async def get(self) -> None: ...


def test_a_placeholder_no_parameter_reads_is_a_configuration_error() -> None:
    app = App()

    @app.get("/users/{user_id}")
    async def user(userid: int) -> int:  # a typo: userid is a query parameter
        return userid

    with pytest.raises(ConfigurationError, match=r"/users/\{user_id\}.*\{user_id\}.*user_id: str"):
        app.check()


@pytest.mark.parametrize("kind", ["websocket", "sse"])
def test_a_placeholder_no_parameter_reads_is_refused_on_streaming_routes(kind: str) -> None:
    from collections.abc import AsyncIterator

    from bocadillo import WebSocket

    app = App()
    if kind == "websocket":

        @app.websocket("/rooms/{room}")
        async def room(ws: WebSocket[str, str]) -> None:
            await ws.send("hi")

    else:

        @app.sse("/rooms/{room}")
        async def events() -> AsyncIterator[str]:
            yield "hi"

    with pytest.raises(ConfigurationError, match=r"\{room\} that no parameter reads"):
        app.check()


def test_a_placeholder_read_by_a_hook_or_a_provider_is_enough() -> None:
    from bocadillo import before

    seen: list[str] = []
    app = App()

    @app.provider
    async def org(org_id: str) -> str:
        return f"org {org_id}"

    async def remember(page: str) -> None:
        seen.append(page)

    @app.get("/orgs/{org_id}/pages/{page}")
    @before(remember)
    async def page(org: str) -> str:
        return org

    response = TestClient(app).get("/orgs/7/pages/home")
    assert (response.status_code, response.json(), seen) == (200, "org 7", ["home"])
    parameters = app.openapi()["paths"]["/orgs/{org_id}/pages/{page}"]["get"]["parameters"]
    assert sorted(p["name"] for p in parameters if p["in"] == "path") == ["org_id", "page"]
