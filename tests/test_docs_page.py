"""The /docs page renders the API in a real browser, with no network but the app.

The example app is served by uvicorn on 127.0.0.1; headless Chromium loads
/docs and dumps the DOM after its scripts ran. The tests that need
it skip only when no Chromium is installed (.ci/run installs Debian's when it runs
as root).

The pages as an app subclass's documents make them, and the channels page as a
reader sees it, are tested here too, with the test client.
"""

from __future__ import annotations

import datetime
import enum
import html
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel, Field
from starlette.testclient import TestClient

from bocadillo import App, Header, HTTPBearer, Query, WebSocket
from bocadillo import Path as PathParam

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_TIMEOUT = 60  # seconds for the whole browser run; it takes about one
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
_URL = re.compile(r"""(?:https?:)?//[^\s"'<>()]+""")

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The todos example, served by uvicorn on a socket bound here (no port race)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "examples.todos.app:app", "--fd", str(sock.fileno())],
        cwd=ROOT,
        pass_fds=[sock.fileno()],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    sock.close()  # uvicorn holds its own copy
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{base}/openapi.json", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                stderr = process.stderr.read().decode() if process.stderr else ""
                pytest.fail(f"uvicorn did not start:\n{stderr}")
            time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


@pytest.fixture(scope="module")
def dom(server: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The /docs page's DOM after Swagger UI has rendered it."""
    assert CHROMIUM is not None
    profile = tmp_path_factory.mktemp("chromium-profile")
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
        "--dump-dom",
        f"{server}/docs",
    ]
    # A session of its own, so a timeout ends the browser's helper processes too.
    browser = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        stdout, stderr = browser.communicate(timeout=BROWSER_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(browser.pid, signal.SIGKILL)
        browser.communicate()
        pytest.fail(f"Chromium did not finish within {BROWSER_TIMEOUT} s")
    assert browser.returncode == 0, stderr.decode("utf-8", "replace")[-2000:]
    return stdout.decode("utf-8", "replace")


@needs_chromium
def test_swagger_ui_renders_every_operation(server: str, dom: str) -> None:
    with urllib.request.urlopen(f"{server}/openapi.json", timeout=5) as response:
        document = json.load(response)
    assert f'<h1 class="title">{document["info"]["title"]}<' in dom  # rendered by Swagger UI
    rendered_paths = set(re.findall(r'class="opblock-summary-path" data-path="([^"]+)"', dom))
    assert rendered_paths == set(document["paths"])
    assert "/todos/{id}" in rendered_paths
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue  # "parameters", "summary" and the like
            tag = (operation.get("tags") or ["default"])[0]
            block = f'<div class="opblock opblock-{method}" id="operations-{tag}-'
            block += f'{operation["operationId"]}">'
            assert block in dom, f"{method.upper()} {path} is not rendered"


@needs_chromium
def test_page_loads_nothing_from_other_hosts(server: str, dom: str) -> None:
    with urllib.request.urlopen(f"{server}/docs", timeout=5) as response:
        page = response.read().decode()
    assert "/docs/assets/swagger-ui-bundle.js" in page
    assert not _URL.findall(page), "the served page names another host"
    # In the rendered DOM, only the SVG and XLink namespace names (never fetched)
    # may be absolute; every src and href stays on the app.
    namespaces = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    absolute = {url for url in _URL.findall(dom) if url not in namespaces}
    assert not {url for url in absolute if not url.startswith(server)}, absolute
    for attribute in re.findall(r'\b(?:src|href|action)="([^"]*)"', dom):
        assert attribute.startswith(("/", "#", server)), attribute


# -- the pages follow an App subclass's documents ---------------------------------------------


class Quote(BaseModel):
    price: float = Field(ge=0)


class Branded(App):
    """An app whose documents are changed by overriding ``openapi()`` and ``asyncapi()``."""

    def openapi(self) -> dict[str, Any]:
        document = dict(super().openapi())
        document["info"] = {**document["info"], "x-logo": "brand.svg"}
        return document

    def asyncapi(self) -> dict[str, Any]:
        document = dict(super().asyncapi())
        document["info"] = {**document["info"], "title": "Branded channels"}
        return document


def quotes_app(cls: type[App], openapi_version: str) -> App:
    app = cls(title="Feed", version="1", openapi_version=openapi_version)  # type: ignore[arg-type]

    @app.sse("/quotes")
    async def quotes(limit: int = Query(10, ge=1)) -> AsyncIterator[Quote | str]:
        yield Quote(price=1.5)

    @app.post("/quotes", status_code=201)
    async def add(quote: Quote) -> Quote:
        return quote

    return app


def test_swagger_ui_reads_a_3_1_copy_of_what_the_subclass_serves() -> None:
    client = TestClient(quotes_app(Branded, "3.2.0"))

    served = client.get("/openapi.json").json()
    assert served["openapi"] == "3.2.0" and served["info"]["x-logo"] == "brand.svg"
    assert "/docs/openapi-3.1.json" in client.get("/docs").text
    for_page = client.get("/docs/openapi-3.1.json").json()
    assert for_page["openapi"] == "3.1.0"
    assert for_page["info"]["x-logo"] == "brand.svg"
    validate(for_page)


def test_the_3_1_copy_is_the_document_a_3_1_app_serves() -> None:
    copy = TestClient(quotes_app(App, "3.2.0")).get("/docs/openapi-3.1.json").json()
    direct = TestClient(quotes_app(App, "3.1.0")).get("/openapi.json").json()

    assert copy == direct
    stream = copy["paths"]["/quotes"]["get"]["responses"]["200"]["content"]["text/event-stream"]
    assert "itemSchema" not in stream and "oneOf" in stream["schema"]


def test_the_channels_page_shows_what_the_subclass_serves() -> None:
    client = TestClient(quotes_app(Branded, "3.1.0"))

    assert client.get("/asyncapi.json").json()["info"]["title"] == "Branded channels"
    assert "<title>Branded channels - Channels</title>" in client.get("/docs/channels").text


# -- the channels page as a reader sees it ----------------------------------------------------


class Mood(enum.StrEnum):
    calm = "calm"
    loud = "loud"


class Tag(BaseModel):
    name: str = Field(max_length=20, description="The tag's **name**.")


class Note(BaseModel):
    text: str = Field(min_length=1)
    tags: list[Tag] = []
    mood: Mood = Mood.calm
    due: datetime.date | None = None


def notes_app() -> App:
    app = App(title="Notes", version="1")

    @app.websocket("/notes/{board}")
    async def notes(
        ws: WebSocket[Note, dict[str, int]],
        board: Annotated[int, PathParam(ge=1, description="The board.")],
        since: int = Query(0, ge=0, description="Replay from `since`."),
        mode: Literal["a", "b"] = Query("a"),
        labels: list[str] = Query([]),
        day: datetime.date | None = Query(None),
        x_client: str = Header(max_length=10, description="The client's name."),
        token: Annotated[str, HTTPBearer(scheme="Token", bearer_format="JWT")] = "",
    ) -> None:
        await ws.close()

    return app


def rows_of(page: str, heading: str) -> list[list[str]]:
    """The cells of the table after ``heading``, as text (tags dropped)."""
    table = page.split(heading, 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", cell))
            for cell in re.findall(r"<t[dh]>(.*?)</t[dh]>", row)
        ]
        for row in rows
    ]


def test_the_handshake_parameters_read_as_tables() -> None:
    page = TestClient(notes_app()).get("/docs/channels").text

    assert rows_of(page, "<h4>Query parameters</h4>") == [
        ["name", "type", "required", "default", "constraints", "description"],
        ["since", "integer", "no", "0", "\u2265 0", "Replay from since."],
        ["mode", 'one of: "a", "b"', "no", '"a"', "", ""],
        ["labels", "array of string", "no", "[]", "", "Repeat the key for each value."],
        ["day", "string (date)", "no", "", "", ""],
    ]
    headers = rows_of(page, "<h4>Headers</h4>")
    assert headers[1] == [
        "x-client",
        "string",
        "yes",
        "",
        "at most 10 characters",
        "The client's name.",
    ]
    assert headers[2][:3] == ["Authorization", "string", "no"]
    assert rows_of(page, "<h3>Path parameters</h3>") == [
        ["name", "type", "constraints", "description"],
        ["board", "integer", "\u2265 1", "The board."],
    ]
    assert rows_of(page, "<h4>Credentials</h4>")[1][:2] == [
        "token",
        "an API key in the header Authorization",
    ]


def test_payloads_and_schemas_read_as_tables_with_links() -> None:
    page = TestClient(notes_app()).get("/docs/channels").text

    assert '<p>Payload: <a href="#schema-Note">Note</a>.</p>' in page
    assert "<p>Payload: object of integer.</p>" in page
    assert '<h3 id="schema-Note">Note</h3>' in page
    assert rows_of(page, '<h3 id="schema-Note">Note</h3>') == [
        ["name", "type", "required", "default", "constraints", "description"],
        ["text", "string", "yes", "", "at least 1 character", ""],
        ["tags", "array of Tag", "no", "[]", "", ""],
        ["mood", "Mood", "no", '"calm"', "", ""],
        ["due", "string (date) or null", "no", "null", "", ""],
    ]
    assert 'array of <a href="#schema-Tag">Tag</a>' in page
    assert '<h3 id="schema-Mood">Mood</h3>\n<p>one of: &#34;calm&#34;, &#34;loud&#34;.</p>' in page
    assert "The tag&#x27;s <strong>name</strong>." in page
    # No JSON Schema text is left on the page.
    assert "&quot;type&quot;" not in page and '"type"' not in page and "<pre>" not in page
    assert "JSON Schema" not in page and "`" not in page
