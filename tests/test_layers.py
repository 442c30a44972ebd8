"""The package's layers, read from its imports with ``ast``.

Every import counts: at module level, inside functions, and under ``if TYPE_CHECKING:``,
because each one is a dependency a reader must follow. Each rule names the offending module,
line and import, so a failure says what to move.
"""

import ast
import dataclasses
import itertools
from collections.abc import Iterator
from pathlib import Path

import bocadillo

PACKAGE_DIR = Path(bocadillo.__file__).parent
MAX_LINES = 600


@dataclasses.dataclass(frozen=True)
class Import:
    """One import statement's target, as the importing module sees it."""

    importer: str  # dotted name of the module holding the statement
    target: str  # dotted name of the module imported (deepest module that exists)
    names: tuple[str, ...]  # the names taken from it by ``from target import ...``
    line: int

    def __str__(self) -> str:
        taken = f" import {', '.join(self.names)}" if self.names else ""
        return f"{self.importer}:{self.line}: {self.target}{taken}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULE_FILES: dict[str, Path] = {
    module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py"))
}


def is_package(module: str) -> bool:
    return MODULE_FILES[module].name == "__init__.py"


def absolute(importer: str, node: ast.ImportFrom) -> str:
    """The module a ``from ... import`` names, with relative imports resolved."""
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    if not is_package(importer):
        base.pop()  # a module's relative imports start at its package
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(module: str) -> Iterator[Import]:
    tree = ast.parse(MODULE_FILES[module].read_text(), str(MODULE_FILES[module]))
    for node in ast.walk(tree):  # every level: functions and TYPE_CHECKING blocks included
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, (), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            source = absolute(module, node)
            plain = []
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in MODULE_FILES:  # ``from package import module``
                    yield Import(module, submodule, (), node.lineno)
                else:
                    plain.append(alias.name)
            if plain:
                yield Import(module, source, tuple(plain), node.lineno)


ALL_IMPORTS: list[Import] = [found for module in MODULE_FILES for found in imports_of(module)]


def within(module: str, *packages: str) -> bool:
    return any(module == package or module.startswith(package + ".") for package in packages)


def offending(importers: tuple[str, ...], targets: tuple[str, ...]) -> list[str]:
    return [
        str(found)
        for found in ALL_IMPORTS
        if within(found.importer, *importers) and within(found.target, *targets)
    ]


def test_the_rules_see_every_module_and_its_imports() -> None:
    # A guard on the guard: the walk finds the package and imports inside functions.
    assert {"bocadillo", "bocadillo.app", "bocadillo.__main__"} <= set(MODULE_FILES)
    assert any(
        found.importer == "bocadillo.__main__" and found.target == "bocadillo.cli.main"
        for found in ALL_IMPORTS
    )


def test_the_runtime_imports_no_compiler_docs_testing_or_cli() -> None:
    found = offending(
        ("bocadillo.runtime",),
        ("bocadillo.compile", "bocadillo.docs", "bocadillo.testing", "bocadillo.cli"),
    )

    assert not found, "runtime/ runs per request; it must not import:\n" + "\n".join(found)


def test_the_request_path_imports_no_documents_testing_or_cli() -> None:
    found = offending(
        ("bocadillo.runtime", "bocadillo.http", "bocadillo.routing", "bocadillo.schemas"),
        ("bocadillo.docs", "bocadillo.testing", "bocadillo.cli"),
    )

    assert not found, "the request path must not import:\n" + "\n".join(found)


def test_the_docs_read_plans_never_the_app_or_a_request() -> None:
    found = offending(("bocadillo.docs",), ("bocadillo.app", "starlette.requests"))

    assert not found, "docs/ reads the compiled plans, not App or a request:\n" + "\n".join(found)


def test_the_diff_works_on_documents_alone() -> None:
    found = [
        str(found)
        for found in ALL_IMPORTS
        if within(found.importer, "bocadillo.diff")
        and within(found.target, "bocadillo")
        and not within(found.target, "bocadillo.diff")
    ]

    assert not found, "diff/ compares documents; it imports nothing else:\n" + "\n".join(found)


def test_nothing_in_the_package_imports_testing_or_the_cli() -> None:
    found = [
        str(found)
        for found in ALL_IMPORTS
        if within(found.target, "bocadillo.testing", "bocadillo.cli")
        and not within(found.importer, "bocadillo.testing", "bocadillo.cli")
        and not (found.importer == "bocadillo.__main__" and within(found.target, "bocadillo.cli"))
    ]

    assert not found, "testing/ and cli/ sit on top; nothing may import them:\n" + "\n".join(found)


def find_cycle(graph: dict[str, set[str]], among: set[str]) -> list[str] | None:
    """One cycle through the modules ``among``, first module repeated at the end, or None."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" once explored
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        path.append(module)
        for target in sorted(graph.get(module, set()) & among):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[module] = "done"
        return None

    for module in sorted(among):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def tangles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The groups of modules that reach each other (strongly connected, more than one)."""
    reach: dict[str, set[str]] = {}
    for start in graph:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for target in graph.get(todo.pop(), set()):
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        reach[start] = seen
    groups: list[set[str]] = []
    for module in sorted(graph):
        if module in reach[module] and not any(module in group for group in groups):
            groups.append({other for other in reach[module] if module in reach[other]})
    return groups


def test_the_cycle_finder_reports_each_tangle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"b"}, "d": {"e"}, "e": {"d"}, "f": {"a"}}

    assert tangles(graph) == [{"b", "c"}, {"d", "e"}]
    assert find_cycle(graph, {"b", "c"}) == ["b", "c", "b"]
    assert tangles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_modules() -> None:
    # An edge goes to the module named, not to its parent packages: importing
    # bocadillo.runtime.endpoint runs bocadillo/__init__.py, but that is Python's order,
    # not a dependency of the importer on the re-exports.
    graph: dict[str, set[str]] = {module: set() for module in MODULE_FILES}
    lines: dict[tuple[str, str], Import] = {}
    for found in ALL_IMPORTS:
        if found.target in MODULE_FILES and found.target != found.importer:
            graph[found.importer].add(found.target)
            lines.setdefault((found.importer, found.target), found)

    reports = []
    for group in tangles(graph):
        cycle = find_cycle(graph, group)
        assert cycle is not None
        edges = "".join(f"\n    {lines[edge]}" for edge in itertools.pairwise(cycle))
        rest = sorted(group - set(cycle))
        also = f"\n    (same tangle: {', '.join(rest)})" if rest else ""
        reports.append(" -> ".join(cycle) + edges + also)

    assert not reports, "import cycles:\n" + "\n".join(reports)


def test_no_module_is_over_600_lines() -> None:
    long = {
        module: count
        for module, path in MODULE_FILES.items()
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    }

    assert not long, f"modules over {MAX_LINES} lines: {long}"


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_attribute_uses(module: str) -> Iterator[str]:
    """``alias._name`` where ``alias`` is another bocadillo module imported by name."""
    tree = ast.parse(MODULE_FILES[module].read_text())
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if within(alias.name, "bocadillo") and alias.asname:
                    aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            source = absolute(module, node)
            for alias in node.names:
                if f"{source}.{alias.name}" in MODULE_FILES:
                    aliases[alias.asname or alias.name] = f"{source}.{alias.name}"
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and aliases[node.value.id] != module
            and is_private(node.attr)
        ):
            yield f"{module}:{node.lineno}: {aliases[node.value.id]}.{node.attr}"


def test_no_private_name_is_imported_from_another_module() -> None:
    found = [
        str(found)
        for found in ALL_IMPORTS
        if within(found.target, "bocadillo")
        and found.target != found.importer
        and any(is_private(name) for name in found.names)
    ]
    found += [use for module in MODULE_FILES for use in private_attribute_uses(module)]

    assert not found, (
        "a name two modules need is public within the package, in the module owning it:\n"
        + "\n".join(found)
    )
