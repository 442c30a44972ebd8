"""Telemetry of HTTP requests: the server span (its name, semconv attributes, the
incoming traceparent, errors), request ids in headers, spans and problem bodies,
provider spans, a handler's own spans, and nothing of it when telemetry is off."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="telemetry needs the otel extra")

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from starlette.responses import PlainTextResponse
from starlette.testclient import TestClient, WebSocketDenialResponse

from bocadillo import App, ErrorFormat, HTTPError, Lazy, Telemetry, WebSocket

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


class Traces:
    """A tracer provider whose spans end up in memory."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def telemetry(self, **options: Any) -> Telemetry:
        return Telemetry(tracer_provider=self.provider, metrics=False, **options)

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> ReadableSpan:
        found = [span for span in self.spans() if span.name == name]
        assert len(found) == 1, [span.name for span in self.spans()]
        return found[0]


@pytest.fixture
def traces() -> Traces:
    return Traces()


def todo_app(telemetry: Telemetry | bool, **options: Any) -> App:
    app = App(telemetry=telemetry, **options)

    @app.get("/todos/{id}")
    async def get_todo(id: int) -> dict[str, int]:
        if id == 0:
            raise RuntimeError("the database is on fire")
        if id == 404:
            raise HTTPError(404, detail="no such todo")
        return {"id": id}

    return app


def test_a_request_is_a_server_span_named_after_its_route(traces: Traces) -> None:
    client = TestClient(todo_app(traces.telemetry()))
    response = client.get("/todos/3?full=yes", headers={"user-agent": "curl/8.0"})
    assert response.status_code == 200
    span = traces.named("GET /todos/{id}")
    assert span.kind is SpanKind.SERVER
    assert span.status.status_code is StatusCode.UNSET
    attributes = dict(span.attributes or {})
    assert attributes["http.request.method"] == "GET"
    assert attributes["http.route"] == "/todos/{id}"
    assert attributes["http.response.status_code"] == 200
    assert attributes["url.path"] == "/todos/3"
    assert attributes["url.query"] == "full=yes"
    assert attributes["url.scheme"] == "http"
    assert attributes["server.address"] == "testserver"
    assert attributes["client.address"] == "testclient"
    assert attributes["network.protocol.version"] == "1.1"
    assert attributes["user_agent.original"] == "curl/8.0"
    assert "error.type" not in attributes


def test_the_host_headers_port_is_the_server_port(traces: Traces) -> None:
    client = TestClient(todo_app(traces.telemetry()), base_url="http://api.example:8443")
    assert client.get("/todos/1").status_code == 200
    attributes = dict(traces.named("GET /todos/{id}").attributes or {})
    assert attributes["server.address"] == "api.example"
    assert attributes["server.port"] == 8443


def test_a_request_no_route_matches_is_named_after_its_method(traces: Traces) -> None:
    client = TestClient(todo_app(traces.telemetry()))
    assert client.get("/nowhere/7").status_code == 404
    span = traces.named("GET")
    attributes = dict(span.attributes or {})
    assert "http.route" not in attributes
    assert attributes["http.response.status_code"] == 404
    assert span.status.status_code is StatusCode.UNSET  # a 4xx is not a server error


def test_an_unknown_method_is_other(traces: Traces) -> None:
    client = TestClient(todo_app(traces.telemetry()))
    assert client.request("BREW", "/todos/1").status_code == 405
    span = traces.named("HTTP /todos/{id}")
    attributes = dict(span.attributes or {})
    assert attributes["http.request.method"] == "_OTHER"
    assert attributes["http.request.method_original"] == "BREW"


def test_a_mount_is_named_after_its_path(traces: Traces) -> None:
    app = todo_app(traces.telemetry())
    app.mount("/legacy", PlainTextResponse("old"))
    assert TestClient(app).get("/legacy/a/b").text == "old"
    attributes = dict(traces.named("GET /legacy/{path}").attributes or {})
    assert attributes["http.route"] == "/legacy/{path}"


def test_the_incoming_traceparent_is_the_parent(traces: Traces) -> None:
    client = TestClient(todo_app(traces.telemetry()))
    headers = {"traceparent": TRACEPARENT, "tracestate": "vendor=abc"}
    assert client.get("/todos/1", headers=headers).status_code == 200
    span = traces.named("GET /todos/{id}")
    assert trace.format_trace_id(span.context.trace_id) == TRACE_ID
    assert span.parent is not None and span.parent.is_remote
    assert trace.format_span_id(span.parent.span_id) == PARENT_ID
    assert span.context.trace_state.get("vendor") == "abc"


def test_without_traceparent_the_span_is_a_root(traces: Traces) -> None:
    TestClient(todo_app(traces.telemetry())).get("/todos/1")
    assert traces.named("GET /todos/{id}").parent is None


def test_an_unexpected_error_is_recorded_and_the_span_fails(traces: Traces) -> None:
    client = TestClient(todo_app(traces.telemetry()))
    response = client.get("/todos/0")
    assert response.status_code == 500
    assert "fire" not in response.text
    span = traces.named("GET /todos/{id}")
    assert span.status.status_code is StatusCode.ERROR
    attributes = dict(span.attributes or {})
    assert attributes["error.type"] == "RuntimeError"
    assert attributes["http.response.status_code"] == 500
    [event] = [event for event in span.events if event.name == "exception"]
    assert dict(event.attributes or {})["exception.message"] == "the database is on fire"


def test_an_http_error_below_500_is_no_span_error(traces: Traces) -> None:
    client = TestClient(todo_app(traces.telemetry()))
    assert client.get("/todos/404").status_code == 404
    span = traces.named("GET /todos/{id}")
    assert span.status.status_code is StatusCode.UNSET
    assert "error.type" not in dict(span.attributes or {})
    assert not span.events


def test_a_5xx_http_error_fails_with_its_status(traces: Traces) -> None:
    app = App(telemetry=traces.telemetry())

    @app.get("/down")
    async def down() -> None:
        raise HTTPError(503, detail="maintenance")

    assert TestClient(app).get("/down").status_code == 503
    span = traces.named("GET /down")
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == "503"
    assert not span.events  # an answer the app chose, no exception to record


def test_a_handlers_own_spans_nest_inside(traces: Traces) -> None:
    app = App(telemetry=traces.telemetry())
    tracer = trace.get_tracer("my.app", tracer_provider=traces.provider)

    @app.get("/work")
    async def work() -> dict[str, str]:
        with (
            tracer.start_as_current_span("compute"),
            tracer.start_as_current_span("compute.inner"),
        ):
            pass
        return {"done": "yes"}

    assert TestClient(app).get("/work", headers={"traceparent": TRACEPARENT}).status_code == 200
    server = traces.named("GET /work")
    compute = traces.named("compute")
    inner = traces.named("compute.inner")
    assert compute.parent is not None and compute.parent.span_id == server.context.span_id
    assert inner.parent is not None and inner.parent.span_id == compute.context.span_id
    assert compute.context.trace_id == server.context.trace_id == int(TRACE_ID, 16)


def test_a_websocket_connection_is_one_span(traces: Traces) -> None:
    app = App(telemetry=traces.telemetry())

    @app.websocket("/rooms/{room}")
    async def room(ws: WebSocket[str, str], room: str) -> None:
        await ws.accept()
        await ws.send(await ws.receive())
        await ws.close(code=4001)

    with TestClient(app).websocket_connect("/rooms/lobby") as ws:
        ws.send_text("hello")
        assert ws.receive_text() == "hello"
        assert ws.extra_headers is not None
        assert dict(ws.extra_headers)[b"x-request-id"]  # the handshake's response
    span = traces.named("WEBSOCKET /rooms/{room}")
    assert span.kind is SpanKind.SERVER
    attributes = dict(span.attributes or {})
    assert attributes["http.route"] == "/rooms/{room}"
    assert attributes["url.path"] == "/rooms/lobby"
    assert attributes["url.scheme"] == "ws"
    assert attributes["http.response.status_code"] == 101


def test_traces_false_gives_no_span_but_keeps_the_request_id(traces: Traces) -> None:
    app = todo_app(traces.telemetry(traces=False))
    response = TestClient(app).get("/todos/0")
    assert response.status_code == 500
    assert response.headers["x-request-id"]
    assert traces.spans() == []


def test_telemetry_off_adds_nothing(traces: Traces) -> None:
    response = TestClient(todo_app(False)).get("/todos/404")
    assert response.status_code == 404
    assert "x-request-id" not in response.headers
    assert "request_id" not in response.json()
    assert traces.spans() == []


# -- request ids -------------------------------------------------------------


def test_a_sane_request_id_is_sent_back_and_on_the_span(traces: Traces) -> None:
    client = TestClient(todo_app(traces.telemetry()))
    response = client.get("/todos/1", headers={"X-Request-ID": "req-42/a.b"})
    assert response.headers["x-request-id"] == "req-42/a.b"
    attributes = dict(traces.named("GET /todos/{id}").attributes or {})
    assert attributes["http.response.header.x-request-id"] == ("req-42/a.b",)


@pytest.mark.parametrize("sent", [None, b"", b"x" * 201, "naïve".encode(), b"a\tb", b"a\x7fb"])
def test_a_missing_or_insane_request_id_is_replaced(traces: Traces, sent: bytes | None) -> None:
    client = TestClient(todo_app(traces.telemetry()))
    headers = {} if sent is None else {b"X-Request-ID": sent}
    response = client.get("/todos/1", headers=headers)
    request_id = response.headers["x-request-id"]
    assert sent is None or request_id.encode() != sent
    assert len(request_id) == 32
    int(request_id, 16)


def test_the_longest_sane_request_id_is_kept(traces: Traces) -> None:
    client = TestClient(todo_app(traces.telemetry()))
    sent = "r" * 200
    assert client.get("/todos/1", headers={"X-Request-ID": sent}).headers["x-request-id"] == sent


def test_problem_responses_carry_the_request_id(traces: Traces) -> None:
    client = TestClient(todo_app(traces.telemetry()))
    for path, status in [("/todos/404", 404), ("/todos/0", 500), ("/todos/x", 422), ("/no", 404)]:
        response = client.get(path, headers={"X-Request-ID": f"id-{status}"})
        assert response.status_code == status
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["x-request-id"] == f"id-{status}"
        assert response.json()["request_id"] == f"id-{status}"


def test_a_handlers_own_request_id_member_stays(traces: Traces) -> None:
    app = App(telemetry=traces.telemetry())

    @app.get("/own")
    async def own() -> None:
        raise HTTPError(409, extensions={"request_id": "mine"})

    response = TestClient(app).get("/own", headers={"X-Request-ID": "theirs"})
    assert response.json()["request_id"] == "mine"
    assert response.headers["x-request-id"] == "theirs"


def test_a_custom_error_format_gets_the_request_id_in_extensions(traces: Traces) -> None:
    class Plain(ErrorFormat):
        def render(self, error: HTTPError) -> Any:
            return {"message": error.detail, "trace": error.extensions.get("request_id")}

        def schema(self) -> Any:
            return {"title": "Plain", "type": "object"}

    client = TestClient(todo_app(traces.telemetry(), error_format=Plain()))
    response = client.get("/todos/404", headers={"X-Request-ID": "abc"})
    assert response.json() == {"message": "no such todo", "trace": "abc"}


def test_a_response_header_the_handler_set_is_kept(traces: Traces) -> None:
    app = App(telemetry=traces.telemetry())

    @app.get("/mine")
    async def mine() -> PlainTextResponse:
        return PlainTextResponse("ok", headers={"X-Request-ID": "from-handler"})

    response = TestClient(app).get("/mine", headers={"X-Request-ID": "from-client"})
    assert response.headers.get_list("x-request-id") == ["from-handler"]


def test_another_request_id_header(traces: Traces) -> None:
    client = TestClient(todo_app(traces.telemetry(request_id_header="X-Correlation-ID")))
    response = client.get("/todos/404", headers={"X-Correlation-ID": "corr-1"})
    assert response.headers["x-correlation-id"] == "corr-1"
    assert "x-request-id" not in response.headers
    assert response.json()["request_id"] == "corr-1"


def test_no_request_id_header_no_request_id(traces: Traces) -> None:
    client = TestClient(todo_app(traces.telemetry(request_id_header=None)))
    response = client.get("/todos/404", headers={"X-Request-ID": "abc"})
    assert "x-request-id" not in response.headers
    assert "request_id" not in response.json()
    attributes = dict(traces.named("GET /todos/{id}").attributes or {})
    assert not any(name.startswith("http.response.header.") for name in attributes)


# -- provider spans ----------------------------------------------------------


def provider_app(telemetry: Telemetry, log: list[str]) -> App:
    app = App(telemetry=telemetry)

    @app.provider
    async def database() -> AsyncIterator[str]:
        log.append("open")
        yield "db"
        log.append("close")

    @app.provider
    async def user(database: str) -> str:
        return f"user of {database}"

    @app.provider
    async def admin(user: str) -> str:
        raise HTTPError(403, detail="admins only")

    @app.get("/me")
    async def me(user: str) -> dict[str, str]:
        return {"user": user}

    @app.get("/admin")
    async def admin_page(admin: str) -> dict[str, str]:
        return {"admin": admin}

    return app


def test_providers_are_child_spans_when_asked_for(traces: Traces) -> None:
    log: list[str] = []
    client = TestClient(provider_app(traces.telemetry(provider_spans=True), log))
    assert client.get("/me").json() == {"user": "user of db"}
    assert log == ["open", "close"]
    server = traces.named("GET /me")
    names = ["provider.setup database", "provider.setup user", "provider.teardown database"]
    for name in names:
        span = traces.named(name)
        assert span.parent is not None and span.parent.span_id == server.context.span_id
        assert span.status.status_code is StatusCode.UNSET
    assert [s.name for s in traces.spans() if s.name.startswith("provider.")] == names


def test_a_provider_refusing_is_no_span_error(traces: Traces) -> None:
    client = TestClient(provider_app(traces.telemetry(provider_spans=True), []))
    assert client.get("/admin").status_code == 403
    span = traces.named("provider.setup admin")
    assert span.status.status_code is StatusCode.UNSET


def test_a_failing_teardown_is_a_span_error(traces: Traces) -> None:
    app = App(telemetry=traces.telemetry(provider_spans=True))

    @app.provider
    def session() -> Any:
        yield "s"
        raise RuntimeError("commit failed")

    @app.get("/save")
    async def save(session: str) -> dict[str, str]:
        return {"saved": session}

    assert TestClient(app, raise_server_exceptions=False).get("/save").status_code == 500
    span = traces.named("provider.teardown session")
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == "RuntimeError"


def test_no_provider_spans_by_default(traces: Traces) -> None:
    client = TestClient(provider_app(traces.telemetry(), []))
    assert client.get("/me").status_code == 200
    assert [span.name for span in traces.spans()] == ["GET /me"]


def test_a_refused_handshake_carries_the_request_id(traces: Traces) -> None:
    app = App(telemetry=traces.telemetry())
    with pytest.raises(WebSocketDenialResponse) as refused:  # noqa: SIM117
        with TestClient(app).websocket_connect("/nowhere", headers={"X-Request-ID": "ws-1"}):
            pass
    assert refused.value.status_code == 404
    assert refused.value.headers["x-request-id"] == "ws-1"
    assert refused.value.json()["request_id"] == "ws-1"
    span = traces.named("WEBSOCKET")
    assert dict(span.attributes or {})["http.response.status_code"] == 404


def test_a_lazy_provider_is_a_span_when_awaited(traces: Traces) -> None:
    app = App(telemetry=traces.telemetry(provider_spans=True))

    @app.provider(lazy=True)
    async def report() -> str:
        return "slow"

    @app.get("/summary")
    async def summary(report: Lazy[str], full: bool = False) -> dict[str, str]:
        return {"report": await report if full else "short"}

    client = TestClient(app)
    assert client.get("/summary").json() == {"report": "short"}
    assert [span.name for span in traces.spans()] == ["GET /summary"]
    traces.exporter.clear()
    assert client.get("/summary?full=true").json() == {"report": "slow"}
    server = traces.named("GET /summary")
    made = traces.named("provider.setup report")
    assert made.parent is not None and made.parent.span_id == server.context.span_id


def test_without_the_otel_extra_the_app_imports_and_telemetry_says_what_to_install() -> None:
    import subprocess
    import sys

    script = (
        "import sys\n"
        "for name in ('opentelemetry', 'opentelemetry.sdk', 'prometheus_client'):\n"
        "    sys.modules[name] = None  # as if the extras were not installed\n"
        "from bocadillo import App, ConfigurationError\n"
        "App()\n"
        "try:\n"
        "    App(telemetry=True)\n"
        "except ConfigurationError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "telemetry needs OpenTelemetry: pip install 'bocadillo[otel]'"
