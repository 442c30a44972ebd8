"""The todos example, driven in-process and served by uvicorn over a real socket."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def client() -> Iterator[TestClient]:
    # The store is an app-scoped provider: each lifespan (each `with`) makes a fresh one.
    from examples.todos.app import app

    with TestClient(app) as test_client:
        yield test_client


def add(client: TestClient, title: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/todos", json={"title": title, **fields})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_create_returns_the_stored_todo(client: TestClient) -> None:
    created = add(client, "Buy bread", tags=["food"])
    assert created["id"] == 1 and created["done"] is False and created["tags"] == ["food"]
    assert client.get("/todos/1").json() == created


def test_list_pages_and_counts(client: TestClient) -> None:
    for n in range(5):
        add(client, f"task {n}")
    page = client.get("/todos?limit=2&offset=1").json()
    assert [t["title"] for t in page["items"]] == ["task 1", "task 2"]
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 1)


def test_list_filters_by_state_tag_and_text(client: TestClient) -> None:
    add(client, "Buy bread", tags=["food", "shop"])
    add(client, "Buy milk", done=True, tags=["food"])
    add(client, "Write report", tags=["work"])

    def titles(query: str) -> list[str]:
        return [t["title"] for t in client.get(f"/todos?{query}").json()["items"]]

    assert titles("done=false") == ["Buy bread", "Write report"]
    assert titles("tag=food&tag=shop") == ["Buy bread"]
    assert titles("q=BUY&sort=-id") == ["Buy milk", "Buy bread"]


def test_replace_patch_and_delete(client: TestClient) -> None:
    add(client, "Draft")
    replaced = client.put("/todos/1", json={"title": "Final", "tags": ["doc"]}).json()
    assert (replaced["title"], replaced["tags"]) == ("Final", ["doc"])
    patched = client.patch("/todos/1", json={"done": True}).json()
    assert (patched["title"], patched["done"]) == ("Final", True)
    assert client.delete("/todos/1").status_code == 204
    assert client.get("/todos/1").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/todos/7", None),
        ("PUT", "/todos/7", {"title": "x"}),
        ("PATCH", "/todos/7", {"done": True}),
        ("DELETE", "/todos/7", None),
    ],
)
def test_unknown_todo_is_a_404_problem(
    client: TestClient, method: str, path: str, body: Any
) -> None:
    response = client.request(method, path, json=body)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "There is no to-do with id 7."


def test_bad_input_is_rejected_without_a_change(client: TestClient) -> None:
    assert client.post("/todos", json={"title": ""}).status_code == 422
    assert client.post("/todos", json={"title": "x", "tags": ["Not A Tag"]}).status_code == 422
    assert client.get("/todos?limit=0").status_code == 422
    assert client.get("/todos?sort=name").status_code == 422
    assert client.get("/todos").json()["total"] == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _request(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, str, Any]:
    request = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers["content-type"], json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers["content-type"], json.loads(error.read())


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """The example served by uvicorn, as the README's run command serves it."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "examples.todos.app:app", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("uvicorn did not start serving the example")
                time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_served_example_creates_with_201(served: str) -> None:
    status, content_type, body = _request(f"{served}/todos", "POST", b'{"title": "Buy bread"}')
    assert (status, content_type) == (201, "application/json")
    assert body["title"] == "Buy bread"


def test_served_example_answers_422_problem_for_a_bad_body(served: str) -> None:
    status, content_type, body = _request(f"{served}/todos", "POST", b'{"title": ""}')
    assert (status, content_type) == (422, "application/problem+json")
    assert body["errors"][0]["loc"] == ["body", "title"]


def test_served_example_answers_400_problem_for_malformed_json(served: str) -> None:
    status, content_type, body = _request(f"{served}/todos", "POST", b'{"title": ')
    assert (status, content_type) == (400, "application/problem+json")
    assert body["status"] == 400
