"""Uploaded file names: ``UploadFile.filename`` is safe, ``raw_filename`` is as sent."""

from __future__ import annotations

import pytest
from starlette.datastructures import UploadFile as StarletteUploadFile

from bocadillo import App, File, UploadFile
from bocadillo.testing import create_client


def make_app() -> App:
    app = App()

    @app.post("/upload")
    async def upload(doc: UploadFile = File()) -> dict[str, str | None]:
        return {"filename": doc.filename, "raw": doc.raw_filename}

    return app


def post_named(name: bytes) -> dict[str, str | None]:
    """Upload a file whose Content-Disposition carries ``name`` byte for byte."""
    body = (
        b'--b\r\nContent-Disposition: form-data; name="doc"; filename="' + name + b'"\r\n'
        b"Content-Type: text/plain\r\n\r\nhello\r\n--b--\r\n"
    )
    with create_client(make_app()) as client:
        response = client.post(
            "/upload", content=body, headers={"content-type": "multipart/form-data; boundary=b"}
        )
    assert response.status_code == 200, response.text
    result: dict[str, str | None] = response.json()
    return result


@pytest.mark.parametrize(
    ("sent", "safe"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("a\x00b.txt", "ab.txt"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),  # a right-to-left override
        ("  .hidden  ", "hidden"),
        ("..", None),
        ("/", None),
        ("CON.txt", "_CON.txt"),
        ("e\u0301t\u00e9.txt", "\u00e9t\u00e9.txt"),  # NFC
        ("x" * 300 + ".tar", "x" * 251 + ".tar"),
    ],
)
def test_the_filename_is_safe_and_the_raw_one_kept(sent: str, safe: str | None) -> None:
    assert post_named(sent.encode()) == {"filename": safe, "raw": sent}


def test_a_windows_path_keeps_its_last_component() -> None:
    # python-multipart already cuts a Windows path to its last component.
    assert post_named(b"C:\\Users\\ada\\notes.txt")["filename"] == "notes.txt"


def test_a_starlette_upload_annotation_still_reads_the_file() -> None:
    app = App()

    @app.post("/upload")
    async def upload(doc: StarletteUploadFile = File()) -> str | None:
        return doc.filename

    with create_client(app) as client:
        response = client.post("/upload", files={"doc": ("../x.txt", b"x")})
    assert response.json() == "x.txt"


@pytest.mark.parametrize(
    "content_type", ["multipart/form-data; boundary=", "multipart/form-data; boundary=" + "b" * 71]
)
def test_a_multipart_body_needs_a_real_boundary(content_type: str) -> None:
    with create_client(make_app()) as client:
        response = client.post(
            "/upload", content=b"--\r\n\r\n--", headers={"content-type": content_type}
        )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "boundary of 1 to 70 characters" in response.json()["detail"]
