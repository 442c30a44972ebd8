"""Providers: declaring them, scopes and teardown, request data, errors, discovery,
overrides, start-up checks, declared errors, threads and class-based views."""

import contextlib
import importlib
import logging
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal, NewType

import pytest
from pydantic import BaseModel
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from bocadillo import (
    App,
    Body,
    ConfigurationError,
    Cookie,
    Header,
    HTTPError,
    Query,
    Request,
    discover_providers,
    provider,
)
from bocadillo.testing import isolated_providers

MODULES_DIR = FilePath(__file__).parent / "provider_modules"


def _drop_fixture_modules() -> None:
    for name in list(sys.modules):
        if name == "providerconf" or name.split(".")[0] in ("provider_modules", "flat_shop_app"):
            del sys.modules[name]


@pytest.fixture
def isolated_globals() -> Iterator[None]:
    """Undo what a test adds to the process-wide provider registry and module cache."""
    _drop_fixture_modules()
    with isolated_providers():
        yield
    _drop_fixture_modules()


def recording_sends(app: App, events: list[str]) -> Callable[[Scope, Receive, Send], Any]:
    """Wrap ``app`` so that ``events`` records when the response body goes out."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        async def recording_send(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                events.append("response sent")

        await app(scope, receive, recording_send)

    return asgi


# -- declaring providers -----------------------------------------------------------


def test_bare_provider_decorator_registers_under_the_function_name(isolated_globals, app, client):
    @provider
    async def bare_decorator_answer_1a() -> int:
        return 1

    @app.get("/")
    async def index(bare_decorator_answer_1a) -> dict[str, int]:
        return {"value": bare_decorator_answer_1a}

    assert client.get("/").json() == {"value": 1}


def test_provider_decorator_returns_the_function_unchanged(isolated_globals):
    async def returned_unchanged_2b() -> int:
        return 2

    assert provider(returned_unchanged_2b) is returned_unchanged_2b
    assert provider(scope="app")(returned_unchanged_2b) is returned_unchanged_2b


def test_isolated_providers_undoes_the_registrations_made_inside() -> None:
    def answer(isolated_word_9z) -> dict[str, str]:
        return {"word": isolated_word_9z}

    def served_word() -> str:
        app = App()
        app.get("/")(answer)
        with TestClient(app) as client:
            return str(client.get("/").json()["word"])

    with isolated_providers():

        @provider(name="isolated_word_9z")
        def before() -> str:
            return "before"

        with isolated_providers():
            assert served_word() == "before"

            @provider(name="isolated_word_9z")
            def inside() -> str:
                return "inside"

            assert served_word() == "inside"
        assert served_word() == "before"
    with pytest.raises(ConfigurationError, match="isolated_word_9z"):
        served_word()


def test_provider_name_option_registers_under_that_name(isolated_globals, app, client):
    @provider(name="named_option_value_3c")
    def whatever() -> str:
        return "named"

    @app.get("/")
    async def index(named_option_value_3c) -> dict[str, str]:
        return {"value": named_option_value_3c}

    assert client.get("/").json() == {"value": "named"}


def test_global_provider_with_app_scope_is_made_at_startup(isolated_globals, app):
    events: list[str] = []

    @provider(scope="app")
    async def global_app_scoped_4d() -> str:
        events.append("made")
        return "shared"

    @app.get("/")
    async def index(global_app_scoped_4d) -> dict[str, str]:
        return {"value": global_app_scoped_4d}

    with TestClient(app) as client:
        assert events == ["made"]
        assert client.get("/").json() == {"value": "shared"}
        assert client.get("/").json() == {"value": "shared"}
    assert events == ["made"]


def test_async_function_provider_value_is_injected(app, client):
    @app.provider
    async def greeting() -> str:
        return "hello"

    @app.get("/")
    async def index(greeting) -> dict[str, str]:
        return {"greeting": greeting}

    assert client.get("/").json() == {"greeting": "hello"}


def test_plain_function_provider_value_is_injected(app, client):
    @app.provider
    def greeting() -> str:
        return "hello"

    @app.get("/")
    async def index(greeting) -> dict[str, str]:
        return {"greeting": greeting}

    assert client.get("/").json() == {"greeting": "hello"}


def test_async_generator_provider_runs_code_after_yield_as_teardown(app, client):
    events: list[str] = []

    @app.provider
    async def resource() -> AsyncIterator[str]:
        events.append("setup")
        yield "resource"
        events.append("teardown")

    @app.get("/")
    async def index(resource) -> dict[str, str]:
        events.append(f"handler got {resource}")
        return {"ok": "yes"}

    assert client.get("/").status_code == 200
    assert events == ["setup", "handler got resource", "teardown"]


def test_generator_provider_runs_code_after_yield_as_teardown(app, client):
    events: list[str] = []

    @app.provider
    def resource() -> Iterator[str]:
        events.append("setup")
        yield "resource"
        events.append("teardown")

    @app.get("/")
    async def index(resource) -> dict[str, str]:
        events.append(f"handler got {resource}")
        return {"ok": "yes"}

    assert client.get("/").status_code == 200
    assert events == ["setup", "handler got resource", "teardown"]


def test_app_provider_decorator_accepts_options(app, client):
    @app.provider(name="answer", scope="app")
    def make_answer() -> int:
        return 42

    @app.get("/")
    async def index(answer) -> dict[str, int]:
        return {"answer": answer}

    assert client.get("/").json() == {"answer": 42}


def test_app_provider_wins_over_a_global_one_of_the_same_name(isolated_globals, app, client):
    @provider(name="shadowed_name_5e")
    def global_version() -> str:
        return "global"

    @app.provider(name="shadowed_name_5e")
    def local_version() -> str:
        return "local"

    @app.get("/")
    async def index(shadowed_name_5e) -> dict[str, str]:
        return {"value": shadowed_name_5e}

    assert client.get("/").json() == {"value": "local"}


def test_app_provider_is_not_seen_by_another_app():
    first, second = App(), App()

    @first.provider
    def only_in_first() -> str:
        return "first"

    @second.get("/")
    async def index(only_in_first) -> None: ...

    with pytest.raises(ConfigurationError, match="'only_in_first' names no provider"):
        second.check()


def test_provider_and_route_added_after_a_request_are_served(app, client):
    @app.get("/")
    async def index(request: Request) -> dict[str, bool]:
        return {"ok": True}

    assert client.get("/").status_code == 200

    @app.provider
    def late() -> str:
        return "late"

    @app.get("/late")
    async def uses_late(late) -> dict[str, str]:
        return {"value": late}

    assert client.get("/late").json() == {"value": "late"}


def test_autouse_request_provider_runs_for_a_route_that_does_not_name_it(app, client):
    events: list[str] = []

    @app.provider(autouse=True)
    async def audit() -> AsyncIterator[None]:
        events.append("audit start")
        yield
        events.append("audit end")

    @app.get("/")
    async def index() -> dict[str, bool]:
        events.append("handler")
        return {"ok": True}

    assert client.get("/").status_code == 200
    assert events == ["audit start", "handler", "audit end"]


def test_autouse_app_provider_starts_even_if_no_route_uses_it(app):
    events: list[str] = []

    @app.provider(scope="app", autouse=True)
    async def warm_cache() -> AsyncIterator[None]:
        events.append("warm")
        yield
        events.append("cold")

    @app.get("/")
    async def index() -> dict[str, bool]:
        return {"ok": True}

    with TestClient(app):
        assert events == ["warm"]
    assert events == ["warm", "cold"]


def test_app_provider_without_autouse_hides_a_global_autouse_one_of_the_same_name(
    isolated_globals, app, client
):
    events: list[str] = []

    @provider(name="hidden_autouse_6f", autouse=True)
    def global_autouse() -> None:
        events.append("global autouse ran")

    @app.provider(name="hidden_autouse_6f")
    def local_version() -> None:
        events.append("local version ran")

    @app.get("/")
    async def index() -> dict[str, bool]:
        return {"ok": True}

    assert client.get("/").status_code == 200
    assert events == []


def test_unknown_scope_is_a_configuration_error(app):
    with pytest.raises(ConfigurationError, match="scope must be 'app' or 'request'"):

        @app.provider(scope="session")  # type: ignore[arg-type]
        def wrong() -> None: ...


def test_generator_provider_that_never_yields_is_a_500(app, client, problem, caplog):
    @app.provider
    async def empty() -> AsyncIterator[None]:
        if False:
            yield

    @app.get("/")
    async def index(empty) -> None: ...

    body = problem(client.get("/"), 500)
    assert "did not yield" not in body["detail"]
    assert any("did not yield" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


# -- scopes ------------------------------------------------------------------------


def test_app_provider_is_made_once_at_startup_and_shared_by_requests(app):
    events: list[str] = []

    @app.provider(scope="app")
    async def counter() -> dict[str, int]:
        events.append("made")
        return {"hits": 0}

    @app.get("/")
    async def index(counter) -> dict[str, int]:
        counter["hits"] += 1
        return counter

    with TestClient(app) as client:
        assert events == ["made"]
        assert client.get("/").json() == {"hits": 1}
        assert client.get("/").json() == {"hits": 2}
    assert events == ["made"]


def test_app_providers_are_torn_down_at_shutdown_in_reverse_order_of_creation(app):
    events: list[str] = []

    @app.provider(scope="app")
    async def engine() -> AsyncIterator[str]:
        events.append("engine up")
        yield "engine"
        events.append("engine down")

    @app.provider(scope="app")
    def pool(engine) -> Iterator[str]:
        events.append(f"pool up on {engine}")
        yield "pool"
        events.append("pool down")

    @app.provider(scope="app")
    async def cache() -> AsyncIterator[str]:
        events.append("cache up")
        yield "cache"
        events.append("cache down")

    @app.get("/users")
    async def users(pool) -> None: ...

    @app.get("/cached")
    async def cached(cache) -> None: ...

    with TestClient(app):
        assert events == ["engine up", "pool up on engine", "cache up"]
        events.clear()
    assert events == ["cache down", "pool down", "engine down"]


def test_app_provider_teardown_runs_at_shutdown_not_after_each_request(app):
    events: list[str] = []

    @app.provider(scope="app")
    async def pool() -> AsyncIterator[str]:
        yield "pool"
        events.append("closed")

    @app.get("/")
    async def index(pool) -> dict[str, bool]:
        return {"ok": True}

    with TestClient(app) as client:
        client.get("/")
        client.get("/")
        assert events == []
    assert events == ["closed"]


def test_app_provider_failing_at_startup_fails_the_start_and_tears_down_the_others(app):
    events: list[str] = []

    @app.provider(scope="app")
    async def engine() -> AsyncIterator[str]:
        events.append("engine up")
        yield "engine"
        events.append("engine down")

    @app.provider(scope="app")
    def pool(engine) -> str:
        raise ConnectionError("database unreachable")

    @app.get("/")
    async def index(pool) -> None: ...

    with pytest.raises(ConnectionError, match="database unreachable"), TestClient(app):
        pass
    assert events == ["engine up", "engine down"]


def test_autouse_provider_also_named_by_the_handler_is_made_once(app, client):
    made: list[str] = []

    @app.provider(autouse=True)
    def request_id() -> str:
        made.append("id")
        return "id-1"

    @app.get("/")
    async def index(request_id) -> dict[str, str]:
        return {"id": request_id}

    assert client.get("/").json() == {"id": "id-1"}
    assert made == ["id"]


def test_request_provider_is_made_for_each_request(app, client):
    made: list[int] = []

    @app.provider
    def request_id() -> int:
        made.append(len(made) + 1)
        return made[-1]

    @app.get("/")
    async def index(request_id) -> dict[str, int]:
        return {"id": request_id}

    assert client.get("/").json() == {"id": 1}
    assert client.get("/").json() == {"id": 2}


def test_request_provider_is_torn_down_before_the_response_is_sent(app):
    events: list[str] = []

    @app.provider
    async def session() -> AsyncIterator[str]:
        events.append("open")
        yield "session"
        events.append("close")

    @app.get("/")
    async def index(session) -> dict[str, str]:
        events.append("handler")
        return {"session": session}

    response = TestClient(recording_sends(app, events)).get("/")

    assert response.status_code == 200
    assert response.json() == {"session": "session"}
    # The teardown (where a transaction commits) finishes before the response goes out.
    assert events == ["open", "handler", "close", "response sent"]


def test_request_providers_are_torn_down_in_reverse_order_of_creation(app, client):
    events: list[str] = []

    @app.provider
    async def outer() -> AsyncIterator[str]:
        events.append("outer up")
        yield "outer"
        events.append("outer down")

    @app.provider
    def inner(outer) -> Iterator[str]:
        events.append("inner up")
        yield "inner"
        events.append("inner down")

    @app.get("/")
    async def index(inner) -> None:
        events.append("handler")

    assert client.get("/").status_code == 204
    assert events == ["outer up", "inner up", "handler", "inner down", "outer down"]


def test_provider_is_made_once_per_request_however_many_ask_for_it(app, client):
    made: list[str] = []

    @app.provider
    async def conn() -> AsyncIterator[object]:
        made.append("conn")
        yield object()

    @app.provider
    def users(conn) -> object:
        return conn

    @app.provider
    def orders(conn, users) -> object:
        return conn

    @app.get("/")
    async def index(conn, users, orders) -> dict[str, bool]:
        return {"same": conn is users is orders}

    assert client.get("/").json() == {"same": True}
    assert made == ["conn"]
    assert client.get("/").json() == {"same": True}
    assert made == ["conn", "conn"]


def test_app_providers_start_lazily_on_the_first_request_without_a_lifespan(app, client):
    events: list[str] = []

    @app.provider(scope="app")
    async def settings() -> dict[str, str]:
        events.append("made")
        return {"env": "test"}

    @app.get("/")
    async def index(settings) -> dict[str, str]:
        return settings

    assert events == []
    assert client.get("/").json() == {"env": "test"}
    assert client.get("/").json() == {"env": "test"}
    assert events == ["made"]


def test_request_provider_can_depend_on_an_app_provider(app):
    @app.provider(scope="app")
    def pool() -> list[str]:
        return []

    @app.provider
    def conn(pool) -> list[str]:
        pool.append("conn")
        return pool

    @app.get("/")
    async def index(conn) -> list[str]:
        return conn

    with TestClient(app) as client:
        assert client.get("/").json() == ["conn"]
        assert client.get("/").json() == ["conn", "conn"]


# -- request data ------------------------------------------------------------------


def test_provider_reads_a_header(app, client):
    @app.provider
    def current_user(x_api_key: str = Header()) -> str:
        return f"user of {x_api_key}"

    @app.get("/me")
    async def me(current_user) -> dict[str, str]:
        return {"user": current_user}

    response = client.get("/me", headers={"X-API-Key": "k1"})

    assert response.json() == {"user": "user of k1"}


def test_provider_missing_header_is_a_422_at_the_header(app, client, problem):
    @app.provider
    def current_user(x_api_key: str = Header()) -> str:
        return x_api_key

    @app.get("/me")
    async def me(current_user) -> dict[str, str]:
        return {"user": current_user}

    body = problem(client.get("/me"), 422)

    assert [e["loc"] for e in body["errors"]] == [["header", "x-api-key"]]


def test_provider_with_a_missing_header_is_not_called(app, client):
    calls: list[str] = []

    @app.provider
    def current_user(x_api_key: str = Header()) -> str:
        calls.append(x_api_key)
        return x_api_key

    @app.get("/me")
    async def me(current_user) -> None:
        calls.append("handler")

    assert client.get("/me").status_code == 422
    assert calls == []


def test_provider_reads_a_path_parameter(app, client):
    @app.provider
    def item(id: int) -> dict[str, Any]:
        return {"id": id, "type": type(id).__name__}

    @app.get("/items/{id}")
    async def get_item(item) -> dict[str, Any]:
        return item

    assert client.get("/items/7").json() == {"id": 7, "type": "int"}


def test_provider_invalid_path_parameter_is_a_422_at_the_path(app, client, problem):
    @app.provider
    def item(id: int) -> int:
        return id

    @app.get("/items/{id}")
    async def get_item(item) -> None: ...

    body = problem(client.get("/items/abc"), 422)

    assert [e["loc"] for e in body["errors"]] == [["path", "id"]]


def test_provider_and_handler_read_the_same_path_parameter(app, client):
    @app.provider
    def item(id: int) -> int:
        return id * 10

    @app.get("/items/{id}")
    async def get_item(id: str, item) -> dict[str, Any]:
        return {"id": id, "item": item}

    assert client.get("/items/4").json() == {"id": "4", "item": 40}


def test_provider_and_handler_read_the_same_query_key(app, client):
    @app.provider
    def page(limit: int = Query(10, ge=1)) -> dict[str, int]:
        return {"limit": limit}

    @app.get("/")
    async def index(page, limit: str = "none") -> dict[str, Any]:
        return {"page": page, "limit": limit}

    assert client.get("/?limit=5").json() == {"page": {"limit": 5}, "limit": "5"}
    assert client.get("/").json() == {"page": {"limit": 10}, "limit": "none"}


def test_provider_query_parameter_is_validated_with_its_constraints(app, client, problem):
    @app.provider
    def page(limit: Annotated[int, Query(ge=1, le=100)] = 10) -> int:
        return limit

    @app.get("/")
    async def index(page) -> dict[str, int]:
        return {"limit": page}

    body = problem(client.get("/?limit=500"), 422)

    assert [e["loc"] for e in body["errors"]] == [["query", "limit"]]


def test_provider_and_handler_errors_are_reported_together(app, client, problem):
    @app.provider
    def current_user(x_api_key: str = Header()) -> str:
        return x_api_key

    @app.get("/")
    async def index(current_user, limit: int) -> None: ...

    body = problem(client.get("/"), 422)

    assert sorted(e["loc"] for e in body["errors"]) == [["header", "x-api-key"], ["query", "limit"]]


def test_provider_reads_a_cookie(app):
    @app.provider
    def session_id(session: str = Cookie()) -> str:
        return session

    @app.get("/")
    async def index(session_id) -> dict[str, str]:
        return {"session": session_id}

    client = TestClient(app, cookies={"session": "abc"})

    assert client.get("/").json() == {"session": "abc"}


def test_provider_receives_the_request(app, client):
    @app.provider
    def path_and_method(request: Request) -> str:
        return f"{request.method} {request.url.path}"

    @app.get("/where")
    async def where(path_and_method) -> dict[str, str]:
        return {"where": path_and_method}

    assert client.get("/where").json() == {"where": "GET /where"}


def test_provider_reads_request_data_through_another_provider(app, client):
    @app.provider
    def api_key(x_api_key: str = Header()) -> str:
        return x_api_key

    @app.provider
    def current_user(api_key) -> str:
        return f"user:{api_key}"

    @app.get("/")
    async def index(current_user) -> dict[str, str]:
        return {"user": current_user}

    assert client.get("/", headers={"x-api-key": "k"}).json() == {"user": "user:k"}


def test_handler_and_provider_may_both_take_the_request(app, client):
    @app.provider
    def method(request: Request) -> str:
        return request.method

    @app.get("/")
    async def index(request: Request, method) -> dict[str, bool]:
        return {"same": request.method == method}

    assert client.get("/").json() == {"same": True}


def test_provider_reading_the_request_does_not_steal_the_handlers_body(app, client):
    class Item(BaseModel):
        name: str

    @app.provider
    def content_type(request: Request) -> str:
        return request.headers["content-type"]

    @app.post("/")
    async def create(item: Item, content_type) -> dict[str, str]:
        return {"name": item.name, "content_type": content_type}

    response = client.post("/", json={"name": "x"})

    assert response.json() == {"name": "x", "content_type": "application/json"}


# -- errors --------------------------------------------------------------------------


def test_request_providers_are_torn_down_when_the_handler_raises(app, client, problem):
    events: list[str] = []

    @app.provider
    async def session() -> AsyncIterator[str]:
        try:
            yield "session"
        finally:
            events.append("closed")

    @app.get("/")
    async def index(session) -> None:
        raise RuntimeError("boom")

    problem(client.get("/"), 500)
    assert events == ["closed"]


@pytest.fixture(params=["async generator", "generator"])
def transaction_app(request: pytest.FixtureRequest, app: App) -> tuple[App, list[str]]:
    """An app with a ``transaction`` provider that records commit or rollback."""
    events: list[str] = []

    if request.param == "async generator":

        @app.provider
        async def transaction() -> AsyncIterator[str]:
            events.append("begin")
            try:
                yield "tx"
            except Exception as exc:
                events.append(f"rollback after {type(exc).__name__}")
                raise
            else:
                events.append("commit")

    else:

        @app.provider
        def transaction() -> Iterator[str]:
            events.append("begin")
            try:
                yield "tx"
            except Exception as exc:
                events.append(f"rollback after {type(exc).__name__}")
                raise
            else:
                events.append("commit")

    @app.post("/ok")
    async def ok(transaction) -> dict[str, bool]:
        return {"ok": True}

    @app.post("/fail")
    async def fail(transaction) -> None:
        raise ValueError("bad data")

    @app.post("/conflict")
    async def conflict(transaction) -> None:
        raise HTTPError(409, detail="taken")

    return app, events


def test_generator_provider_sees_the_handlers_exception_and_rolls_back(transaction_app, problem):
    app, events = transaction_app

    problem(TestClient(app).post("/fail"), 500)

    assert events == ["begin", "rollback after ValueError"]


def test_generator_provider_commits_when_the_handler_succeeds(transaction_app):
    app, events = transaction_app

    assert TestClient(app).post("/ok").json() == {"ok": True}
    assert events == ["begin", "commit"]


def test_generator_provider_rolls_back_on_an_http_error_which_still_answers(
    transaction_app, problem
):
    app, events = transaction_app

    body = problem(TestClient(app).post("/conflict"), 409)

    assert body["detail"] == "taken"
    assert events == ["begin", "rollback after HTTPError"]


def test_provider_raising_http_error_answers_with_its_problem(app, client, problem):
    @app.provider
    def current_user(x_api_key: str | None = Header(None)) -> str:
        if x_api_key != "secret":
            raise HTTPError(401, detail="Missing or invalid API key")
        return "alice"

    @app.get("/me")
    async def me(current_user) -> dict[str, str]:
        return {"user": current_user}

    body = problem(client.get("/me"), 401)

    assert body["detail"] == "Missing or invalid API key"
    assert client.get("/me", headers={"x-api-key": "secret"}).json() == {"user": "alice"}


def test_providers_made_before_a_failing_provider_are_torn_down(app, client, problem):
    events: list[str] = []

    @app.provider
    async def db() -> AsyncIterator[str]:
        events.append("db open")
        try:
            yield "db"
        except HTTPError as exc:
            events.append(f"db saw {exc.status_code}")
            raise
        finally:
            events.append("db close")

    @app.provider
    def current_user(db) -> str:
        raise HTTPError(401)

    @app.get("/me")
    async def me(current_user) -> None:
        events.append("handler")

    problem(client.get("/me"), 401)
    assert events == ["db open", "db saw 401", "db close"]


class IntegrityError(Exception):
    """Stands in for a database driver's error."""


def test_teardown_raising_another_exception_replaces_the_error(app, client, problem):
    @app.provider
    async def transaction() -> AsyncIterator[None]:
        try:
            yield
        except IntegrityError as exc:
            raise HTTPError(409, detail="That name is taken.") from exc

    @app.post("/users")
    async def create_user(transaction) -> None:
        raise IntegrityError("duplicate key value violates unique constraint")

    body = problem(client.post("/users"), 409)

    assert body["detail"] == "That name is taken."


def test_outer_provider_sees_the_error_an_inner_teardown_replaced_it_with(app, client, problem):
    seen: list[str] = []

    @app.provider
    async def outer() -> AsyncIterator[None]:
        try:
            yield
        except Exception as exc:
            seen.append(repr(exc))
            raise

    @app.provider
    def inner(outer) -> Iterator[None]:
        try:
            yield
        except IntegrityError as exc:
            raise HTTPError(409) from exc

    @app.post("/")
    async def create(inner) -> None:
        raise IntegrityError()

    problem(client.post("/"), 409)
    assert seen == ["HTTPError(409, detail=None)"]


def test_generator_swallowing_the_handlers_exception_does_not_make_it_a_200(app, client, problem):
    events: list[str] = []

    @app.provider
    async def forgiving() -> AsyncIterator[None]:
        try:
            yield
        except Exception:
            events.append("swallowed")

    @app.get("/")
    async def index(forgiving) -> dict[str, bool]:
        raise RuntimeError("boom")

    problem(client.get("/"), 500)
    assert events == ["swallowed"]


def test_sync_generator_swallowing_the_handlers_http_error_keeps_its_status(app, client, problem):
    @app.provider
    def forgiving() -> Iterator[None]:
        with contextlib.suppress(Exception):
            yield

    @app.get("/")
    async def index(forgiving) -> None:
        raise HTTPError(404, detail="gone")

    assert problem(client.get("/"), 404)["detail"] == "gone"


def test_teardown_failing_after_a_successful_handler_is_answered_with_a_500(app, client, caplog):
    # The teardown runs before the response is sent: its error is the answer (a
    # 200 for a write that was not committed would be a lie).
    caplog.set_level(logging.ERROR, logger="bocadillo")

    @app.provider
    async def flaky() -> AsyncIterator[None]:
        yield
        raise ConnectionError("could not release the connection")

    @app.get("/")
    async def index(flaky) -> dict[str, bool]:
        return {"ok": True}

    response = client.get("/")

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "could not release" not in response.text
    logged = [r.exc_info[1] for r in caplog.records if r.name == "bocadillo" and r.exc_info]
    assert any(isinstance(exc, ConnectionError) for exc in logged)


def test_teardown_error_is_seen_by_the_providers_made_before_at_their_yield(app, client, caplog):
    events: list[str] = []

    @app.provider
    async def first() -> AsyncIterator[None]:
        try:
            yield
        except ConnectionError as exc:
            events.append(f"first saw {exc}")
            raise

    @app.provider
    def second(first) -> Iterator[None]:
        yield
        raise ConnectionError("broken")

    @app.get("/")
    async def index(second) -> dict[str, bool]:
        return {"ok": True}

    assert client.get("/").status_code == 500
    assert events == ["first saw broken"]


def test_generator_yielding_twice_after_a_success_is_answered_with_a_500(app, client, caplog):
    caplog.set_level(logging.ERROR, logger="bocadillo")

    @app.provider
    async def twice() -> AsyncIterator[int]:
        yield 1
        yield 2

    @app.get("/")
    async def index(twice) -> dict[str, int]:
        return {"value": twice}

    response = client.get("/")

    assert response.status_code == 500
    logged = [r.exc_info[1] for r in caplog.records if r.name == "bocadillo" and r.exc_info]
    assert any("yielded more than once" in str(exc) for exc in logged)


def test_generator_yielding_twice_after_an_error_is_a_500_that_leaks_nothing(
    app, client, problem, caplog
):
    @app.provider
    def twice() -> Iterator[int]:
        try:
            yield 1
        except Exception:
            yield 2

    @app.get("/")
    async def index(twice) -> None:
        raise RuntimeError("secret internals")

    response = client.get("/")

    body = problem(response, 500)
    assert "yielded" not in response.text
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text
    assert set(body) == {"type", "title", "status", "detail"}
    assert any("yielded more than once" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_failing_provider_leaks_no_text_in_its_500(app, client, problem):
    @app.provider
    def broken() -> str:
        raise RuntimeError("password=hunter2")

    @app.get("/")
    async def index(broken) -> None: ...

    response = client.get("/")

    problem(response, 500)
    assert "hunter2" not in response.text


# -- discovery ------------------------------------------------------------------------


def test_provider_defined_in_an_imported_module_is_found(isolated_globals, app, client):
    importlib.import_module("provider_modules.imported")

    @app.get("/")
    async def index(imported_module_answer) -> dict[str, int]:
        return {"answer": imported_module_answer}

    assert client.get("/").json() == {"answer": 42}


def test_providerconf_beside_the_app_module_is_loaded_when_the_app_starts(isolated_globals):
    module = importlib.import_module("provider_modules.shop.app")
    assert "provider_modules.shop.providerconf" not in sys.modules

    with TestClient(module.app) as client:
        response = client.get("/greeting")

    assert response.json() == {"greeting": "hello from providerconf"}


def test_providerconf_is_loaded_by_the_first_request_without_a_lifespan(isolated_globals):
    module = importlib.import_module("provider_modules.shop.app")

    response = TestClient(module.app).get("/greeting")

    assert response.json() == {"greeting": "hello from providerconf"}


def test_providerconf_beside_a_top_level_app_module_is_loaded(isolated_globals, monkeypatch):
    monkeypatch.syspath_prepend(str(MODULES_DIR / "flat"))
    module = importlib.import_module("flat_shop_app")

    with TestClient(module.app) as client:
        response = client.get("/greeting")

    assert response.json() == {"greeting": "hello from a flat providerconf"}


def test_discover_providers_imports_the_module_and_registers_its_providers(
    isolated_globals, app, client
):
    module = discover_providers("provider_modules.discovered")

    @app.get("/")
    async def index(discovered_module_greeting) -> dict[str, str]:
        return {"greeting": discovered_module_greeting}

    assert module.__name__ == "provider_modules.discovered"
    assert client.get("/").json() == {"greeting": "discovered"}


@pytest.mark.parametrize(
    "name",
    ["provider_modules.does_not_exist", "no_such_package_9z.providers", "", ".relative", "a..b"],
)
def test_discover_providers_with_a_bad_module_name_is_a_configuration_error(name):
    with pytest.raises(ConfigurationError, match="cannot load providers from"):
        discover_providers(name)


# -- overrides -------------------------------------------------------------------------


def test_override_with_a_function_that_has_its_own_parameters(app, client):
    @app.provider
    def current_user() -> str:
        return "real user"

    @app.get("/me")
    async def me(current_user) -> dict[str, str]:
        return {"user": current_user}

    def fake_user(as_user: str = Query("nobody")) -> str:
        return f"fake {as_user}"

    with app.override_provider("current_user", fake_user):
        assert client.get("/me?as_user=bob").json() == {"user": "fake bob"}


def test_override_with_a_generator_runs_its_teardown(app, client):
    events: list[str] = []

    @app.provider
    async def db() -> AsyncIterator[str]:
        yield "real db"

    @app.get("/")
    async def index(db) -> dict[str, str]:
        events.append(f"handler got {db}")
        return {"db": db}

    async def fake_db() -> AsyncIterator[str]:
        events.append("fake up")
        yield "fake db"
        events.append("fake down")

    with app.override_provider("db", fake_db):
        assert client.get("/").json() == {"db": "fake db"}
    assert events == ["fake up", "handler got fake db", "fake down"]


def test_override_with_a_plain_value(app, client):
    @app.provider
    def settings() -> dict[str, str]:
        return {"env": "prod"}

    @app.get("/")
    async def index(settings) -> dict[str, str]:
        return settings

    with app.override_provider("settings", {"env": "test"}):
        assert client.get("/").json() == {"env": "test"}


def test_override_is_undone_when_its_with_block_exits(app, client):
    @app.provider
    def settings() -> str:
        return "real"

    @app.get("/")
    async def index(settings) -> dict[str, str]:
        return {"settings": settings}

    with app.override_provider("settings", "fake"):
        assert client.get("/").json() == {"settings": "fake"}
    assert client.get("/").json() == {"settings": "real"}


def test_override_without_with_lasts_until_undone(app, client):
    @app.provider
    def settings() -> str:
        return "real"

    @app.get("/")
    async def index(settings) -> dict[str, str]:
        return {"settings": settings}

    override = app.override_provider("settings", "fake")
    assert client.get("/").json() == {"settings": "fake"}
    override.undo()
    assert client.get("/").json() == {"settings": "real"}


def test_nested_override_restores_the_outer_one_on_exit(app, client):
    @app.provider
    def settings() -> str:
        return "real"

    @app.get("/")
    async def index(settings) -> dict[str, str]:
        return {"settings": settings}

    with app.override_provider("settings", "outer"):
        with app.override_provider("settings", "inner"):
            assert client.get("/").json() == {"settings": "inner"}
        assert client.get("/").json() == {"settings": "outer"}
    assert client.get("/").json() == {"settings": "real"}


def test_override_of_a_global_provider_affects_only_that_app(isolated_globals):
    @provider
    def overridden_global_7g() -> str:
        return "real"

    first, second = App(), App()
    for app in (first, second):

        @app.get("/")
        async def index(overridden_global_7g) -> dict[str, str]:
            return {"value": overridden_global_7g}

    with first.override_provider("overridden_global_7g", "fake"):
        assert TestClient(first).get("/").json() == {"value": "fake"}
        assert TestClient(second).get("/").json() == {"value": "real"}


def test_override_of_an_app_provider_while_running_is_used_by_the_next_request(app):
    @app.provider(scope="app")
    def clock() -> str:
        return "real clock"

    @app.get("/")
    async def index(clock) -> dict[str, str]:
        return {"clock": clock}

    with TestClient(app) as client:
        assert client.get("/").json() == {"clock": "real clock"}
        with app.override_provider("clock", lambda: "frozen clock"):
            assert client.get("/").json() == {"clock": "frozen clock"}
        assert client.get("/").json() == {"clock": "real clock"}


def test_override_of_an_app_provider_while_running_remakes_app_providers_using_it(app):
    @app.provider(scope="app")
    def dsn() -> str:
        return "postgres://prod"

    @app.provider(scope="app")
    def pool(dsn) -> str:
        return f"pool on {dsn}"

    @app.get("/")
    async def index(pool) -> dict[str, str]:
        return {"pool": pool}

    with TestClient(app) as client:
        assert client.get("/").json() == {"pool": "pool on postgres://prod"}
        with app.override_provider("dsn", "sqlite://"):
            assert client.get("/").json() == {"pool": "pool on sqlite://"}


def test_override_of_an_app_provider_keeps_the_app_scope(app):
    made: list[str] = []

    @app.provider(scope="app")
    def clock() -> str:
        return "real"

    @app.get("/")
    async def index(clock) -> dict[str, str]:
        return {"clock": clock}

    def fake_clock() -> str:
        made.append("fake")
        return "fake"

    with TestClient(app) as client, app.override_provider("clock", fake_clock):
        client.get("/")
        client.get("/")
    assert made == ["fake"]


def test_app_scoped_generator_override_made_while_running_is_torn_down_at_shutdown(app):
    events: list[str] = []

    @app.provider(scope="app")
    def clock() -> str:
        return "real"

    @app.get("/")
    async def index(clock) -> dict[str, str]:
        return {"clock": clock}

    async def fake_clock() -> AsyncIterator[str]:
        events.append("fake up")
        yield "fake"
        events.append("fake down")

    with TestClient(app) as client:
        app.override_provider("clock", fake_clock)
        assert client.get("/").json() == {"clock": "fake"}
        assert events == ["fake up"]
    assert events == ["fake up", "fake down"]


def test_override_of_an_autouse_provider_runs_the_replacement(app, client):
    events: list[str] = []

    @app.provider(autouse=True)
    def audit() -> None:
        events.append("real audit")

    @app.get("/")
    async def index() -> dict[str, bool]:
        return {"ok": True}

    with app.override_provider("audit", lambda: events.append("fake audit")):
        client.get("/")
    assert events == ["fake audit"]


def test_override_of_an_unknown_name_is_a_configuration_error_naming_the_known_ones(app):
    @app.provider
    def database() -> None: ...

    @app.provider
    def mailer() -> None: ...

    with pytest.raises(ConfigurationError) as info:
        app.override_provider("databse", "fake")

    message = str(info.value)
    assert "'databse'" in message
    assert "database" in message
    assert "mailer" in message


# -- start-up checks -----------------------------------------------------------------


def unknown_parameter(app: App) -> None:
    @app.provider
    def inventory_db() -> None: ...

    @app.get("/stock")
    async def list_stock(inventry_db) -> None: ...


def provider_cycle(app: App) -> None:
    @app.provider
    def a(b) -> None: ...

    @app.provider
    def b(a) -> None: ...

    @app.get("/")
    async def index(a) -> None: ...


def app_provider_cycle(app: App) -> None:
    @app.provider(scope="app")
    def a(b) -> None: ...

    @app.provider(scope="app")
    def b(a) -> None: ...

    @app.get("/")
    async def index(a) -> None: ...


def app_depends_on_request(app: App) -> None:
    @app.provider
    def current_user() -> None: ...

    @app.provider(scope="app")
    def user_cache(current_user) -> None: ...

    @app.get("/")
    async def index(user_cache) -> None: ...


def app_reads_query(app: App) -> None:
    @app.provider(scope="app")
    def settings(env: str = Query("prod")) -> None: ...

    @app.get("/")
    async def index(settings) -> None: ...


def provider_reads_body(app: App) -> None:
    class Item(BaseModel):
        name: str

    @app.provider
    def item_name(item: Item) -> None: ...

    @app.post("/")
    async def create(item_name) -> None: ...


BROKEN_APPS = [
    pytest.param(unknown_parameter, "'inventry_db' names no provider", id="unknown parameter"),
    pytest.param(provider_cycle, "a -> b -> a", id="cycle"),
    pytest.param(app_provider_cycle, "a -> b -> a", id="app cycle"),
    pytest.param(app_depends_on_request, "user_cache -> current_user", id="app on request"),
    pytest.param(app_reads_query, "reads request data", id="app reads query"),
    pytest.param(provider_reads_body, "reads the request body", id="provider reads body"),
]


def test_unknown_parameter_error_names_the_handler_and_the_parameter(app):
    unknown_parameter(app)

    with pytest.raises(ConfigurationError) as info:
        app.check()

    message = str(info.value)
    assert "list_stock" in message
    assert "test_providers.py" in message
    assert "'inventry_db' names no provider" in message


def test_unknown_parameter_error_suggests_a_close_provider_name(app):
    unknown_parameter(app)

    with pytest.raises(ConfigurationError, match="Did you mean 'inventory_db'"):
        app.check()


def test_unknown_parameter_of_a_provider_names_the_provider_and_the_handler(app):
    @app.provider
    def current_user(sesion) -> None: ...

    @app.provider
    def session() -> None: ...

    @app.get("/")
    async def home(current_user) -> None: ...

    with pytest.raises(ConfigurationError) as info:
        app.check()

    message = str(info.value)
    assert "home" in message
    assert "provider 'current_user'" in message
    assert "'sesion' names no provider" in message
    assert "Did you mean 'session'" in message


def test_provider_cycle_error_names_the_chain(app):
    provider_cycle(app)

    with pytest.raises(ConfigurationError, match="depend on each other: a -> b -> a"):
        app.check()


def test_app_provider_cycle_error_names_the_chain(app):
    app_provider_cycle(app)

    with pytest.raises(ConfigurationError, match="depend on each other: a -> b -> a"):
        app.check()


def test_provider_depending_on_itself_is_a_cycle(app):
    @app.provider
    def me(me) -> None: ...

    @app.get("/")
    async def index(me) -> None: ...

    with pytest.raises(ConfigurationError, match="me -> me"):
        app.check()


def test_app_provider_depending_on_a_request_provider_names_both_and_the_chain(app):
    app_depends_on_request(app)

    with pytest.raises(ConfigurationError) as info:
        app.check()

    message = str(info.value)
    assert "app-scoped provider 'user_cache'" in message
    assert "request-scoped provider 'current_user'" in message
    assert "(user_cache -> current_user)" in message


def test_app_provider_depending_indirectly_on_a_request_provider_names_the_chain(app):
    @app.provider
    def current_user() -> None: ...

    @app.provider(scope="app")
    def user_cache(current_user) -> None: ...

    @app.provider(scope="app")
    def stats(user_cache) -> None: ...

    @app.provider
    def report(stats) -> None: ...

    @app.get("/")
    async def index(report) -> None: ...

    with pytest.raises(ConfigurationError, match="report -> stats -> user_cache -> current_user"):
        app.check()


def test_app_provider_reading_a_query_parameter_is_a_configuration_error(app):
    app_reads_query(app)

    with pytest.raises(ConfigurationError) as info:
        app.check()

    message = str(info.value)
    assert "app-scoped provider 'settings'" in message
    assert "reads request data (parameter 'env')" in message


def test_app_provider_taking_the_request_is_a_configuration_error(app):
    @app.provider(scope="app")
    def base_url(request: Request) -> None: ...

    @app.get("/")
    async def index(base_url) -> None: ...

    with pytest.raises(ConfigurationError, match="reads request data \\(parameter 'request'\\)"):
        app.check()


def test_provider_with_a_body_parameter_is_a_configuration_error(app):
    provider_reads_body(app)

    with pytest.raises(ConfigurationError) as info:
        app.check()

    message = str(info.value)
    assert "provider 'item_name'" in message
    assert "parameter 'item' reads the request body; a provider cannot" in message


def test_unused_broken_request_provider_is_not_an_error(app):
    @app.provider
    def unused(nothing_by_this_name) -> None: ...

    @app.get("/")
    async def index() -> None: ...

    app.check()


@pytest.mark.parametrize(("build", "message"), BROKEN_APPS)
def test_wiring_errors_are_raised_by_check(app, build, message):
    build(app)

    with pytest.raises(ConfigurationError, match=message):
        app.check()


@pytest.mark.parametrize(("build", "message"), BROKEN_APPS)
def test_wiring_errors_are_raised_when_the_app_starts(app, build, message):
    build(app)

    with pytest.raises(ConfigurationError, match=message), TestClient(app):
        pass


@pytest.mark.parametrize(("build", "message"), BROKEN_APPS)
def test_wiring_errors_are_raised_by_the_first_request_without_a_lifespan(app, build, message):
    build(app)

    with pytest.raises(ConfigurationError, match=message):
        TestClient(app).get("/")


# -- declared errors -----------------------------------------------------------------


def _raises_by_route(app: App) -> dict[tuple[str, str], dict[int, str]]:
    return {(route.method, route.path): plan.providers.raises for route, plan in app.plans()}


def test_plan_keeps_the_statuses_a_provider_declares(app):
    @app.provider(raises={401: "Missing or invalid API key"})
    def current_user(x_api_key: str = Header()) -> str:
        return x_api_key

    @app.get("/me")
    async def me(current_user) -> None: ...

    @app.get("/public")
    async def public() -> None: ...

    assert _raises_by_route(app) == {
        ("GET", "/me"): {401: "Missing or invalid API key"},
        ("GET", "/public"): {},
    }


def test_plan_keeps_the_statuses_of_a_provider_reached_through_another(app):
    @app.provider(raises={401: "Missing or invalid API key"})
    def current_user(x_api_key: str = Header()) -> str:
        return x_api_key

    @app.provider(raises={403: "Not an admin"})
    def admin(current_user) -> str:
        return current_user

    @app.delete("/users/{id}")
    async def delete_user(id: int, admin) -> None: ...

    assert _raises_by_route(app) == {
        ("DELETE", "/users/{id}"): {401: "Missing or invalid API key", 403: "Not an admin"}
    }


def test_plan_keeps_the_statuses_of_an_autouse_provider(app):
    @app.provider(autouse=True, raises={429: "Too many requests"})
    def rate_limit() -> None: ...

    @app.get("/")
    async def index() -> None: ...

    assert _raises_by_route(app) == {("GET", "/"): {429: "Too many requests"}}


def test_global_provider_declares_raises_too(isolated_globals, app):
    @provider(raises={401: "Missing or invalid API key"})
    def global_current_user_8h() -> None: ...

    @app.get("/")
    async def index(global_current_user_8h) -> None: ...

    assert _raises_by_route(app) == {("GET", "/"): {401: "Missing or invalid API key"}}


def test_override_keeps_the_statuses_the_original_declares(app):
    @app.provider(raises={401: "Missing or invalid API key"})
    def current_user() -> None: ...

    @app.get("/")
    async def index(current_user) -> None: ...

    with app.override_provider("current_user", "alice"):
        assert _raises_by_route(app) == {("GET", "/"): {401: "Missing or invalid API key"}}


# -- threads -------------------------------------------------------------------------


def test_sync_provider_runs_in_a_worker_thread(app, client):
    threads: dict[str, int] = {}

    @app.provider
    def blocking() -> None:
        threads["provider"] = threading.get_ident()

    @app.get("/")
    async def index(blocking) -> None:
        threads["event loop"] = threading.get_ident()

    client.get("/")

    assert threads["provider"] != threads["event loop"]


def test_sync_generator_provider_sets_up_and_tears_down_in_worker_threads(app, client):
    threads: dict[str, int] = {}

    @app.provider
    def blocking() -> Iterator[None]:
        threads["setup"] = threading.get_ident()
        yield
        threads["teardown"] = threading.get_ident()

    @app.get("/")
    async def index(blocking) -> None:
        threads["event loop"] = threading.get_ident()

    client.get("/")

    assert threads["setup"] != threads["event loop"]
    assert threads["teardown"] != threads["event loop"]


def test_sync_app_provider_runs_in_a_worker_thread(app):
    threads: dict[str, int] = {}

    @app.provider(scope="app")
    def blocking() -> None:
        threads["provider"] = threading.get_ident()

    @app.get("/")
    async def index(blocking) -> None:
        threads["event loop"] = threading.get_ident()

    with TestClient(app) as client:
        client.get("/")

    assert threads["provider"] != threads["event loop"]


def test_async_provider_runs_on_the_event_loop(app, client):
    threads: dict[str, int] = {}

    @app.provider
    async def non_blocking() -> None:
        threads["provider"] = threading.get_ident()

    @app.get("/")
    async def index(non_blocking) -> None:
        threads["event loop"] = threading.get_ident()

    client.get("/")

    assert threads["provider"] == threads["event loop"]


# -- class-based views -----------------------------------------------------------------


def test_class_based_view_methods_receive_providers(app, client):
    @app.provider(scope="app")
    def notes_store() -> dict[int, list[str]]:
        return {}

    @app.provider
    def author(x_author: str = Header("anonymous")) -> str:
        return x_author

    @app.route("/todos/{id}/notes")
    class Notes:
        async def get(self, id: int, notes_store) -> list[str]:
            return notes_store.get(id, [])

        def post(self, id: int, notes_store, author, text: str) -> list[str]:
            notes_store.setdefault(id, []).append(f"{author}: {text}")
            return notes_store[id]

    with TestClient(app) as client:
        client.post("/todos/1/notes?text=hi", headers={"x-author": "ann"})
        client.post("/todos/1/notes?text=again")
        assert client.get("/todos/1/notes").json() == ["ann: hi", "anonymous: again"]


def test_class_based_view_method_request_provider_is_torn_down(app, client):
    events: list[str] = []

    @app.provider
    async def session() -> AsyncIterator[str]:
        events.append("open")
        yield "session"
        events.append("close")

    @app.route("/thing")
    class Thing:
        async def get(self, session) -> dict[str, str]:
            events.append("view")
            return {"session": session}

    assert client.get("/thing").json() == {"session": "session"}
    assert events == ["open", "view", "close"]


def test_class_based_view_with_an_unknown_provider_fails_at_startup(app):
    @app.route("/thing")
    class Thing:
        async def get(self, sesion) -> None: ...

    with pytest.raises(ConfigurationError, match=r"Thing\.get.*'sesion' names no provider"):
        app.check()


def test_plan_keeps_the_statuses_of_an_app_provider_reached_through_another(app):
    @app.provider(scope="app", raises={503: "Database unavailable"})
    async def engine() -> str:
        return "engine"

    @app.provider(scope="app")
    async def pool(engine) -> str:
        return engine

    @app.get("/")
    async def index(pool) -> None: ...

    assert _raises_by_route(app) == {("GET", "/"): {503: "Database unavailable"}}


# -- failures outside the handler ----------------------------------------------------


def test_a_result_that_cannot_be_serialized_rolls_back_the_transaction(app, client, problem):
    events: list[str] = []

    class User(BaseModel):
        name: str

    @app.provider
    async def transaction() -> AsyncIterator[None]:
        try:
            yield
        except Exception:
            events.append("rollback")
            raise
        else:
            events.append("commit")

    @app.get("/")
    async def index(transaction) -> User:
        return {"nom": "ada"}  # type: ignore[return-value]

    problem(client.get("/"), 500)
    assert events == ["rollback"]


def test_an_app_provider_failing_on_the_first_request_is_a_500_problem(app, client, problem):
    @app.provider(scope="app")
    async def broken_pool() -> str:
        raise OSError("connection refused")

    @app.get("/")
    async def index(broken_pool) -> None: ...

    response = client.get("/")
    problem(response, 500)
    assert "connection refused" not in response.text


def test_request_providers_are_torn_down_when_the_client_disconnects_mid_stream(app):
    import asyncio

    from bocadillo import StreamingResponse

    events: list[str] = []

    @app.provider
    async def connection() -> AsyncIterator[str]:
        events.append("open")
        try:
            yield "conn"
        finally:
            events.append("closed")

    @app.get("/feed")
    async def feed(connection: str) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            while True:  # an endless feed: only the client leaving ends it
                yield b"tick\n"
                await asyncio.sleep(0.005)

        return StreamingResponse(chunks(), media_type="text/plain")

    async def scenario() -> list[Message]:
        sent: list[Message] = []
        gone = asyncio.Event()

        async def receive() -> Message:
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            sent.append(message)
            if len(sent) >= 4:
                gone.set()

        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/feed",
            "raw_path": b"/feed",
            "root_path": "",
            "query_string": b"",
            "headers": [],
            "client": ("127.0.0.1", 1234),
            "server": ("127.0.0.1", 80),
        }
        await asyncio.wait_for(app(scope, receive, send), timeout=5)
        return sent

    sent = asyncio.run(scenario())

    assert sent[0]["status"] == 200
    assert events == ["open", "closed"]


# -- a provider's type must fit the annotated parameter of its name ---------------------


class Author(BaseModel):
    name: str


class Admin(Author):
    level: int = 1


AuthorId = NewType("AuthorId", int)


def _start_up_error(app: App) -> str:
    with pytest.raises(ConfigurationError) as info:
        app.check()
    return str(info.value)


def test_a_global_provider_named_like_a_typed_body_parameter_is_a_start_up_error(
    isolated_globals: None,
) -> None:
    before = App()

    @before.post("/authors")
    async def create(author: Author) -> Author:
        return author

    with TestClient(before) as client:
        assert client.post("/authors", json={"name": "Ada"}).json() == {"name": "Ada"}

    @provider
    def author() -> str:  # registered by some unrelated module
        return "someone"

    after = App()
    after.post("/authors")(create)
    message = _start_up_error(after)
    assert "create" in message and "test_providers.py" in message
    assert "provider 'author'" in message and "gives str" in message
    assert "Rename the parameter or the provider" in message
    assert "`author: Author = Body()`" in message


def test_a_marker_says_where_a_parameter_named_like_a_provider_comes_from(app, client) -> None:
    @app.provider
    def author() -> str:
        return "someone"

    @app.post("/authors")
    async def create(author: Author = Body()) -> Author:
        return author

    assert client.post("/authors", json={"name": "Ada"}).json() == {"name": "Ada"}


@pytest.mark.parametrize(
    ("annotation", "returns"),
    [
        (Author, Admin),  # a subclass
        (Author | None, Author),  # a member of the union
        (Any, str),
        (list[int], list[int]),
        (list[int], list),  # the same generic
        (int, AuthorId),  # a NewType of the type
        (str, Literal["ada", "bob"]),
    ],
)
def test_a_provider_whose_type_fits_the_parameter_is_injected(annotation, returns) -> None:
    app = App()

    values = {Admin: Admin(name="Ada"), Author: Admin(name="Ada"), str: "x"}

    def make() -> Any:
        return values.get(returns, [1])

    make.__annotations__["return"] = returns
    app.provider(name="author")(make)

    async def show(author: Any) -> dict[str, str]:
        return {"type": type(author).__name__}

    show.__annotations__["author"] = annotation
    app.get("/author")(show)
    with TestClient(app) as client:
        assert client.get("/author").status_code == 200


@pytest.mark.parametrize(
    "define",
    ["plain", "async", "awaitable", "generator", "async generator", "value"],
)
def test_every_kind_of_provider_is_checked_by_its_value_type(define: str) -> None:
    app = App()
    if define == "plain":

        @app.provider
        def count() -> str:
            return "1"
    elif define == "async":

        @app.provider
        async def count() -> str:
            return "1"
    elif define == "awaitable":
        from collections.abc import Awaitable

        async def _one() -> str:
            return "1"

        @app.provider
        def count() -> Awaitable[str]:
            return _one()
    elif define == "generator":

        @app.provider
        def count() -> Iterator[str]:
            yield "1"
    elif define == "async generator":

        @app.provider
        async def count() -> AsyncIterator[str]:
            yield "1"
    else:
        app.provider(name="count")("1")

    @app.get("/count")
    async def show(count: int) -> int:
        return count

    message = _start_up_error(app)
    assert "parameter 'count' is annotated int" in message and "gives str" in message


def test_a_provider_without_a_return_annotation_fits_anything(app, client) -> None:
    @app.provider
    def author():  # type: ignore[no-untyped-def]
        return Author(name="Ada")

    @app.get("/author")
    async def show(author: Author) -> Author:
        return author

    assert client.get("/author").json() == {"name": "Ada"}


def test_a_provider_parameter_is_checked_against_the_provider_it_names() -> None:
    app = App()

    @app.provider
    def session() -> str:
        return "s"

    @app.provider
    def author(session: int) -> Author:
        return Author(name=str(session))

    @app.get("/author")
    async def show(author: Author) -> Author:
        return author

    message = _start_up_error(app)
    assert "parameter 'session' is annotated int" in message and "provider 'session'" in message


def test_an_override_need_not_share_the_provider_type(app) -> None:
    @app.provider
    def author() -> Author:
        return Author(name="Ada")

    @app.get("/author")
    async def show(author: Author) -> dict[str, str]:
        return {"name": author.name}

    class FakeAuthor:
        name = "Fake"

    with app.override_provider("author", FakeAuthor()), TestClient(app) as client:
        assert client.get("/author").json() == {"name": "Fake"}
