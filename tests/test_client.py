"""``bocadillo client``: the todos example's client, generated into a temporary
folder, type-checked, generated again byte for byte, and driven against a live
server through every operation and the errors a client can provoke."""

from __future__ import annotations

import asyncio
import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from bocadillo import App, Form, HTTPError
from bocadillo.cli.main import main
from bocadillo.testing import LiveServer

pytest.importorskip("datamodel_code_generator")


def generate(target: str, folder: Path) -> dict[str, bytes]:
    assert main(["client", target, "-o", str(folder)]) == 0
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


@pytest.fixture(scope="module")
def todos_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("generated") / "todos_client"
    generate("examples.todos.app:app", folder)
    return folder


def load(folder: Path) -> ModuleType:
    """The generated package, imported under its folder's name."""
    for name in [name for name in sys.modules if name.split(".")[0] == folder.name]:
        del sys.modules[name]  # an earlier test's package of the same name
    sys.path.insert(0, str(folder.parent))
    try:
        return importlib.import_module(folder.name)
    finally:
        sys.path.remove(str(folder.parent))


@pytest.fixture(scope="module")
def todos(todos_package: Path) -> Iterator[ModuleType]:
    yield load(todos_package)
    for name in [name for name in sys.modules if name.split(".")[0] == todos_package.name]:
        del sys.modules[name]


@pytest.fixture
def server() -> Iterator[LiveServer]:
    from examples.todos.app import app

    with LiveServer(app) as live:
        yield live


def test_the_package_has_models_operations_two_clients_and_errors(todos_package: Path) -> None:
    names = {path.name for path in todos_package.iterdir()}

    assert {"__init__.py", "models.py", "operations.py", "client.py", "errors.py"} <= names
    assert "py.typed" in names
    for path in todos_package.glob("*.py"):  # needs httpx and pydantic, never the server
        assert "bocadillo" not in "".join(
            line for line in path.read_text().splitlines() if "import" in line
        ), path.name


EXAMPLES = ("todos", "jobs", "feed", "chat")


@pytest.fixture(scope="module")
def every_example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The client of every example, each a package in one folder."""
    folder = tmp_path_factory.mktemp("examples")
    for name in EXAMPLES:
        generate(f"examples.{name}.app:app", folder / f"{name}_api")
    return folder


def test_every_examples_client_passes_mypy_strict_and_ruff(every_example: Path) -> None:
    packages = [f"{name}_api" for name in EXAMPLES]
    checks = [
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", *packages],
        [sys.executable, "-m", "ruff", "check", "--isolated", *packages],
    ]
    for command in checks:
        done = subprocess.run(
            command, cwd=every_example, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", EXAMPLES)
def test_generating_again_gives_the_same_bytes(
    every_example: Path, tmp_path: Path, name: str
) -> None:
    folder = every_example / f"{name}_api"
    first = {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}

    assert generate(f"examples.{name}.app:app", tmp_path / "again") == first


def test_every_operation_of_the_blocking_client(todos: Any, server: LiveServer) -> None:
    models = todos.models
    with todos.Client(server.url, timeout=5.0) as api:
        bread = api.create_todo(models.TodoIn(title="Buy bread", tags=["shop"]))
        milk = api.create_todo(models.TodoIn(title="Buy milk", done=True))

        assert isinstance(bread, models.Todo)
        assert (bread.title, bread.done, bread.tags) == ("Buy bread", False, ["shop"])
        assert api.get_todo(bread.id) == bread
        page = api.list_todos()
        assert isinstance(page, models.TodoPage)
        assert [todo.id for todo in page.items] == [bread.id, milk.id]
        assert page.total == 2 and page.limit == 20
        assert [todo.id for todo in api.list_todos(done=True).items] == [milk.id]
        assert [todo.id for todo in api.list_todos(tag=["shop"]).items] == [bread.id]
        assert [todo.id for todo in api.list_todos(sort="-id", limit=1).items] == [milk.id]
        assert api.list_todos(q="milk", offset=0).total == 1

        replaced = api.replace_todo(bread.id, models.TodoIn(title="Buy rye bread"))
        assert (replaced.title, replaced.tags) == ("Buy rye bread", [])
        patched = api.update_todo(bread.id, models.TodoPatch(done=True))
        assert (patched.title, patched.done) == ("Buy rye bread", True)

        note = api.add_note(bread.id, models.NoteIn(text="Wholemeal."))
        assert (note.todo_id, note.text) == (bread.id, "Wholemeal.")
        assert api.list_notes(bread.id) == [note]

        assert api.delete_todo(bread.id) is None
        assert api.list_todos().total == 1


def test_every_operation_of_the_async_client(todos: Any, server: LiveServer) -> None:
    models = todos.models

    async def scenario() -> None:
        async with todos.AsyncClient(server.url, headers={"x-test": "1"}) as api:
            todo = await api.create_todo(models.TodoIn(title="Call home"))
            assert await api.get_todo(todo.id) == todo
            assert (await api.list_todos()).items == [todo]
            todo = await api.replace_todo(todo.id, models.TodoIn(title="Call mum", tags=["x"]))
            todo = await api.update_todo(todo.id, models.TodoPatch(title="Call dad"))
            assert (todo.title, todo.tags) == ("Call dad", ["x"])
            note = await api.add_note(todo.id, models.NoteIn(text="Sunday."))
            assert await api.list_notes(todo.id) == [note]
            assert await api.delete_todo(todo.id) is None
            with pytest.raises(todos.ProblemError) as caught:
                await api.get_todo(todo.id)
            assert caught.value.status == 404

    asyncio.run(scenario())


def test_documented_errors_raise_the_typed_error_with_the_parsed_problem(
    todos: Any, server: LiveServer
) -> None:
    models = todos.models
    with todos.Client(server.url) as api:
        with pytest.raises(todos.ProblemError) as missing:
            api.get_todo(404)
        with pytest.raises(todos.ProblemError) as twice:
            api.create_todo(models.TodoIn(title="Tags", tags=["a", "a"]))
        with pytest.raises(todos.ProblemError) as invalid:
            api.list_todos(limit=0)
        with pytest.raises(todos.ProblemError) as no_notes:
            api.add_note(404, models.NoteIn(text="lost"))

    assert (missing.value.status, missing.value.operation) == (404, "get_todo")
    assert isinstance(missing.value.body, models.Problem)
    assert missing.value.body.status == 404
    assert twice.value.status == 409 and twice.value.body.status == 409
    assert invalid.value.status == 422
    assert [issue.loc for issue in invalid.value.body.errors] == [["query", "limit"]]
    assert no_notes.value.status == 404
    assert isinstance(missing.value, todos.ApiError)
    assert not isinstance(missing.value, todos.UndocumentedResponse)


def test_an_undocumented_answer_raises_a_distinct_error(todos: Any, server: LiveServer) -> None:
    # list_todos documents no 404: a base URL that is wrong gets one.
    api = todos.Client(server.url + "/nowhere")
    with api, pytest.raises(todos.UndocumentedResponse) as caught:
        api.list_todos()

    assert caught.value.status == 404
    assert not isinstance(caught.value, todos.ApiError)
    assert isinstance(caught.value, todos.ClientError)
    assert "undocumented response 404" in str(caught.value)


ODD = App(title="Odd", version="2")


@ODD.get("/items/{name}", raises={404: "No such item."})
async def get_item(name: str, x_trace: str | None = None) -> dict[str, str]:
    if name == "gone":
        raise HTTPError(404, detail="gone")
    return {"name": name, "trace": x_trace or ""}


@ODD.get("/broken")
async def broken() -> int:
    return 1


def test_path_values_are_quoted_and_parameters_sent_by_their_names(tmp_path: Path) -> None:
    generate("tests.test_client:ODD", tmp_path / "odd_client")
    odd = load(tmp_path / "odd_client")

    with LiveServer(ODD) as live, odd.Client(live.url) as api:
        assert api.get_item("a b?#", x_trace="t") == {"name": "a b?#", "trace": "t"}
        assert api.get_item("plain") == {"name": "plain", "trace": ""}
        with pytest.raises(odd.ProblemError) as caught:
            api.get_item("gone")
        assert caught.value.body.detail == "gone"


def test_a_body_that_does_not_match_the_document_is_undocumented(todos: Any) -> None:
    import httpx

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"not": "a to-do"})

    api = todos.Client("http://api.test", transport=httpx.MockTransport(answer))
    with api, pytest.raises(todos.UndocumentedResponse) as caught:
        api.get_todo(1)

    assert caught.value.status == 200
    assert "undocumented response 200" in str(caught.value)


FORMS = App(title="Forms", version="1")


@FORMS.post("/upload")
async def upload(name: str = Form()) -> dict[str, str]:
    return {"name": name}


def test_what_the_client_cannot_send_yet_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["client", "tests.test_client:FORMS", "-o", str(tmp_path / "forms")]) == 1
    assert main(["client", "tests.no_such_module:app", "-o", str(tmp_path / "none")]) == 2

    err = capsys.readouterr().err
    assert "POST /upload: a client sends JSON bodies only" in err
    assert not (tmp_path / "forms").exists()
