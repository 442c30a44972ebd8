"""Contract tests: every example app against its own documents, as users write them.

Each example (examples/<name>/app.py with an ``app``) gets the two lines a user
adds to their own test file::

    from bocadillo.testing import contract_test
    test_contract = contract_test(app)

That runs schemathesis in-process against the app's /openapi.json with every
phase (explicit examples, the coverage phase, fuzzing with valid and invalid
data, stateful sequences that follow the document's links) and every check
on, then fuzzes every WebSocket route's messages.

The run is bounded (25 examples per operation) and reproducible (a fixed
seed): the same cases every time. To explore further, set
``CONTRACT_EXAMPLES`` (for example ``CONTRACT_EXAMPLES=500``): that many
examples, with a fresh random seed each run.

The checks are shown to be able to fail in tests/test_testing.py.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bocadillo import App
from bocadillo.testing import contract_test
from bocadillo.testing.contract import schemathesis_config

ROOT = Path(__file__).resolve().parent.parent
EXPLORE = "CONTRACT_EXAMPLES" in os.environ
MAX_EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "25"))
SEED = None if EXPLORE else 2025

# Settings the examples read as they start. A job's event stream lasts until the job
# finishes, so the jobs example (0.5 s a step by default) runs its steps fast here; the
# feed's stream lasts until the client leaves, so here the server ends it after 0.05 s.
EXAMPLE_ENVIRONMENT = {"JOBS_STEP_SECONDS": "0.005", "FEED_STREAM_SECONDS": "0.05"}


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


EXAMPLES = example_apps()

for _name, _app in EXAMPLES.items():
    globals()[f"test_{_name}_keeps_its_contract"] = contract_test(
        _app, max_examples=MAX_EXAMPLES, seed=SEED
    )


def test_every_example_is_contract_tested() -> None:
    assert {"todos", "chat", "jobs", "feed"} <= set(EXAMPLES)
    for name in EXAMPLES:
        assert callable(globals()[f"test_{name}_keeps_its_contract"])


def test_every_check_and_phase_is_on() -> None:
    from schemathesis.checks import CHECKS, load_all_checks
    from schemathesis.generation import GenerationMode

    load_all_checks()
    project = schemathesis_config().projects.default
    names = CHECKS.get_all_names()
    assert {"negative_data_rejection", "unsupported_method", "allow_header_conformance"} <= set(
        names
    )
    assert [n for n in names if not project.checks.get_by_name(name=n).enabled] == []
    phases = project.phases
    assert phases.examples.enabled and phases.fuzzing.enabled and phases.stateful.enabled
    assert phases.coverage.enabled and phases.coverage.unexpected_methods
    assert set(project.generation.modes) == set(GenerationMode)  # positive and negative
