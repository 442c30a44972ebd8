"""Writing a command's output."""

from __future__ import annotations

import sys
from typing import BinaryIO

__all__ = ["write_stdout"]


def write_stdout(data: bytes) -> None:
    """Write ``data`` to stdout as bytes, after what was printed before."""
    sys.stdout.flush()
    buffer: BinaryIO | None = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text-only stream (some embedders replace sys.stdout)
        sys.stdout.write(data.decode())
        sys.stdout.flush()
        return
    buffer.write(data)
    buffer.flush()
