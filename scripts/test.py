"""Run the whole suite: ruff, mypy --strict on the package, then pytest.

    python3 scripts/test.py [pytest arguments...]

Creates or reuses .venv and installs the project with its dev extra first.
"""

from __future__ import annotations

import sys

from _venv import BIN, ensure, run

if __name__ == "__main__":
    python = ensure("dev")
    steps = [
        [BIN / "ruff", "check", "bocadillo", "tests", "examples", "scripts", "bench"],
        [BIN / "ruff", "format", "--check", "bocadillo", "tests", "examples", "scripts", "bench"],
        [BIN / "mypy", "--strict", "bocadillo"],
        [python, "-m", "pytest", *sys.argv[1:]],
    ]
    for step in steps:
        code = run(*step)
        if code != 0:
            sys.exit(code)
