"""Forms, uploaded files and background tasks."""

from __future__ import annotations

import dataclasses
import logging
import time

import pytest
from pydantic import BaseModel, Field
from starlette.testclient import TestClient

from bocadillo import (
    App,
    BackgroundTasks,
    ConfigurationError,
    File,
    Form,
    PlainTextResponse,
    UploadFile,
)
from bocadillo.testing import run_contract


class Signup(BaseModel):
    email: str = Field(min_length=3)
    age: int = Field(ge=0)
    tags: list[str] = []


@dataclasses.dataclass
class Point:
    x: int
    y: int


def make_app() -> App:
    app = App(title="Forms", version="1")

    @app.post("/fields")
    async def fields(
        name: str = Form(min_length=1), tags: list[str] = Form([]), n: int = Form(1, ge=0)
    ) -> dict[str, object]:
        return {"name": name, "tags": tags, "n": n}

    @app.post("/signup")
    async def signup(form: Signup = Form()) -> Signup:
        return form

    @app.post("/points")
    async def points(point: Point = Form()) -> int:
        return point.x + point.y

    @app.post("/upload")
    async def upload(
        title: str = Form(max_length=50),
        doc: UploadFile = File(max_part_size=1000),
        extra: list[UploadFile] = File([], max_files=3),
    ) -> dict[str, object]:
        content = await doc.read()
        return {
            "title": title,
            "filename": doc.filename,
            "content_type": doc.content_type,
            "size": doc.size,
            "length": len(content),
            "extra": [f.filename for f in extra],
        }

    @app.post("/raw")
    async def raw(data: bytes = File()) -> int:
        return len(data)

    @app.post("/json")
    async def json_body(point: Point) -> int:
        return point.x

    return app


@pytest.fixture
def client() -> TestClient:
    return TestClient(make_app())


def test_form_fields_are_validated(client: TestClient) -> None:
    ok = client.post("/fields", data={"name": "ada", "tags": ["a", "b"], "n": "3"})
    assert ok.json() == {"name": "ada", "tags": ["a", "b"], "n": 3}
    assert client.post("/fields", data={"name": "ada"}).json() == {
        "name": "ada",
        "tags": [],
        "n": 1,
    }
    bad = client.post("/fields", data={"name": "", "n": "x"})
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert [e["loc"] for e in bad.json()["errors"]] == [["form", "name"], ["form", "n"]]
    missing = client.post("/fields", data={})
    assert missing.json()["errors"] == [
        {"loc": ["form", "name"], "msg": "Field required", "type": "missing"}
    ]


def test_form_fields_read_from_multipart_too(client: TestClient) -> None:
    response = client.post("/fields", files={"name": (None, b"bob"), "n": (None, b"2")})
    assert response.json() == {"name": "bob", "tags": [], "n": 2}


def test_model_and_dataclass_from_a_form(client: TestClient) -> None:
    ok = client.post("/signup", data={"email": "a@b.c", "age": "30", "tags": ["x"]})
    assert ok.json() == {"email": "a@b.c", "age": 30, "tags": ["x"]}
    bad = client.post("/signup", data={"email": "a", "age": "-1"})
    assert bad.status_code == 422
    assert [e["loc"] for e in bad.json()["errors"]] == [["form", "email"], ["form", "age"]]
    assert client.post("/points", data={"x": "1", "y": "2"}).json() == 3


def test_form_and_json_refuse_each_other(client: TestClient) -> None:
    refused = client.post("/fields", json={"name": "ada"})
    assert refused.status_code == 415
    assert refused.headers["content-type"] == "application/problem+json"
    assert client.post("/json", data={"x": "1", "y": "2"}).status_code == 415


def test_uploads(client: TestClient) -> None:
    response = client.post(
        "/upload",
        data={"title": "report"},
        files=[
            ("doc", ("a.txt", b"hello", "text/plain")),
            ("extra", ("b.bin", b"1")),
            ("extra", ("c.bin", b"2")),
        ],
    )
    assert response.json() == {
        "title": "report",
        "filename": "a.txt",
        "content_type": "text/plain",
        "size": 5,
        "length": 5,
        "extra": ["b.bin", "c.bin"],
    }
    assert client.post("/raw", files={"data": ("d", b"x" * 300)}).json() == 300
    missing = client.post("/upload", data={"title": "t"}, files={"other": ("x", b"")})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["loc"] == ["form", "doc"]
    text_for_file = client.post("/upload", files={"title": (None, b"t"), "doc": (None, b"x")})
    assert text_for_file.json()["errors"][0]["type"] == "file"


def test_upload_limits(client: TestClient) -> None:
    big = client.post("/upload", data={"title": "t"}, files={"doc": ("a", b"x" * 1001)})
    assert big.status_code == 413
    assert big.headers["content-type"] == "application/problem+json"
    files = [("doc", ("a", b"1"))] + [("extra", (str(n), b"1")) for n in range(3)]
    assert client.post("/upload", data={"title": "t"}, files=files).status_code == 413
    long_field = client.post("/upload", data={"title": "t" * 1001}, files={"doc": ("a", b"")})
    assert long_field.status_code == 413


def test_route_body_limit_applies_while_streaming() -> None:
    app = App(max_body_size=500)

    @app.post("/raw")
    async def raw(data: bytes = File()) -> int:
        return len(data)

    client = TestClient(app)
    assert client.post("/raw", files={"data": ("d", b"x" * 100)}).json() == 100

    def chunks():  # no Content-Length: counted as it streams
        yield b"--b\r\nContent-Disposition: form-data; name=data; filename=d\r\n\r\n"
        for _ in range(10):
            yield b"x" * 100

    chunked = client.post(
        "/raw", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert chunked.status_code == 413


def test_malformed_multipart_is_a_400(client: TestClient) -> None:
    no_boundary = client.post(
        "/raw", content=b"junk", headers={"content-type": "multipart/form-data"}
    )
    assert no_boundary.status_code == 400
    assert no_boundary.headers["content-type"] == "application/problem+json"
    no_name = client.post(
        "/raw",
        content=b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n",
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert no_name.status_code == 400


def test_temporary_files_are_closed_after_the_response() -> None:
    app = App()
    seen: list[UploadFile] = []

    @app.post("/keep")
    async def keep(doc: UploadFile = File()) -> bool:
        seen.append(doc)
        return doc.file.closed

    client = TestClient(app)
    assert client.post("/keep", files={"doc": ("a", b"abc")}).json() is False
    assert seen[0].file.closed


def test_form_misconfigurations() -> None:
    app = App()

    @app.post("/both")
    async def both(point: Point, name: str = Form()) -> None: ...

    with pytest.raises(ConfigurationError, match="one body"):
        app.check()

    app = App()

    @app.post("/file")
    async def wrong(doc: str = File()) -> None: ...

    with pytest.raises(ConfigurationError, match="UploadFile"):
        app.check()


def test_openapi_documents_forms() -> None:
    document = make_app().openapi()
    fields = document["paths"]["/fields"]["post"]
    body = fields["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert body["required"] == ["name"]
    assert body["properties"]["name"] == {"type": "string", "minLength": 1}
    assert body["properties"]["tags"]["type"] == "array"
    assert {"400", "413", "415", "422"} <= set(fields["responses"])
    upload = document["paths"]["/upload"]["post"]["requestBody"]
    schema = upload["content"]["multipart/form-data"]["schema"]
    assert schema["properties"]["doc"] == {
        "type": "string",
        "contentMediaType": "application/octet-stream",
    }
    assert schema["properties"]["extra"]["type"] == "array"
    assert schema["required"] == ["title", "doc"]
    signup = document["paths"]["/signup"]["post"]["requestBody"]["content"]
    # Read as a form, sent back as JSON: tags (defaults to []) is always sent.
    assert signup["application/x-www-form-urlencoded"]["schema"] == {
        "$ref": "#/components/schemas/Signup-Input"
    }


def test_contract_runs_clean_against_forms() -> None:
    app = App(title="Forms", version="1")

    @app.post("/signup")
    async def signup(
        name: str = Form(min_length=1, max_length=20), age: int = Form(0, ge=0, le=150)
    ) -> dict[str, object]:
        return {"name": name, "age": age}

    @app.post("/upload")
    async def upload(doc: UploadFile = File(), note: str = Form("")) -> int:
        return len(await doc.read())

    report = run_contract(app, max_examples=15, stateful=False)
    assert report.ok, report.failure_text()


def test_background_tasks_run_after_the_response() -> None:
    app = App()
    events: list[str] = []

    async def later(what: str) -> None:
        events.append(what)

    @app.post("/work")
    async def work(tasks: BackgroundTasks, name: str = Form()) -> str:
        tasks.add_task(later, f"async {name}")
        tasks.add_task(events.append, "sync")
        return "done"

    async def app_spy(scope, receive, send):  # records when the last byte went out
        async def spy(message):
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                events.append("response sent")

        await app(scope, receive, spy)

    client = TestClient(app_spy)
    assert client.post("/work", data={"name": "x"}).json() == "done"
    assert events == ["response sent", "async x", "sync"]


def test_a_failing_task_is_logged_not_sent(caplog: pytest.LogCaptureFixture) -> None:
    app = App()
    ran: list[str] = []

    def fail() -> None:
        raise RuntimeError("boom")

    @app.get("/fail")
    async def failing(tasks: BackgroundTasks) -> int:
        tasks.add_task(fail)
        tasks.add_task(ran.append, "next")
        return 1

    client = TestClient(app, raise_server_exceptions=True)
    with caplog.at_level(logging.ERROR, logger="bocadillo"):
        response = client.get("/fail")
    assert response.status_code == 200
    assert response.json() == 1
    assert ran == ["next"]
    assert "A background task failed" in caplog.text
    assert "boom" in caplog.text


def test_background_of_a_returned_response(caplog: pytest.LogCaptureFixture) -> None:
    from starlette.background import BackgroundTask

    app = App()
    ran: list[float] = []

    def boom() -> None:
        ran.append(time.monotonic())
        raise RuntimeError("late")

    @app.get("/resp")
    async def resp() -> PlainTextResponse:
        return PlainTextResponse("hi", background=BackgroundTask(boom))

    with caplog.at_level(logging.ERROR, logger="bocadillo"):
        response = TestClient(app).get("/resp")
    assert response.text == "hi"
    assert ran
    assert "late" in caplog.text


def test_plain_routes_beside_form_routes_read_no_form() -> None:
    app = make_app()
    ran: list[str] = []

    @app.post("/plain")
    async def plain(q: int = 1) -> int:
        return q

    @app.post("/bg")
    async def bg(tasks: BackgroundTasks) -> None:
        tasks.add_task(ran.append, "bg")

    client = TestClient(app)
    fields = {"email": "a@b.c", "age": "3"}

    # A form sent to a route that declares none is not read, nor refused.
    assert client.post("/plain?q=2", data=fields).json() == 2
    assert client.post("/bg", data=fields).status_code == 204
    assert ran == ["bg"]
