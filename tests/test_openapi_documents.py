"""The committed documents in openapi/: valid, and in step with the example apps.

Every example has openapi/<name>.json (OpenAPI 3.1); an example with WebSocket
routes also has openapi/<name>.asyncapi.json (AsyncAPI 3.0), and one without
has none.
"""

from __future__ import annotations

import difflib
import importlib
import json
import re
from pathlib import Path

import jsonschema
import pytest
from openapi_spec_validator import validate

from bocadillo import App
from bocadillo.cli.main import main
from bocadillo.diff import Severity, diff_documents, render_text
from bocadillo.testing import create_client

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = ROOT / "openapi"
ASYNCAPI_SCHEMA = ROOT / "tests" / "data" / "asyncapi-3.0.0-without-id.json"


def example_apps() -> dict[str, App]:
    """Every example: examples/<name>/app.py with an ``app``, by name."""
    apps: dict[str, App] = {}
    for app_py in sorted((ROOT / "examples").glob("*/app.py")):
        module = importlib.import_module(f"examples.{app_py.parent.name}.app")
        app = getattr(module, "app", None)
        if isinstance(app, App):
            apps[app_py.parent.name] = app
    return apps


EXAMPLES = example_apps()


def test_there_are_examples() -> None:
    assert "todos" in EXAMPLES


@pytest.mark.parametrize("name", EXAMPLES)
def test_document_is_valid_openapi(name: str) -> None:
    validate(EXAMPLES[name].openapi())


def has_channels(app: App) -> bool:
    """Whether the app documents WebSocket routes (and so has an AsyncAPI document)."""
    return bool(app.asyncapi()["channels"])


def check_committed(command: str, name: str, filename: str, tmp_path: Path) -> None:
    """``bocadillo <command>`` of example ``name`` is byte for byte openapi/<filename>."""
    fresh = tmp_path / filename
    assert main([command, f"examples.{name}.app:app", "-o", str(fresh)]) == 0
    committed = DOCUMENTS / filename
    regenerate = (
        f"python -m bocadillo {command} examples.{name}.app:app -o openapi/{filename} "
        "(or python3 scripts/openapi.py for every example), then commit it"
    )
    assert committed.exists(), f"openapi/{filename} is missing; create it with: {regenerate}"
    old, new = committed.read_bytes(), fresh.read_bytes()
    if old != new:
        pytest.fail(
            f"openapi/{filename} no longer matches examples/{name}/app.py; "
            f"regenerate it with: {regenerate}\n"
            + drift_report(old, new, f"openapi/{filename} (committed)", f"examples.{name}.app:app"),
            pytrace=False,
        )


def drift_report(old: bytes, new: bytes, old_name: str, new_name: str) -> str:
    """What changed in the contract (``bocadillo.diff``'s verdicts), then the text's diff."""
    try:
        changes = diff_documents(json.loads(old), json.loads(new))
    except ValueError as exc:  # not JSON, or not two documents of one kind
        contract = f"the contract could not be compared: {exc}\n"
    else:
        breaking = sum(change.severity is Severity.BREAKING for change in changes)
        if not changes:
            verdict = "no change to the contract (only the text differs)"
        elif breaking:
            verdict = f"BREAKING: {breaking} change(s) break clients"
        else:
            verdict = "no breaking change"
        contract = f"{verdict}; the changes, {old_name} to {new_name}:\n" + render_text(changes)
    diff = difflib.unified_diff(
        old.decode(errors="replace").splitlines(),
        new.decode(errors="replace").splitlines(),
        old_name,
        f"{new_name} (now)",
        lineterm="",
    )
    return contract + "\n" + "\n".join(list(diff)[:40])


def test_the_drift_report_says_which_changes_break() -> None:
    document = json.loads((DOCUMENTS / "todos.json").read_text())
    changed = json.loads(json.dumps(document))
    del changed["paths"]["/todos"]["post"]
    changed["paths"]["/todos/{id}"]["get"]["deprecated"] = True
    old = json.dumps(document).encode()
    report = drift_report(old, json.dumps(changed).encode(), "committed", "app")
    assert report.startswith("BREAKING: 1 change(s) break clients; the changes, committed to app")
    assert "breaking (1):\n  POST /todos: operation removed\n" in report
    assert "1 breaking, 0 maybe-breaking," in report
    reformatted = json.dumps(document, indent=1).encode()
    assert drift_report(old, reformatted, "committed", "app").startswith(
        "no change to the contract (only the text differs); "
    )
    safe = drift_report(json.dumps(changed).encode(), old, "committed", "app")
    assert safe.startswith("no breaking change; the changes, committed to app:\nsafe (")


@pytest.mark.parametrize("name", EXAMPLES)
def test_committed_document_matches_the_app(name: str, tmp_path: Path) -> None:
    check_committed("openapi", name, f"{name}.json", tmp_path)


@pytest.mark.parametrize("name", EXAMPLES)
def test_asyncapi_document_is_valid(name: str) -> None:
    """Against the official AsyncAPI 3.0.0 JSON Schema (tests/data/README.md)."""
    document = EXAMPLES[name].asyncapi()
    validator = jsonschema.Draft7Validator(json.loads(ASYNCAPI_SCHEMA.read_text()))
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
        for e in validator.iter_errors(document)
    ]
    assert not errors, "\n".join(errors[:10])
    for ref in set(re.findall(r'"\$ref":"(#/[^"]*)"', json.dumps(document, separators=(",", ":")))):
        node = document
        for token in ref[2:].split("/"):
            token = token.replace("~1", "/").replace("~0", "~")
            assert isinstance(node, dict) and token in node, f"{ref} does not resolve"
            node = node[token]


@pytest.mark.parametrize("name", EXAMPLES)
def test_committed_asyncapi_document_matches_the_app(name: str, tmp_path: Path) -> None:
    filename = f"{name}.asyncapi.json"
    if not has_channels(EXAMPLES[name]):
        assert not (DOCUMENTS / filename).exists(), (
            f"openapi/{filename} is there but examples/{name} has no WebSocket routes; delete it"
        )
        return
    check_committed("asyncapi", name, filename, tmp_path)
    committed = json.loads((DOCUMENTS / filename).read_text())
    assert committed["asyncapi"] == "3.0.0"


def test_every_committed_document_has_an_example() -> None:
    stale = sorted(
        p.name
        for p in DOCUMENTS.glob("*.json")
        if p.name.removesuffix(".json").removesuffix(".asyncapi") not in EXAMPLES
    )
    assert not stale, f"openapi/ holds documents of no example: {stale}; delete them"


@pytest.mark.parametrize("name", EXAMPLES)
def test_served_documents_are_the_committed_ones(name: str) -> None:
    """What the app serves is byte for byte what ``bocadillo openapi``/``asyncapi`` wrote."""
    filenames = {"/openapi.json": f"{name}.json"}
    if has_channels(EXAMPLES[name]):
        filenames["/asyncapi.json"] = f"{name}.asyncapi.json"
    with create_client(EXAMPLES[name]) as client:
        for path, filename in filenames.items():
            response = client.get(path)
            assert response.status_code == 200
            assert response.content + b"\n" == (DOCUMENTS / filename).read_bytes(), path
