"""The instruments: what telemetry counts and measures, by route, method, status and type.

One ``Instruments`` per instrumented app, made at install; the observations call
it. It records through OpenTelemetry's metrics API (``Telemetry.meter_provider``,
``None`` for the global one) and, with ``Telemetry(prometheus_path=...)``, into
prometheus-client's own metrics too (``bocadillo.telemetry.prometheus``), which
is what ``/metrics`` serves, from one worker or several.

Each instrument is made once; the attribute dicts (and prometheus-client's
labelled children) are made once per route, method, status and type, then reused.
With ``Telemetry(metrics=False)`` nothing is made and every method returns at once.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable, Iterator
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from bocadillo.telemetry.metric_names import (
    ACTIVE,
    CONNECTIONS,
    DELIVERIES,
    DROPS,
    DURATION,
    EVENTS,
    FAILURES,
    MESSAGES,
    STREAMS,
)

if TYPE_CHECKING:
    from bocadillo.telemetry.config import Telemetry
    from bocadillo.telemetry.prometheus import PrometheusMetrics

__all__ = ["DURATION_BUCKETS", "METHODS", "Instruments", "ScopeKind"]

ScopeKind = Literal["http", "websocket", "sse"]

# The HTTP semantic conventions' advice for http.server.request.duration, in seconds.
DURATION_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip

# The methods the conventions name; any other is recorded as "_OTHER" (a client
# chooses the method: it must not choose how many series there are).
METHODS = frozenset(
    ("CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE")
)
_SCHEMES = frozenset(("http", "https"))
_DIRECTIONS = {"in": "received", "out": "sent"}
_CACHE_LIMIT = 4096  # entries per cache; past it the cache starts over (never unbounded)

T = TypeVar("T")


class _Cache(dict[Hashable, Any]):
    """What a key's attributes (and labelled children) are, made on first use."""

    def get_or_make(self, key: Hashable, make: Callable[[], T]) -> T:
        value = self.get(key)
        if value is None:
            if len(self) >= _CACHE_LIMIT:
                self.clear()
            value = self[key] = make()
        return value


def _route(attributes: dict[str, Any], route: str | None) -> dict[str, Any]:
    if route is not None:
        attributes["http.route"] = route
    return attributes


class _Open:
    """What is open now in one app (requests in flight, connections, streams), by key.

    A plain count per key, changed at no cost beyond a dict update; OpenTelemetry
    reads the counts when it collects (``_observed``), and prometheus-client's
    gauge, when there is one, follows each change."""

    def __init__(
        self,
        attributes: Callable[[Any], dict[str, Any]],
        labels: Callable[[Any], tuple[str, ...]],
        gauge: Any = None,
    ) -> None:
        self.attributes = attributes
        self.labels = labels
        self.gauge = gauge
        self.counts: dict[Any, int] = {}
        self.series: dict[Any, tuple[dict[str, Any], Any]] = {}

    def add(self, key: Any, delta: int) -> None:
        series = self.series.get(key)
        if series is None:  # before the count: a collection may read them meanwhile
            gauge = self.gauge
            series = self.series[key] = (
                self.attributes(key),
                None if gauge is None else gauge.labels(*self.labels(key)),
            )
        self.counts[key] = self.counts.get(key, 0) + delta
        if series[1] is not None:
            series[1].inc(delta)


# The apps' open counts, by meter: an instrument is made once per meter (two apps on
# one provider share it), and its callback sums the counts of every app using it.
_OBSERVED: weakref.WeakKeyDictionary[Any, dict[str, weakref.WeakSet[_Open]]] = (
    weakref.WeakKeyDictionary()
)
_OPEN_INSTRUMENTS = (ACTIVE, CONNECTIONS, STREAMS)


def _observed(meter: Any) -> dict[str, weakref.WeakSet[_Open]]:
    """The sets of open counts the meter's observable up-down counters read."""
    found = _OBSERVED.get(meter)
    if found is None:
        found = _OBSERVED[meter] = {}
        for metric in _OPEN_INSTRUMENTS:
            opens = found[metric.name] = weakref.WeakSet()
            meter.create_observable_up_down_counter(
                metric.name, [_summed(opens)], unit=metric.unit, description=metric.description
            )
    return found


def _summed(opens: weakref.WeakSet[_Open]) -> Callable[[Any], Iterator[Any]]:
    def observe(options: Any) -> Iterator[Any]:
        from opentelemetry.metrics import Observation

        totals: dict[Any, int] = {}
        attributes: dict[Any, dict[str, Any]] = {}
        for open_ in list(opens):
            series = open_.series
            for key, count in list(open_.counts.items()):  # a copy: the app's thread adds
                totals[key] = totals.get(key, 0) + count
                attributes[key] = series[key][0]
        for key, total in totals.items():
            yield Observation(total, attributes[key])

    return observe


class Instruments:
    """The app's metrics. Every method is cheap and never raises."""

    def __init__(self, telemetry: Telemetry, prometheus: PrometheusMetrics | None = None) -> None:
        self.telemetry = telemetry
        self.enabled = telemetry.metrics
        self.prometheus = prometheus if self.enabled else None
        self._durations = _Cache()
        self._messages = _Cache()
        self._events = _Cache()
        self._channels = _Cache()
        self._drops = _Cache()
        self._failures = _Cache()
        if not self.enabled:
            return
        from opentelemetry import metrics

        meter = metrics.get_meter("bocadillo", meter_provider=telemetry.meter_provider)
        self.duration = meter.create_histogram(
            DURATION.name,
            unit=DURATION.unit,
            description=DURATION.description,
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        prometheus = self.prometheus
        self.active = _Open(  # by (method, scheme)
            lambda key: {"http.request.method": key[0], "url.scheme": key[1]},
            lambda key: key,
            None if prometheus is None else prometheus.active,
        )
        self.connections = _Open(  # by route
            lambda route: _route({}, route),
            lambda route: (route or "",),
            None if prometheus is None else prometheus.connections,
        )
        self.streams = _Open(
            lambda route: _route({}, route),
            lambda route: (route or "",),
            None if prometheus is None else prometheus.streams,
        )
        observed = _observed(meter)
        for metric, open_ in zip(
            _OPEN_INSTRUMENTS, (self.active, self.connections, self.streams), strict=True
        ):
            observed[metric.name].add(open_)
        self.messages, self.events, self.deliveries, self.drops, self.failures = (
            meter.create_counter(m.name, unit=m.unit, description=m.description)
            for m in (MESSAGES, EVENTS, DELIVERIES, DROPS, FAILURES)
        )

    # -- requests, connections and streams -----------------------------------

    def started(
        self, kind: ScopeKind, method: str, route: str | None, scheme: str = "http"
    ) -> None:
        """A request (or connection) began: in flight (open, for a WebSocket)."""
        if not self.enabled:
            return
        if kind == "websocket":
            self.connections.add(route, 1)
        else:
            method = method if method in METHODS else "_OTHER"
            self.active.add((method, scheme if scheme in _SCHEMES else "_OTHER"), 1)

    def finished(
        self,
        kind: ScopeKind,
        method: str,
        route: str | None,
        status: int,
        seconds: float,
        scheme: str = "http",
    ) -> None:
        """It ended, answered with ``status`` (a WebSocket: its close code), after ``seconds``."""
        if not self.enabled:
            return
        if kind == "websocket":
            self.connections.add(route, -1)
            return
        method = method if method in METHODS else "_OTHER"
        scheme = scheme if scheme in _SCHEMES else "_OTHER"
        self.active.add((method, scheme), -1)
        if kind == "sse":
            self.streams.add(route, -1)
        attributes, child = self._durations.get_or_make(
            (method, route, status, scheme),
            lambda: self._duration_series(method, route, status, scheme),
        )
        self.duration.record(seconds, attributes)
        if child is not None:
            child.observe(seconds)

    def stream_opened(self, route: str | None) -> None:
        """A request turned out to be an event stream: one more stream open.

        Its ``finished`` then comes with ``kind="sse"``, which closes it."""
        if self.enabled:
            self.streams.add(route, 1)

    def validation_failed(self, kind: ScopeKind, route: str | None) -> None:
        """A request's inputs (422) or a WebSocket message failed validation."""
        if not self.enabled:
            return
        key = (kind, route)
        attributes, child = self._failures.get_or_make(
            key,
            lambda: (
                _route({"bocadillo.kind": kind}, route),
                None
                if self.prometheus is None
                else self.prometheus.failures.labels(route or "", kind),
            ),
        )
        self.failures.add(1, attributes)
        if child is not None:
            child.inc()

    # -- messages, events and channels ---------------------------------------

    def message(self, route: str | None, direction: Literal["in", "out"], type_name: str) -> None:
        """A WebSocket message received or sent."""
        if not self.enabled:
            return
        key = (route, direction, type_name)
        attributes, child = self._messages.get_or_make(
            key, lambda: self._message_series(route, _DIRECTIONS[direction], type_name)
        )
        self.messages.add(1, attributes)
        if child is not None:
            child.inc()

    def event(self, route: str | None, event: str | None) -> None:
        """An SSE event sent (``None``: a plain message, recorded as ``"message"``)."""
        if not self.enabled:
            return
        type_name = event or "message"
        attributes, child = self._events.get_or_make(
            (route, type_name),
            lambda: (
                _route({"bocadillo.event.type": type_name}, route),
                None
                if self.prometheus is None
                else self.prometheus.events.labels(route or "", type_name),
            ),
        )
        self.events.add(1, attributes)
        if child is not None:
            child.inc()

    def delivered(self, channel: str) -> None:
        """A channel message delivered to one subscription."""
        if not self.enabled:
            return
        attributes, child = self._channels.get_or_make(
            channel,
            lambda: (
                {"bocadillo.channel": channel},
                None if self.prometheus is None else self.prometheus.deliveries.labels(channel),
            ),
        )
        self.deliveries.add(1, attributes)
        if child is not None:
            child.inc()

    def dropped(self, channel: str, reason: Literal["drop_oldest", "disconnect"]) -> None:
        """A channel message dropped for a slow subscriber."""
        if not self.enabled:
            return
        attributes, child = self._drops.get_or_make(
            (channel, reason),
            lambda: (
                {"bocadillo.channel": channel, "bocadillo.drop.reason": reason},
                None if self.prometheus is None else self.prometheus.drops.labels(channel, reason),
            ),
        )
        self.drops.add(1, attributes)
        if child is not None:
            child.inc()

    # -- the series ----------------------------------------------------------

    def _duration_series(
        self, method: str, route: str | None, status: int, scheme: str
    ) -> tuple[Any, Any]:
        attributes: dict[str, Any] = {"http.request.method": method, "url.scheme": scheme}
        _route(attributes, route)
        error = ""
        if status:
            attributes["http.response.status_code"] = status
        if status >= 500 or not status:
            # No status: the scope ended without an answer (it raised, or the client left).
            error = str(status) if status else "_OTHER"
            attributes["error.type"] = error
        child = None
        if self.prometheus is not None:
            child = self.prometheus.duration.labels(
                method, scheme, route or "", str(status) if status else "", error
            )
        return attributes, child

    def _message_series(self, route: str | None, direction: str, type_name: str) -> tuple[Any, Any]:
        attributes = _route(
            {"bocadillo.direction": direction, "bocadillo.message.type": type_name}, route
        )
        child = None
        if self.prometheus is not None:
            child = self.prometheus.messages.labels(route or "", direction, type_name)
        return attributes, child
