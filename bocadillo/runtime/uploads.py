"""Uploaded files: ``UploadFile``, whose ``filename`` is safe to join to a folder."""

from __future__ import annotations

import unicodedata
from typing import BinaryIO

from starlette.datastructures import Headers
from starlette.datastructures import UploadFile as StarletteUploadFile

__all__ = ["UploadFile", "safe_filename"]

# Names Windows gives to devices, whatever the extension.
_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"{d}{i}" for d in ("COM", "LPT") for i in range(1, 10)]
)
_MAX_NAME_BYTES = 255  # what most file systems allow


def safe_filename(raw: str) -> str | None:
    """A file name as a client sent it, made safe to join to a folder path.

    The last component of the path (``/`` and ``\\`` both separate), in NFC,
    without control or formatting characters (NUL, a right-to-left override),
    without surrounding spaces or leading dots, not a Windows device name,
    and at most 255 bytes in UTF-8 (the extension kept). None when nothing is
    left (``..``, ``/``, an empty name).
    """
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf"))
    name = name.strip().lstrip(".").strip()
    if not name:
        return None
    stem, dot, extension = name.partition(".")
    if stem.upper() in _DEVICES:
        name = "_" + name
    if len(name.encode()) > _MAX_NAME_BYTES:
        stem, dot, extension = name.rpartition(".")
        if not dot or len(extension.encode()) > 16:
            stem, dot, extension = name, "", ""
        room = _MAX_NAME_BYTES - len((dot + extension).encode())
        stem = stem.encode()[:room].decode(errors="ignore")
        name = stem + dot + extension
    return name


class UploadFile(StarletteUploadFile):
    """An uploaded file: Starlette's ``UploadFile``, whose ``filename`` is safe.

    ``filename`` is ``safe_filename(raw_filename)``: the last component of the
    name the client sent, without control characters, safe to join to a folder
    (still check it against what your app allows, and never trust it to be
    unique). ``raw_filename`` is the name exactly as sent.
    """

    def __init__(
        self,
        file: BinaryIO,
        *,
        size: int | None = None,
        filename: str | None = None,
        headers: Headers | None = None,
    ) -> None:
        super().__init__(file, size=size, filename=filename, headers=headers)
        self.raw_filename = filename
        self.filename = None if filename is None else safe_filename(filename)
