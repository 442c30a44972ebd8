"""HTTPError, problem+json, unhandled exceptions and custom exception handlers."""

import logging
from typing import Annotated

import pytest
from starlette.testclient import TestClient

from bocadillo import (
    App,
    HTTPBearer,
    HTTPError,
    JSONResponse,
    PlainTextResponse,
    Request,
    RequestValidationError,
    Response,
)


class OutOfStock(Exception):
    def __init__(self, sku: str) -> None:
        super().__init__(f"out of stock: {sku}")
        self.sku = sku


class Discontinued(OutOfStock):
    pass


async def out_of_stock(request: Request, exc: OutOfStock) -> Response:
    return JSONResponse({"sku": exc.sku, "path": request.url.path}, status_code=409)


def out_of_stock_sync(request: Request, exc: OutOfStock) -> Response:
    return JSONResponse({"sku": exc.sku, "path": request.url.path}, status_code=409)


def add_failing_route(app: App, exc: Exception, path: str = "/buy") -> None:
    @app.get(path)
    async def buy() -> None:
        raise exc


# -- HTTPError -----------------------------------------------------------------


def test_http_error_is_answered_as_problem_json(app, client):
    @app.get("/todos/{id}")
    async def get_todo(id: int) -> None:
        raise HTTPError(404, detail="no such todo")

    response = client.get("/todos/1")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "no such todo",
    }


def test_http_error_without_detail_has_no_detail_member(app, client):
    add_failing_route(app, HTTPError(403))

    response = client.get("/buy")

    assert response.json() == {"type": "about:blank", "title": "Forbidden", "status": 403}


def test_http_error_headers_are_sent(app, client):
    add_failing_route(app, HTTPError(401, headers={"WWW-Authenticate": 'Bearer realm="api"'}))

    response = client.get("/buy")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    assert response.headers["content-type"] == "application/problem+json"


def test_http_error_title_type_and_extensions_are_sent(app, client):
    add_failing_route(
        app,
        HTTPError(
            409,
            detail="only 2 left",
            title="Out of stock",
            type="https://example.com/problems/out-of-stock",
            extensions={"available": 2},
        ),
    )

    response = client.get("/buy")

    assert response.json() == {
        "type": "https://example.com/problems/out-of-stock",
        "title": "Out of stock",
        "status": 409,
        "detail": "only 2 left",
        "available": 2,
    }


def test_http_error_with_a_nonstandard_status_is_answered(app, client):
    add_failing_route(app, HTTPError(499, detail="odd"))

    response = client.get("/buy")

    assert response.status_code == 499
    assert response.json()["status"] == 499


@pytest.mark.parametrize("status", [200, 302, 399, 600])
def test_http_error_with_a_non_error_status_is_a_value_error(status):
    with pytest.raises(ValueError, match=str(status)):
        HTTPError(status)


def test_request_validation_error_raised_by_a_handler_lists_its_errors(app, client, problem):
    add_failing_route(
        app,
        RequestValidationError([{"loc": ["body", "sku"], "msg": "unknown sku", "type": "sku"}]),
    )

    body = problem(client.get("/buy"), 422)

    assert body["errors"] == [{"loc": ["body", "sku"], "msg": "unknown sku", "type": "sku"}]


# -- unhandled exceptions ------------------------------------------------------


def test_unhandled_exception_is_a_500_problem_without_details(app, problem):
    add_failing_route(app, RuntimeError("database password is hunter2"))

    # The default client re-raises server exceptions: the app answers, it does not raise.
    response = TestClient(app).get("/buy")

    body = problem(response, 500)
    assert set(body) == {"type", "title", "status", "detail"}
    assert body["title"] == "Internal Server Error"
    for leak in ("Traceback", "hunter2", "RuntimeError", "buy"):
        assert leak not in response.text


def test_unhandled_exception_is_logged_with_its_traceback(app, client, caplog):
    error = RuntimeError("database password is hunter2")
    add_failing_route(app, error)

    with caplog.at_level(logging.ERROR, logger="bocadillo"):
        client.get("/buy")

    [record] = [r for r in caplog.records if r.name == "bocadillo"]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert record.exc_info[1] is error
    assert "GET /buy" in record.getMessage()


def test_unhandled_exception_in_a_sync_handler_is_a_500_problem(app, client, problem):
    @app.get("/sync")
    def sync_handler() -> None:
        raise KeyError("secret")

    response = client.get("/sync")

    problem(response, 500)
    assert "secret" not in response.text


# -- custom exception handlers -------------------------------------------------


@pytest.mark.parametrize("handler", [out_of_stock, out_of_stock_sync], ids=["async", "sync"])
def test_exception_handler_decorator_answers_the_exception(app, client, handler):
    app.exception_handler(OutOfStock)(handler)
    add_failing_route(app, OutOfStock("sku-1"))

    response = client.get("/buy")

    assert response.status_code == 409
    assert response.json() == {"sku": "sku-1", "path": "/buy"}


@pytest.mark.parametrize("handler", [out_of_stock, out_of_stock_sync], ids=["async", "sync"])
def test_exception_handlers_given_to_the_app_answer_the_exception(handler):
    app = App(exception_handlers={OutOfStock: handler})
    add_failing_route(app, OutOfStock("sku-2"))

    response = TestClient(app).get("/buy")

    assert response.status_code == 409
    assert response.json() == {"sku": "sku-2", "path": "/buy"}


def test_exception_handler_answers_subclasses(app, client):
    app.exception_handler(OutOfStock)(out_of_stock)
    add_failing_route(app, Discontinued("sku-3"))

    response = client.get("/buy")

    assert response.status_code == 409
    assert response.json()["sku"] == "sku-3"


def test_most_specific_exception_handler_wins(app, client):
    app.exception_handler(OutOfStock)(out_of_stock)

    @app.exception_handler(Discontinued)
    async def discontinued(request: Request, exc: Discontinued) -> Response:
        return PlainTextResponse("discontinued", status_code=410)

    add_failing_route(app, Discontinued("sku-4"))
    add_failing_route(app, OutOfStock("sku-5"), path="/other")

    assert client.get("/buy").status_code == 410
    assert client.get("/other").status_code == 409


def test_exception_handler_for_exception_catches_unhandled_errors(app, client):
    @app.exception_handler(Exception)
    async def anything(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(f"caught {type(exc).__name__}", status_code=503)

    add_failing_route(app, ZeroDivisionError())

    response = client.get("/buy")

    assert response.status_code == 503
    assert response.text == "caught ZeroDivisionError"


def test_exception_handler_for_http_error_answers_http_errors(app, client):
    @app.exception_handler(HTTPError)
    async def http_error(request: Request, exc: HTTPError) -> Response:
        return PlainTextResponse(f"custom {exc.status_code}", status_code=exc.status_code)

    add_failing_route(app, HTTPError(403))

    response = client.get("/buy")

    assert response.status_code == 403
    assert response.text == "custom 403"


def test_exception_handler_for_http_error_overrides_framework_404s(app, client):
    @app.exception_handler(HTTPError)
    async def http_error(request: Request, exc: HTTPError) -> Response:
        return PlainTextResponse(f"custom {exc.status_code}", status_code=exc.status_code)

    response = client.get("/nowhere")

    assert response.status_code == 404
    assert response.text == "custom 404"


def test_exception_handler_for_http_error_overrides_framework_405s(app, client):
    @app.exception_handler(HTTPError)
    async def http_error(request: Request, exc: HTTPError) -> Response:
        return PlainTextResponse(f"custom {exc.status_code}", status_code=exc.status_code)

    @app.get("/items")
    async def items() -> list[int]:
        return []

    response = client.post("/items")

    assert response.status_code == 405
    assert response.text == "custom 405"


def test_exception_handler_that_raises_is_a_500_problem(app, client, problem, caplog):
    @app.exception_handler(OutOfStock)
    async def broken(request: Request, exc: OutOfStock) -> Response:
        raise RuntimeError("handler bug with secret")

    add_failing_route(app, OutOfStock("sku-6"))

    with caplog.at_level(logging.ERROR, logger="bocadillo"):
        response = client.get("/buy")

    problem(response, 500)
    assert "secret" not in response.text
    assert "sku-6" not in response.text
    assert any(r.name == "bocadillo" for r in caplog.records)


def test_exception_handler_that_raises_http_error_is_answered_with_it(app, client, problem):
    @app.exception_handler(OutOfStock)
    async def to_conflict(request: Request, exc: OutOfStock) -> Response:
        raise HTTPError(409, detail=f"{exc.sku} is out of stock")

    add_failing_route(app, OutOfStock("sku-7"))

    body = problem(client.get("/buy"), 409)

    assert body["detail"] == "sku-7 is out of stock"


def test_exception_handler_registered_after_a_request_is_used(app, client):
    add_failing_route(app, OutOfStock("sku-8"))
    assert client.get("/buy").status_code == 500

    app.exception_handler(OutOfStock)(out_of_stock)

    assert client.get("/buy").status_code == 409


# -- an Exception handler answers unhandled errors only ---------------------------


def catch_all_app() -> App:
    app = App()

    @app.exception_handler(Exception)
    async def catch_all(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(f"caught {type(exc).__name__}", status_code=500)

    @app.get("/me")
    async def me(token: Annotated[str, HTTPBearer()]) -> str:
        return token

    @app.get("/todos/{id}")
    async def todo(id: int) -> int:
        return id

    @app.post("/todos")
    async def create() -> None:
        raise HTTPError(409, detail="already exists")

    @app.get("/boom")
    async def boom() -> None:
        raise ValueError("boom")

    return app


def test_exception_handler_keeps_the_frameworks_http_errors(problem):
    client = TestClient(catch_all_app())

    problem(client.get("/me"), 401)
    assert problem(client.get("/todos/abc"), 422)["errors"][0]["loc"] == ["path", "id"]
    problem(client.get("/nowhere"), 404)
    assert problem(client.post("/todos"), 409)["detail"] == "already exists"


def test_exception_handler_answers_unhandled_errors():
    response = TestClient(catch_all_app()).get("/boom")

    assert response.status_code == 500
    assert response.text == "caught ValueError"


def test_base_exception_handler_keeps_http_errors_too(problem):
    app = catch_all_app()

    @app.exception_handler(BaseException)
    async def catch_everything(request: Request, exc: BaseException) -> Response:
        return PlainTextResponse("caught", status_code=500)

    problem(TestClient(app).post("/todos"), 409)


def test_http_error_handler_answers_http_errors_with_a_catch_all_too():
    app = catch_all_app()

    @app.exception_handler(HTTPError)
    async def http_error(request: Request, exc: HTTPError) -> Response:
        return PlainTextResponse(str(exc), status_code=exc.status_code)

    client = TestClient(app)
    response = client.post("/todos")
    assert (response.status_code, response.text) == (409, "409 Conflict: already exists")
    assert client.get("/nowhere").status_code == 404
    assert client.get("/nowhere").headers["content-type"].startswith("text/plain")
    assert client.get("/boom").text == "caught ValueError"


# -- str and repr of HTTPError ---------------------------------------------------------


def test_http_error_str_is_status_phrase_and_detail():
    assert str(HTTPError(404, detail="no such todo")) == "404 Not Found: no such todo"
    assert str(HTTPError(404)) == "404 Not Found"
    assert str(HTTPError(422)) == "422 Unprocessable Content"


def test_http_error_repr_names_the_class_status_and_detail():
    assert repr(HTTPError(404, detail="no such todo")) == "HTTPError(404, detail='no such todo')"
    errors = RequestValidationError([], status_code=400, detail="bad")
    assert repr(errors) == "RequestValidationError(400, detail='bad')"


# -- Request's body readers on bad input: 400, never 500 ----------------------------------


@pytest.fixture
def reader_client(app, client):
    @app.post("/json")
    async def read_json(request: Request) -> dict[str, object]:
        return {"value": await request.json()}

    @app.post("/form")
    async def read_form(request: Request) -> dict[str, int]:
        return {"fields": len(await request.form())}

    return client


@pytest.mark.parametrize(
    "body", [b"{not json", b'"\xff\xfe"', b"\xff\xfe", b"NaN", b"[Infinity]", b"-Infinity", b""]
)
def test_request_json_on_malformed_json_is_a_400_problem(reader_client, problem, body):
    response = reader_client.post("/json", content=body)

    answer = problem(response, 400)
    assert answer["detail"] == "The request body is not valid JSON."
    assert answer["errors"][0]["type"] == "json_invalid"


def test_request_json_reads_valid_json(reader_client):
    response = reader_client.post(
        "/json", content=b'{"a": [1, 2.5, null, 123456789012345678901234]}'
    )

    assert response.json() == {"value": {"a": [1, 2.5, None, 123456789012345678901234]}}


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("multipart/form-data", b"no boundary"),
        ("multipart/form-data; boundary=x", b"--x\r\nno-colon-header\r\n\r\nv\r\n--x--\r\n"),
        (
            "multipart/form-data; boundary=x",
            b"--x\r\nContent-Disposition: form-data\r\n\r\nv\r\n--x--\r\n",
        ),
    ],
)
def test_request_form_on_a_broken_multipart_body_is_a_400_problem(
    reader_client, problem, content_type, body
):
    response = reader_client.post("/form", content=body, headers={"content-type": content_type})

    assert problem(response, 400)["detail"].startswith("The form body is malformed")
