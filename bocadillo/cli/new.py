"""``bocadillo new NAME [--dir DIR]``: a new project that passes its own tests.

The files come from the templates in ``bocadillo/cli/templates/project`` (package
data, shipped in the wheel): ``$name``, ``$package``, ``$bocadillo_version`` and
``$next_major`` are filled in (``string.Template``), a ``package/`` folder
becomes the project's package, and ``gitignore`` becomes ``.gitignore``.
"""

from __future__ import annotations

import argparse
import keyword
import re
import sys
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template

from bocadillo.cli.arguments import Commands
from bocadillo.cli.loader import APP_ERROR, CLIError

__all__ = ["add_new", "create_project", "package_name"]

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
# Names that would shadow what the project itself imports, or its tests folder.
_TAKEN = frozenset({"bocadillo", "pydantic", "starlette", "uvicorn", "pytest", "test", "tests"})


def add_new(commands: Commands) -> None:
    """``bocadillo new``: create a project."""
    parser = commands.add_parser(
        "new",
        help="create a new project (app, providers, tests, pyproject.toml, README)",
        description=(
            "Create a project folder with an app module, its providerconf.py, a test file "
            "with the contract test, a pyproject.toml depending on this version of "
            "Bocadillo, and a README. Its tests pass as soon as it is made."
        ),
    )
    parser.add_argument(
        "name",
        metavar="NAME",
        help="the project's name: letters, digits, '_' and '-', starting with a letter",
    )
    parser.add_argument(
        "--dir",
        metavar="DIR",
        help="the folder to create (default: NAME in the current directory); "
        "it must not exist or be empty",
    )
    parser.set_defaults(handler=_new)


def package_name(name: str) -> str:
    """The Python package of project ``name`` (``my-api`` -> ``my_api``), or ``CLIError``."""
    if not _NAME.fullmatch(name):
        raise CLIError(
            f"{name!r} is not a project name: use letters, digits, '_' and '-', "
            "starting with a letter (for example: todo-api)"
        )
    package = name.replace("-", "_").lower()
    if keyword.iskeyword(package):
        raise CLIError(f"{name!r} cannot be a project name: {package!r} is a Python keyword")
    if package in _TAKEN or package in sys.stdlib_module_names:
        raise CLIError(
            f"{name!r} cannot be a project name: its package {package!r} would shadow "
            "a module the project needs; choose another name"
        )
    return package


def create_project(name: str, directory: Path) -> list[Path]:
    """Write the project ``name`` into ``directory``; return the files made, in order.

    ``directory`` must not exist, or be an empty folder (``CLIError`` otherwise).
    """
    from bocadillo import __version__

    package = package_name(name)
    if directory.exists() and not directory.is_dir():
        raise CLIError(f"{directory} exists and is not a folder", code=APP_ERROR)
    if directory.is_dir() and any(directory.iterdir()):
        raise CLIError(
            f"{directory} already exists and is not empty: choose another NAME or --dir",
            code=APP_ERROR,
        )
    values = {
        "name": name,
        "package": package,
        "bocadillo_version": __version__,
        "next_major": str(int(__version__.split(".")[0]) + 1),
    }
    made: list[Path] = []
    templates = resources.files("bocadillo.cli") / "templates" / "project"
    files = [
        (directory.joinpath(*_target_parts(parts, package)), template)
        for parts, template in _templates(templates, ())
    ]
    for target, template in sorted(files, key=lambda file: file[0]):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(Template(template.read_text("utf-8")).substitute(values), "utf-8")
        made.append(target)
    return made


def _templates(
    folder: Traversable, parts: tuple[str, ...]
) -> list[tuple[tuple[str, ...], Traversable]]:
    found: list[tuple[tuple[str, ...], Traversable]] = []
    for entry in folder.iterdir():
        if entry.is_dir():
            found.extend(_templates(entry, (*parts, entry.name)))
        elif entry.name.endswith(".tmpl"):
            found.append(((*parts, entry.name.removesuffix(".tmpl")), entry))
    return found


def _target_parts(parts: tuple[str, ...], package: str) -> list[str]:
    names = [package if part == "package" else part for part in parts]
    if names[-1] == "gitignore":
        names[-1] = ".gitignore"
    return names


def _new(args: argparse.Namespace) -> int:
    name: str = args.name
    directory = Path(args.dir) if args.dir else Path(name)
    try:
        made = create_project(name, directory)
    except OSError as exc:
        raise CLIError(f"could not create {directory}: {exc}", code=APP_ERROR) from None
    package = package_name(name)
    print(f"Created the project {name!r} in {directory}/:")
    for path in made:
        print(f"  {path.relative_to(directory)}")
    steps = [
        (f"cd {directory}", ""),
        ("pip install -e '.[test]'", "the project and its test tools"),
        ("pytest", "its tests, the contract test among them"),
        (f"bocadillo dev {package}.app:app", "serve it on http://127.0.0.1:8000 (docs at /docs)"),
    ]
    width = max(len(command) for command, _ in steps)
    print("\nNext, in a virtual environment:")
    for command, comment in steps:
        print(f"  {command:{width}}   # {comment}" if comment else f"  {command}")
    return 0
