"""Users' code is typed: the package ships ``py.typed``, the response classes are
all ``bocadillo.Response``, and ``mypy --strict`` accepts ``tests/typing`` (which
asserts the types of what users touch) and ``examples/``."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hatchling.builders.wheel import WheelBuilder

import bocadillo
from bocadillo import (
    App,
    ConfigurationError,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Redirect,
    RedirectResponse,
    Response,
    StreamingResponse,
)

ROOT = Path(__file__).resolve().parent.parent


def test_the_built_wheel_ships_py_typed(tmp_path: Path) -> None:
    # The project's own build backend, as `pip install .` or `python -m build` runs it.
    (wheel,) = WheelBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"])
    names = zipfile.ZipFile(wheel).namelist()
    assert "bocadillo/py.typed" in names
    assert "bocadillo/__init__.py" in names


@pytest.mark.parametrize(
    "response",
    [
        JSONResponse({"id": 1}),
        HTMLResponse("<h1>Hello</h1>"),
        PlainTextResponse("pong"),
        Redirect("/todos"),
        RedirectResponse("/todos", status_code=303),
        StreamingResponse(iter([b"a"]), media_type="text/csv"),
    ],
    ids=lambda response: type(response).__name__,
)
def test_every_response_class_is_a_bocadillo_response(response: Response) -> None:
    assert isinstance(response, bocadillo.Response)


def test_an_openapi_version_outside_the_literal_is_still_refused_at_run_time() -> None:
    version: str = "3.0.3"  # a caller the type checker cannot see, e.g. from a config file
    with pytest.raises(ConfigurationError, match=r"'3\.0\.3'"):
        App(openapi_version=version)  # type: ignore[arg-type]


def test_mypy_strict_accepts_users_typed_code_and_the_examples() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "tests/typing", "examples"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def test_mypy_reports_a_wrong_option_to_users(tmp_path: Path) -> None:
    # The deliberate error of tests/typing/usage.py, without its ignore: reported.
    source = tmp_path / "wrong.py"
    source.write_text(
        "from bocadillo import App\n"
        "app = App()\n"
        'app.websocket("/ws", invalid_message="ignore")\n'
        'App(openapi_version="3.0.3")\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", str(source)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'wrong.py:3: error: Argument "invalid_message"' in result.stdout
    assert 'wrong.py:4: error: Argument "openapi_version"' in result.stdout
