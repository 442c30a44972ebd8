"""The app's life: start-up and shutdown hooks, lifespan, compiling, mounting."""

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse as StarletteJSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from bocadillo import App, ConfigurationError, Request, Router

# -- start-up and shutdown hooks -----------------------------------------------


def test_startup_and_shutdown_hooks_run_in_order():
    events: list[str] = []

    def sync_start() -> None:
        events.append("sync start")

    async def async_start() -> None:
        events.append("async start")

    def sync_stop() -> None:
        events.append("sync stop")

    async def async_stop() -> None:
        events.append("async stop")

    app = App(on_startup=[sync_start, async_start], on_shutdown=[sync_stop, async_stop])

    @app.on_startup
    async def decorated_start() -> None:
        events.append("decorated start")

    @app.on_shutdown
    def decorated_stop() -> None:
        events.append("decorated stop")

    with TestClient(app):
        assert events == ["sync start", "async start", "decorated start"]
        events.clear()

    assert events == ["sync stop", "async stop", "decorated stop"]


def test_hooks_do_not_run_without_a_lifespan(app):
    events: list[str] = []
    app.on_startup(lambda: events.append("start"))

    @app.get("/")
    async def index() -> dict[str, bool]:
        return {"ok": True}

    assert TestClient(app).get("/").status_code == 200
    assert events == []


def test_requests_are_served_inside_the_lifespan(app):
    events: list[str] = []
    app.on_startup(lambda: events.append("start"))
    app.on_shutdown(lambda: events.append("stop"))

    @app.get("/")
    async def index() -> list[str]:
        return list(events)

    with TestClient(app) as client:
        assert client.get("/").json() == ["start"]
    assert events == ["start", "stop"]


def test_startup_hook_that_raises_makes_the_start_fail(app):
    @app.on_startup
    async def broken() -> None:
        raise RuntimeError("no database")

    with pytest.raises(RuntimeError, match="no database"), TestClient(app):
        pass


def test_startup_hooks_after_a_failing_one_do_not_run(app):
    events: list[str] = []

    @app.on_startup
    def broken() -> None:
        raise RuntimeError("no database")

    app.on_startup(lambda: events.append("later"))

    with pytest.raises(RuntimeError), TestClient(app):
        pass
    assert events == []


# -- lifespan ------------------------------------------------------------------


def test_lifespan_is_entered_at_start_and_exited_at_shutdown():
    events: list[Any] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[None]:
        events.append(("enter", app))
        yield
        events.append("exit")

    app = App(lifespan=lifespan)

    with TestClient(app):
        assert events == [("enter", app)]
    assert events == [("enter", app), "exit"]


def test_lifespan_state_is_on_the_request():
    @contextlib.asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[dict[str, str]]:
        yield {"db": "connected"}

    app = App(lifespan=lifespan)

    @app.get("/")
    async def index(request: Request) -> dict[str, str]:
        return {"db": request.state.db}

    with TestClient(app) as client:
        assert client.get("/").json() == {"db": "connected"}


def test_lifespan_that_raises_at_start_makes_the_start_fail():
    @contextlib.asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[None]:
        raise RuntimeError("cannot connect")
        yield

    with pytest.raises(RuntimeError, match="cannot connect"), TestClient(App(lifespan=lifespan)):
        pass


def test_shutdown_hooks_run_when_the_lifespan_is_exited():
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[None]:
        yield
        events.append("lifespan exit")

    app = App(lifespan=lifespan, on_shutdown=[lambda: events.append("hook")])

    with TestClient(app):
        pass

    assert sorted(events) == ["hook", "lifespan exit"]


# -- compiling handlers --------------------------------------------------------


async def bad_handler(x):  # type: ignore[no-untyped-def]
    return x


def test_handlers_are_compiled_at_start_up(app):
    app.get("/bad")(bad_handler)

    with pytest.raises(ConfigurationError, match="bad_handler"), TestClient(app):
        pass


def test_startup_hooks_do_not_run_when_a_handler_does_not_compile(app):
    events: list[str] = []
    app.on_startup(lambda: events.append("start"))
    app.get("/bad")(bad_handler)

    with pytest.raises(ConfigurationError), TestClient(app):
        pass
    assert events == []


def test_handlers_are_compiled_on_the_first_request_without_a_lifespan(app):
    app.get("/bad")(bad_handler)

    with pytest.raises(ConfigurationError, match="bad_handler"):
        TestClient(app).get("/bad")


def test_a_bad_handler_fails_the_start_even_if_never_requested(app):
    @app.get("/good")
    async def good() -> dict[str, bool]:
        return {"ok": True}

    app.get("/bad")(bad_handler)

    with pytest.raises(ConfigurationError):
        TestClient(app).get("/good")


def test_check_returns_for_a_good_app(app):
    router = Router(prefix="/todos")

    @router.get("/{id}")
    async def get_todo(id: int, limit: int = 10) -> dict[str, int]:
        return {"id": id}

    @app.post("/todos")
    async def create_todo(request: Request) -> None: ...

    app.include_router(router)

    app.check()

    assert [(route.method, route.path) for route, _ in app.plans()] == [
        ("POST", "/todos"),
        ("GET", "/todos/{id}"),
    ]


@pytest.mark.parametrize("size", [0, -1])
def test_max_body_size_must_be_positive(size):
    with pytest.raises(ConfigurationError, match="max_body_size"):
        App(max_body_size=size)


# -- mounting ------------------------------------------------------------------


async def echo_scope(scope: Any, receive: Any, send: Any) -> None:
    """A bare ASGI app that answers with the path and root_path it was given."""
    response = StarletteJSONResponse({"path": scope["path"], "root_path": scope["root_path"]})
    await response(scope, receive, send)


def test_mounted_asgi_app_gets_the_request(app, client):
    app.mount("/legacy", echo_scope)

    response = client.get("/legacy/hello")

    assert response.status_code == 200
    assert response.json()["path"] == "/legacy/hello"


def test_mounted_asgi_app_has_its_root_path_extended(app, client):
    app.mount("/legacy", echo_scope)

    assert client.get("/legacy/hello").json()["root_path"] == "/legacy"


def test_mounted_asgi_app_root_path_extends_the_servers_root_path(app):
    app.mount("/legacy", echo_scope)

    response = TestClient(app, root_path="/api").get("/api/legacy/hello")

    assert response.json() == {"path": "/api/legacy/hello", "root_path": "/api/legacy"}


def test_mounted_app_serves_its_mount_path_itself(app, client):
    app.mount("/legacy", echo_scope)

    assert client.get("/legacy").json()["path"] == "/legacy"


def test_mount_does_not_match_a_longer_segment(app, client, problem):
    app.mount("/legacy", echo_scope)

    problem(client.get("/legacy-two/hello"), 404)


def test_mounted_starlette_app_routes_relative_to_the_mount(app, client):
    async def hello(request: Any) -> StarletteJSONResponse:
        return StarletteJSONResponse({"hello": request.url.path})

    app.mount("/legacy", Starlette(routes=[Route("/hello", hello)]))

    response = client.get("/legacy/hello")

    assert response.json() == {"hello": "/legacy/hello"}


def test_mounted_bocadillo_app_serves_its_routes(app, client):
    child = App()

    @child.get("/ping/{n}")
    async def ping(n: int) -> dict[str, int]:
        return {"pong": n}

    app.mount("/child", child)

    assert client.get("/child/ping/3").json() == {"pong": 3}


def test_routes_win_over_a_mount_at_the_same_prefix(app, client):
    app.mount("/api", echo_scope)

    @app.get("/api/own")
    async def own() -> dict[str, str]:
        return {"from": "app"}

    assert client.get("/api/own").json() == {"from": "app"}
    assert client.get("/api/other").json()["path"] == "/api/other"


def test_longest_mount_path_wins(app, client):
    async def short(scope: Any, receive: Any, send: Any) -> None:
        await StarletteJSONResponse({"mount": "short"})(scope, receive, send)

    async def long(scope: Any, receive: Any, send: Any) -> None:
        await StarletteJSONResponse({"mount": "long"})(scope, receive, send)

    app.mount("/api", short)
    app.mount("/api/v2", long)

    assert client.get("/api/v2/x").json() == {"mount": "long"}
    assert client.get("/api/v1/x").json() == {"mount": "short"}


def test_mount_in_a_router_is_under_its_prefix(app, client):
    router = Router(prefix="/v1")
    router.mount("/legacy", echo_scope)
    app.include_router(router)

    assert client.get("/v1/legacy/x").json()["root_path"] == "/v1/legacy"


@pytest.mark.parametrize("path", ["legacy", "/legacy/", "/legacy/{id}"])
def test_bad_mount_path_is_a_configuration_error(app, path):
    with pytest.raises(ConfigurationError):
        app.mount(path, echo_scope)


# -- mounted Bocadillo apps start and stop with the parent ---------------------


def test_mounted_app_hooks_run_once_at_the_parents_start_up_and_shutdown():
    events: list[str] = []
    parent = App(on_startup=[lambda: events.append("parent start")])
    parent.on_shutdown(lambda: events.append("parent stop"))
    first = App(on_startup=[lambda: events.append("first start")])
    first.on_shutdown(lambda: events.append("first stop"))
    second = App(on_startup=[lambda: events.append("second start")])
    second.on_shutdown(lambda: events.append("second stop"))
    parent.mount("/first", first)
    parent.mount("/second", second)

    with TestClient(parent) as client:
        assert events == ["parent start", "first start", "second start"]
        client.get("/first/nothing")
        assert len(events) == 3
        events.clear()

    assert events == ["second stop", "first stop", "parent stop"]


def test_mounted_app_provider_is_made_at_start_up_and_torn_down_at_shutdown():
    from bocadillo.testing import create_client

    events: list[str] = []
    child = App()

    @child.provider(scope="app")
    async def pool() -> AsyncIterator[str]:
        events.append("open pool")
        yield "pool"
        events.append("close pool")

    @child.get("/pool")
    async def show(pool: str) -> dict[str, str]:
        return {"pool": pool}

    parent = App()
    parent.mount("/child", child)

    with create_client(parent) as client:
        assert events == ["open pool"]
        assert client.get("/child/pool").json() == {"pool": "pool"}
        assert events == ["open pool"]
    assert events == ["open pool", "close pool"]


def test_mounted_app_lifespan_runs_and_its_state_reaches_its_handlers():
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[dict[str, str]]:
        events.append("child open")
        yield {"greeting": "hi"}
        events.append("child close")

    child = App(lifespan=lifespan)

    @child.get("/greet")
    async def greet(request: Request) -> dict[str, str]:
        return {"greeting": request.state.greeting}

    parent = App()
    parent.mount("/child", child)

    with TestClient(parent) as client:
        assert client.get("/child/greet").json() == {"greeting": "hi"}
    assert events == ["child open", "child close"]


def test_mounted_app_with_a_broken_handler_fails_the_parents_start():
    events: list[str] = []
    child = App(on_startup=[lambda: events.append("child start")])
    child.get("/bad")(bad_handler)
    parent = App(on_shutdown=[lambda: events.append("parent stop")])
    parent.mount("/child", child)

    with pytest.raises(ConfigurationError, match="bad_handler"), TestClient(parent):
        pass
    assert events == ["parent stop"]
