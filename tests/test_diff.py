"""``bocadillo diff`` end to end: apps and files as sides, text and JSON, exit codes;
recursive schemas and discriminated unions without false alarms."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bocadillo.cli.main import main
from bocadillo.diff import diff_documents

EXAMPLES = [
    "examples.todos.app:app",
    "examples.chat.app:app",
    "examples.feed.app:app",
    "examples.jobs.app:app",
]


@pytest.fixture
def isolated_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Undo what the command does to ``sys.path`` and ``sys.modules``."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("diff_"):
            del sys.modules[name]


def write_app(directory: Path, name: str, source: str) -> str:
    (directory / f"{name}.py").write_text(textwrap.dedent(source))
    return f"{name}:app"


V1 = """
from collections.abc import AsyncIterator
from typing import Literal

from pydantic import BaseModel, Field

from bocadillo import App, Query, WebSocket

app = App(title="Shop", version="1")

class ItemIn(BaseModel):
    name: str = Field(max_length=100)

class Item(ItemIn):
    id: int
    colour: Literal["red", "blue"]

class Say(BaseModel):
    text: str

class Said(BaseModel):
    text: str

class Tick(BaseModel):
    n: int

@app.get("/items")
async def list_items(limit: int = Query(10, le=100)) -> list[Item]:
    return []

@app.post("/items", status_code=201)
async def create_item(item: ItemIn) -> Item:
    return Item(id=1, colour="red", name=item.name)

@app.get("/items/{id}")
async def get_item(id: int) -> Item:
    return Item(id=id, colour="red", name="x")

@app.websocket("/chat")
async def chat(ws: WebSocket[Say, Said]) -> None:
    async for message in ws:
        await ws.send(Said(text=message.text))

@app.sse("/ticks")
async def ticks() -> AsyncIterator[Tick]:
    yield Tick(n=1)
"""

# Every change breaking: a required query parameter, a narrowed body field, a new
# enum value sent, a removed operation, a message field required on receipt.
V2 = """
from collections.abc import AsyncIterator
from typing import Literal

from pydantic import BaseModel, Field

from bocadillo import App, Query, WebSocket

app = App(title="Shop", version="2")

class ItemIn(BaseModel):
    name: str = Field(max_length=50)

class Item(ItemIn):
    id: int
    colour: Literal["red", "blue", "green"]

class Say(BaseModel):
    text: str
    to: str

class Said(BaseModel):
    text: str

class Tick(BaseModel):
    n: int

@app.get("/items")
async def list_items(shop: str, limit: int = Query(10, le=100)) -> list[Item]:
    return []

@app.post("/items", status_code=201)
async def create_item(item: ItemIn) -> Item:
    return Item(id=1, colour="red", name=item.name)

@app.websocket("/chat")
async def chat(ws: WebSocket[Say, Said]) -> None:
    async for message in ws:
        await ws.send(Said(text=message.text))

@app.sse("/ticks")
async def ticks() -> AsyncIterator[Tick]:
    yield Tick(n=1)
"""

# Only safe changes: an optional parameter, a new response field, a new operation.
WITH_Q = V1.replace(
    "async def list_items(limit: int = Query(10, le=100))",
    "async def list_items(limit: int = Query(10, le=100), q: str | None = None)",
)
V3 = WITH_Q.replace("    colour: Literal", "    price: int = 0\n    colour: Literal").replace(
    '@app.websocket("/chat")',
    '@app.delete("/items/{id}", status_code=204)\nasync def delete_item(id: int) -> None:\n'
    '    return None\n\n@app.websocket("/chat")',
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["diff", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_breaking_changes_between_two_apps_exit_1_with_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_imports: None
) -> None:
    old = write_app(tmp_path, "diff_v1", V1)
    new = write_app(tmp_path, "diff_v2", V2)
    code, out, err = run(capsys, old, new, "--app-dir", str(tmp_path), "--format", "json")
    assert (code, err) == (1, "")
    report = json.loads(out)
    found = {(c["rule"], c["where"], c["severity"]) for c in report["changes"]}
    assert found >= {
        ("new-required-request-parameter", "GET /items", "breaking"),
        ("request-property-max-length-decreased", "POST /items", "breaking"),
        ("response-property-enum-value-added", "GET /items", "breaking"),
        ("api-path-removed", "/items/{id}", "breaking"),
        ("new-required-received-message-property", "channel /chat", "breaking"),
    }, report["changes"]
    assert report["breaking"] == sum(c["severity"] == "breaking" for c in report["changes"])
    assert [c["severity"] for c in report["changes"]] == sorted(
        (c["severity"] for c in report["changes"]),
        key=["breaking", "maybe-breaking", "safe"].index,
    )
    documents = {c["document"] for c in report["changes"]}
    assert documents == {"openapi", "asyncapi"}


def test_safe_changes_exit_0_with_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_imports: None
) -> None:
    old = write_app(tmp_path, "diff_v1", V1)
    new = write_app(tmp_path, "diff_v3", V3)
    code, out, err = run(capsys, old, new, "--app-dir", str(tmp_path))
    assert (code, err) == (0, "")
    assert out.startswith("safe (5):\n")
    assert "  GET /items: query parameter q added\n" in out
    assert "[new-optional-request-parameter]" in out
    assert "DELETE /items/{id}: operation added" in out
    assert "GET /items/{id}: 200 response body property price: added (required)\n" in out
    assert out.endswith("0 breaking, 0 maybe-breaking, 5 safe.\n")


def test_fail_on_maybe_breaking(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_imports: None
) -> None:
    old = write_app(tmp_path, "diff_q", WITH_Q)
    new = write_app(tmp_path, "diff_v1", V1)  # the optional q gone: maybe breaking
    code, out, _ = run(capsys, old, new, "--app-dir", str(tmp_path))
    assert code == 0
    assert out.startswith("maybe-breaking (1):\n  GET /items: query parameter q removed\n")
    assert run(capsys, old, new, "--app-dir", str(tmp_path), "--fail-on", "maybe-breaking")[0] == 1


@pytest.mark.parametrize("target", EXAMPLES)
def test_each_example_against_itself_gives_no_change(
    target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, target, target) == (0, "No changes.\n", "")


def test_committed_documents_against_the_apps_give_no_change(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = Path(__file__).parent.parent / "openapi"
    assert run(capsys, str(root / "todos.json"), "examples.todos.app:app")[:2] == (
        0,
        "No changes.\n",
    )
    assert run(capsys, str(root / "chat.asyncapi.json"), "examples.chat.app:app")[:2] == (
        0,
        "No changes.\n",
    )


def test_a_yaml_file_against_a_json_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads((Path(__file__).parent.parent / "openapi" / "todos.json").read_text())
    changed = copy.deepcopy(document)
    del changed["paths"]["/todos"]
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(document))
    (tmp_path / "new.json").write_text(json.dumps(changed))
    code, out, _ = run(capsys, str(tmp_path / "old.yaml"), str(tmp_path / "new.json"))
    assert code == 1
    assert "/todos: path /todos removed" in out


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("missing.json", "missing.json", "'missing.json' is neither a file nor MODULE:APP"),
        ("{openapi}", "{asyncapi}", "nothing to compare: "),
        ("{text}", "{openapi}", "is neither an OpenAPI nor an AsyncAPI document"),
        ("{broken}", "{openapi}", "could not read "),
    ],
)
def test_usage_errors_exit_2(
    old: str, new: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {
        "openapi": '{"openapi": "3.1.0", "paths": {}}',
        "asyncapi": '{"asyncapi": "3.0.0", "channels": {}}',
        "text": "just words",
        "broken": "{: [",
    }
    for name, text in files.items():
        (tmp_path / f"{name}.json").write_text(text)
    paths = {f"{{{name}}}": str(tmp_path / f"{name}.json") for name in files}
    code, out, err = run(capsys, paths.get(old, old), paths.get(new, new))
    assert (code, out) == (2, "")
    assert err.startswith("bocadillo diff: error: ")
    assert message in err


# -- recursive schemas and unions ---------------------------------------------------


def document(schemas: dict[str, Any], body: Any, response: Any) -> dict[str, Any]:
    content = lambda schema: {"application/json": {"schema": schema}}  # noqa: E731
    return {
        "openapi": "3.1.0",
        "paths": {
            "/trees": {
                "post": {
                    "requestBody": {"required": True, "content": content(body)},
                    "responses": {"200": {"description": "OK", "content": content(response)}},
                }
            }
        },
        "components": {"schemas": schemas},
    }


def tree(
    extra: dict[str, Any] | None = None, required: tuple[str, ...] = ("name",)
) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "children": {"type": "array", "items": {"$ref": "#/components/schemas/Tree"}},
            **(extra or {}),
        },
        "required": list(required),
    }


TREE = {"$ref": "#/components/schemas/Tree"}


def test_a_recursive_schema_ends_and_reports_a_change_once_per_operation() -> None:
    old = document({"Tree": tree()}, TREE, TREE)
    assert diff_documents(old, copy.deepcopy(old)) == []
    new = document({"Tree": tree({"size": {"type": "integer"}}, ("name", "size"))}, TREE, TREE)
    changes = [(c.rule, c.severity.value, c.pointer) for c in diff_documents(old, new)]
    assert changes == [
        ("new-required-request-property", "breaking", "/components/schemas/Tree/properties/size"),
        ("response-required-property-added", "safe", "/components/schemas/Tree/properties/size"),
    ]


def test_a_change_deep_in_a_recursive_schema_is_found() -> None:
    deep = {"type": "object", "properties": {"label": {"type": "string", "maxLength": 9}}}
    old = document(
        {"Tree": tree({"leaf": {"$ref": "#/components/schemas/Leaf"}}), "Leaf": deep}, TREE, TREE
    )
    narrower = {"type": "object", "properties": {"label": {"type": "string", "maxLength": 3}}}
    new = document(
        {"Tree": tree({"leaf": {"$ref": "#/components/schemas/Leaf"}}), "Leaf": narrower},
        TREE,
        TREE,
    )
    [request, response] = diff_documents(old, new)
    assert (request.rule, request.severity.value) == (
        "request-property-max-length-decreased",
        "breaking",
    )
    assert request.message == "request body property leaf.label: maxLength decreased from 9 to 3"
    assert (response.rule, response.severity.value) == (
        "response-property-max-length-decreased",
        "safe",
    )


CAT = {
    "type": "object",
    "properties": {"kind": {"const": "cat"}, "meow": {"type": "string"}},
    "required": ["kind"],
}
DOG = {
    "type": "object",
    "properties": {"kind": {"const": "dog"}, "bark": {"type": "string"}},
    "required": ["kind"],
}


def union(*names: str) -> dict[str, Any]:
    return {
        "oneOf": [{"$ref": f"#/components/schemas/{name}"} for name in names],
        "discriminator": {"propertyName": "kind"},
    }


def test_a_discriminated_union_matches_variants_by_value_not_name_or_position() -> None:
    old = document({"Cat": CAT, "Dog": DOG}, union("Cat", "Dog"), union("Cat", "Dog"))
    renamed = document({"Kitty": CAT, "Dog": DOG}, union("Dog", "Kitty"), union("Dog", "Kitty"))
    assert diff_documents(old, renamed) == []


def test_a_discriminated_union_variant_change_is_found_in_its_variant() -> None:
    old = document({"Cat": CAT, "Dog": DOG}, union("Cat", "Dog"), union("Cat", "Dog"))
    loud = {**DOG, "required": ["kind", "bark"]}
    new = document({"Cat": CAT, "Dog": loud}, union("Cat", "Dog"), union("Cat", "Dog"))
    assert {(c.rule, c.severity.value) for c in diff_documents(old, new)} == {
        ("request-property-became-required", "breaking"),
        ("response-property-became-required", "safe"),
    }


def test_a_discriminated_union_variant_removed_and_added() -> None:
    old = document({"Cat": CAT, "Dog": DOG}, union("Cat", "Dog"), union("Cat"))
    new = document({"Cat": CAT, "Dog": DOG}, union("Cat"), union("Cat", "Dog"))
    assert {(c.rule, c.severity.value, c.message) for c in diff_documents(old, new)} == {
        ("request-body-one-of-removed", "breaking", "request body: variant dog removed"),
        ("response-body-one-of-added", "breaking", "200 response body: variant dog added"),
    }


ITEM = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
NOTE = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
REF = {"$ref": "#/components/schemas/Item"}


def refs(*options: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": list(options)}


@pytest.mark.parametrize("plain", [REF, ITEM], ids=["a $ref", "inline"])
def test_a_plain_object_against_a_union_holding_it_is_only_the_new_variant(
    plain: dict[str, Any],
) -> None:
    schemas = {"Item": ITEM, "Note": NOTE}
    note = {"$ref": "#/components/schemas/Note"}
    old = document(schemas, plain, plain)
    nullable = document(schemas, refs(REF, {"type": "null"}), refs(REF, {"type": "null"}))
    assert {(c.rule, c.severity.value) for c in diff_documents(old, nullable)} == {
        ("request-body-became-nullable", "safe"),
        ("response-body-became-nullable", "breaking"),
    }
    widened = document(schemas, refs(note, REF), refs(note, REF))
    assert {(c.rule, c.severity.value, c.message) for c in diff_documents(old, widened)} == {
        ("request-body-any-of-added", "safe", "request body: variant Note added"),
        ("response-body-any-of-added", "breaking", "200 response body: variant Note added"),
    }
    assert {(c.rule, c.severity.value) for c in diff_documents(widened, old)} == {
        ("request-body-any-of-removed", "breaking"),
        ("response-body-any-of-removed", "safe"),
    }
    # The variant that stands for the plain schema is still compared with it.
    loud = {**ITEM, "properties": {**ITEM["properties"], "size": {"type": "integer"}}}
    grown = document({**schemas, "Item": loud}, refs(REF, {"type": "null"}), REF)
    assert {(c.rule, c.severity.value) for c in diff_documents(old, grown)} == {
        ("request-body-became-nullable", "safe"),
        ("new-optional-request-property", "safe"),
        ("response-optional-property-added", "safe"),
    }


SSE_V1 = """
from collections.abc import AsyncIterator

from pydantic import BaseModel

from bocadillo import App

app = App(title="Ticks", version="1")

class Tick(BaseModel):
    n: int

@app.sse("/ticks")
async def ticks() -> AsyncIterator[Tick]:
    yield Tick(n=1)
"""

SSE_V2 = """
from collections.abc import AsyncIterator

from pydantic import BaseModel

from bocadillo import App

app = App(title="Ticks", version="2")

class Tick(BaseModel):
    n: str

class Done(BaseModel):
    total: int

@app.sse("/ticks")
async def ticks() -> AsyncIterator[Tick | Done]:
    yield Tick(n="1")
"""


def test_sse_events_changed_in_both_documents(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_imports: None
) -> None:
    old = write_app(tmp_path, "diff_sse1", SSE_V1)
    new = write_app(tmp_path, "diff_sse2", SSE_V2)
    code, out, _ = run(capsys, old, new, "--app-dir", str(tmp_path), "--format", "json")
    assert code == 1
    found = {(c["document"], c["rule"], c["severity"]) for c in json.loads(out)["changes"]}
    assert found >= {
        ("openapi", "response-property-type-changed", "breaking"),  # the event's data
        ("openapi", "response-body-one-of-added", "breaking"),  # a new event type
        ("asyncapi", "sent-message-property-type-changed", "breaking"),
        ("asyncapi", "sent-message-added", "breaking"),
    }, found


# -- --base REV -----------------------------------------------------------------------


def git(directory: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=directory,
        check=True,
        capture_output=True,
    )


def test_base_compares_the_app_at_a_git_revision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_imports: None
) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "pkg").mkdir()
    write_app(tmp_path / "pkg", "diff_shop", V1)
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "v1")
    write_app(tmp_path / "pkg", "diff_shop", V2)  # not committed: the working tree's app
    app_dir = str(tmp_path / "pkg")
    code, out, err = run(capsys, "--base", "HEAD", "diff_shop:app", "--app-dir", app_dir)
    assert (code, err) == (1, "")
    assert "  GET /items: query parameter shop added as required\n" in out
    assert "channel /chat: received message in property to: added as required" in out
    git(tmp_path, "commit", "-qam", "v2")
    assert run(capsys, "--base", "HEAD", "diff_shop:app", "--app-dir", app_dir)[:2] == (
        0,
        "No changes.\n",
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--base", "no-such-revision", "examples.todos.app:app"], "git archive: "),
        (["--base", "HEAD", "a:app", "b:app"], "with --base REV, give one side"),
        (["examples.todos.app:app"], "give two sides, OLD and NEW"),
    ],
)
def test_base_usage_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.startswith("bocadillo diff: error: ")
    assert message in err


# -- bocadillo check --baseline -----------------------------------------------------

OPENAPI_DIR = Path(__file__).parent.parent / "openapi"


def check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["check", *argv, "--no-contract"])
    out, err = capsys.readouterr()
    return code, out, err


def test_check_against_committed_baselines_json_and_yaml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncapi = json.loads((OPENAPI_DIR / "chat.asyncapi.json").read_text())
    (tmp_path / "chat.asyncapi.yaml").write_text(yaml.safe_dump(asyncapi))
    code, out, err = check(
        capsys,
        "examples.chat.app:app",
        "--baseline",
        str(OPENAPI_DIR / "chat.json"),
        "--baseline",
        str(tmp_path / "chat.asyncapi.yaml"),
    )
    assert (code, err) == (0, "")
    assert out.endswith(
        f"against {OPENAPI_DIR / 'chat.json'} (openapi):\nNo changes.\n"
        f"against {tmp_path / 'chat.asyncapi.yaml'} (asyncapi):\nNo changes.\n"
    )


def test_check_fails_on_a_breaking_change_from_the_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads((OPENAPI_DIR / "todos.json").read_text())
    document["paths"]["/gone"] = document["paths"]["/todos"]  # the app has no /gone
    (tmp_path / "todos.json").write_text(json.dumps(document))
    code, out, err = check(
        capsys, "examples.todos.app:app", "--baseline", str(tmp_path / "todos.json")
    )
    assert (code, err) == (1, "")
    assert "breaking (1):\n  /gone: path /gone removed\n" in out
    assert out.endswith("1 breaking, 0 maybe-breaking, 0 safe.\n")


def test_check_a_safe_change_from_the_baseline_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads((OPENAPI_DIR / "todos.json").read_text())
    del document["paths"]["/todos"]["post"]  # the app has it: an operation added
    (tmp_path / "todos.json").write_text(json.dumps(document))
    code, out, _ = check(
        capsys, "examples.todos.app:app", "--baseline", str(tmp_path / "todos.json")
    )
    assert code == 0
    assert "safe (1):\n  POST /todos: operation added\n" in out


def test_check_runs_the_contract_tests_then_fails_on_the_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads((OPENAPI_DIR / "chat.json").read_text())
    document["paths"]["/gone"] = next(iter(document["paths"].values()))
    (tmp_path / "chat.json").write_text(json.dumps(document))
    argv = ["check", "examples.chat.app:app", "--max-examples", "2", "--no-stateful"]
    code = main([*argv, "--baseline", str(tmp_path / "chat.json")])
    out, _ = capsys.readouterr()
    assert code == 1
    assert "breaking (1):\n  /gone: path /gone removed\n" in out
    assert "total " in out  # the contract tests ran, and passed
    assert main([*argv, "--baseline", str(OPENAPI_DIR / "chat.json")]) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("just words", "is neither an OpenAPI nor an AsyncAPI document"),
    ],
)
def test_check_a_bad_baseline_is_a_usage_error(
    content: str | None, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "baseline.json"
    if content is not None:
        path.write_text(content)
    code, out, err = check(capsys, "examples.todos.app:app", "--baseline", str(path))
    assert (code, out) == (2, "")
    assert err.startswith("bocadillo check: error: ")
    assert message in err
