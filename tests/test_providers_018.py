"""What 0.18's providers had besides injection: ``@useprovider`` (run providers
for their effect, without a parameter) and lazy providers (made on first await)."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any

import pytest

from bocadillo import (
    App,
    ConfigurationError,
    Header,
    HTTPError,
    Lazy,
    WebSocket,
    provider,
    useprovider,
)
from bocadillo.testing import create_client, isolated_providers


@pytest.fixture(autouse=True)
def isolated() -> Iterator[None]:
    with isolated_providers():
        yield


# -- @useprovider ------------------------------------------------------------------------


def test_useprovider_runs_a_provider_and_its_teardown_without_a_parameter(app: App) -> None:
    log: list[str] = []

    @app.provider
    async def audit() -> AsyncIterator[None]:
        log.append("start")
        yield
        log.append("end")

    @app.get("/reports")
    @useprovider("audit")
    async def reports() -> list[str]:
        log.append("handler")
        return []

    with create_client(app) as client:
        assert client.get("/reports").json() == []
    assert log == ["start", "handler", "end"]


def test_useprovider_takes_provider_functions_and_keeps_the_order_written(app: App) -> None:
    log: list[str] = []

    @provider(name="first")
    def provide_first() -> None:
        log.append("first")

    @app.provider
    async def second() -> None:
        log.append("second")

    @app.provider
    async def third() -> None:
        log.append("third")

    @useprovider(provide_first)  # by reference: the name it was registered under
    @app.get("/")
    @useprovider(second, "third")
    async def index() -> int:
        return len(log)

    with create_client(app) as client:
        assert client.get("/").json() == 3
    assert log == ["first", "second", "third"]


def test_a_used_provider_is_made_once_with_the_parameters_it_reads(app: App) -> None:
    made: list[str] = []

    @app.provider(raises={403: "Not an admin"})
    async def admin(x_role: str = Header()) -> str:
        made.append(x_role)
        if x_role != "admin":
            raise HTTPError(403, detail="Not an admin")
        return x_role

    @app.delete("/things/{id}")
    @useprovider("admin")
    async def delete_thing(id: int, admin: str) -> None:  # also named: still made once
        pass

    @app.get("/things")
    @useprovider("admin")
    async def list_things() -> list[int]:
        return [1]

    with create_client(app) as client:
        assert client.get("/things", headers={"X-Role": "admin"}).json() == [1]
        denied = client.get("/things", headers={"X-Role": "guest"})
        assert denied.status_code == 403
        assert denied.headers["content-type"] == "application/problem+json"
        missing = client.get("/things")
        assert missing.status_code == 422
        assert missing.json()["errors"][0]["loc"] == ["header", "x-role"]
        assert client.delete("/things/1", headers={"X-Role": "admin"}).status_code == 204
    assert made == ["admin", "guest", "admin"]
    operation = app.openapi()["paths"]["/things"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["x-role"]
    assert operation["responses"]["403"]["description"] == "Not an admin"


def test_an_error_in_the_handler_reaches_the_used_provider_at_its_yield(app: App) -> None:
    log: list[str] = []

    @app.provider
    async def transaction() -> AsyncIterator[None]:
        try:
            yield
        except HTTPError:
            log.append("rollback")
            raise
        log.append("commit")

    @app.post("/fail")
    @useprovider("transaction")
    async def fail() -> None:
        raise HTTPError(409, detail="conflict")

    with create_client(app) as client:
        assert client.post("/fail").status_code == 409
    assert log == ["rollback"]


def test_useprovider_on_a_view_method(app: App) -> None:
    log: list[str] = []

    @app.provider
    def audit() -> None:
        log.append("audit")

    @app.route("/notes")
    class Notes:
        @useprovider("audit")
        async def get(self) -> list[str]:
            return ["a"]

        async def post(self) -> None:
            pass

    with create_client(app) as client:
        assert client.get("/notes").json() == ["a"]
        assert client.post("/notes").status_code == 204
    assert log == ["audit"]


def test_useprovider_on_sse_and_websocket_routes(app: App) -> None:
    log: list[str] = []

    @app.provider
    async def session() -> AsyncIterator[None]:
        log.append("open")
        yield
        log.append("close")

    @app.sse("/ticks")
    @useprovider("session")
    async def ticks() -> AsyncIterator[int]:
        yield 1

    @app.websocket("/echo")
    @useprovider("session")
    async def echo(ws: WebSocket[str, str]) -> None:
        async for message in ws:
            await ws.send(message)

    with create_client(app) as client:
        assert [event.data for event in client.stream_events("/ticks")] == [1]
        assert log == ["open", "close"]
        with client.websocket_connect("/echo") as ws:
            ws.send_text("hi")
            assert ws.receive_text() == "hi"
    assert log == ["open", "close", "open", "close"]


def test_an_app_provider_used_by_a_handler_starts_with_the_app(app: App) -> None:
    log: list[str] = []

    @app.provider(scope="app")
    async def warm_cache() -> AsyncIterator[None]:
        log.append("warm")
        yield
        log.append("cold")

    @app.get("/")
    @useprovider("warm_cache")
    async def index() -> int:
        return 1

    with create_client(app) as client:
        assert log == ["warm"]
        assert client.get("/").json() == 1
    assert log == ["warm", "cold"]


def test_a_provider_may_use_another_for_its_effect(app: App) -> None:
    log: list[str] = []

    @app.provider
    def connect() -> None:
        log.append("connect")

    @app.provider
    @useprovider("connect")
    def query() -> str:
        log.append("query")
        return "rows"

    @app.get("/")
    async def index(query: str) -> str:
        return query

    with create_client(app) as client:
        assert client.get("/").json() == "rows"
    assert log == ["connect", "query"]


def test_useprovider_naming_no_provider_is_a_start_up_error(app: App) -> None:
    @app.provider
    async def audit() -> None:
        pass

    @app.get("/")
    @useprovider("audti")
    async def index() -> None:
        pass

    with pytest.raises(ConfigurationError, match=r"@useprovider\('audti'\) names no provider"):
        app.check()
    with pytest.raises(ConfigurationError, match="Did you mean 'audit'"):
        app.check()


def test_useprovider_on_a_class_is_refused() -> None:
    with pytest.raises(TypeError, match="decorate its methods"):

        @useprovider("audit")
        class View:
            pass


# -- lazy providers ---------------------------------------------------------------------


def test_a_lazy_provider_is_made_on_the_first_await_not_before(app: App) -> None:
    log: list[str] = []

    @app.provider(lazy=True)
    async def report() -> dict[str, int]:
        log.append("made")
        return {"rows": 3}

    @app.get("/summary")
    async def summary(report: Lazy[dict[str, int]], full: bool = False) -> dict[str, Any]:
        log.append("handler")
        if not full:
            return {}
        first = await report
        second = await report  # the same value, made once
        assert first is second
        return first

    with create_client(app) as client:
        assert client.get("/summary").json() == {}
        assert log == ["handler"]
        assert client.get("/summary", params={"full": "true"}).json() == {"rows": 3}
        assert log == ["handler", "handler", "made"]


def test_a_lazy_generator_provider_is_torn_down_after_the_handler(app: App) -> None:
    log: list[str] = []

    @provider(lazy=True)
    async def connection() -> AsyncIterator[str]:
        log.append("open")
        yield "conn"
        log.append("close")

    @app.get("/")
    async def index(connection: Awaitable[str]) -> str:  # 0.18's spelling
        value = await connection
        log.append("used")
        return value

    with create_client(app) as client:
        assert client.get("/").json() == "conn"
    assert log == ["open", "used", "close"]


def test_a_lazy_provider_awaited_by_two_tasks_is_made_once(app: App) -> None:
    made: list[int] = []

    @app.provider(lazy=True)
    async def slow() -> int:
        made.append(1)
        await asyncio.sleep(0.01)
        return 7

    @app.get("/")
    async def index(slow: Lazy[int]) -> list[int]:
        return list(await asyncio.gather(slow, slow))

    with create_client(app) as client:
        assert client.get("/").json() == [7, 7]
    assert made == [1]


def test_a_lazy_provider_error_comes_out_of_the_await(app: App) -> None:
    @app.provider(lazy=True)
    async def user(x_token: str | None = Header(None)) -> str:
        if x_token is None:
            raise HTTPError(401, detail="No token")
        return x_token

    @app.get("/me")
    async def me(user: Lazy[str]) -> str:
        try:
            return await user
        except HTTPError:
            return "anonymous"

    @app.get("/strict")
    async def strict(user: Lazy[str]) -> str:
        return await user

    with create_client(app) as client:
        assert client.get("/me").json() == "anonymous"
        assert client.get("/me", headers={"X-Token": "ada"}).json() == "ada"
        assert client.get("/strict").status_code == 401


def test_a_lazy_provider_s_dependencies_and_inputs_are_ready_before_the_handler(
    app: App,
) -> None:
    @app.provider
    async def base() -> int:
        return 40

    @app.provider(lazy=True)
    async def answer(base: int, plus: int = 2) -> int:
        return base + plus

    @app.get("/")
    async def index(answer: Lazy[int]) -> int:
        return await answer

    with create_client(app) as client:
        assert client.get("/").json() == 42
        assert client.get("/", params={"plus": "x"}).status_code == 422  # before the handler


def test_an_override_of_a_lazy_provider_is_lazy_too(app: App) -> None:
    @app.provider(lazy=True)
    async def data() -> str:
        return "real"

    @app.get("/")
    async def index(data: Lazy[str]) -> str:
        return await data

    with create_client(app, overrides={"data": "fake"}) as client:
        assert client.get("/").json() == "fake"


def test_a_lazy_provider_on_a_websocket_route(app: App) -> None:
    @app.provider(lazy=True)
    async def greeting() -> str:
        return "hello"

    @app.websocket("/ws")
    async def ws_route(ws: WebSocket[str, str], greeting: Lazy[str]) -> None:
        async for message in ws:
            await ws.send(f"{await greeting} {message}")

    with create_client(app) as client, client.websocket_connect("/ws") as ws:
        ws.send_text("ada")
        assert ws.receive_text() == "hello ada"


def test_lazy_mistakes_are_start_up_errors(app: App) -> None:
    with pytest.raises(ConfigurationError, match="request-scoped"):
        provider(scope="app", lazy=True)(lambda: 1)
    with pytest.raises(ConfigurationError, match="autouse"):
        provider(autouse=True, lazy=True)(lambda: 1)

    @app.provider(lazy=True)
    async def report() -> int:
        return 1

    @app.provider
    async def plain() -> int:
        return 1

    @app.get("/a")
    async def a(report: int) -> int:  # forgot Lazy[...]
        return report

    with pytest.raises(ConfigurationError, match=r"is lazy.*`report: Lazy\[int\]`"):
        app.check()

    other = App()
    other.provider(plain)

    @other.get("/b")
    async def b(plain: Lazy[int]) -> int:
        return await plain

    with pytest.raises(ConfigurationError, match=r"is not lazy; declare it @provider\(lazy=True\)"):
        other.check()

    third = App()
    third.provider(lazy=True)(report)

    @third.get("/c")
    @useprovider("report")
    async def c() -> int:
        return 1

    with pytest.raises(ConfigurationError, match="names a lazy provider"):
        third.check()

    fourth = App()
    fourth.provider(lazy=True)(report)

    @fourth.get("/d")
    async def d(report: Lazy[str]) -> str:  # the wrong type inside
        return await report

    with pytest.raises(ConfigurationError, match="is lazy"):
        fourth.check()
