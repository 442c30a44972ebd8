"""Contract tests: schemathesis against every example app, in-process, every check on.

For each example (examples/<name>/app.py with an ``app``) the app's own
/openapi.json drives schemathesis through all its phases — explicit examples,
the coverage phase (boundary values, negative data, missing required
parameters, methods the path does not declare), fuzzing of valid and invalid
input — and the stateful phase, with every built-in check enabled:
undocumented statuses, content types, headers and bodies, negative data that
is accepted, positive data that is rejected, missing ``Allow`` on 405,
server errors, use after free, resources that vanish, and so on.

schemathesis drives the app through the ASGI lifespan itself: it starts it
on the first request and its pytest plugin ends it after each test, so every
test (one per operation) gets a fresh store; the stateful test ends it after
each scenario, so each scenario starts from an empty store.

The run is bounded (25 examples per operation) and reproducible (a fixed
seed): the same cases every time. To explore further, set
``CONTRACT_EXAMPLES`` (for example ``CONTRACT_EXAMPLES=500``): that many
examples, with a fresh random seed each run.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.python.asgi import shutdown_lifespans

from bocadillo import App

ROOT = Path(__file__).resolve().parent.parent
EXPLORE = "CONTRACT_EXAMPLES" in os.environ
MAX_EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "25"))
SEED = None if EXPLORE else 2025
SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=not EXPLORE,
    database=None,  # no replay of earlier runs' failures: every run is the same
)


# Settings the examples read as they start. A job's event stream lasts until the job
# finishes, so the jobs example (0.5 s a step by default) runs its steps fast here.
EXAMPLE_ENVIRONMENT = {"JOBS_STEP_SECONDS": "0.005"}


@pytest.fixture(autouse=True, scope="module")
def example_environment() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in EXAMPLE_ENVIRONMENT.items():
            patch.setenv(name, value)
        yield


def example_apps() -> dict[str, App]:
    """Every example: examples/<name>/app.py with an ``app``, by name."""
    apps: dict[str, App] = {}
    for app_py in sorted((ROOT / "examples").glob("*/app.py")):
        module = importlib.import_module(f"examples.{app_py.parent.name}.app")
        app = getattr(module, "app", None)
        if isinstance(app, App):
            apps[app_py.parent.name] = app
    return apps


def strict_config() -> SchemathesisConfig:
    """Everything on, whatever a schemathesis.toml nearby might say."""
    config = SchemathesisConfig(seed=SEED)
    project = config.projects.default
    project.phases.update(phases=["examples", "coverage", "fuzzing", "stateful"])
    project.generation.update(modes=list(GenerationMode), max_examples=MAX_EXAMPLES)
    project.checks.update(included_check_names=["all"])
    return config


def check_call() -> Any:
    """A fresh test function per example: hypothesis takes one settings object per function."""

    def check(case: Any) -> None:
        case.call_and_validate()

    return check


EXAMPLES = example_apps()
WITHOUT_LINKS: set[str] = set()  # examples whose operations have nothing to chain

for _name, _app in EXAMPLES.items():
    _schema = schemathesis.openapi.from_asgi("/openapi.json", _app, config=strict_config())
    globals()[f"test_{_name}_api"] = _schema.parametrize()(SETTINGS(check_call()))

    _machine = _schema.as_state_machine()
    if not _schema.statistic.transitions.total:
        WITHOUT_LINKS.add(_name)  # chat's one GET: a stateful run would fail with no links
        continue

    class _Workflow(_machine):  # type: ignore[no-redef,valid-type,misc]
        def teardown(self) -> None:
            super().teardown()
            # End the app's lifespan: the next scenario starts on a fresh app (a fresh store).
            shutdown_lifespans()

    _Workflow.TestCase.settings = settings(SETTINGS, stateful_step_count=10)
    globals()[f"Test{_name.title()}Workflow"] = _Workflow.TestCase


def test_every_example_is_contract_tested() -> None:
    assert "todos" in EXAMPLES and "todos" not in WITHOUT_LINKS
    for name in EXAMPLES:
        assert f"test_{name}_api" in globals()
        assert name in WITHOUT_LINKS or f"Test{name.title()}Workflow" in globals()


def test_every_check_and_phase_is_on() -> None:
    from schemathesis.checks import CHECKS, load_all_checks

    load_all_checks()
    project = strict_config().projects.default
    names = CHECKS.get_all_names()
    assert {"negative_data_rejection", "unsupported_method", "allow_header_conformance"} <= set(
        names
    )
    assert [n for n in names if not project.checks.get_by_name(name=n).enabled] == []
    phases = project.phases
    assert phases.examples.enabled and phases.fuzzing.enabled and phases.stateful.enabled
    assert phases.coverage.enabled and phases.coverage.unexpected_methods
    assert set(project.generation.modes) == set(GenerationMode)  # positive and negative
