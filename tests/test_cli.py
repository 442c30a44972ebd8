"""The ``bocadillo`` command: ``bocadillo openapi MODULE:APP``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from starlette.testclient import TestClient

from bocadillo._cli import main

ROOT = Path(__file__).resolve().parent.parent
TODOS = "examples.todos.app:app"


@pytest.fixture
def isolated_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Undo what the command does to ``sys.path`` and ``sys.modules``."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("cli_"):
            del sys.modules[name]


def write_module(directory: Path, name: str, source: str) -> None:
    (directory / f"{name}.py").write_text(textwrap.dedent(source))


def served(path: str) -> bytes:
    from examples.todos.app import app

    with TestClient(app) as client:
        response = client.get(path)
    assert response.status_code == 200
    return response.content


def test_prints_the_served_json_document_with_a_final_newline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["openapi", TODOS]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.encode() == served("/openapi.json") + b"\n"
    assert json.loads(out)["info"]["title"] == "Todos"


def test_yaml_is_the_served_yaml_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["openapi", TODOS, "--yaml"]) == 0
    out = capsys.readouterr().out
    assert out.encode() == served("/openapi.yaml")
    assert yaml.safe_load(out) == json.loads(served("/openapi.json"))


@pytest.mark.parametrize("as_yaml", [False, True], ids=["json", "yaml"])
def test_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], as_yaml: bool) -> None:
    target = tmp_path / "todos.out"
    assert main(["openapi", TODOS, "-o", str(target), *(["--yaml"] if as_yaml else [])]) == 0
    assert capsys.readouterr() == ("", "")
    expected = served("/openapi.yaml") if as_yaml else served("/openapi.json") + b"\n"
    assert target.read_bytes() == expected


def test_unwritable_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "missing-dir" / "todos.json"
    assert main(["openapi", TODOS, "-o", str(target)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("bocadillo openapi: error: could not write")
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("examples.todos.app", "is not of the form MODULE:APP"),
        ("examples.todos.app:", "is not of the form MODULE:APP"),
        (":app", "is not of the form MODULE:APP"),
        ("examples/todos/app.py:app", "is not of the form MODULE:APP"),
        ("examples.todos.nowhere:app", "could not import module 'examples.todos.nowhere'"),
        ("no_such_package.app:app", "could not import module 'no_such_package.app'"),
        ("examples.todos.app:nope", "module 'examples.todos.app' has no attribute 'nope'"),
        ("examples.todos.app:app.nope", "module 'examples.todos.app.app' has no attribute 'nope'"),
        ("examples.todos.app:App", "is the class App, not a bocadillo App instance"),
        ("examples.todos.app:list_todos", "is a function object, not a bocadillo App instance"),
    ],
)
def test_usage_errors_exit_2_with_one_line_on_stderr(
    target: str, message: str, capsys: pytest.CaptureFixture[str], isolated_imports: None
) -> None:
    assert main(["openapi", target]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("bocadillo openapi: error: ")
    assert message in err
    assert err.count("\n") == 1


def test_misconfigured_app_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_imports: None
) -> None:
    write_module(
        tmp_path,
        "cli_bad_app",
        """
        from bocadillo import App

        app = App()

        @app.get("/items")
        async def items(missing_provider) -> list[int]:
            return []
        """,
    )
    assert main(["openapi", "cli_bad_app:app", "--app-dir", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("bocadillo openapi: error: cli_bad_app:app is misconfigured: ")
    assert "missing_provider" in err and "cli_bad_app.py" in err
    assert "Traceback" not in err


def test_configuration_error_on_import_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_imports: None
) -> None:
    write_module(
        tmp_path, "cli_bad_limit", "from bocadillo import App\napp = App(max_body_size=0)\n"
    )
    assert main(["openapi", "cli_bad_limit:app", "--app-dir", str(tmp_path)]) == 1
    assert "max_body_size must be a positive number" in capsys.readouterr().err


def test_a_broken_import_inside_the_module_is_not_hidden(
    tmp_path: Path, isolated_imports: None
) -> None:
    write_module(tmp_path, "cli_broken", "import cli_no_such_dependency\n")
    with pytest.raises(ModuleNotFoundError, match="cli_no_such_dependency"):
        main(["openapi", "cli_broken:app", "--app-dir", str(tmp_path)])


def test_finds_modules_in_the_current_directory(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    isolated_imports: None,
) -> None:
    write_module(
        tmp_path,
        "cli_here",
        """
        from bocadillo import App

        app = App(title="Here")

        @app.get("/ping")
        async def ping() -> str:
            return "pong"
        """,
    )
    monkeypatch.chdir(tmp_path)
    sys.path[:] = [p for p in sys.path if p not in ("", ".", str(tmp_path))]
    assert main(["openapi", "cli_here:app"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["info"]["title"] == "Here"
    assert list(document["paths"]) == ["/ping"]


def test_argparse_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in ([], ["nope"], ["openapi"], ["openapi", TODOS, "--bogus"]):
        with pytest.raises(SystemExit) as exc_info:
            main(argv)
        assert exc_info.value.code == 2
        assert "usage: bocadillo" in capsys.readouterr().err


def test_help_lists_the_openapi_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc_info:
        main(["--help"])
    assert exc_info.value.code == 0
    assert "openapi" in capsys.readouterr().out


def test_console_script_is_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"] == {"bocadillo": "bocadillo._cli:main"}


def test_python_dash_m_bocadillo() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bocadillo", "openapi", TODOS],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr == b""
    assert result.stdout == served("/openapi.json") + b"\n"
