"""The WebSocket message fuzzer: ``fuzz_websockets``.

For one route, hypothesis generates runs of messages (valid ones from the
JSON Schema of the route's ``In`` type, and invalid ones); each run is one
connection, driven in ASGI messages on the test client's event loop. The
transcript of each connection is then checked against what the route
promises (close codes, error replies, its ``Out`` messages).
"""

from __future__ import annotations

import dataclasses
import logging
import re
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urlencode

import orjson
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message

from bocadillo.errors import HTTPError
from bocadillo.routing.table import compile_path
from bocadillo.schemas.registry import adapter_for
from bocadillo.testing.client import create_client
from bocadillo.testing.strategies import from_json_schema

if TYPE_CHECKING:
    from hypothesis import strategies as st

    from bocadillo.app import App
    from bocadillo.routing.router import RouteDef
    from bocadillo.runtime.websockets import WebSocketPlan

__all__ = ["fuzz_websockets"]


# -- what one generated message is, and what the route must answer ----------------------

Expectation = Literal["accepted", "refused", "wrong_kind", "too_big", "any"]

# What each expectation forbids or requires, for the failure message.
_EXPECTED = {
    "accepted": "a valid message must not be refused (no 1003/1007/1009, no error reply)",
    "refused": "an invalid message must be refused: close 1007, or an error reply in reply mode",
    "wrong_kind": "a frame of the wrong kind must close the connection with 1003",
    "too_big": "a message over max_message_size must close the connection with 1009",
}


@dataclasses.dataclass(frozen=True)
class _Frame:
    """One message the fuzzer sends, and what the route owes it."""

    expect: Expectation
    text: str | None = None
    data: bytes | None = None

    def message(self) -> dict[str, Any]:
        if self.data is not None:
            return {"type": "websocket.receive", "bytes": self.data}
        return {"type": "websocket.receive", "text": self.text}

    def size(self) -> int:
        return len(self.data) if self.data is not None else len((self.text or "").encode())

    def __repr__(self) -> str:
        shown = _shorten(repr(self.data if self.data is not None else self.text))
        kind = "binary" if self.data is not None else "text"
        return f"<{kind} {shown} ({self.expect})>"


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


# -- strategies: the messages of one route ----------------------------------------------


def _other_json_type(value: Any) -> list[Any]:
    """JSON values of another type than ``value``."""
    candidates: list[Any] = [None, True, 12345, 1.5, "not the right type", [1], {"x": 1}]
    return [c for c in candidates if type(c) is not type(value)]


def _message_strategies(
    plan: WebSocketPlan,
) -> tuple[st.SearchStrategy[_Frame], st.SearchStrategy[_Frame]]:
    """(valid frames, invalid frames) for the messages the route receives."""
    from hypothesis import strategies as st

    codec = plan.receives
    limit = plan.max_message_size

    def frame(expect: Expectation, text: str | None = None, data: bytes | None = None) -> _Frame:
        made = _Frame(expect, text, data)
        if expect != "wrong_kind" and made.size() > limit:
            return _Frame("too_big", text, data)
        return made

    if codec.kind == "text":
        return (
            st.text().map(lambda s: frame("accepted", text=s)),
            st.binary().map(lambda b: frame("wrong_kind", data=b)),
        )
    if codec.kind == "bytes":
        return (
            st.binary().map(lambda b: frame("accepted", data=b)),
            st.text().map(lambda s: frame("wrong_kind", text=s)),
        )

    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

    assert codec.adapter is not None
    schema = codec.adapter.json_schema("validation")
    validator = Draft202012Validator(schema)
    values = from_json_schema(schema).filter(validator.is_valid)

    def dumps(value: Any) -> str:
        return orjson.dumps(value).decode()

    def classified(value: Any) -> _Frame:
        # A mutation may still be valid (an optional field removed): then expect nothing.
        return frame("any" if validator.is_valid(value) else "refused", text=dumps(value))

    def without_a_key(value: dict[str, Any]) -> st.SearchStrategy[Any]:
        return st.sampled_from(sorted(value)).map(
            lambda key: {k: v for k, v in value.items() if k != key}
        )

    def with_a_wrong_value(value: dict[str, Any]) -> st.SearchStrategy[Any]:
        return st.sampled_from(sorted(value)).flatmap(
            lambda key: st.sampled_from(_other_json_type(value[key])).map(
                lambda wrong: {**value, key: wrong}
            )
        )

    objects = values.filter(lambda v: isinstance(v, dict) and bool(v))
    malformed = st.sampled_from(["", "{", "not json", "[1,", '{"a": }', "nul", "{'a': 1}"])
    truncated = values.map(dumps).filter(lambda s: len(s) > 1).map(lambda s: s[:-1])
    invalid = st.one_of(
        values.flatmap(lambda v: st.sampled_from(_other_json_type(v))).map(classified),
        objects.flatmap(without_a_key).map(classified),
        objects.flatmap(with_a_wrong_value).map(classified),
        (malformed | truncated).map(lambda text: frame(_malformed(text), text=text)),
        values.map(lambda v: frame("wrong_kind", data=dumps(v).encode())),
    )
    return values.map(lambda v: frame("accepted", text=dumps(v))), invalid


def _malformed(text: str) -> Expectation:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return "refused"
    return "any"  # a truncated number is still a number


# -- driving one connection ---------------------------------------------------------------


class _Connection:
    """The client side of one WebSocket, spoken in ASGI messages, that knows when
    the app is idle: waiting for the next message, or finished."""

    def __init__(self) -> None:
        import anyio

        self._anyio = anyio
        self.inbox: list[Message] = []
        self.available = anyio.Event()
        self.settled = anyio.Event()
        self.sent: list[Message] = []
        self.closed = False  # the app closed the connection or refused the handshake
        self.done = anyio.Event()  # the app returned
        self.crash: BaseException | None = None

    async def receive(self) -> Message:
        while not self.inbox:
            self.available = self._anyio.Event()
            self.settled.set()
            await self.available.wait()
        return self.inbox.pop(0)

    async def send(self, message: Message) -> None:
        if message["type"] in ("websocket.close", "websocket.http.response.start"):
            self.closed = True
        self.sent.append(message)

    def push(self, message: Message) -> None:
        self.settled = self._anyio.Event()
        self.inbox.append(message)
        self.available.set()

    async def run(self, app: ASGIApp, scope: dict[str, Any]) -> None:
        try:
            await app(scope, self.receive, self.send)
        except Exception as exc:
            self.crash = exc
        finally:
            self.closed = True
            self.done.set()
            self.settled.set()

    async def settle(self, seconds: float) -> bool:
        with self._anyio.move_on_after(seconds):
            await self.settled.wait()
            return True
        return False

    def take(self) -> list[Message]:
        taken, self.sent = self.sent, []
        return taken


@dataclasses.dataclass
class _Transcript:
    handshake: list[Message]
    exchanges: list[tuple[_Frame, list[Message], bool]]  # frame, replies, settled
    crash: BaseException | None


async def _session(
    app: ASGIApp, scope: dict[str, Any], frames: list[_Frame], seconds: float
) -> _Transcript:
    import anyio

    connection = _Connection()
    connection.push({"type": "websocket.connect"})
    exchanges: list[tuple[_Frame, list[Message], bool]] = []
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(connection.run, app, scope)
        await connection.settle(seconds)
        handshake = connection.take()
        accepted = any(m["type"] == "websocket.accept" for m in handshake)
        for frame in frames:
            if not accepted or connection.closed:
                break
            connection.push(frame.message())
            settled = await connection.settle(seconds)
            exchanges.append((frame, connection.take(), settled))
        if not connection.done.is_set():
            connection.push({"type": "websocket.disconnect", "code": 1000})
            with anyio.move_on_after(seconds):
                await connection.done.wait()
        tasks.cancel_scope.cancel()
    return _Transcript(handshake, exchanges, connection.crash)


# -- checking what the route answered -----------------------------------------------------


def _is_error_reply(plan: WebSocketPlan, message: Message) -> bool:
    """An answer to an invalid message in reply mode: of the error format's message_schema()."""
    from bocadillo.schemas.protocol import MalformedInput, SchemaValidationError

    text, schema = message.get("text") or "", plan.error_format.message_schema()
    try:
        if isinstance(schema, Mapping):
            from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]

            return bool(Draft202012Validator(schema).is_valid(orjson.loads(text)))
        adapter_for(schema).validate_json(text.encode())
    except (orjson.JSONDecodeError, MalformedInput, SchemaValidationError):
        return False
    return True


def _out_problem(plan: WebSocketPlan, message: Message) -> str | None:
    """Why a message the route sent is not one of its ``Out`` messages (None if it is)."""
    from bocadillo.schemas.protocol import MalformedInput, SchemaValidationError

    codec = plan.sends
    text, data = message.get("text"), message.get("bytes")
    if codec.kind == "bytes":
        return None if data is not None else "a text frame from a route that sends bytes"
    if text is None:
        return "a binary frame from a route that sends text"
    if codec.kind == "text":
        return None
    assert codec.adapter is not None
    try:
        codec.adapter.validate_json(text.encode())
    except MalformedInput:
        return "not JSON"
    except SchemaValidationError as exc:
        return f"does not match the route's Out type: {exc.errors}"
    return None


def _check(plan: WebSocketPlan, where: str, transcript: _Transcript, logs: list[str]) -> None:
    """Raise an ``AssertionError`` describing the first broken promise in ``transcript``."""
    sent_so_far: list[_Frame] = []

    def fail(problem: str) -> None:
        lines = [f"{where}: {problem}", "messages sent, in order:"]
        lines += [f"  {frame!r}" for frame in sent_so_far] or ["  (none)"]
        if logs:
            lines += ["the server logged:", *(f"  {_shorten(entry, 2000)}" for entry in logs)]
        raise AssertionError("\n".join(lines))

    if transcript.crash is not None:
        fail(f"the app raised {transcript.crash!r} instead of closing the connection")
    if not any(m["type"] == "websocket.accept" for m in transcript.handshake):
        start = next((m for m in transcript.handshake if m["type"].endswith("start")), None)
        body = b"".join(m.get("body", b"") for m in transcript.handshake)
        answer = (
            f"HTTP {start['status']} {body.decode(errors='replace')}"
            if start
            else f"{transcript.handshake!r}"
        )
        fail(
            f"the handshake was not accepted ({answer}); pass path_params=, query= or "
            "headers= the route needs"
        )
    for frame, replies, settled in transcript.exchanges:
        sent_so_far.append(frame)
        closes = [m.get("code", 1000) for m in replies if m["type"] == "websocket.close"]
        errors = 0
        for message in replies:
            if message["type"] != "websocket.send":
                continue
            if plan.invalid_message == "reply" and _is_error_reply(plan, message):
                errors += 1
                continue
            problem = _out_problem(plan, message)
            if problem is not None:
                shown = _shorten(repr(message.get("text", message.get("bytes"))))
                fail(f"the server sent {shown}: {problem}")
        if 1011 in closes:
            fail("the server closed the connection with 1011: the handler failed")
        if not settled:
            continue  # the handler is busy elsewhere: no verdict on this message
        expect = frame.expect
        if expect == "accepted" and (errors or {1003, 1007, 1009} & set(closes)):
            answer = f"close {closes[0]}" if closes else "an error reply"
            fail(f"got {answer} for a valid message; {_EXPECTED[expect]}")
        elif expect == "refused":
            refused = errors if plan.invalid_message == "reply" and not closes else 1007 in closes
            if not refused:
                fail(f"got {_answer(closes)}; {_EXPECTED[expect]}")
        elif expect in _REQUIRED_CLOSE and _REQUIRED_CLOSE[expect] not in closes:
            fail(f"got {_answer(closes)}; {_EXPECTED[expect]}")


_REQUIRED_CLOSE = {"wrong_kind": 1003, "too_big": 1009}


def _answer(closes: list[int]) -> str:
    return f"close {closes[0]}" if closes else "no close"


@contextmanager
def _captured_errors(logs: list[str]) -> Iterator[None]:
    """Keep what the ``bocadillo`` logger reports (the handler's traceback) in ``logs``."""

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage()
            error = record.exc_info[1] if record.exc_info else None
            if error is not None:
                text += f": {error!r}"
                frames = traceback.extract_tb(error.__traceback__)
                if frames:  # where it was raised: the handler's line, usually
                    text += f" at {frames[-1].filename}:{frames[-1].lineno}"
            logs.append(text)

    handler = Keep(logging.ERROR)
    logger = logging.getLogger("bocadillo")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


# -- the fuzzer -------------------------------------------------------------------------


def _placeholder_value(values: Mapping[str, str], match: re.Match[str]) -> str:
    return values[match.group(1)]


_PLACEHOLDER = re.compile(r"{([^{}:]*)(?::[^{}]*)?}")
# Tried in order for a path placeholder: ints, words, a year, a date, a UUID.
_PATH_CANDIDATES = (
    "1",
    "test",
    "2024",
    "0",
    "a",
    "2024-01-01",
    "00000000-0000-4000-8000-000000000000",
)


def _fill_path(
    route: RouteDef,
    plan: WebSocketPlan,
    given: Mapping[str, Any],
    scope: dict[str, Any],
) -> dict[str, str]:
    """A value for each path placeholder: from ``given``, else the first simple
    value the route accepts."""
    values: dict[str, str] = {}
    names = compile_path(route.path)[1]
    for name in names:
        if name in given:
            values[name] = str(given[name])
            continue
        for candidate in _PATH_CANDIDATES:
            trial = {**dict.fromkeys(names, "1"), **values, name: candidate}
            if not _refuses_path_value(plan, scope, trial, name):
                values[name] = candidate
                break
        else:
            raise AssertionError(
                f"{route.path}: no simple value fits the path parameter {name!r}; "
                f"pass path_params={{{name!r}: ...}}"
            )
    return values


def _refuses_path_value(
    plan: WebSocketPlan, scope: dict[str, Any], path_params: dict[str, str], name: str
) -> bool:
    """Whether the route's parameter reader refuses ``path_params[name]``."""
    try:
        errors = plan.parameters.read(scope, path_params)[1] or []
    except HTTPError:
        return False  # a credential is missing: nothing to learn about this value
    return any(e["loc"][:2] == ["path", name] for e in errors)


def _select(app: App, path: str | None) -> list[tuple[RouteDef, WebSocketPlan, dict[str, str]]]:
    routes = app.websocket_plans()
    if path is None:
        return [(route, plan, {}) for route, plan in routes]
    for route, plan in routes:
        if route.path == path:
            return [(route, plan, {})]
    for route, plan in routes:
        regex, _ = compile_path(route.path)
        found = regex.match(path) if regex is not None else None
        if found is not None:
            return [(route, plan, found.groupdict())]
    known = ", ".join(route.path for route, _ in routes) or "none"
    raise AssertionError(f"no WebSocket route matches {path!r} (routes: {known})")


def fuzz_websockets(
    app: App,
    path: str | None = None,
    *,
    max_examples: int = 50,
    max_messages: int = 10,
    path_params: Mapping[str, Any] | None = None,
    query: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 1.0,
    seed: int | None = None,
) -> dict[str, int]:
    """Send generated messages to the app's WebSocket routes and check their contract.

    For each route (or the one ``path`` names, as declared, ``/rooms/{room}``,
    or as a concrete path, ``/rooms/lobby``), hypothesis opens
    ``max_examples`` connections and sends each up to ``max_messages``
    messages: valid ones generated from the JSON Schema of the route's ``In``
    type, and invalid ones (values of the wrong JSON type, a field missing or
    of the wrong type, text that is not JSON, binary frames for a text route,
    text for a ``bytes`` route). Then it checks that:

    - the server never closes with 1011 (the handler failed);
    - a valid message is never refused (1003, 1007, 1009 or an error reply);
    - an invalid one is refused as documented: 1007 (or, for a route with
      ``invalid_message="reply"``, an error reply), 1003 for a frame of the
      wrong kind;
    - a message over ``max_message_size`` closes with 1009;
    - every message the server sends is one of the route's ``Out`` messages.

    A broken promise raises an ``AssertionError`` naming the route, the
    messages sent (shrunk by hypothesis to the fewest and simplest) and what the
    server logged. Path placeholders get ``path_params`` or a simple value the
    route accepts; ``query`` and ``headers`` (cookies included) go with every
    handshake. ``timeout`` bounds the wait for the handler to answer one
    message; ``seed`` makes a run repeatable. Returns the number of
    connections opened per route::

        def test_chat_contract():
            fuzz_websockets(app, max_examples=25)
    """
    opened: dict[str, int] = {}
    with create_client(app) as client:
        for route, plan, matched in _select(app, path):
            base_scope = _scope(route.path, query or {}, headers or {}, client.app_state)
            filled = _fill_path(route, plan, {**matched, **(path_params or {})}, base_scope)
            concrete = _PLACEHOLDER.sub(partial(_placeholder_value, filled), route.path)
            scope = _scope(concrete, query or {}, headers or {}, client.app_state)
            where = f"WebSocket {concrete}" + (f" ({route.path})" if concrete != route.path else "")
            opened[route.path] = _fuzz_route(
                client, plan, scope, where, max_examples, max_messages, timeout, seed
            )
    return opened


def _fuzz_route(
    client: TestClient,
    plan: WebSocketPlan,
    scope: dict[str, Any],
    where: str,
    max_examples: int,
    max_messages: int,
    timeout: float,
    seed: int | None,
) -> int:
    """Run the generated connections against one route; return how many were opened."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as fixed_seed
    from hypothesis import strategies as st

    portal = client.portal
    assert portal is not None, "the client must be started (used in a with block)"
    app = client.app
    opened = 0

    def run(sent: list[_Frame]) -> None:
        nonlocal opened
        logs: list[str] = []
        with _captured_errors(logs):
            transcript = portal.call(_session, app, dict(scope), sent, timeout)
        opened += 1
        _check(plan, where, transcript, logs)

    # The oversize message once, outside the generated cases: it is slow to shrink.
    run([_oversize(plan)])

    valid, invalid = _message_strategies(plan)
    # A run of messages, then perhaps an invalid one: in close mode an invalid message
    # ends the connection, so only valid ones can build up the handler's state.
    body = st.one_of(valid, valid, valid, invalid) if plan.invalid_message == "reply" else valid
    frames = (
        st.tuples(st.lists(body, max_size=max(1, max_messages)), st.none() | invalid)
        .map(lambda parts: [*parts[0], *([parts[1]] if parts[1] is not None else [])])
        .filter(bool)
    )
    test: Callable[[], None] = settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[phase for phase in Phase if phase is not Phase.explain],  # slow, says little
    )(given(frames)(run))
    if seed is not None:
        test = fixed_seed(seed)(test)
    test()
    return opened


def _oversize(plan: WebSocketPlan) -> _Frame:
    size = plan.max_message_size + 1
    if plan.receives.kind == "bytes":
        return _Frame("too_big", data=b"\0" * size)
    return _Frame("too_big", text='"' + "a" * (size - 2) + '"')


def _scope(
    path: str, query: Mapping[str, str], headers: Mapping[str, str], state: dict[str, Any]
) -> dict[str, Any]:
    """The ASGI scope of a WebSocket handshake at ``path``, as a server with the
    HTTP-response extension sends it."""
    raw_headers = [
        (b"host", b"testserver"),
        (b"connection", b"upgrade"),
        (b"upgrade", b"websocket"),
        (b"sec-websocket-version", b"13"),
        *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()),
    ]
    return {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "scheme": "ws",
        "server": ("testserver", 80),
        "client": ("testclient", 50000),
        "root_path": "",
        "path": path,
        "raw_path": quote(path).encode(),
        "query_string": urlencode(query).encode(),
        "headers": raw_headers,
        "subprotocols": [],
        "state": dict(state),
        "extensions": {"websocket.http.response": {}},
    }
