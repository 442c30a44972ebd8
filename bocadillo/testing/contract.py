"""Contract tests: the app against its own documents, in-process.

``run_contract(app)`` runs schemathesis against the app's OpenAPI document,
every phase and every check on: explicit examples, the coverage phase
(boundary values, invalid data, missing parameters, methods a path does not
declare), fuzzing with valid and invalid data, and stateful sequences that
chain operations (schemathesis infers the links from the paths: the ``id`` a
``POST /todos`` returns feeds ``GET /todos/{id}``). Then the message fuzzer,
``fuzz_websockets``, runs on every WebSocket route. The report says, per
operation, how many cases ran and how many failed, and for each failure how
to reproduce it.

``contract_test(app)`` wraps that in a pytest test::

    from bocadillo.testing import contract_test

    test_contract = contract_test(app)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from bocadillo.testing.fuzz import fuzz_websockets

if TYPE_CHECKING:
    from schemathesis.config import SchemathesisConfig

    from bocadillo.app import App

__all__ = ["ContractFailure", "ContractReport", "contract_test", "run_contract"]

DEFAULT_SEED = 2025
PHASES = ["examples", "coverage", "fuzzing", "stateful"]


@dataclasses.dataclass(frozen=True, slots=True)
class ContractFailure:
    """One thing the app did that its document says it would not."""

    operation: str  # "POST /todos", or "WebSocket /chat/{room}"
    check: str  # the schemathesis check (or "websocket fuzzing")
    title: str
    message: str
    reproduce: str  # a curl command, or the shrunk message sequence

    def __str__(self) -> str:
        lines = [f"{self.operation}: {self.title} ({self.check})"]
        if self.message:
            lines += ["    " + line for line in self.message.strip().splitlines()]
        if self.reproduce:
            lines.append("    Reproduce with:")
            lines += ["        " + line for line in self.reproduce.strip().splitlines()]
        return "\n".join(lines)


@dataclasses.dataclass(slots=True)
class OperationRow:
    operation: str
    cases: int = 0
    failures: int = 0


@dataclasses.dataclass(slots=True)
class ContractReport:
    """What ``run_contract`` found: a row per operation, and every failure."""

    rows: list[OperationRow] = dataclasses.field(default_factory=list)
    failures: list[ContractFailure] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)  # the run itself broke

    @property
    def ok(self) -> bool:
        return not self.failures and not self.errors

    def row(self, operation: str) -> OperationRow:
        for row in self.rows:
            if row.operation == operation:
                return row
        found = OperationRow(operation)
        self.rows.append(found)
        return found

    def table(self) -> str:
        """A plain-text summary: operation, cases run, failures."""
        head = ("operation", "cases", "failures")
        body = [(r.operation, str(r.cases), str(r.failures)) for r in self.rows]
        total = (
            "total",
            str(sum(r.cases for r in self.rows)),
            str(len(self.failures) + len(self.errors)),
        )
        widths = [max(len(line[i]) for line in [head, *body, total]) for i in range(3)]

        def line(cells: Sequence[str]) -> str:
            return "  ".join(
                cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                for i, cell in enumerate(cells)
            ).rstrip()

        rule = "  ".join("-" * w for w in widths)
        return "\n".join([line(head), rule, *map(line, body), rule, line(total)])

    def failure_text(self) -> str:
        """Every failure (and error), each with how to reproduce it."""
        parts = [str(failure) for failure in self.failures]
        parts += [f"The run failed: {error}" for error in self.errors]
        return "\n\n".join(parts)


def schemathesis_config(
    *,
    max_examples: int = 25,
    checks: str | Sequence[str] = "all",
    stateful: bool = True,
    seed: int | None = DEFAULT_SEED,
) -> SchemathesisConfig:
    """Every phase, every generation mode and the given checks, whatever a
    ``schemathesis.toml`` nearby might say."""
    from schemathesis.config import SchemathesisConfig
    from schemathesis.generation import GenerationMode

    config = SchemathesisConfig(seed=seed)
    project = config.projects.default
    project.phases.update(phases=[p for p in PHASES if stateful or p != "stateful"])
    # No example database: with a seed, every run tries the same cases (and nothing
    # is written into the project's directory).
    project.generation.update(
        modes=list(GenerationMode), max_examples=max_examples, database="none"
    )
    names = ["all"] if checks == "all" else [checks] if isinstance(checks, str) else list(checks)
    project.checks.update(included_check_names=names)
    return config


def run_contract(
    app: App,
    *,
    max_examples: int = 25,
    checks: str | Sequence[str] = "all",
    stateful: bool = True,
    websockets: bool = True,
    seed: int | None = DEFAULT_SEED,
) -> ContractReport:
    """Run the contract tests of ``app`` in-process and report what they found.

    ``seed=None`` draws new cases each run; the default seed makes every run
    the same. ``checks`` names schemathesis checks (``"all"`` by default).
    """
    import schemathesis
    from schemathesis.engine import Status, events, from_schema
    from schemathesis.python.asgi import shutdown_lifespans

    app.check()
    report = ContractReport()
    config = schemathesis_config(
        max_examples=max_examples, checks=checks, stateful=stateful, seed=seed
    )
    openapi_url = app.openapi_url
    if openapi_url is None:
        report.errors.append("the app serves no OpenAPI document (openapi_url=None)")
        return report
    for route, _ in app.plans():
        if route.include_in_schema:
            report.row(f"{route.method} {route.path}")
    schema = schemathesis.openapi.from_asgi(openapi_url, app, config=config)
    seen: set[tuple[str, str, str]] = set()
    try:
        for event in from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished):
                _record_scenario(report, event, seen, Status.FAILURE)
            elif isinstance(event, events.NonFatalError):
                report.errors.append(f"{event.label}: {event.info.format()}".strip())
            elif isinstance(event, events.FatalError):
                report.errors.append(f"{type(event.exception).__name__}: {event.exception}")
    finally:
        shutdown_lifespans()
    if websockets:
        _fuzz_websocket_routes(app, report, max_examples=max_examples, seed=seed)
    return report


def _record_scenario(
    report: ContractReport, event: Any, seen: set[tuple[str, str, str]], failure_status: Any
) -> None:
    recorder = event.recorder
    cases = recorder.cases
    for case_id, nodes in recorder.checks.items():
        node = cases.get(case_id)
        label = node.value.operation.label if node is not None else (event.label or "?")
        for check in nodes:
            if check.status != failure_status or check.failure_info is None:
                continue
            info = check.failure_info
            failure = info.failure
            title = str(getattr(failure, "title", "") or type(failure).__name__)
            key = (label, check.name, title)
            if key in seen:
                continue
            seen.add(key)
            steps = getattr(info, "steps", None) or []
            reproduce = "\n".join(step.curl for step in steps) if steps else info.code_sample
            report.failures.append(
                ContractFailure(
                    operation=label,
                    check=check.name,
                    title=title,
                    message=str(getattr(failure, "message", "") or ""),
                    reproduce=reproduce,
                )
            )
            report.row(label).failures += 1
    counted: dict[str, int] = {}
    for node in cases.values():
        label = node.value.operation.label
        counted[label] = counted.get(label, 0) + 1
    for label, count in counted.items():
        report.row(label).cases += count


def _fuzz_websocket_routes(
    app: App, report: ContractReport, *, max_examples: int, seed: int | None
) -> None:
    for route, _ in app.websocket_plans():
        if not route.include_in_schema:
            continue
        label = f"WebSocket {route.path}"
        row = report.row(label)
        try:
            opened = fuzz_websockets(app, route.path, max_examples=max_examples, seed=seed)
            row.cases += opened.get(route.path, 0)
        except AssertionError as exc:
            row.failures += 1
            report.failures.append(
                ContractFailure(
                    operation=label,
                    check="websocket fuzzing",
                    title="A message sequence broke the route's contract",
                    message=str(exc),
                    reproduce="",
                )
            )


def contract_test(
    app: App,
    *,
    max_examples: int = 25,
    checks: str | Sequence[str] = "all",
    stateful: bool = True,
    websockets: bool = True,
    seed: int | None = DEFAULT_SEED,
) -> Callable[[], None]:
    """A pytest test that runs ``run_contract(app, ...)`` and fails with every failure::

    test_contract = contract_test(app)
    """

    def test_contract() -> None:
        report = run_contract(
            app,
            max_examples=max_examples,
            checks=checks,
            stateful=stateful,
            websockets=websockets,
            seed=seed,
        )
        if not report.ok:
            raise AssertionError(
                f"{app.title}: the app does not keep its contract.\n\n{report.table()}\n\n"
                f"{report.failure_text()}"
            )

    test_contract.__qualname__ = test_contract.__name__ = "test_contract"
    return test_contract
