"""A custom error format (``App(error_format=...)``): every error the app answers,
HTTP and WebSocket, and the documents and contract tests that follow it. The
default stays RFC 9457 problem details."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel
from starlette.testclient import TestClient, WebSocketDenialResponse
from test_asyncapi import assert_valid_asyncapi  # tests/ is on sys.path: pytest puts it there

from bocadillo import (
    CORS,
    App,
    ConfigurationError,
    ErrorFormat,
    HTTPBearer,
    HTTPError,
    JSONResponse,
    ProblemDetails,
    Request,
    RequestValidationError,
    WebSocket,
)
from bocadillo.testing import run_contract

# -- the RealWorld "Conduit" format: {"errors": {"body": ["..."]}} ------------------------


class ErrorList(BaseModel):
    body: list[str]


class GenericErrorModel(BaseModel):
    errors: ErrorList


class ConduitErrors(ErrorFormat):
    media_type = "application/json"

    def render(self, error: HTTPError) -> Any:
        if isinstance(error, RequestValidationError):
            messages = []
            for issue in error.errors:
                place = ".".join(str(part) for part in issue["loc"])
                messages.append(f"{place}: {issue['msg']}" if place else issue["msg"])
        else:
            messages = [error.detail or error.title]
        return {"errors": {"body": messages}}

    def schema(self) -> Any:
        return GenericErrorModel


class NewUser(BaseModel):
    username: str
    email: str


class User(BaseModel):
    username: str


class ChatIn(BaseModel):
    text: str


def make_app(**options: Any) -> App:
    app = App(title="Conduit", error_format=ConduitErrors(), max_body_size=1000, **options)

    @app.post("/users", status_code=201)
    async def register(user: NewUser) -> User:
        return User(username=user.username)

    @app.get("/profiles/{username}", responses={403: "You may not see it."})
    async def profile(username: str) -> User:
        if username == "nobody":
            raise HTTPError(404, detail="No such profile.")
        if username == "crash":
            raise RuntimeError("database password is hunter2")
        return User(username=username)

    @app.get("/user")
    async def current(token: str = HTTPBearer()) -> User:
        if token != "jwt":
            raise HTTPError(401, detail="Invalid token.", headers={"WWW-Authenticate": "Bearer"})
        return User(username="jake")

    @app.websocket("/chat", invalid_message="reply")
    async def chat(ws: WebSocket[ChatIn, ChatIn]) -> None:
        async for message in ws:
            await ws.send(message)

    return app


@pytest.fixture
def app() -> App:
    return make_app()


@pytest.fixture
def client(app: App) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


def errors_of(response: Any) -> list[str]:
    assert response.headers["content-type"] == "application/json", response.text
    body = response.json()
    GenericErrorModel.model_validate(body)
    assert set(body) == {"errors"} and set(body["errors"]) == {"body"}
    messages: list[str] = body["errors"]["body"]
    return messages


# -- HTTP ----------------------------------------------------------------------------------


def test_every_framework_error_is_in_the_custom_format(client: TestClient) -> None:
    answers = {
        400: client.post("/users", content=b"{", headers={"content-type": "application/json"}),
        401: client.get("/user"),
        404: client.get("/nowhere"),
        405: client.delete("/users"),
        413: client.post("/users", json={"username": "x" * 2000, "email": "e"}),
        415: client.post("/users", content=b"{}", headers={"content-type": "text/plain"}),
        422: client.post("/users", json={"username": "jake"}),
    }
    for status, response in answers.items():
        assert response.status_code == status, response.text
        assert errors_of(response), status
    assert errors_of(answers[422]) == ["body.email: Field required"]
    assert errors_of(answers[404]) == ["No route matches /nowhere."]
    assert answers[405].headers["allow"]
    assert answers[401].headers["www-authenticate"] == "Bearer"


def test_handler_errors_and_the_logged_500_are_in_the_custom_format(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    missing = client.get("/profiles/nobody")
    assert missing.status_code == 404
    assert errors_of(missing) == ["No such profile."]

    with caplog.at_level(logging.ERROR, logger="bocadillo"):
        crash = client.get("/profiles/crash")
    assert crash.status_code == 500
    assert errors_of(crash) == ["The server could not handle this request; the error was logged."]
    assert "hunter2" not in crash.text
    assert "hunter2" in caplog.text


def test_head_gets_the_headers_of_the_error_only(client: TestClient) -> None:
    response = client.head("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.content == b""


def test_settings_refusals_are_in_the_custom_format() -> None:
    app = make_app(cors=CORS(allow_origins=["https://app.example.com"]), allowed_hosts=["ok"])
    client = TestClient(app, base_url="http://ok")
    preflight = client.options(
        "/users",
        headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
    )
    assert preflight.status_code == 400
    assert "CORS preflight" in errors_of(preflight)[0]

    wrong_host = client.get("/profiles/jake", headers={"host": "elsewhere"})
    assert wrong_host.status_code == 400
    assert errors_of(wrong_host) == ["This server does not serve that host."]


def test_static_files_answer_in_the_custom_format(app: App, tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("hello")
    app.static("/static", tmp_path)
    client = TestClient(app)
    assert client.get("/static/hello.txt").text == "hello"
    assert errors_of(client.get("/static/missing.txt"))
    past_the_end = client.get("/static/hello.txt", headers={"range": "bytes=100-200"})
    assert past_the_end.status_code == 416
    assert errors_of(past_the_end) == ["The Range header asks for bytes past the end of the file."]
    assert past_the_end.headers["content-range"] == "bytes */5"


def test_an_http_error_handler_still_wins(app: App, client: TestClient) -> None:
    @app.exception_handler(HTTPError)
    async def mine(request: Request, exc: HTTPError) -> JSONResponse:
        return JSONResponse({"mine": exc.status_code}, status_code=exc.status_code)

    assert client.get("/nowhere").json() == {"mine": 404}
    assert client.get("/profiles/nobody").json() == {"mine": 404}


def test_a_format_that_fails_is_logged_and_answered_as_problem_details(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(ConduitErrors):
        def render(self, error: HTTPError) -> Any:
            raise ValueError("bug in the format")

    client = TestClient(App(error_format=Broken()))
    with caplog.at_level(logging.ERROR, logger="bocadillo"):
        response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "bug in the format" in caplog.text


def test_error_format_must_be_an_error_format() -> None:
    with pytest.raises(ConfigurationError, match="not an ErrorFormat"):
        App(error_format={"errors": "body"})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ErrorFormat()  # type: ignore[abstract]


# -- WebSocket ---------------------------------------------------------------------------


def test_the_websocket_error_message_is_in_the_custom_format(client: TestClient) -> None:
    with client.websocket_connect("/chat") as ws:
        ws.send_text("{")
        assert ws.receive_json() == {"errors": {"body": ["The message is not valid JSON."]}}
        ws.send_json({"txt": "hi"})
        assert ws.receive_json() == {"errors": {"body": ["text: Field required"]}}
        ws.send_json({"text": "hi"})
        assert ws.receive_json() == {"text": "hi"}


def test_a_refused_handshake_answers_in_the_custom_format(client: TestClient) -> None:
    with pytest.raises(WebSocketDenialResponse) as refused, client.websocket_connect("/nowhere"):
        pass  # pragma: no cover - refused
    assert refused.value.status_code == 404
    assert errors_of(refused.value) == ["No WebSocket route matches /nowhere."]


# -- the documents -------------------------------------------------------------------------

ERROR_REF = {"$ref": "#/components/schemas/GenericErrorModel"}


def test_openapi_error_responses_use_the_format(app: App) -> None:
    document = app.openapi()
    validate(document)
    schemas = document["components"]["schemas"]
    assert "Problem" not in schemas and "ValidationIssue" not in schemas
    assert set(schemas["GenericErrorModel"]["required"]) == {"errors"}
    register = document["paths"]["/users"]["post"]["responses"]
    assert set(register) == {"201", "400", "413", "415", "422", "500"}
    profile = document["paths"]["/profiles/{username}"]["get"]["responses"]
    user = document["paths"]["/user"]["get"]["responses"]
    errors = [
        *(register[s] for s in ("400", "413", "415", "422", "500")),
        profile["403"],  # declared with responses=
        profile["404"],
        user["401"],
    ]
    for response in errors:
        assert response["content"] == {"application/json": {"schema": ERROR_REF}}


def test_every_error_the_app_answers_matches_the_documented_schema(
    app: App, client: TestClient
) -> None:
    document = app.openapi()
    validator = jsonschema.Draft202012Validator({**ERROR_REF, "components": document["components"]})
    for response in (
        client.get("/nowhere"),
        client.post("/users", json={}),
        client.get("/profiles/crash"),
        client.get("/user"),
    ):
        validator.validate(response.json())


def test_asyncapi_error_message_uses_the_format(app: App) -> None:
    document = app.asyncapi()
    assert_valid_asyncapi(document)
    error = document["channels"]["chat"]["messages"]["error"]
    assert error["payload"] == ERROR_REF
    assert error["name"] == "GenericErrorModel"
    assert "GenericErrorModel" in document["components"]["schemas"]
    assert "WebSocketError" not in document["components"]["schemas"]
    description = document["channels"]["chat"]["description"]
    assert "(`application/json`)" in description
    assert "problem+json" not in description


def test_a_json_schema_format_and_its_own_message() -> None:
    """A format may give JSON Schema dicts (named by their title, their $defs hoisted)
    and a WebSocket message of its own."""

    class Plain(ErrorFormat):
        media_type = "application/vnd.error+json"

        def render(self, error: HTTPError) -> Any:
            return {"message": str(error), "code": {"status": error.status_code}}

        def schema(self) -> Any:
            return {
                "title": "VndError",
                "type": "object",
                "properties": {"message": {"type": "string"}, "code": {"$ref": "#/$defs/Code"}},
                "required": ["message", "code"],
                "$defs": {
                    "Code": {"type": "object", "properties": {"status": {"type": "integer"}}}
                },
            }

        def render_message(self, error: RequestValidationError) -> Any:
            return {"bad": len(error.errors)}

        def message_schema(self) -> Any:
            return {"type": "object", "properties": {"bad": {"type": "integer"}}}

    app = App(error_format=Plain())

    @app.get("/items/{id}")
    async def item(id: int) -> int:
        return id

    @app.websocket("/ws", invalid_message="reply")
    async def ws(ws: WebSocket[ChatIn, ChatIn]) -> None:
        async for message in ws:
            await ws.send(message)

    client = TestClient(app)
    response = client.get("/items/x")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/vnd.error+json"
    assert response.json() == {
        "message": "422 Unprocessable Content: "
        "The request did not match the expected parameters or body.",
        "code": {"status": 422},
    }
    with client.websocket_connect("/ws") as socket:
        socket.send_json({})
        assert socket.receive_json() == {"bad": 1}

    document = app.openapi()
    validate(document)
    schemas = document["components"]["schemas"]
    assert schemas["VndError"]["properties"]["code"] == {"$ref": "#/components/schemas/Code"}
    content = document["paths"]["/items/{id}"]["get"]["responses"]["422"]["content"]
    assert content == {
        "application/vnd.error+json": {"schema": {"$ref": "#/components/schemas/VndError"}}
    }
    asyncapi = app.asyncapi()
    assert_valid_asyncapi(asyncapi)
    assert asyncapi["channels"]["ws"]["messages"]["error"]["payload"] == {
        "type": "object",
        "properties": {"bad": {"type": "integer"}},
    }


# -- the contract test, and the default ---------------------------------------------------


def test_the_contract_test_passes_on_the_custom_format(app: App) -> None:
    report = run_contract(app, max_examples=10)
    assert report.ok, report.failure_text()


def test_a_document_that_says_problem_json_fails_the_contract_test() -> None:
    """The contract test does check the error format: an app that answers Conduit's
    errors while its document says problem details is caught."""
    app = App()

    @app.exception_handler(HTTPError)
    async def conduit(request: Request, exc: HTTPError) -> JSONResponse:
        return JSONResponse({"errors": {"body": [str(exc)]}}, status_code=exc.status_code)

    @app.post("/users", status_code=201)
    async def register(user: NewUser) -> User:
        return User(username=user.username)

    report = run_contract(app, max_examples=10, websockets=False)
    assert not report.ok


def test_the_default_is_problem_details() -> None:
    app = App()
    assert isinstance(app.error_format, ProblemDetails)
    client = TestClient(app)
    response = client.get("/nowhere")
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "No route matches /nowhere.",
    }
    assert repr(ProblemDetails()) == "ProblemDetails()"
