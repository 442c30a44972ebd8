"""FileResponse: a file sent from disk, attachments and their names, a missing
file as a 404 problem, byte ranges, and the OpenAPI document of ``-> FileResponse``."""

from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from bocadillo import App, FileResponse, PlainTextResponse, Response, attachment

PROBLEM = "application/problem+json"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "report.csv").write_text("id,value\n1,2\n")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "sub").mkdir()
    return tmp_path


def files_app(folder: Path) -> App:
    app = App()

    @app.get("/files/{name}")
    async def get_file(name: str) -> FileResponse:
        return FileResponse(folder / name)

    @app.get("/download/{name}")
    async def download(name: str) -> FileResponse:
        return FileResponse(folder / name, attachment=True)

    @app.get("/named/{name}")
    async def named(name: str) -> FileResponse:
        return FileResponse(folder / "report.csv", attachment=name)

    @app.get("/report")
    async def report() -> FileResponse:
        return FileResponse(folder / "report.csv")

    return app


def test_a_file_is_sent_inline_with_its_type_length_and_etag(folder: Path) -> None:
    client = TestClient(files_app(folder))
    response = client.get("/files/report.csv")
    assert response.status_code == 200
    assert response.content == b"id,value\n1,2\n"
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-length"] == "13"
    assert "etag" in response.headers and "last-modified" in response.headers
    assert "content-disposition" not in response.headers


def test_file_response_is_a_bocadillo_response(folder: Path) -> None:
    assert isinstance(FileResponse(folder / "notes.txt"), Response)


def test_attachment_true_downloads_under_the_file_name(folder: Path) -> None:
    response = TestClient(files_app(folder)).get("/download/notes.txt")
    assert response.headers["content-disposition"] == 'attachment; filename="notes.txt"'
    assert response.text == "hello"


def test_an_attachment_name_that_is_not_ascii_is_encoded_with_a_fallback(folder: Path) -> None:
    response = TestClient(files_app(folder)).get("/named/rapport café.csv")
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"rapport cafe.csv\"; filename*=UTF-8''rapport%20caf%C3%A9.csv"
    )
    assert response.headers["content-type"].startswith("text/csv")


def test_an_attachment_name_cannot_break_the_header_or_name_a_folder(folder: Path) -> None:
    value = attachment('../a"b\r\nSet-Cookie: x=1.txt')["Content-Disposition"]
    assert "\r" not in value and "\n" not in value
    assert value == 'attachment; filename=".._a\\"bSet-Cookie: x=1.txt"'


def test_attachment_helper_works_on_any_response() -> None:
    app = App()

    @app.get("/hello.txt")
    async def hello() -> PlainTextResponse:
        return PlainTextResponse("Hi, there!", headers=attachment("hello.txt"))

    response = TestClient(app).get("/hello.txt")
    assert response.headers["content-disposition"] == 'attachment; filename="hello.txt"'
    assert response.text == "Hi, there!"


def test_a_missing_file_is_a_404_problem(folder: Path) -> None:
    response = TestClient(files_app(folder)).get("/files/nope.csv")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["detail"] == "The file was not found."
    assert str(folder) not in response.text  # the server's paths stay on the server


def test_a_folder_is_not_a_file(folder: Path) -> None:
    response = TestClient(files_app(folder)).get("/files/sub")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


def test_head_sends_the_headers_only(folder: Path) -> None:
    response = TestClient(files_app(folder)).head("/files/notes.txt")
    assert response.status_code == 200
    assert response.headers["content-length"] == "5"
    assert response.content == b""


def test_a_byte_range_is_partial_content(folder: Path) -> None:
    response = TestClient(files_app(folder)).get("/files/notes.txt", headers={"Range": "bytes=1-3"})
    assert response.status_code == 206
    assert response.content == b"ell"


def test_bad_ranges_are_problems(folder: Path) -> None:
    client = TestClient(files_app(folder))
    malformed = client.get("/files/notes.txt", headers={"Range": "pages=1-2"})
    assert malformed.status_code == 400
    assert malformed.headers["content-type"] == PROBLEM
    beyond = client.get("/files/notes.txt", headers={"Range": "bytes=50-60"})
    assert beyond.status_code == 416
    assert beyond.headers["content-type"] == PROBLEM
    assert beyond.headers["content-range"] == "bytes */5"


def test_a_subclass_media_type_is_sent_and_documented(folder: Path) -> None:
    class CSVFile(FileResponse):
        media_type = "text/csv"

    app = App()

    @app.get("/export")
    async def export() -> CSVFile:
        return CSVFile(folder / "notes.txt")

    assert TestClient(app).get("/export").headers["content-type"].startswith("text/csv")
    content = app.openapi()["paths"]["/export"]["get"]["responses"]["200"]["content"]
    assert list(content) == ["text/csv"]


def test_a_file_route_documents_binary_content_and_its_errors(folder: Path) -> None:
    operation: dict[str, Any] = files_app(folder).openapi()["paths"]["/report"]["get"]
    responses = operation["responses"]
    assert responses["200"]["content"] == {"application/octet-stream": {"schema": {}}}
    assert responses["404"]["description"] == "The file was not found."
    assert responses["404"]["content"] == {
        PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
    assert "416" in responses
    with_path = files_app(folder).openapi()["paths"]["/files/{name}"]["get"]["responses"]
    assert "The file was not found." in with_path["404"]["description"]
