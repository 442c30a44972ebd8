"""Create or reuse the project's virtual environment in .venv and keep it installed.

Used by the two commands in README.md; needs nothing but python3.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def _fingerprint(extras: str) -> str:
    digest = hashlib.sha256(extras.encode())
    for name in ("pyproject.toml", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure(extras: str = "") -> Path:
    """Return the venv's python, installing the project (with ``extras``) if needed."""
    if not PYTHON.exists():
        print(f"Creating a virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed-{extras or 'base'}"
    wanted = _fingerprint(extras)
    if not stamp.exists() or stamp.read_text() != wanted:
        target = f".[{extras}]" if extras else "."
        print(f"Installing bocadillo{f'[{extras}]' if extras else ''} ...", flush=True)
        subprocess.run(
            [
                str(PYTHON),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-c",
                str(ROOT / "constraints.txt"),
                "-e",
                target,
            ],
            cwd=ROOT,
            check=True,
        )
        stamp.write_text(wanted)
    return PYTHON


def run(*args: str | Path) -> int:
    """Run a command in the project root, echoing it first; return its exit code."""
    print("$", " ".join(str(a) for a in args), flush=True)
    return subprocess.run([str(a) for a in args], cwd=ROOT).returncode


if __name__ == "__main__":
    print(ensure(sys.argv[1] if len(sys.argv) > 1 else ""))
