"""Logs: the access log line of each request, connection and stream, and the
request's ids (request id, trace id, span id) on log records.

Both go through the standard ``logging`` module, so any handler, formatter or
structlog's ``ProcessorFormatter`` can take them.
"""

from __future__ import annotations

import datetime
import logging
import time
from typing import TYPE_CHECKING, Any

import orjson
from opentelemetry import trace

from bocadillo.observe import CURRENT

if TYPE_CHECKING:
    from bocadillo.telemetry.config import AccessLog as AccessLogFormat

__all__ = ["ACCESS_LOGGER", "AccessLog", "RequestContextFilter", "observe_log_records"]

ACCESS_LOGGER = "bocadillo.access"

# The fields of an access record (``extra``), in the JSON line's order.
ACCESS_FIELDS = (
    "kind",
    "method",
    "route",
    "path",
    "status",
    "duration_ms",
    "request_id",
    "trace_id",
    "span_id",
)


def request_context() -> dict[str, str | None]:
    """The request id, trace id and span id (hex) of the request being served, or ``None``s."""
    observation = CURRENT.get()
    if observation is None:
        return {"request_id": None, "trace_id": None, "span_id": None}
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {"request_id": observation.request_id, "trace_id": None, "span_id": None}
    return {
        "request_id": observation.request_id,
        "trace_id": trace.format_trace_id(context.trace_id),
        "span_id": trace.format_span_id(context.span_id),
    }


class RequestContextFilter(logging.Filter):
    """Put ``request_id``, ``trace_id`` and ``span_id`` on every record it sees (``None``
    outside a request), unless the record has them already (``extra=``).

    Add it to a handler (``handler.addFilter(RequestContextFilter())``) and the
    handler's formatter can use ``%(request_id)s`` and the others.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        fields = record.__dict__
        if "request_id" not in fields:
            fields.update(request_context())
        return True


def observe_log_records(format: AccessLogFormat | None) -> None:
    """Telemetry's switch, at install: the access logger lets INFO through, and where
    logging is not configured at all (nothing handles the logger's records), writes
    to stderr with ``RequestContextFilter``."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    if not logger.hasHandlers():
        handler = logging.StreamHandler()
        # A JSON line is the message alone; a text line starts with the time.
        handler.setFormatter(
            logging.Formatter("%(message)s" if format == "json" else "%(asctime)s %(message)s")
        )
        handler.addFilter(RequestContextFilter())
        logger.addHandler(handler)


class AccessLog:
    """Emits the access line of each request, connection and stream on ``bocadillo.access``."""

    def __init__(self, format: AccessLogFormat) -> None:
        self.json = format == "json"
        self.logger = logging.getLogger(ACCESS_LOGGER)

    def emit(
        self, kind: str, method: str, route: str | None, path: str, status: int, started: float
    ) -> None:
        """Log the line of a scope (``kind`` "http", "websocket" or "sse") that began
        at ``started`` (``time.perf_counter()``); called while the scope is still
        served, its span current."""
        logger = self.logger
        if not logger.isEnabledFor(logging.INFO):
            return
        milliseconds = round((time.perf_counter() - started) * 1000, 3)
        if kind == "websocket":
            method = "WEBSOCKET"
        context = request_context()
        fields: dict[str, Any] = {
            "kind": kind,
            "method": method,
            "route": route,
            "path": path,
            "status": status,
            "duration_ms": milliseconds,
            **context,
        }
        if self.json:
            line = {"time": datetime.datetime.now(datetime.UTC).isoformat(), **fields}
            logger.info("%s", orjson.dumps(line).decode(), extra=fields)
            return
        logger.info(
            "%s %s %s %.2fms route=%s%s request_id=%s trace_id=%s",
            method,
            path,
            status,
            milliseconds,
            route or "-",
            " kind=sse" if kind == "sse" else "",
            context["request_id"] or "-",
            context["trace_id"] or "-",
            extra=fields,
        )
