"""Plugins: ``App(plugins=[...])`` calls each with the app, which it extends."""

from collections.abc import Awaitable, Callable

import pytest
from starlette.testclient import TestClient

from bocadillo import App, ConfigurationError, Request, Response


def health(app: App) -> None:
    @app.get("/health", include_in_schema=False)
    async def healthcheck() -> dict[str, str]:
        return {"status": "ok"}


def request_id(header: str = "X-Request-ID") -> Callable[[App], None]:
    """A plugin factory: its arguments are the plugin's settings."""

    def plugin(app: App) -> None:
        @app.middleware
        async def add_request_id(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            response = await call_next(request)
            response.headers[header] = request.headers.get(header, "generated")
            return response

    return plugin


def test_a_plugin_adds_a_route() -> None:
    app = App(plugins=[health])

    response = TestClient(app).get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_a_plugin_factory_takes_its_settings_as_arguments() -> None:
    app = App(plugins=[health, request_id("X-Trace")])

    response = TestClient(app).get("/health", headers={"X-Trace": "abc"})

    assert response.headers["x-trace"] == "abc"


def test_a_plugin_adds_a_provider_that_routes_take() -> None:
    def clock(app: App) -> None:
        @app.provider(scope="app")
        def now() -> str:
            return "noon"

    app = App(plugins=[clock])

    @app.get("/time")
    async def time(now: str) -> str:
        return now

    assert TestClient(app).get("/time").json() == "noon"


def test_a_plugin_adds_start_up_work() -> None:
    started: list[str] = []

    def warm_up(app: App) -> None:
        app.on_startup(lambda: started.append(app.title))

    app = App(title="Shop", plugins=[warm_up])
    with TestClient(app):
        assert started == ["Shop"]


def test_plugins_run_in_order_and_see_the_app_settings() -> None:
    seen: list[tuple[str, str]] = []

    def first(app: App) -> None:
        seen.append(("first", app.title))

    def second(app: App) -> None:
        seen.append(("second", app.version))

    App(title="Shop", version="2.0", plugins=[first, second])

    assert seen == [("first", "Shop"), ("second", "2.0")]


def test_a_plugin_route_is_in_the_openapi_document() -> None:
    def pets(app: App) -> None:
        @app.get("/pets")
        async def list_pets() -> list[str]:
            return ["rex"]

    app = App(plugins=[pets])

    assert "/pets" in app.openapi()["paths"]


@pytest.mark.parametrize("enabled", [True, False])
def test_a_plugin_in_a_dict_runs_only_when_its_condition_is_true(enabled: bool) -> None:
    app = App(plugins=[{health: enabled}])

    assert TestClient(app).get("/health").status_code == (200 if enabled else 404)


def test_a_condition_that_is_not_a_bool_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"plugin health: its condition 'false'"):
        App(plugins=[{health: "false"}])  # type: ignore[dict-item]


def test_a_plugin_that_is_not_callable_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="is not callable"):
        App(plugins=["health"])  # type: ignore[list-item]


def test_a_plugin_factory_not_called_is_a_configuration_error() -> None:
    with pytest.raises(
        ConfigurationError, match=r"plugin request_id returned .*plugins=\[health\(\)\]"
    ):
        App(plugins=[request_id])  # type: ignore[list-item]


def test_an_error_in_a_plugin_reaches_the_code_making_the_app() -> None:
    def broken(app: App) -> None:
        raise ConfigurationError("the broken plugin needs a DSN")

    with pytest.raises(ConfigurationError, match="needs a DSN"):
        App(plugins=[broken])
