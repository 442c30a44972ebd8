"""The todos example, driven in-process and served by uvicorn over a real socket."""

from __future__ import annotations

import json
import os
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
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The example served by uvicorn, as the README's run command serves it (on a
    database of its own)."""
    port = _free_port()
    database = tmp_path_factory.mktemp("served") / "todos.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "examples.todos.app:app", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{database}"},
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


# -- the chat example: rooms over WebSockets -------------------------------------------


def _example_apps_with_websockets() -> dict[str, Any]:
    import importlib

    from bocadillo import App

    apps: dict[str, Any] = {}
    for app_py in sorted((ROOT / "examples").glob("*/app.py")):
        app = getattr(importlib.import_module(f"examples.{app_py.parent.name}.app"), "app", None)
        if isinstance(app, App) and app.websocket_plans():
            apps[app_py.parent.name] = app
    return apps


WEBSOCKET_EXAMPLES = _example_apps_with_websockets()


def test_chat_is_an_example_with_websockets() -> None:
    assert "chat" in WEBSOCKET_EXAMPLES


@pytest.mark.parametrize("name", WEBSOCKET_EXAMPLES)
def test_example_websocket_routes_keep_their_contract(name: str) -> None:
    from bocadillo.testing import fuzz_websockets

    opened = fuzz_websockets(WEBSOCKET_EXAMPLES[name], max_examples=50, seed=0)

    assert set(opened) == {route.path for route, _ in WEBSOCKET_EXAMPLES[name].websocket_plans()}


@pytest.fixture
def chat() -> Iterator[TestClient]:
    # `with`: the rooms are an app provider, made at start-up; every connection of
    # the client shares its event loop, as they would share a server's.
    from bocadillo.testing import create_client
    from examples.chat.app import app

    with create_client(app) as test_client:
        yield test_client


def test_no_rooms_before_anyone_joins(chat: TestClient) -> None:
    response = chat.get("/rooms")

    assert (response.status_code, response.json()) == (200, [])


def test_two_members_of_a_room_see_each_others_messages(chat: TestClient) -> None:
    with (
        chat.websocket_connect("/rooms/lobby") as ada,
        chat.websocket_connect("/rooms/lobby") as bob,
    ):
        ada.send_json({"type": "join", "name": "ada"})
        assert ada.receive_json() == {"type": "joined", "name": "ada", "members": ["ada"]}
        bob.send_json({"type": "join", "name": "bob"})
        both = {"type": "joined", "name": "bob", "members": ["ada", "bob"]}
        assert ada.receive_json() == bob.receive_json() == both

        ada.send_json({"type": "say", "text": "Hello, Bob"})
        said = {"type": "said", "name": "ada", "text": "Hello, Bob"}
        assert bob.receive_json() == ada.receive_json() == said
        bob.send_json({"type": "say", "text": "Hi!"})
        assert (
            ada.receive_json()
            == bob.receive_json()
            == {"type": "said", "name": "bob", "text": "Hi!"}
        )


def test_rooms_lists_each_room_with_its_member_count(chat: TestClient) -> None:
    with (
        chat.websocket_connect("/rooms/lobby") as ada,
        chat.websocket_connect("/rooms/lobby") as bob,
        chat.websocket_connect("/rooms/games") as cy,
    ):
        for ws, name in ((ada, "ada"), (bob, "bob"), (cy, "cy")):
            ws.send_json({"type": "join", "name": name})
            ws.receive_json()
        ada.receive_json()  # bob's arrival

        assert chat.get("/rooms").json() == [
            {"name": "games", "members": 1},
            {"name": "lobby", "members": 2},
        ]
    assert chat.get("/rooms").json() == []


def test_rooms_are_apart(chat: TestClient) -> None:
    with chat.websocket_connect("/rooms/a") as ada, chat.websocket_connect("/rooms/b") as bob:
        ada.send_json({"type": "join", "name": "ada"})
        ada.receive_json()
        bob.send_json({"type": "join", "name": "ada"})  # the same name, another room
        assert bob.receive_json()["members"] == ["ada"]
        ada.send_json({"type": "say", "text": "only room a"})
        assert ada.receive_json()["text"] == "only room a"
        bob.send_json({"type": "say", "text": "only room b"})
        assert bob.receive_json()["text"] == "only room b"


def test_leaving_tells_the_room_and_closes_normally(chat: TestClient) -> None:
    from starlette.websockets import WebSocketDisconnect

    with (
        chat.websocket_connect("/rooms/lobby") as ada,
        chat.websocket_connect("/rooms/lobby") as bob,
    ):
        ada.send_json({"type": "join", "name": "ada"})
        bob.send_json({"type": "join", "name": "bob"})
        ada.receive_json(), ada.receive_json(), bob.receive_json()

        bob.send_json({"type": "leave"})

        assert bob.receive_json() == ada.receive_json() == {"type": "left", "name": "bob"}
        with pytest.raises(WebSocketDisconnect) as closed:
            bob.receive_json()
        assert closed.value.code == 1000
        assert chat.get("/rooms").json() == [{"name": "lobby", "members": 1}]


def test_a_closed_connection_leaves_its_room(chat: TestClient) -> None:
    with chat.websocket_connect("/rooms/lobby") as ada:
        ada.send_json({"type": "join", "name": "ada"})
        ada.receive_json()
        with chat.websocket_connect("/rooms/lobby") as bob:
            bob.send_json({"type": "join", "name": "bob"})
            bob.receive_json(), ada.receive_json()
        # bob closed without a word: the member provider's teardown told the room.
        assert ada.receive_json() == {"type": "left", "name": "bob"}
        assert chat.get("/rooms").json() == [{"name": "lobby", "members": 1}]


@pytest.mark.parametrize(
    ("first", "then", "code"),
    [
        (None, {"type": "say", "text": "hi"}, 4001),
        (None, {"type": "leave"}, 4001),
        ({"type": "join", "name": "ada"}, {"type": "join", "name": "ada2"}, 4002),
    ],
)
def test_messages_the_room_cannot_act_on_get_an_error(
    chat: TestClient, first: dict[str, Any] | None, then: dict[str, Any], code: int
) -> None:
    with chat.websocket_connect("/rooms/lobby") as ws:
        if first is not None:
            ws.send_json(first)
            ws.receive_json()
        ws.send_json(then)
        error = ws.receive_json()
        assert (error["type"], error["code"]) == ("error", code)
        ws.send_json(
            {"type": "join", "name": "zed"}
            if first is None
            else {"type": "say", "text": "still here"}
        )
        assert ws.receive_json()["type"] in ("joined", "said")


def test_a_taken_name_gets_an_error(chat: TestClient) -> None:
    with (
        chat.websocket_connect("/rooms/lobby") as ada,
        chat.websocket_connect("/rooms/lobby") as ada2,
    ):
        ada.send_json({"type": "join", "name": "ada"})
        ada.receive_json()
        ada2.send_json({"type": "join", "name": "ada"})
        assert ada2.receive_json() == {
            "type": "error",
            "code": 4009,
            "detail": "ada is taken in this room.",
            "errors": [],
        }


@pytest.mark.parametrize(
    "sent",
    ['{"type": "shout"}', '{"type": "say", "text": ""}', '{"type": "join"}', "hello"],
)
def test_an_invalid_message_gets_an_error_reply_and_the_connection_stays(
    chat: TestClient, sent: str
) -> None:
    with chat.websocket_connect("/rooms/lobby") as ws:
        ws.send_text(sent)
        error = ws.receive_json()
        assert (error["type"], error["code"]) == ("error", 1007)
        assert error["errors"]
        ws.send_json({"type": "join", "name": "ada"})
        assert ws.receive_json()["type"] == "joined"


def test_a_bad_room_name_is_refused_with_a_422_problem(chat: TestClient) -> None:
    from starlette.testclient import WebSocketDenialResponse

    with (
        pytest.raises(WebSocketDenialResponse) as refused,
        chat.websocket_connect("/rooms/Not A Room"),
    ):
        pass  # pragma: no cover - refused
    assert refused.value.status_code == 422
    assert refused.value.json()["errors"][0]["loc"] == ["path", "room"]


def test_rooms_listing_is_documented_as_a_list_of_rooms(chat: TestClient) -> None:
    document = chat.get("/openapi.json").json()
    schema = document["paths"]["/rooms"]["get"]["responses"]["200"]["content"]["application/json"]
    assert schema["schema"] == {"type": "array", "items": {"$ref": "#/components/schemas/Room"}}
    assert set(document["components"]["schemas"]["Room"]["required"]) == {"name", "members"}


@pytest.fixture(scope="module")
def served_chat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The chat example served by uvicorn; yields its ws:// base and its log file."""
    port = _free_port()
    log = tmp_path_factory.mktemp("chat") / "uvicorn.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "examples.chat.app:app", "--port", str(port)],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("uvicorn did not start serving the chat example")
                time.sleep(0.05)
        yield f"ws://127.0.0.1:{port}", log
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_served_chat_delivers_messages_and_leaves_no_server_error(
    served_chat: tuple[str, Path],
) -> None:
    from websockets.sync.client import connect

    base, log = served_chat
    with connect(f"{base}/rooms/lobby") as ada:
        ada.send(json.dumps({"type": "join", "name": "ada"}))
        assert json.loads(ada.recv(timeout=5))["members"] == ["ada"]
        with connect(f"{base}/rooms/lobby") as bob:
            bob.send(json.dumps({"type": "join", "name": "bob"}))
            assert json.loads(bob.recv(timeout=5))["members"] == ["ada", "bob"]
            assert json.loads(ada.recv(timeout=5))["name"] == "bob"
            bob.send(json.dumps({"type": "say", "text": "over the wire"}))
            assert json.loads(ada.recv(timeout=5))["text"] == "over the wire"
        # bob's client closed the connection: the server must not close it again.
        assert json.loads(ada.recv(timeout=5)) == {"type": "left", "name": "bob"}
        ada.send(json.dumps({"type": "leave"}))
        assert json.loads(ada.recv(timeout=5)) == {"type": "left", "name": "ada"}
    status, _, rooms = _request(base.replace("ws://", "http://") + "/rooms")
    assert (status, rooms) == (200, [])
    time.sleep(0.2)  # let the server log what it will
    assert "Traceback" not in log.read_text()
