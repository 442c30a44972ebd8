"""Response headers per SSE route: ``@app.sse(path, headers={...})``, sent with the stream
and documented in its OpenAPI operation; the stream's own content-type is not the route's."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel

from bocadillo import App, ConfigurationError, HTTPError, Query
from bocadillo.testing import create_client


class Tick(BaseModel):
    n: int


def ticks_route(app: App, **options: Any) -> None:
    @app.sse("/ticks", **options)
    async def ticks(count: int = Query(2, le=10)) -> AsyncIterator[Tick]:
        for n in range(count):
            yield Tick(n=n)


def test_the_routes_headers_go_with_the_stream(app: App) -> None:
    ticks_route(app, headers={"X-Stream-Version": "2", "Access-Control-Max-Age": "60"})

    with create_client(app) as client, client.stream_events("/ticks") as stream:
        assert [event.data for event in stream] == [Tick(n=0), Tick(n=1)]
        assert stream.headers["x-stream-version"] == "2"
        assert stream.headers["access-control-max-age"] == "60"
        # The framework's own stay.
        assert stream.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert stream.headers["cache-control"] == "no-cache"
        assert stream.headers["x-accel-buffering"] == "no"


def test_a_header_of_the_framework_is_replaced_not_doubled(app: App) -> None:
    ticks_route(app, headers={"Cache-Control": "no-store, no-transform"})

    with create_client(app) as client:
        response = client.get("/ticks")  # the whole stream: two events, then the end

    assert response.headers.get_list("cache-control") == ["no-store, no-transform"]


def test_a_head_request_gets_the_same_headers(app: App) -> None:
    ticks_route(app, headers={"cache-control": "private"})

    with create_client(app) as client:
        head = client.head("/ticks")

    assert head.status_code == 200 and head.text == ""
    assert head.headers["cache-control"] == "private"


def test_an_error_before_the_stream_is_a_problem_without_the_stream_headers(app: App) -> None:
    @app.provider
    async def user() -> str:
        raise HTTPError(401, detail="Log in first.")

    @app.sse("/private", headers={"x-stream": "1"})
    async def private(user: str) -> AsyncIterator[Tick]:
        yield Tick(n=0)  # pragma: no cover - refused

    with create_client(app) as client:
        refused = client.get("/private")
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert "x-stream" not in refused.headers


@pytest.mark.parametrize("name", ["content-type", "Content-Type", "content-length"])
def test_the_streams_own_framing_headers_are_refused_at_start_up(app: App, name: str) -> None:
    ticks_route(app, headers={name: "application/json"})

    with pytest.raises(ConfigurationError, match="cannot be set") as error:
        app.check()
    assert repr(name) in str(error.value) and "ticks" in str(error.value)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"bad name": "x"}, "is not a header name"),
        ({"x-a": "one\r\nx-b: two"}, "printable ASCII text without line breaks"),
        ({"x-a": "caf\u00e9"}, "printable ASCII text"),
        ({"x-a": 1}, "printable ASCII text"),
        ({"X-A": "1", "x-a": "2"}, "is given twice"),
    ],
)
def test_headers_out_of_shape_are_refused_at_start_up(
    app: App, headers: dict[str, Any], message: str
) -> None:
    ticks_route(app, headers=headers)

    with pytest.raises(ConfigurationError, match="headers") as error:
        app.check()
    assert message in str(error.value)


def test_the_openapi_operation_documents_the_headers(app: App) -> None:
    ticks_route(app, headers={"Cache-Control": "no-store", "X-Stream-Version": "2"})

    with create_client(app) as client:
        document = client.get("/openapi.json").json()

    response = document["paths"]["/ticks"]["get"]["responses"]["200"]
    assert response["headers"] == {
        "Cache-Control": {"required": True, "schema": {"type": "string", "const": "no-store"}},
        "X-Stream-Version": {"required": True, "schema": {"type": "string", "const": "2"}},
    }
    assert "text/event-stream" in response["content"]


def test_a_route_without_headers_documents_none(app: App) -> None:
    ticks_route(app)

    with create_client(app) as client:
        document = client.get("/openapi.json").json()

    assert "headers" not in document["paths"]["/ticks"]["get"]["responses"]["200"]


def test_the_headers_option_is_per_route(app: App) -> None:
    ticks_route(app, headers={"x-one": "1"})

    @app.sse("/other")
    async def other() -> AsyncIterator[Tick]:
        yield Tick(n=0)

    with create_client(app) as client, client.stream_events("/other") as stream:
        list(stream)
        assert "x-one" not in stream.headers
