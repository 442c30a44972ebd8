"""Every Python block in docs/ and README.md runs, in order, one namespace per file."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def python_blocks(path: Path) -> list[tuple[int, str]]:
    text = path.read_text()
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in _BLOCK.finditer(text)]


@pytest.mark.parametrize("document", DOCUMENTS, ids=[str(p.relative_to(ROOT)) for p in DOCUMENTS])
def test_python_blocks_run(document: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A real module, so dataclasses and pydantic can resolve names defined in the page.
    module = types.ModuleType(f"docs_{document.stem}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    for line, source in python_blocks(document):
        # Pad with newlines so a traceback points at the line in the Markdown file;
        # dont_inherit: this file's `from __future__` imports must not leak in.
        code = compile("\n" * (line - 1) + source, str(document), "exec", dont_inherit=True)
        exec(code, module.__dict__)


GUIDES = [
    p for p in DOCUMENTS if p.parent.name == "docs" and p.stem not in {"architecture", "index"}
]


@pytest.mark.parametrize("guide", GUIDES, ids=[p.stem for p in GUIDES])
def test_guide_shows_running_code(guide: Path) -> None:
    assert python_blocks(guide), f"{guide.name} has no Python example"
