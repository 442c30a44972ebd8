"""Every Python block in docs/ and README.md runs, in order, one namespace per file."""

from __future__ import annotations

import re
import socket
import sys
import types
from pathlib import Path
from typing import Any

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
    real_bind = socket.socket.bind
    for line, source in python_blocks(document):
        # Pad with newlines so a traceback points at the line in the Markdown file;
        # dont_inherit: this file's `from __future__` imports must not leak in.
        code = compile("\n" * (line - 1) + source, str(document), "exec", dont_inherit=True)
        if is_live(source):
            monkeypatch.setattr(socket.socket, "bind", _loopback_only(real_bind))
        else:
            monkeypatch.setattr(socket.socket, "bind", _no_server(document, line))
        exec(code, module.__dict__)
    monkeypatch.setattr(socket.socket, "bind", real_bind)


LIVE_MARK = "# live server"


def is_live(source: str) -> bool:
    """A block that starts a server says so on its first line: ``# live server: ...``."""
    return source.lstrip().startswith(LIVE_MARK)


def _no_server(document: Path, line: int) -> Any:
    def bind(self: socket.socket, address: Any) -> None:
        raise AssertionError(
            f"{document.name}:{line}: this block starts a server; mark it with a first "
            f"line `{LIVE_MARK}: ...` (it then runs against a live server on 127.0.0.1)"
        )

    return bind


def _loopback_only(real_bind: Any) -> Any:
    def bind(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in (
            "127.0.0.1",
            "::1",
            "localhost",
        ):
            raise AssertionError(f"a live-server block binds {address!r}, not 127.0.0.1")
        real_bind(self, address)

    return bind


def test_live_server_blocks_are_marked_and_some_exist() -> None:
    live = [
        (document.name, line)
        for document in DOCUMENTS
        for line, source in python_blocks(document)
        if is_live(source)
    ]
    assert live, "no documentation block runs against a live server"
    for document in DOCUMENTS:
        for line, source in python_blocks(document):
            if "LiveServer(" in source and "with LiveServer(" in source:
                assert is_live(source), f"{document.name}:{line} starts a LiveServer unmarked"


GUIDES = [
    p
    for p in DOCUMENTS
    if p.parent.name == "docs" and p.stem not in {"architecture", "index", "reference"}
]


@pytest.mark.parametrize("guide", GUIDES, ids=[p.stem for p in GUIDES])
def test_guide_shows_running_code(guide: Path) -> None:
    assert python_blocks(guide), f"{guide.name} has no Python example"
