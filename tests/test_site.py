"""The documentation site: every public name in the API reference, every page in the nav,
and a strict `mkdocs build` (broken links, missing anchors and unresolvable names fail it)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import bocadillo
import bocadillo.testing

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
MKDOCS_YML = ROOT / "mkdocs.yml"
REFERENCE = DOCS / "reference.md"
BUILD_TIMEOUT = 300  # seconds; the build takes a few on a quiet machine

_ENTRY = re.compile(r"^::: *(\S+)", re.MULTILINE)


def reference_entries() -> list[str]:
    return _ENTRY.findall(REFERENCE.read_text())


def public_names() -> list[str]:
    return [f"bocadillo.{name}" for name in bocadillo.__all__] + [
        f"bocadillo.testing.{name}" for name in bocadillo.testing.__all__
    ]


def test_every_public_name_has_a_reference_entry() -> None:
    entries = set(reference_entries())
    missing = [name for name in public_names() if name not in entries]
    assert not missing, f"docs/reference.md has no `::: NAME` entry for {missing}"


def resolve(dotted: str) -> Any:
    """The object a `::: a.b.C` entry names: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def test_every_reference_entry_names_something_that_exists() -> None:
    entries = reference_entries()
    assert len(entries) == len(set(entries)), "docs/reference.md documents a name twice"
    broken = []
    for entry in entries:
        try:
            resolve(entry)
        except (ImportError, AttributeError):
            broken.append(entry)
    assert not broken, f"docs/reference.md names what does not exist: {broken}"


def nav_files(nav: Any) -> Iterator[str]:
    """The page paths of a nav: a list of pages, `{title: page}` or `{title: [sections]}`."""
    if isinstance(nav, str):
        yield nav
    elif isinstance(nav, list):
        for item in nav:
            yield from nav_files(item)
    elif isinstance(nav, dict):
        for value in nav.values():
            yield from nav_files(value)


def load_config() -> dict[str, Any]:
    config = yaml.safe_load(MKDOCS_YML.read_text())
    assert isinstance(config, dict)
    return config


def test_every_page_is_in_the_nav_and_every_nav_entry_exists() -> None:
    nav = list(nav_files(load_config()["nav"]))
    assert len(nav) == len(set(nav)), "mkdocs.yml lists a page twice"
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert not sorted(pages - set(nav)), f"pages of docs/ missing from the nav: {pages - set(nav)}"
    assert not sorted(set(nav) - pages), f"nav entries with no page: {set(nav) - pages}"


def test_the_nav_starts_with_the_introduction() -> None:
    nav = list(nav_files(load_config()["nav"]))
    assert nav[:4] == ["index.md", "installation.md", "quickstart.md", "async.md"]


def _site_tools_missing() -> list[str]:
    tools = ["mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"]
    return [t for t in tools if importlib.util.find_spec(t.split(".")[0]) is None]


@pytest.fixture(scope="module")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    missing = _site_tools_missing()
    if missing:
        pytest.skip(f"the docs tools are not installed ({missing}): pip install -e '.[docs]'")
    site = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)]
    result = subprocess.run(
        [*command, "-f", str(MKDOCS_YML)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr}"
    return site


def test_strict_build_passes_and_renders_every_page(built_site: Path) -> None:
    for page in DOCS.rglob("*.md"):
        relative = page.relative_to(DOCS).with_suffix("")
        html = built_site / (
            "index.html" if relative.name == "index" else f"{relative.as_posix()}/index.html"
        )
        assert html.is_file(), f"{page.name} was not rendered"


def test_reference_page_renders_an_entry_for_every_public_name(built_site: Path) -> None:
    html = (built_site / "reference" / "index.html").read_text()
    missing = [name for name in public_names() if f'id="{name}"' not in html]
    assert not missing, f"the built API reference has no section for {missing}"


def test_built_site_loads_nothing_from_other_hosts_for_its_look(built_site: Path) -> None:
    # `theme.font: false`: no Google Fonts, so the pages look the same offline.
    for html in built_site.rglob("*.html"):
        text = html.read_text()
        assert "fonts.googleapis.com" not in text and "fonts.gstatic.com" not in text, html
