"""The committed documents in openapi/: valid, and in step with the example apps."""

from __future__ import annotations

import difflib
import importlib
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from bocadillo import App
from bocadillo._cli import main

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = ROOT / "openapi"


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


@pytest.mark.parametrize("name", EXAMPLES)
def test_committed_document_matches_the_app(name: str, tmp_path: Path) -> None:
    fresh = tmp_path / f"{name}.json"
    assert main(["openapi", f"examples.{name}.app:app", "-o", str(fresh)]) == 0
    committed = DOCUMENTS / f"{name}.json"
    regenerate = (
        f"python -m bocadillo openapi examples.{name}.app:app -o openapi/{name}.json "
        "(or python3 scripts/openapi.py for every example), then commit it"
    )
    assert committed.exists(), f"openapi/{name}.json is missing; create it with: {regenerate}"
    old, new = committed.read_bytes(), fresh.read_bytes()
    if old != new:
        diff = difflib.unified_diff(
            old.decode(errors="replace").splitlines(),
            new.decode(errors="replace").splitlines(),
            f"openapi/{name}.json (committed)",
            f"examples.{name}.app:app (now)",
            lineterm="",
        )
        pytest.fail(
            f"openapi/{name}.json no longer matches examples/{name}/app.py; "
            f"regenerate it with: {regenerate}\n" + "\n".join(list(diff)[:40]),
            pytrace=False,
        )


def test_every_committed_document_has_an_example() -> None:
    stale = sorted(p.name for p in DOCUMENTS.glob("*.json") if p.stem not in EXAMPLES)
    assert not stale, f"openapi/ holds documents of no example: {stale}; delete them"
