"""Before and after hooks: on handlers, views and routers; their inputs, answers, order,
start-up errors and documents; before hooks on SSE and WebSocket routes."""

import functools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel
from starlette.testclient import WebSocketDenialResponse

from bocadillo import (
    App,
    Body,
    ConfigurationError,
    Header,
    HTTPError,
    JSONResponse,
    PlainTextResponse,
    Query,
    Request,
    Response,
    Router,
    WebSocket,
    after,
    before,
)
from bocadillo.testing import create_client


class Secret(BaseModel):
    value: str


async def require_key(x_api_key: str = Header()) -> None:
    if x_api_key != "s3cret":
        raise HTTPError(403, detail="Wrong key.")


async def no_store(response: Response) -> None:
    response.headers["cache-control"] = "no-store"


KEY = {"x-api-key": "s3cret"}


def keyed_app() -> App:
    app = App()

    @app.get("/secret/{id}")
    @before(require_key, raises={403: "Wrong key."})
    @after(no_store)
    async def secret(id: int, page: int = 1) -> Secret:
        return Secret(value=f"{id}:{page}")

    return app


# -- what a client sees ---------------------------------------------------------------


def test_a_before_hook_answers_instead_of_the_handler() -> None:
    with create_client(keyed_app()) as client:
        refused = client.get("/secret/1", headers={"x-api-key": "nope"})
        served = client.get("/secret/1?page=2", headers=KEY)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["detail"] == "Wrong key."
    assert "cache-control" not in refused.headers  # no after hook on an error
    assert served.status_code == 200
    assert served.json() == {"value": "1:2"}
    assert served.headers["cache-control"] == "no-store"
    assert served.headers["content-type"] == "application/json"
    assert served.headers["content-length"] == str(len(served.content))


def test_the_hooks_inputs_are_validated_with_the_handlers_in_one_422() -> None:
    with create_client(keyed_app()) as client:
        response = client.get("/secret/x?page=y")
    assert response.status_code == 422
    locs = [error["loc"] for error in response.json()["errors"]]
    assert sorted(locs) == [["header", "x-api-key"], ["path", "id"], ["query", "page"]]


def test_an_after_hook_changes_the_status_or_sends_another_response() -> None:
    app = App()

    async def created(response: Response) -> None:
        response.status_code = 201

    async def replace(response: Response, wrap: bool = Query(False)) -> Response | None:
        if wrap:
            return JSONResponse({"wrapped": response.body.decode()})
        return None

    def sync_header(response: Response, request: Request) -> None:
        response.headers["x-path"] = request.url.path

    @app.post("/things")
    @after(created)
    @after(replace)
    @after(sync_header)
    def make() -> dict[str, int]:
        return {"id": 1}

    @app.delete("/things/{id}")
    @after(sync_header)
    async def drop(id: int) -> None:
        return None

    with create_client(app) as client:
        plain = client.post("/things")
        wrapped = client.post("/things?wrap=true")
        empty = client.delete("/things/3")
    assert (plain.status_code, plain.json()) == (201, {"id": 1})
    assert plain.headers["x-path"] == "/things"
    # `replace` ran before `created`, which changed the status of the new response
    assert (wrapped.status_code, wrapped.json()) == (201, {"wrapped": '{"id":1}'})
    assert "x-path" not in wrapped.headers  # set on the response `replace` replaced
    assert (empty.status_code, empty.content, empty.headers["x-path"]) == (204, b"", "/things/3")


def test_an_after_hook_sees_a_returned_response_as_it_is() -> None:
    app = App()

    async def shout(response: Response) -> Response:
        return PlainTextResponse(bytes(response.body).decode().upper())

    @app.get("/hello")
    @after(shout)
    async def hello() -> PlainTextResponse:
        return PlainTextResponse("hello")

    with create_client(app) as client:
        assert client.get("/hello").text == "HELLO"


def test_an_after_hook_that_returns_something_else_is_a_logged_500() -> None:
    app = App()

    async def wrong(response: Response) -> Any:
        return {"not": "a response"}

    @app.get("/x")
    @after(wrong)
    async def handler() -> dict[str, int]:
        return {}

    with create_client(app, raise_server_exceptions=False) as client:
        response = client.get("/x")
    assert response.status_code == 500
    assert "not a response" not in response.text


def test_hooks_share_the_routes_providers() -> None:
    app = App()
    made: list[str] = []

    @app.provider
    async def user(x_user: str = Header("anon")) -> str:
        made.append(x_user)
        return x_user

    async def only_admins(user: str) -> None:
        if user != "admin":
            raise HTTPError(403, detail="Admins only.")

    async def tag(response: Response, user: str) -> None:
        response.headers["x-user"] = user

    @app.get("/admin")
    @before(only_admins)
    @after(tag)
    async def admin(user: str) -> dict[str, str]:
        return {"user": user}

    with create_client(app) as client:
        assert client.get("/admin").status_code == 403
        response = client.get("/admin", headers={"x-user": "admin"})
    assert response.json() == {"user": "admin"}
    assert response.headers["x-user"] == "admin"
    assert made == ["anon", "admin"]  # one per request, shared by the hooks and the handler


def test_a_hook_object_with_a_call_method() -> None:
    class RequireHeader:
        def __init__(self, header: str) -> None:
            self.header = header

        async def __call__(self, request: Request) -> None:
            if self.header not in request.headers:
                raise HTTPError(400, detail=f"{self.header} is missing.")

    app = App()

    @app.get("/message")
    @before(RequireHeader("x-my-header"))
    async def message() -> dict[str, str]:
        return {"message": "hello"}

    with create_client(app) as client:
        assert client.get("/message").json()["detail"] == "x-my-header is missing."
        assert client.get("/message", headers={"x-my-header": "1"}).status_code == 200


# -- order ------------------------------------------------------------------------------


def test_order_app_include_router_view_method_and_after_hooks_in_reverse() -> None:
    ran: list[str] = []

    def recorder(name: str) -> Any:
        async def hook() -> None:
            ran.append(name)

        return hook

    def after_recorder(name: str) -> Any:
        async def hook(response: Response) -> None:
            ran.append(name)

        return hook

    app = App(before=[recorder("app")], after=[after_recorder("app after")])
    router = Router(
        prefix="/r", before=[recorder("router")], after=[after_recorder("router after")]
    )

    @router.route("/view")
    @before(recorder("view"))
    @after(after_recorder("view after"))
    class View:
        @before(recorder("method 1"))
        @before(recorder("method 2"))
        @after(after_recorder("method after 1"))
        @after(after_recorder("method after 2"))
        async def get(self) -> dict[str, str]:
            ran.append("handler")
            return {}

        async def post(self) -> dict[str, str]:
            ran.append("handler")
            return {}

    app.include_router(
        router, before=[recorder("include")], after=[after_recorder("include after")]
    )
    with create_client(app) as client:
        assert client.get("/r/view").status_code == 200
        got = list(ran)
        ran.clear()
        assert client.post("/r/view").status_code == 200
    assert got == [
        "app",
        "include",
        "router",
        "view",
        "method 1",
        "method 2",
        "handler",
        "method after 2",
        "method after 1",
        "view after",
        "router after",
        "include after",
        "app after",
    ]
    assert ran == [
        "app",
        "include",
        "router",
        "view",
        "handler",
        "view after",
        "router after",
        "include after",
        "app after",
    ]


def test_hooks_added_later_and_the_apps_own_routes() -> None:
    async def deny() -> None:
        raise HTTPError(401, detail="No.")

    app = App()

    @app.get("/open")
    async def open_() -> dict[str, str]:
        return {}

    with create_client(app) as client:
        assert client.get("/open").status_code == 200
        app.add_hooks(before=[deny])
        assert client.get("/open").status_code == 401
        # the API document and the docs page are the framework's: no hooks there
        assert client.get("/openapi.json").status_code == 200
        assert client.get("/docs").status_code == 200


# -- SSE and WebSocket routes ---------------------------------------------------------------


def test_a_before_hook_runs_before_the_stream_starts_and_the_handshake() -> None:
    app = App()

    @app.sse("/ticks")
    @before(require_key, raises={403: "Wrong key."})
    async def ticks(count: int = Query(2)) -> AsyncIterator[str]:
        for n in range(count):
            yield str(n)

    @app.websocket("/echo")
    @before(require_key, raises={403: "Wrong key."})
    async def echo(ws: WebSocket[str, str]) -> None:
        async for message in ws:
            await ws.send(message)

    with create_client(app) as client:
        refused = client.get("/ticks", headers={"x-api-key": "nope"})
        streamed = client.get("/ticks", headers=KEY)
        with (
            pytest.raises(WebSocketDenialResponse) as denied,
            client.websocket_connect("/echo", headers={"x-api-key": "nope"}),
        ):
            pass
        with client.websocket_connect("/echo", headers=KEY) as ws:
            ws.send_text("hi")
            assert ws.receive_text() == "hi"
    assert (refused.status_code, refused.json()["detail"]) == (403, "Wrong key.")
    assert streamed.status_code == 200
    assert "data: 1" in streamed.text
    assert denied.value.status_code == 403
    channels = app.asyncapi()["channels"]
    assert channels["echo"]["bindings"]["ws"]["headers"]["required"] == ["x-api-key"]
    assert channels["echo"]["x-handshake-responses"]["403"] == "Wrong key."
    assert channels["ticks"]["x-handshake-responses"]["403"] == "Wrong key."


@pytest.mark.parametrize("kind", ["sse", "websocket"])
def test_an_after_hook_on_a_stream_or_websocket_is_a_startup_error(kind: str) -> None:
    app = App(after=[no_store])
    if kind == "sse":

        @app.sse("/ticks")
        async def ticks() -> AsyncIterator[str]:
            yield "x"

    else:

        @app.websocket("/ws")
        async def ws(ws: WebSocket[str, str]) -> None:
            pass

    with pytest.raises(ConfigurationError, match="after hooks run on HTTP routes only"):
        app.check()


# -- start-up errors --------------------------------------------------------------------------


def startup_error(hook: Any) -> str:
    app = App()

    @app.post("/x")
    @hook
    async def handler() -> None:
        pass

    with pytest.raises(ConfigurationError) as info:
        app.check()
    return str(info.value)


def test_a_hook_that_reads_a_body_names_the_hook() -> None:
    async def reads_body(secret: Secret) -> None:
        pass

    message = startup_error(before(reads_body))
    assert "before hook" in message
    assert "reads_body" in message
    assert "reads the request body; a hook cannot. Take the body in the handler." in message


def test_a_hook_parameter_that_names_nothing_names_the_hook() -> None:
    async def typo(usr) -> None:  # type: ignore[no-untyped-def]
        pass

    message = startup_error(before(typo))
    assert "typo" in message
    assert "'usr' names no provider" in message


def test_an_after_hook_takes_the_response_first() -> None:
    async def no_response() -> None:
        pass

    async def wrong_type(response: int) -> None:
        pass

    assert "takes the response as its first parameter" in startup_error(after(no_response))
    assert "annotate it `Response`" in startup_error(after(wrong_type))


def test_hooks_are_declared_right() -> None:
    async def gen() -> AsyncIterator[None]:
        yield None

    with pytest.raises(ConfigurationError, match="not a generator"):
        before(gen)
    with pytest.raises(ConfigurationError, match="list it in after= instead"):
        Router(before=[after(no_store)])
    with pytest.raises(ConfigurationError, match="a hook is a function"):
        before(Secret)
    with pytest.raises(ConfigurationError, match=r"functools\.partial cannot be read"):
        before(functools.partial(require_key, x_api_key="x"))


def test_a_hook_on_a_websocket_route_has_no_request() -> None:
    async def wants_request(request: Request) -> None:
        pass

    app = App()

    @app.websocket("/ws")
    @before(wants_request)
    async def ws(ws: WebSocket[str, str]) -> None:
        pass

    with pytest.raises(ConfigurationError, match=r"wants_request.*a WebSocket route has none"):
        app.check()


def test_a_hook_cannot_read_a_form_or_body_marker() -> None:
    async def marked(note: str = Body()) -> None:
        pass

    assert "a hook cannot" in startup_error(before(marked))


# -- documents --------------------------------------------------------------------------------


def test_a_hooks_inputs_and_statuses_are_on_the_operation() -> None:
    app = keyed_app()
    operation = app.openapi()["paths"]["/secret/{id}"]["get"]
    names = [(p["in"], p["name"], p["required"]) for p in operation["parameters"]]
    assert ("header", "x-api-key", True) in names
    assert ("path", "id", True) in names
    assert operation["responses"]["403"]["description"] == "Wrong key."
    assert {"200", "403", "404", "422", "500"} == set(operation["responses"])


def test_router_hooks_are_documented_on_each_route() -> None:
    app = App()
    router = Router(before=[before(require_key, raises={403: "Wrong key."})])

    @router.get("/a")
    async def a() -> None:
        pass

    app.include_router(router)

    @app.get("/b")
    async def b() -> None:
        pass

    paths = app.openapi()["paths"]
    assert "403" in paths["/a"]["get"]["responses"]
    assert [p["name"] for p in paths["/a"]["get"]["parameters"]] == ["x-api-key"]
    assert "403" not in paths["/b"]["get"]["responses"]
    assert "parameters" not in paths["/b"]["get"]


def test_hooks_beside_useprovider_and_a_lazy_provider() -> None:
    from bocadillo import Lazy, useprovider

    made: list[str] = []
    app = App()

    @app.provider
    async def audit() -> str:
        made.append("audit")
        return "audited"

    @app.provider(lazy=True)
    async def heavy() -> int:
        made.append("heavy")
        return 42

    async def stamp(response: Response, audit: str) -> None:
        response.headers["x-audit"] = audit

    @app.get("/x")
    @before(require_key, raises={403: "Wrong key."})
    @after(stamp)
    @useprovider("audit")
    async def x(heavy: Lazy[int]) -> int:
        return await heavy

    with create_client(app) as client:
        ok = client.get("/x", headers={"x-api-key": "s3cret"})
        assert (ok.status_code, ok.json(), ok.headers["x-audit"]) == (200, 42, "audited")
        assert made == ["audit", "heavy"]
        refused = client.get("/x", headers={"x-api-key": "nope"})
        assert refused.status_code == 403
        assert "heavy" not in made[2:]  # the lazy provider is never made for a refusal
    operation = app.openapi()["paths"]["/x"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["x-api-key"]
    assert "403" in operation["responses"]
