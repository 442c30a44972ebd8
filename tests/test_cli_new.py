"""``bocadillo new``, the package's version, and the built wheel installed in a fresh venv."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from hatchling.builders.wheel import WheelBuilder
from packaging.version import Version

import bocadillo

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str | Path, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """This venv's Python, importing this checkout's bocadillo."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def new(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run("-m", "bocadillo", "new", *args, cwd=cwd)


# -- the version ----------------------------------------------------------------------------


def test_the_version_comes_after_0_18_and_is_a_pre_release() -> None:
    # The index holds bocadillo 0.18.3: the successor must order after it, and as a
    # pre-release it is only installed by those who ask for it (--pre or ==).
    version = Version(bocadillo.__version__)
    assert version > Version("0.18.3")
    assert version.major == 1
    assert version.is_prerelease


def test_bocadillo_version_prints_it(tmp_path: Path) -> None:
    result = run("-m", "bocadillo", "--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"bocadillo {bocadillo.__version__}\n"


# -- bocadillo new --------------------------------------------------------------------------


def test_new_makes_a_project_that_passes_its_own_tests(tmp_path: Path) -> None:
    result = new("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    project = tmp_path / "demo"
    assert result.stdout.splitlines()[:8] == [
        "Created the project 'demo' in demo/:",
        "  .gitignore",
        "  README.md",
        "  demo/__init__.py",
        "  demo/app.py",
        "  demo/providerconf.py",
        "  pyproject.toml",
        "  tests/test_app.py",
    ]
    assert "  cd demo\n" in result.stdout
    assert "  pytest" in result.stdout
    assert "  bocadillo dev demo.app:app" in result.stdout

    test_file = (project / "tests" / "test_app.py").read_text()
    assert "test_contract = contract_test(app)\n" in test_file
    pyproject = (project / "pyproject.toml").read_text()
    assert f'"bocadillo>={bocadillo.__version__},<2"' in pyproject
    readme = (project / "README.md").read_text()
    assert "bocadillo dev demo.app:app" in readme
    assert "\npytest" in readme

    tests = run("-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout

    routes = run("-m", "bocadillo", "routes", "demo.app:app", cwd=project)
    assert routes.returncode == 0, routes.stderr
    assert "GET     /hello/{name}  demo.app.hello" in routes.stdout
    assert routes.stdout.rstrip().endswith("greeting")  # from providerconf.py


def test_new_with_a_dash_and_a_dir(tmp_path: Path) -> None:
    result = new("todo-api", "--dir", "services/todos", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    project = tmp_path / "services" / "todos"
    assert (project / "todo_api" / "app.py").is_file()
    assert 'name = "todo-api"' in (project / "pyproject.toml").read_text()
    assert "bocadillo dev todo_api.app:app" in result.stdout


def test_new_fills_an_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    result = new("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "demo" / "demo" / "app.py").is_file()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("1demo", "'1demo' is not a project name: use letters, digits, '_' and '-'"),
        ("my api", "'my api' is not a project name"),
        ("../demo", "'../demo' is not a project name"),
        ("class", "'class' cannot be a project name: 'class' is a Python keyword"),
        (
            "json",
            "'json' cannot be a project name: its package 'json' would shadow a module",
        ),
        (
            "bocadillo",
            "'bocadillo' cannot be a project name: its package 'bocadillo' would shadow",
        ),
        ("tests", "'tests' cannot be a project name: its package 'tests' would shadow"),
    ],
)
def test_new_refuses_a_bad_name(tmp_path: Path, name: str, message: str) -> None:
    result = new(name, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"bocadillo new: error: {message}"), result.stderr
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_new_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "notes.txt").write_text("mine")
    result = new("demo", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        "bocadillo new: error: demo already exists and is not empty: choose another NAME or --dir\n"
    )
    assert [p.name for p in (tmp_path / "demo").iterdir()] == ["notes.txt"]


def test_new_refuses_a_file_as_its_folder(tmp_path: Path) -> None:
    (tmp_path / "demo").write_text("a file")
    result = new("demo", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "bocadillo new: error: demo exists and is not a folder\n"


# -- the wheel ------------------------------------------------------------------------------


def build_wheel(directory: Path) -> Path:
    # The project's own build backend, as `pip install .` or `python -m build` runs it.
    (wheel,) = WheelBuilder(str(ROOT)).build(directory=str(directory), versions=["standard"])
    return Path(wheel)


def test_the_wheel_ships_the_project_templates(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    assert wheel.name == f"bocadillo-{bocadillo.__version__}-py3-none-any.whl"
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = "bocadillo/cli/templates/project/"
    assert {
        templates + "README.md.tmpl",
        templates + "pyproject.toml.tmpl",
        templates + "gitignore.tmpl",
        templates + "package/__init__.py.tmpl",
        templates + "package/app.py.tmpl",
        templates + "package/providerconf.py.tmpl",
        templates + "tests/test_app.py.tmpl",
    } <= names
    # bocadillo client's templates ship too.
    client_templates = "bocadillo/client/templates/"
    assert {client_templates + "http.py.txt", client_templates + "ws.py.txt"} <= names


@pytest.mark.slow
def test_the_wheel_in_a_fresh_venv_makes_a_project_that_passes(tmp_path: Path) -> None:
    """pip installs the built wheel into a new venv, offline: ``bocadillo --version``
    reports the new version and ``bocadillo new demo && cd demo && pytest`` passes.

    The dependencies are not downloaded: a ``.pth`` file puts this venv's
    site-packages after the new venv's own, so the wheel's bocadillo (and its
    ``bocadillo`` script) is the one used, and ``pip check`` confirms that the
    wheel's declared dependencies are met."""
    wheel = build_wheel(tmp_path / "dist")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=120)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    def sh(*args: str | Path, cwd: Path = tmp_path) -> str:
        result = subprocess.run(
            [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    sh(python, "-m", "pip", "install", "--no-index", "--no-deps", wheel)
    purelib = sh(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    Path(purelib.strip(), "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    sh(python, "-m", "pip", "check")

    assert sh(venv / "bin" / "bocadillo", "--version") == f"bocadillo {bocadillo.__version__}\n"
    where = sh(python, "-c", "import bocadillo; print(bocadillo.__file__)")
    assert where.startswith(purelib.strip()), where

    sh(venv / "bin" / "bocadillo", "new", "demo")
    output = sh(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=tmp_path / "demo")
    assert "2 passed" in output


def test_help_lists_new(tmp_path: Path) -> None:
    result = run("-m", "bocadillo", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "\n    new       create a new project (app, providers, tests" in result.stdout
