"""Security markers: the credential reaches the handler or provider, a missing or
malformed one is a 401 with a challenge (before anything else), and the document
describes the schemes, the requirements and the 401s."""

import base64
from typing import Annotated, Any

import pytest
from conftest import _call_asgi
from openapi_spec_validator import validate
from starlette.testclient import TestClient

from bocadillo import (
    APIKeyCookie,
    APIKeyHeader,
    APIKeyQuery,
    App,
    BasicCredentials,
    Body,
    ConfigurationError,
    Header,
    HTTPBasic,
    HTTPBearer,
    HTTPError,
    OAuth2PasswordBearer,
    Query,
)

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_JSON = "application/problem+json"


def document_of(app: App) -> dict[str, Any]:
    """The app's document, checked against the OpenAPI 3.1 specification."""
    document = app.openapi()
    validate(document)
    return document


def operation_of(app: App, path: str, method: str = "get") -> dict[str, Any]:
    operation: dict[str, Any] = document_of(app)["paths"][path][method]
    return operation


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.fixture
def guarded() -> App:
    """One route per marker, each answering with the credential it received."""
    app = App(title="Guarded", version="1")

    @app.get("/header")
    async def header(key: Annotated[str, APIKeyHeader("X-API-Key")]) -> str:
        return key

    @app.get("/query")
    async def query(key: Annotated[str, APIKeyQuery("api_key")]) -> str:
        return key

    @app.get("/cookie")
    async def cookie(key: Annotated[str, APIKeyCookie("session")]) -> str:
        return key

    @app.get("/bearer")
    async def bearer(token: Annotated[str, HTTPBearer(bearer_format="JWT")]) -> str:
        return token

    @app.get("/basic")
    async def basic_auth(
        credentials: Annotated[BasicCredentials, HTTPBasic(realm="admin")],
    ) -> dict[str, str]:
        return {"username": credentials.username, "password": credentials.password}

    @app.get("/oauth2")
    async def oauth2(
        token: Annotated[
            str,
            OAuth2PasswordBearer(token_url="/token", scopes={"read": "Read items."}),
        ],
    ) -> str:
        return token

    return app


@pytest.fixture
def guarded_client(guarded: App) -> TestClient:
    return TestClient(guarded)


# -- the credential reaches the handler ------------------------------------------------------


def test_api_key_header_value_reaches_the_handler(guarded_client):
    response = guarded_client.get("/header", headers={"X-API-Key": "k-ada"})

    assert response.status_code == 200
    assert response.json() == "k-ada"


def test_api_key_header_name_is_matched_case_insensitively(guarded_client):
    assert guarded_client.get("/header", headers={"x-api-key": "k-ada"}).json() == "k-ada"


def test_api_key_query_value_reaches_the_handler(guarded_client):
    assert guarded_client.get("/query", params={"api_key": "k-ada"}).json() == "k-ada"


def test_api_key_cookie_value_reaches_the_handler(guarded_client):
    guarded_client.cookies.set("session", "s-ada")

    assert guarded_client.get("/cookie").json() == "s-ada"


def test_bearer_token_reaches_the_handler(guarded_client):
    response = guarded_client.get("/bearer", headers={"Authorization": "Bearer abc.def.ghi"})

    assert response.json() == "abc.def.ghi"


def test_bearer_scheme_word_is_case_insensitive(guarded_client):
    assert guarded_client.get("/bearer", headers={"Authorization": "bearer abc"}).json() == "abc"


def test_basic_credentials_reach_the_handler(guarded_client):
    response = guarded_client.get("/basic", headers={"Authorization": basic("ada", "p:ss wörd")})

    assert response.json() == {"username": "ada", "password": "p:ss wörd"}


@pytest.mark.parametrize("value", ["Basic YWR\x91OnB3", "Basic \xe9", "Basic !!!", "Basic /w=="])
def test_basic_credentials_that_do_not_decode_are_a_401(guarded, value):
    # Not ASCII, not base64, not UTF-8 once decoded: no credentials, so a 401 problem.
    answer = _call_asgi(guarded, "GET", "/basic", headers=[("authorization", value)])

    assert answer.status == 401
    assert answer.headers["content-type"] == "application/problem+json"


def test_oauth2_password_bearer_token_reaches_the_handler(guarded_client):
    response = guarded_client.get("/oauth2", headers={"Authorization": "Bearer tok-1"})

    assert response.json() == "tok-1"


def test_credential_read_by_a_provider_reaches_the_provider(app, client):
    @app.provider(raises={403: "Unknown key."})
    async def current_user(key: Annotated[str, APIKeyHeader("X-API-Key")]) -> str:
        if key != "k-ada":
            raise HTTPError(403, detail="Unknown key.")
        return "ada"

    @app.get("/me")
    async def me(current_user) -> str:
        return current_user

    assert client.get("/me", headers={"X-API-Key": "k-ada"}).json() == "ada"
    assert client.get("/me", headers={"X-API-Key": "k-bob"}).status_code == 403


# -- missing or malformed: 401 -------------------------------------------------------------

CHALLENGES = {
    "/header": 'ApiKey name="X-API-Key"',
    "/query": 'ApiKey name="api_key"',
    "/cookie": 'ApiKey name="session"',
    "/bearer": "Bearer",
    "/basic": 'Basic realm="admin", charset="UTF-8"',
    "/oauth2": "Bearer",
}


@pytest.mark.parametrize(("path", "challenge"), CHALLENGES.items(), ids=list(CHALLENGES))
def test_missing_credential_is_a_401_problem_with_a_challenge(
    guarded_client, problem, path, challenge
):
    response = guarded_client.get(path)

    body = problem(response, 401)
    assert response.headers["www-authenticate"] == challenge
    assert "errors" not in body


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


MALFORMED = [
    pytest.param("/header", {"headers": {"X-API-Key": ""}}, id="empty-api-key-header"),
    pytest.param("/query", {"params": {"api_key": ""}}, id="empty-api-key-query"),
    pytest.param("/bearer", {"headers": {"Authorization": "Token abc"}}, id="bearer-other-scheme"),
    pytest.param("/bearer", {"headers": {"Authorization": "Bearer"}}, id="bearer-no-token"),
    pytest.param("/bearer", {"headers": {"Authorization": "Bearer   "}}, id="bearer-blank-token"),
    pytest.param("/bearer", {"headers": {"Authorization": ""}}, id="bearer-empty-header"),
    pytest.param("/bearer", {"headers": {"Authorization": basic("a", "b")}}, id="bearer-got-basic"),
    pytest.param("/basic", {"headers": {"Authorization": "Basic !!"}}, id="basic-not-base64"),
    pytest.param("/basic", {"headers": {"Authorization": "Basic"}}, id="basic-nothing"),
    pytest.param(
        "/basic", {"headers": {"Authorization": "Basic " + _b64(b"ada")}}, id="basic-no-colon"
    ),
    pytest.param(
        "/basic", {"headers": {"Authorization": "Basic " + _b64(b"\xff:\xfe")}}, id="basic-not-utf8"
    ),
    pytest.param("/basic", {"headers": {"Authorization": "Bearer abc"}}, id="basic-got-bearer"),
    pytest.param("/oauth2", {"headers": {"Authorization": "Token abc"}}, id="oauth2-other-scheme"),
]


@pytest.mark.parametrize(("path", "request_options"), MALFORMED)
def test_malformed_credential_is_a_401_with_a_challenge(
    guarded_client, problem, path, request_options
):
    response = guarded_client.get(path, **request_options)

    problem(response, 401)
    assert response.headers["www-authenticate"] == CHALLENGES[path]


def test_empty_api_key_cookie_is_a_401(guarded_client, problem):
    response = guarded_client.get("/cookie", headers={"Cookie": "session="})

    problem(response, 401)
    assert response.headers["www-authenticate"] == 'ApiKey name="session"'


def test_missing_credential_is_a_401_before_a_422_for_other_parameters(app, client, problem):
    @app.get("/items/{id}")
    async def item(
        id: int,
        token: Annotated[str, HTTPBearer()],
        limit: int = Query(ge=1),
        x_trace: int = Header(),
    ) -> int:
        return id

    response = client.get("/items/not-a-number?limit=0", headers={"X-Trace": "nope"})

    problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


def test_credential_in_a_provider_is_checked_before_the_handler_parameters(app, client, problem):
    @app.provider
    async def user(key: Annotated[str, APIKeyQuery("api_key")]) -> str:
        return key

    @app.get("/items")
    async def items(user, limit: int) -> int:
        return limit

    problem(client.get("/items?limit=many"), 401)
    problem(client.get("/items?limit=many&api_key=k"), 422)


def test_missing_credential_is_a_401_before_a_malformed_body(app, client, problem):
    @app.post("/items")
    async def create(
        key: Annotated[str, APIKeyHeader("X-API-Key")], item: dict[str, int] = Body()
    ) -> int:
        return len(item)

    response = client.post("/items", content=b"{oops", headers={"content-type": "application/json"})

    problem(response, 401)


def test_credentials_are_valid_and_other_parameters_then_give_a_422(app, client, problem):
    @app.get("/items")
    async def items(token: Annotated[str, HTTPBearer()], limit: int = Query(ge=1)) -> int:
        return limit

    body = problem(client.get("/items?limit=0", headers={"Authorization": "Bearer t"}), 422)

    assert [error["loc"] for error in body["errors"]] == [["query", "limit"]]


def test_optional_credential_is_none_when_absent(app, client):
    @app.get("/greeting")
    async def greeting(key: Annotated[str | None, APIKeyHeader("X-API-Key")] = None) -> str:
        return "hello " + (key or "stranger")

    assert client.get("/greeting").json() == "hello stranger"
    assert client.get("/greeting", headers={"X-API-Key": "ada"}).json() == "hello ada"


def test_optional_bearer_is_none_when_absent(app, client):
    @app.get("/greeting")
    async def greeting(token: Annotated[str | None, HTTPBearer()] = None) -> str | None:
        return token

    assert client.get("/greeting").json() is None


def test_optional_credential_that_is_malformed_is_still_a_401(app, client, problem):
    @app.get("/greeting")
    async def greeting(token: Annotated[str | None, HTTPBearer()] = None) -> str | None:
        return token

    response = client.get("/greeting", headers={"Authorization": "Token abc"})

    problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


def test_two_credentials_are_both_needed(app, client, problem):
    @app.get("/vault")
    async def vault(
        key: Annotated[str, APIKeyHeader("X-API-Key")],
        token: Annotated[str, HTTPBearer()],
    ) -> list[str]:
        return [key, token]

    only_key = client.get("/vault", headers={"X-API-Key": "k"})
    only_token = client.get("/vault", headers={"Authorization": "Bearer t"})
    both = client.get("/vault", headers={"X-API-Key": "k", "Authorization": "Bearer t"})

    problem(only_key, 401)
    assert only_key.headers["www-authenticate"] == "Bearer"
    problem(only_token, 401)
    assert only_token.headers["www-authenticate"] == 'ApiKey name="X-API-Key"'
    assert both.json() == ["k", "t"]


# -- the document --------------------------------------------------------------------------


def test_api_key_schemes_name_their_location(guarded):
    schemes = document_of(guarded)["components"]["securitySchemes"]

    assert schemes["X-API-Key"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["api_key"] == {"type": "apiKey", "in": "query", "name": "api_key"}
    assert schemes["session"] == {"type": "apiKey", "in": "cookie", "name": "session"}


def test_bearer_scheme_has_its_bearer_format(guarded):
    schemes = document_of(guarded)["components"]["securitySchemes"]

    assert schemes["bearer"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


def test_basic_scheme_is_http_basic(guarded):
    schemes = document_of(guarded)["components"]["securitySchemes"]

    assert schemes["basic"] == {"type": "http", "scheme": "basic"}


def test_oauth2_password_bearer_is_the_password_flow_with_token_url_and_scopes(guarded):
    schemes = document_of(guarded)["components"]["securitySchemes"]

    assert schemes["oauth2"] == {
        "type": "oauth2",
        "flows": {"password": {"tokenUrl": "/token", "scopes": {"read": "Read items."}}},
    }


def test_oauth2_without_scopes_documents_an_empty_scope_map(app):
    @app.get("/me")
    async def me(token: Annotated[str, OAuth2PasswordBearer(token_url="/login")]) -> str:
        return token

    schemes = document_of(app)["components"]["securitySchemes"]

    assert schemes["oauth2"]["flows"]["password"] == {"tokenUrl": "/login", "scopes": {}}


def test_scheme_name_and_description_are_documented(app):
    @app.get("/me")
    async def me(
        key: Annotated[str, APIKeyHeader("X-Key", scheme_name="partnerKey", description="Ask us.")],
    ) -> str:
        return key

    document = document_of(app)

    assert document["components"]["securitySchemes"] == {
        "partnerKey": {"type": "apiKey", "in": "header", "name": "X-Key", "description": "Ask us."}
    }
    assert document["paths"]["/me"]["get"]["security"] == [{"partnerKey": []}]


def test_each_operation_requires_the_scheme_it_reads(guarded):
    paths = document_of(guarded)["paths"]

    requirements = {path: operations["get"]["security"] for path, operations in paths.items()}
    assert requirements == {
        "/header": [{"X-API-Key": []}],
        "/query": [{"api_key": []}],
        "/cookie": [{"session": []}],
        "/bearer": [{"bearer": []}],
        "/basic": [{"basic": []}],
        "/oauth2": [{"oauth2": []}],
    }


def test_credential_in_a_provider_puts_the_requirement_on_the_operations_using_it(app):
    @app.provider
    async def current_user(token: Annotated[str, HTTPBearer()]) -> str:
        return token

    @app.get("/me")
    async def me(current_user) -> str:
        return current_user

    @app.get("/health")
    async def health() -> str:
        return "ok"

    paths = document_of(app)["paths"]

    assert paths["/me"]["get"]["security"] == [{"bearer": []}]
    assert "security" not in paths["/health"]["get"]
    assert "401" not in paths["/health"]["get"]["responses"]


def test_two_schemes_in_one_route_are_one_requirement(app):
    @app.get("/vault")
    async def vault(
        key: Annotated[str, APIKeyHeader("X-API-Key")],
        token: Annotated[str, HTTPBearer()],
    ) -> int:
        return 1

    assert operation_of(app, "/vault")["security"] == [{"X-API-Key": [], "bearer": []}]


def test_scheme_read_by_the_handler_and_its_provider_is_required_once(app):
    @app.provider
    async def current_user(token: Annotated[str, HTTPBearer()]) -> str:
        return token

    @app.get("/me")
    async def me(current_user, token: Annotated[str, HTTPBearer()]) -> str:
        return token

    assert operation_of(app, "/me")["security"] == [{"bearer": []}]


def test_optional_credential_lists_no_credentials_as_an_alternative(app):
    @app.get("/greeting")
    async def greeting(key: Annotated[str | None, APIKeyHeader("X-API-Key")] = None) -> str:
        return "hi"

    assert operation_of(app, "/greeting")["security"] == [{"X-API-Key": []}, {}]


def test_optional_credential_beside_a_required_one_is_documented_as_optional(app, client):
    @app.get("/vault")
    async def vault(
        key: Annotated[str, APIKeyHeader("X-API-Key")],
        token: Annotated[str | None, HTTPBearer()] = None,
    ) -> int:
        return 1

    assert client.get("/vault", headers={"X-API-Key": "k"}).status_code == 200
    security = operation_of(app, "/vault")["security"]
    assert {"X-API-Key": []} in security


def test_401_is_documented_as_a_problem_with_a_www_authenticate_header(guarded):
    paths = document_of(guarded)["paths"]

    for path, challenge in CHALLENGES.items():
        unauthorized = paths[path]["get"]["responses"]["401"]
        assert unauthorized["content"] == {PROBLEM_JSON: {"schema": PROBLEM_REF}}, path
        header = unauthorized["headers"]["WWW-Authenticate"]
        assert header["schema"] == {"type": "string"}
        assert header["example"] == challenge


def test_responses_are_listed_in_status_order_with_the_401(app):
    @app.get("/items/{id}", raises={403: "Not yours."})
    async def item(id: int, token: Annotated[str, HTTPBearer()]) -> int:
        return id

    responses = operation_of(app, "/items/{id}")["responses"]

    assert list(responses) == ["200", "401", "403", "404", "422", "500"]


def test_credential_is_not_listed_as_a_parameter(guarded):
    paths = document_of(guarded)["paths"]

    for path, operations in paths.items():
        assert "parameters" not in operations["get"], path


def test_credential_beside_other_parameters_leaves_only_them_listed(app):
    @app.get("/items")
    async def items(
        key: Annotated[str, APIKeyQuery("api_key")],
        limit: int = 10,
        x_trace: str | None = Header(None),
    ) -> int:
        return limit

    parameters = operation_of(app, "/items")["parameters"]

    assert [(p["name"], p["in"]) for p in parameters] == [("limit", "query"), ("x-trace", "header")]


def test_route_reading_only_a_credential_lists_no_422(guarded):
    responses = operation_of(guarded, "/bearer")["responses"]

    assert set(responses) == {"200", "401", "500"}


def test_one_scheme_used_by_two_routes_is_one_scheme_entry(app):
    @app.get("/a")
    async def a(token: Annotated[str, HTTPBearer()]) -> str:
        return token

    @app.get("/b")
    async def b(token: Annotated[str, HTTPBearer()]) -> str:
        return token

    assert document_of(app)["components"]["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer"}
    }


def test_app_without_credentials_has_no_security_schemes(app):
    @app.get("/open")
    async def open_() -> str:
        return "open"

    assert "securitySchemes" not in document_of(app)["components"]


def _two_bearers(app: App) -> None:
    @app.get("/a")
    async def a(token: Annotated[str, HTTPBearer(bearer_format="JWT")]) -> str:
        return token

    @app.get("/b")
    async def b(token: Annotated[str, HTTPBearer()]) -> str:
        return token


def test_two_different_schemes_with_one_name_are_a_configuration_error(app):
    _two_bearers(app)

    with pytest.raises(ConfigurationError, match="'bearer'"):
        app.openapi()


def test_two_different_schemes_with_one_name_stop_the_app_at_start_up(app):
    _two_bearers(app)

    with pytest.raises(ConfigurationError, match="scheme_name"), TestClient(app):
        pass


def test_api_keys_of_the_same_name_in_two_places_need_their_own_scheme_names(app):
    @app.get("/a")
    async def a(key: Annotated[str, APIKeyHeader("key")]) -> str:
        return key

    @app.get("/b")
    async def b(key: Annotated[str, APIKeyQuery("key", scheme_name="queryKey")]) -> str:
        return key

    schemes = document_of(app)["components"]["securitySchemes"]

    assert schemes == {
        "key": {"type": "apiKey", "in": "header", "name": "key"},
        "queryKey": {"type": "apiKey", "in": "query", "name": "key"},
    }


def test_document_with_every_marker_validates(guarded):
    @guarded.get("/everything")
    async def everything(
        key: Annotated[str, APIKeyHeader("X-API-Key")],
        session: Annotated[str | None, APIKeyCookie("session")] = None,
        limit: int = 10,
    ) -> int:
        return limit

    @guarded.get("/anyone")
    async def anyone(token: Annotated[str | None, HTTPBearer(bearer_format="JWT")] = None) -> int:
        return 1

    document = document_of(guarded)

    assert len(document["components"]["securitySchemes"]) == 6
    assert document["paths"]["/anyone"]["get"]["security"] == [{"bearer": []}, {}]


def test_a_credential_annotated_with_another_type_fails_at_start_up(app):
    from bocadillo import ConfigurationError

    @app.get("/numbers")
    async def numbers(key: Annotated[int, APIKeyHeader("X-Key")]) -> int:
        return key

    with pytest.raises(ConfigurationError, match="APIKeyHeader gives a str"):
        app.check()
