"""The WebSocket protocol ``bocadillo run`` serves with: uvicorn's, with a quieter log."""

from __future__ import annotations

import logging
from typing import Any, cast

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

__all__ = ["QuietWebSocketsProtocol"]

_INVALID_UTF8 = "Invalid UTF-8 sequence received from client."


class _QuietLog:
    """``uvicorn.error`` for one WebSocket connection, with a client's invalid UTF-8
    logged as one line at INFO: uvicorn logs it as an ERROR with a traceback, for
    every such frame from any client (it closes the connection with 1007)."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def __getattr__(self, name: str) -> Any:
        return getattr(self._logger, name)

    def exception(self, msg: object, *args: Any, **kwargs: Any) -> None:
        if msg == _INVALID_UTF8:
            self._logger.info("Invalid UTF-8 in a WebSocket text frame: closed with 1007.")
        else:
            self._logger.exception(msg, *args, **kwargs)


class QuietWebSocketsProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol (websockets' sans-I/O one, which uvicorn's ``auto``
    picks), for ``uvicorn.run(ws=...)``, with the quieter log of ``_QuietLog``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.logger = cast("logging.Logger", _QuietLog(self.logger))
