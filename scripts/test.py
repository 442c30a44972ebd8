"""Run the whole suite: ruff, mypy --strict on the package, then mypy --strict and
pyright on users' code (tests/typing and examples/), then pytest.

    python3 scripts/test.py [pytest arguments...]

Creates or reuses .venv and installs the project with its dev extra first.
"""

from __future__ import annotations

import sys

from _venv import BIN, ROOT, ensure, run

LINTED = [d for d in ("bocadillo", "tests", "examples", "scripts", "bench") if (ROOT / d).is_dir()]

if __name__ == "__main__":
    python = ensure("dev")
    steps = [
        [BIN / "ruff", "check", *LINTED],
        [BIN / "ruff", "format", "--check", *LINTED],
        [BIN / "mypy", "--strict", "bocadillo"],
        # The package as users see it: assert_type over what they touch, and the examples.
        [BIN / "mypy", "--strict", "tests/typing", "examples"],
        [BIN / "pyright", "--pythonpath", python, "tests/typing", "examples"],
        [python, "-m", "pytest", *sys.argv[1:]],
    ]
    for step in steps:
        code = run(*step)
        if code != 0:
            sys.exit(code)
