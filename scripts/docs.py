"""Serve the documentation site on http://127.0.0.1:8001, rebuilt on every change.

    python3 scripts/docs.py            # mkdocs serve -a 127.0.0.1:8001 [mkdocs arguments...]
    python3 scripts/docs.py build      # a strict build into site/ (fails on any warning)

Creates or reuses .venv and installs the project with its docs extra first.
"""

from __future__ import annotations

import os
import sys

from _venv import ROOT, ensure

if __name__ == "__main__":
    python = ensure("docs")
    rest = sys.argv[1:]
    if rest[:1] == ["build"]:
        command = ["build", "--strict", "-d", str(ROOT / "site"), *rest[1:]]
    else:
        command = ["serve", "-a", "127.0.0.1:8001", *rest]
    args = [str(python), "-m", "mkdocs", *command, "-f", str(ROOT / "mkdocs.yml")]
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")  # Material's banner about its successor
    os.chdir(ROOT)
    os.execv(args[0], args)
