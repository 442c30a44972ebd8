"""Declaring routes and finding them: methods, views, routers, 404/405, HEAD, threads."""

import threading

import pytest
from pydantic import BaseModel
from starlette.testclient import TestClient

from bocadillo import App, ConfigurationError, HTTPError, PlainTextResponse, Response, Router


class NoteIn(BaseModel):
    text: str


class Note(NoteIn):
    todo_id: int


def allowed(response):
    return {m.strip() for m in response.headers["allow"].split(",")}


# -- methods -------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_method_decorator_serves_that_method(app, client, method):
    @getattr(app, method)("/items")
    async def handler() -> dict[str, str]:
        return {"served": method}

    response = client.request(method.upper(), "/items")

    assert response.status_code == 200
    assert response.json() == {"served": method}


def test_route_with_methods_serves_each_of_them(app, client):
    @app.route("/items", methods=["GET", "POST"])
    async def handler() -> dict[str, str]:
        return {"ok": "yes"}

    assert client.get("/items").json() == {"ok": "yes"}
    assert client.post("/items").json() == {"ok": "yes"}


def test_route_accepts_lowercase_method_names(app, client):
    @app.route("/items", methods=["put"])
    async def handler() -> dict[str, str]:
        return {"ok": "yes"}

    assert client.put("/items").status_code == 200


def test_route_without_methods_serves_get(app, client):
    @app.route("/items")
    async def handler() -> dict[str, str]:
        return {"ok": "yes"}

    assert client.get("/items").status_code == 200


def test_unknown_http_method_in_route_is_a_configuration_error(app):
    with pytest.raises(ConfigurationError, match="FETCH"):

        @app.route("/items", methods=["FETCH"])
        async def handler() -> None: ...


def test_path_without_leading_slash_is_a_configuration_error(app):
    with pytest.raises(ConfigurationError, match="must start with '/'"):

        @app.get("items")
        async def handler() -> None: ...


# -- class-based views ---------------------------------------------------------


def test_class_based_view_serves_its_get_method(app, client):
    @app.route("/todos/{id}/notes")
    class Notes:
        async def get(self, id: int) -> list[str]:
            return [f"note of {id}"]

        async def post(self, id: int, note: NoteIn) -> Note:
            return Note(todo_id=id, text=note.text)

    response = client.get("/todos/3/notes")

    assert response.status_code == 200
    assert response.json() == ["note of 3"]


def test_class_based_view_serves_its_post_method_with_a_body(app, client):
    @app.route("/todos/{id}/notes")
    class Notes:
        async def get(self, id: int) -> list[str]:
            return []

        async def post(self, id: int, note: NoteIn) -> Note:
            return Note(todo_id=id, text=note.text)

    response = client.post("/todos/3/notes", json={"text": "buy milk"})

    assert response.status_code == 200
    assert response.json() == {"text": "buy milk", "todo_id": 3}


def test_class_based_view_answers_405_for_a_method_it_does_not_define(app, client, problem):
    @app.route("/notes")
    class Notes:
        async def get(self) -> list[str]:
            return []

    response = client.delete("/notes")

    problem(response, 405)
    assert allowed(response) == {"GET", "HEAD"}


def test_class_without_verb_methods_is_a_configuration_error(app):
    with pytest.raises(ConfigurationError, match="Empty"):

        @app.route("/empty")
        class Empty:
            def helper(self) -> None: ...


# -- routers -------------------------------------------------------------------


def test_router_routes_are_served_under_its_prefix(app, client):
    router = Router(prefix="/todos", tags=["todos"])

    @router.get("/{id}")
    async def get_todo(id: int) -> dict[str, int]:
        return {"id": id}

    app.include_router(router)

    assert client.get("/todos/7").json() == {"id": 7}
    assert client.get("/7").status_code == 404


def test_router_tags_apply_to_its_routes(app):
    router = Router(prefix="/todos", tags=["todos"])

    @router.get("/{id}", tags=["read"])
    async def get_todo(id: int) -> dict[str, int]:
        return {"id": id}

    app.include_router(router, tags=["v1"])

    [(route, _)] = app.plans()
    assert route.tags == ["v1", "todos", "read"]


def test_nested_routers_pass_their_responses_down_and_the_nearest_wins():
    app = App(responses={503: "App down."})
    api = Router(prefix="/api", responses={503: "API down.", 418: "API teapot."})
    v1 = Router(prefix="/v1", responses={418: "v1 teapot."})

    @v1.get("/items")
    async def items() -> list[int]:
        return [1, 2]

    @api.get("/ping")
    async def ping() -> str:
        return "pong"

    api.include_router(v1, responses={410: "Gone in v1."})
    app.include_router(api)
    paths = app.openapi()["paths"]

    listed = paths["/api/v1/items"]["get"]["responses"]
    assert listed["503"]["description"] == "API down."
    assert listed["418"]["description"] == "v1 teapot."
    assert listed["410"]["description"] == "Gone in v1."
    pinged = paths["/api/ping"]["get"]["responses"]
    assert pinged["418"]["description"] == "API teapot."
    assert "410" not in pinged


def test_nested_routers_join_their_prefixes(app, client):
    api = Router(prefix="/api")
    v1 = Router(prefix="/v1")

    @v1.get("/items")
    async def items() -> list[int]:
        return [1, 2]

    api.include_router(v1)
    app.include_router(api)

    assert client.get("/api/v1/items").json() == [1, 2]


def test_include_router_prefix_goes_before_the_router_prefix(app, client):
    router = Router(prefix="/todos")

    @router.get("/{id}")
    async def get_todo(id: int) -> dict[str, int]:
        return {"id": id}

    app.include_router(router, prefix="/v2")

    assert client.get("/v2/todos/1").json() == {"id": 1}


def test_router_root_route_serves_exactly_the_prefix_path(app, client):
    router = Router(prefix="/todos")

    @router.get("/")
    async def list_todos() -> list[int]:
        return [1]

    app.include_router(router)

    assert client.get("/todos").json() == [1]
    assert client.get("/todos/", follow_redirects=False).headers["location"] == "/todos"


def test_routes_added_to_an_included_router_are_served(app, client):
    router = Router(prefix="/late")
    app.include_router(router)

    @router.get("/item")
    async def item() -> dict[str, bool]:
        return {"late": True}

    assert client.get("/late/item").json() == {"late": True}


@pytest.mark.parametrize("prefix", ["todos", "/todos/"])
def test_router_prefix_must_start_and_not_end_with_a_slash(prefix):
    with pytest.raises(ConfigurationError):
        Router(prefix=prefix)


# -- 404, 405, HEAD ------------------------------------------------------------


def test_unknown_path_is_a_404_problem(app, client, problem):
    @app.get("/items")
    async def items() -> list[int]:
        return []

    response = client.get("/nothing-here")

    body = problem(response, 404)
    assert body["title"] == "Not Found"


def test_unsupported_method_is_a_405_problem_with_allow(app, client, problem):
    @app.get("/items")
    async def list_items() -> list[int]:
        return []

    @app.post("/items")
    async def create_item() -> dict[str, int]:
        return {}

    @app.delete("/items")
    async def clear_items() -> None: ...

    response = client.put("/items")

    problem(response, 405)
    assert allowed(response) == {"GET", "HEAD", "POST", "DELETE"}


def test_options_is_a_405_problem_with_allow(app, client, problem):
    @app.post("/items")
    async def create_item() -> dict[str, int]:
        return {}

    response = client.options("/items")

    problem(response, 405)
    assert allowed(response) == {"POST"}


def test_405_on_a_pattern_path_lists_that_paths_methods(app, client, problem):
    @app.get("/items/{id}")
    async def get_item(id: int) -> dict[str, int]:
        return {"id": id}

    @app.post("/items")
    async def create_item() -> dict[str, int]:
        return {}

    response = client.patch("/items/1")

    problem(response, 405)
    assert allowed(response) == {"GET", "HEAD"}


def test_head_on_a_get_route_sends_the_get_headers_and_no_body(app, call_asgi):
    @app.get("/items")
    async def items() -> list[dict[str, int]]:
        return [{"id": 1}, {"id": 2}]

    get = call_asgi(app, "GET", "/items")
    head = call_asgi(app, "HEAD", "/items")

    assert head.status == 200
    assert head.body == b""
    assert head.headers["content-type"] == "application/json"
    assert head.headers["content-length"] == str(len(get.body))


def test_head_on_an_untyped_get_route_sends_no_body(app, call_asgi):
    @app.get("/items")
    async def items():
        return {"id": 1}

    head = call_asgi(app, "HEAD", "/items")

    assert head.status == 200
    assert head.body == b""
    assert head.headers["content-length"] == str(len(b'{"id":1}'))


def test_head_on_a_get_route_returning_a_response_sends_no_body(app, call_asgi):
    @app.get("/page")
    async def page() -> Response:
        return PlainTextResponse("hello", headers={"X-Page": "1"})

    head = call_asgi(app, "HEAD", "/page")

    assert head.status == 200
    assert head.headers["x-page"] == "1"
    assert head.headers["content-length"] == "5"
    assert head.body == b""


def test_head_on_a_get_route_that_fails_sends_no_body(app, call_asgi):
    @app.get("/todos/{id}")
    async def get_todo(id: int) -> None:
        raise HTTPError(404, detail="no such todo")

    head = call_asgi(app, "HEAD", "/todos/1")

    assert head.status == 404
    assert head.headers["content-type"] == "application/problem+json"
    assert head.body == b""


def test_head_on_a_post_only_route_is_a_405(app, client):
    @app.post("/items")
    async def create_item() -> dict[str, int]:
        return {}

    response = client.head("/items")

    assert response.status_code == 405
    assert allowed(response) == {"POST"}


# -- handlers ------------------------------------------------------------------


def test_plain_def_handler_runs_in_a_worker_thread(app):
    threads = {}

    @app.get("/sync")
    def sync_handler() -> dict[str, bool]:
        threads["sync"] = threading.current_thread()
        return {"ok": True}

    @app.get("/async")
    async def async_handler() -> dict[str, bool]:
        threads["loop"] = threading.current_thread()
        return {"ok": True}

    # One client context: every request runs on the same event loop thread.
    with TestClient(app) as client:
        assert client.get("/async").status_code == 200
        assert client.get("/sync").json() == {"ok": True}

    assert threads["sync"] is not threads["loop"]


# -- patterns ------------------------------------------------------------------


def test_path_placeholder_matches_one_segment_only(app, client):
    @app.get("/files/{name}")
    async def file(name: str) -> dict[str, str]:
        return {"name": name}

    assert client.get("/files/a.txt").json() == {"name": "a.txt"}
    assert client.get("/files/a/b.txt").status_code == 404


def test_path_converter_matches_slashes(app, client):
    @app.get("/files/{rest:path}")
    async def file(rest: str) -> dict[str, str]:
        return {"rest": rest}

    assert client.get("/files/a/b/c.txt").json() == {"rest": "a/b/c.txt"}


def test_static_route_wins_over_a_pattern_route(app, client):
    @app.get("/todos/{id}")
    async def get_todo(id: str) -> dict[str, str]:
        return {"route": "by id", "id": id}

    @app.get("/todos/new")
    async def new_todo() -> dict[str, str]:
        return {"route": "new"}

    assert client.get("/todos/new").json() == {"route": "new"}
    assert client.get("/todos/5").json() == {"route": "by id", "id": "5"}


def test_same_method_and_path_twice_is_a_configuration_error_at_start_up(app):
    @app.get("/items")
    async def first() -> list[int]:
        return []

    @app.get("/items")
    async def second() -> list[int]:
        return []

    with pytest.raises(ConfigurationError, match=r"GET /items"), TestClient(app):
        pass


def test_same_path_from_a_router_and_the_app_is_a_configuration_error(app):
    router = Router(prefix="/items")

    @router.get("/")
    async def from_router() -> list[int]:
        return []

    @app.get("/items")
    async def from_app() -> list[int]:
        return []

    app.include_router(router)

    with pytest.raises(ConfigurationError, match="from_router"):
        app.check()


def test_same_path_with_different_methods_is_fine(app, client):
    @app.get("/items")
    async def list_items() -> list[int]:
        return []

    @app.post("/items")
    async def create_item() -> dict[str, str]:
        return {"created": "yes"}

    assert client.post("/items").json() == {"created": "yes"}


def test_unknown_converter_is_a_configuration_error(app):
    with pytest.raises(ConfigurationError, match="unknown converter 'int'"):

        @app.get("/items/{id:int}")
        async def get_item(id: int) -> dict[str, int]:
            return {"id": id}


def test_placeholder_twice_in_a_path_is_a_configuration_error(app):
    with pytest.raises(ConfigurationError, match="appears twice"):

        @app.get("/items/{id}/{id}")
        async def get_item(id: int) -> dict[str, int]:
            return {"id": id}


def test_app_serves_routes_declared_after_a_first_request(app, client):
    @app.get("/a")
    async def a() -> dict[str, str]:
        return {"route": "a"}

    assert client.get("/a").status_code == 200

    @app.get("/b")
    async def b() -> dict[str, str]:
        return {"route": "b"}

    assert client.get("/b").json() == {"route": "b"}


# -- route options ---------------------------------------------------------------


@pytest.mark.parametrize(
    "declare, route",
    [
        (lambda app, options: app.get("/x", **options), "GET /x"),
        (lambda app, options: app.post("/x", **options), "POST /x"),
        (lambda app, options: app.head("/x", **options), "HEAD /x"),
        (lambda app, options: app.options("/x", **options), "OPTIONS /x"),
        (lambda app, options: app.route("/x", methods=["PUT"], **options), "PUT /x"),
        (lambda app, options: Router().delete("/x", **options), "DELETE /x"),
        (lambda app, options: app.websocket("/x", **options), "WEBSOCKET /x"),
        (lambda app, options: app.sse("/x", **options), "SSE /x"),
    ],
)
def test_an_unknown_route_option_is_a_type_error_naming_it_and_the_route(app, declare, route):
    with pytest.raises(TypeError, match=f"{route}: unknown route option 'statuscode'"):
        declare(app, {"statuscode": 201})


def test_add_route_refuses_an_unknown_option(app):
    async def handler() -> None: ...

    with pytest.raises(TypeError, match="GET /x: unknown route option 'summry'"):
        app.add_route("/x", handler, summry="oops")


def test_an_option_of_another_kind_of_route_is_refused(app):
    with pytest.raises(TypeError, match="WEBSOCKET /ws: unknown route option 'status_code'"):
        app.websocket("/ws", status_code=201)


def test_head_and_options_decorators_serve_their_method(app, client):
    @app.head("/items")
    async def head() -> Response:
        return Response(headers={"x-head": "yes"})

    @app.options("/items")
    async def options() -> Response:
        return Response(headers={"allow": "HEAD, OPTIONS"})

    assert client.head("/items").headers["x-head"] == "yes"
    assert client.options("/items").headers["allow"] == "HEAD, OPTIONS"


def test_route_options_reach_the_route(app, client):
    @app.post("/items", status_code=201, tags=["items"], summary="Make one")
    async def create() -> dict[str, int]:
        return {"id": 1}

    assert client.post("/items").status_code == 201
    operation = app.openapi()["paths"]["/items"]["post"]
    assert operation["tags"] == ["items"] and operation["summary"] == "Make one"
