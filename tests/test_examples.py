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


# -- notes: the typesystem part of the example ---------------------------------------


def test_notes_are_added_and_listed_per_todo(client: TestClient) -> None:
    add(client, "Buy bread")
    add(client, "Write report")

    first = client.post("/todos/1/notes", json={"text": "Wholemeal"})
    assert first.status_code == 201
    assert first.headers["content-type"] == "application/json"
    assert first.content == b'{"id":1,"todo_id":1,"text":"Wholemeal"}'  # Note's field order
    client.post("/todos/1/notes", json={"text": "Two loaves", "extra": "ignored"})
    client.post("/todos/2/notes", json={"text": "Due Friday"})

    assert client.get("/todos/1/notes").json() == [
        {"id": 1, "todo_id": 1, "text": "Wholemeal"},
        {"id": 2, "todo_id": 1, "text": "Two loaves"},
    ]
    assert client.get("/todos/2/notes").json() == [{"id": 3, "todo_id": 2, "text": "Due Friday"}]


def test_a_todo_without_notes_lists_none(client: TestClient) -> None:
    add(client, "Buy bread")

    response = client.get("/todos/1/notes")

    assert (response.status_code, response.json()) == (200, [])


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_notes_of_an_unknown_todo_are_a_404_problem(client: TestClient, method: str) -> None:
    body = {"text": "x"} if method == "POST" else None

    response = client.request(method, "/todos/7/notes", json=body)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "There is no to-do with id 7."


@pytest.mark.parametrize(
    ("sent", "loc", "error_type"),
    [
        ({"text": "x" * 501}, ["body", "text"], "max_length"),
        ({}, ["body", "text"], "required"),
        ({"text": 5}, ["body", "text"], "type"),
        ({"text": None}, ["body", "text"], "null"),
        (["x"], ["body"], "type"),
    ],
)
def test_a_bad_note_is_a_422_problem_without_a_change(
    client: TestClient, sent: Any, loc: list[Any], error_type: str
) -> None:
    add(client, "Buy bread")

    response = client.post("/todos/1/notes", json=sent)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert (error["loc"], error["type"]) == (loc, error_type)
    assert set(error) == {"loc", "msg", "type"}
    assert client.get("/todos/1/notes").json() == []


def test_note_errors_look_like_todo_errors(client: TestClient) -> None:
    add(client, "Buy bread")

    note = client.post("/todos/1/notes", json={"text": "x" * 501}).json()
    todo = client.post("/todos", json={"title": "x" * 101}).json()

    assert {k: v for k, v in note.items() if k != "errors"} == {
        k: v for k, v in todo.items() if k != "errors"
    }
    assert note["errors"][0]["loc"] == ["body", "text"]
    assert todo["errors"][0]["loc"] == ["body", "title"]


def test_malformed_note_is_a_400_and_a_bad_todo_id_a_422(client: TestClient) -> None:
    add(client, "Buy bread")

    malformed = client.post(
        "/todos/1/notes", content=b'{"text": ', headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    assert client.get("/todos/one/notes").json()["errors"][0]["loc"] == ["path", "id"]


def test_notes_are_documented_as_typesystem_schemas(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    post = document["paths"]["/todos/{id}/notes"]["post"]
    get = document["paths"]["/todos/{id}/notes"]["get"]

    assert post["tags"] == get["tags"] == ["notes"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/NoteIn"
    }
    assert post["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Note"
    }
    assert get["responses"]["200"]["content"]["application/json"]["schema"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Note"},
    }
    assert list(schemas["Note"]["properties"]) == ["id", "todo_id", "text"]
    assert schemas["NoteIn"]["properties"]["text"]["maxLength"] == 500


def test_served_example_adds_a_note(served: str) -> None:
    _request(f"{served}/todos", "POST", b'{"title": "Buy bread"}')
    status, content_type, body = _request(f"{served}/todos/1/notes", "POST", b'{"text": "Rye"}')
    assert (status, content_type) == (201, "application/json")
    assert body["text"] == "Rye"
    status, _, body = _request(f"{served}/todos/1/notes")
    assert (status, [note["text"] for note in body]) == (200, ["Rye"])
