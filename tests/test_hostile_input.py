"""Hostile input at every route of every example (issue #11): bodies, content types,
query strings, path segments and headers a client should never send, thrown by
hypothesis at each HTTP route (with its own methods and others), each mount, the SSE
route and the WebSocket route.

Whatever comes in, the answer is never a 5xx; every 4xx is an RFC 9457 problem
(``application/problem+json`` with ``type``, ``title`` and the response's ``status``);
no answer shows a traceback; a redirect stays on the site; and a request that was
refused leaves the example's store exactly as it was.

The routes are read from each app's route table (``iter_routes``, ``iter_mounts``),
not listed here. Requests go through a raw ASGI caller (``hostile.Caller``) in the
event loop of a test client whose ``with`` block is open, so exact bytes and headers
reach the app and the app's providers live as they do under a server.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hostile import (
    DECLARABLE,
    HUGE_DIGITS,
    LAST_EVENT_IDS,
    STRANGE_METHODS,
    Body,
    Caller,
    Headers,
    RawResponse,
    check_answer,
    header_lists,
    header_values,
    methods,
    mostly,
    path_segments,
    preflights,
    query_strings,
    ranges,
    raw_paths,
    request_bodies,
    websocket_frames,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import make_url

from bocadillo import App
from bocadillo.params import ParamSource
from bocadillo.routing.table import compile_path
from bocadillo.runtime.endpoint import EndpointPlan
from bocadillo.testing import create_client
from bocadillo.testing.strategies import from_json_schema

HOSTILE = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
)
BENIGN_HEADERS: Headers = [(b"host", b"testserver")]


# -- the examples, each with its store and a snapshot of it --------------------------------


@dataclasses.dataclass
class Site:
    """An example app with its lifespan running, its store, and what a benign request
    to each route looks like."""

    name: str
    app: App
    caller: Caller
    snapshot: Callable[[], Any]  # the store's content (called in the app's loop)
    reset: Callable[[], None]  # back to the seeded content (ids keep counting)
    benign: dict[str, str]  # a path placeholder -> a value that finds something

    def state(self) -> Any:
        return self.caller.call(self.snapshot)

    def restore(self) -> None:
        """Put back what a request that succeeded removed or added (a DELETE of the
        seeded to-do, a new job), so that every example meets the same data."""
        self.caller.call(self.reset)


def _todos(stack: contextlib.ExitStack) -> Site:
    from examples.todos.app import app

    # The app's SQLite database (conftest.py's DATABASE_URL), read and reset beside it.
    path = make_url(os.environ["DATABASE_URL"]).database
    assert path is not None
    client = stack.enter_context(create_client(app))
    for title in ("Buy bread", "Write report"):
        assert client.post("/todos", json={"title": title, "tags": ["a"]}).status_code == 201
    assert client.post("/todos/1/notes", json={"text": "Wholemeal"}).status_code == 201
    tables = ("todos", "todo_tags", "notes")

    def rows() -> dict[str, list[tuple[Any, ...]]]:
        with contextlib.closing(sqlite3.connect(path, timeout=5)) as db:
            # sqlite_sequence: the next ids, so that a refused create took none.
            names = ("sqlite_sequence", *tables)
            return {name: sorted(db.execute(f"SELECT * FROM {name}").fetchall()) for name in names}

    seeded = rows()

    def reset() -> None:
        with contextlib.closing(sqlite3.connect(path, timeout=5)) as db, db:
            for name in tables:
                db.execute(f"DELETE FROM {name}")
                for row in seeded[name]:
                    db.execute(f"INSERT INTO {name} VALUES ({', '.join('?' * len(row))})", row)

    def snapshot() -> Any:
        return rows()

    return Site("todos", app, Caller(client), snapshot, reset, {"id": "1"})


def _chat(stack: contextlib.ExitStack) -> Site:
    from examples.chat.app import app
    from examples.chat.rooms import Rooms

    rooms = Rooms()
    client = stack.enter_context(create_client(app, overrides={"rooms": rooms}))

    def snapshot() -> Any:
        return {room: sorted(members) for room, members in rooms._rooms.items()}

    def reset() -> None:
        pass  # nothing is stored over HTTP; a WebSocket member leaves with its connection

    return Site("chat", app, Caller(client), snapshot, reset, {"room": "lobby"})


def _jobs(stack: contextlib.ExitStack) -> Site:
    from examples.jobs.app import create_app
    from examples.jobs.runner import JobRunner

    app = create_app()
    runner = JobRunner(0.001)
    client = stack.enter_context(create_client(app, overrides={"runner": runner}))
    stack.callback(lambda: client.portal.call(runner.close) if client.portal else None)
    assert client.post("/jobs", json={"label": "Render", "steps": 2}).status_code == 201
    deadline = time.monotonic() + 5
    while not runner.feeds[1].closed and time.monotonic() < deadline:
        time.sleep(0.01)

    def snapshot() -> Any:
        # A job's progress moves on by itself; what a request could change is which
        # jobs exist (and the next id).
        jobs = [(key, feed.job.label, feed.job.steps) for key, feed in runner.feeds.items()]
        return repr(runner._ids), jobs

    def reset() -> None:
        for key in [key for key in runner.feeds if key != 1]:
            del runner.feeds[key]

    return Site("jobs", app, Caller(client), snapshot, reset, {"id": "1"})


SITE_FACTORIES: dict[str, Callable[[contextlib.ExitStack], Site]] = {
    "todos": _todos,
    "chat": _chat,
    "jobs": _jobs,
}


@pytest.fixture(scope="module")
def sites() -> Iterator[Callable[[str], Site]]:
    """Each example, started once for the module (on first use) and stopped at its end."""
    opened: dict[str, Site] = {}
    with contextlib.ExitStack() as stack:

        def get(name: str) -> Site:
            if name not in opened:
                opened[name] = SITE_FACTORIES[name](stack)
            return opened[name]

        yield get


# -- the routes, read from each app's route table -----------------------------------------


@dataclasses.dataclass
class Target:
    """One path of an example: its methods and plans, or a mount, or a WebSocket route."""

    example: str
    path: str  # the template, e.g. /todos/{id}; a mount's is /static/{rest:path}
    kind: str  # "http", "mount" or "websocket"
    plans: dict[str, EndpointPlan]
    names: list[str]
    benign_rest: str = ""  # for a mount: a file it serves

    def __str__(self) -> str:
        return f"{self.example}:{self.kind}:{self.path}"

    def plan_for(self, method: str) -> EndpointPlan | None:
        if method == "HEAD":
            method = "GET"
        return self.plans.get(method)

    def benign(self, site: Site) -> dict[str, str]:
        values = {name: site.benign.get(name, "1") for name in self.names}
        if self.kind == "mount":
            values["rest"] = self.benign_rest
        return values

    def query_keys(self) -> list[str]:
        return sorted(
            {
                spec.key
                for plan in self.plans.values()
                for spec in plan.params
                if spec.source is ParamSource.QUERY
            }
        )


def _apps() -> dict[str, App]:
    from examples.chat.app import app as chat
    from examples.jobs.app import create_app
    from examples.todos.app import app as todos

    return {"todos": todos, "chat": chat, "jobs": create_app()}


def _targets() -> list[Target]:
    targets: list[Target] = []
    for example, app in _apps().items():
        by_path: dict[str, dict[str, EndpointPlan]] = {}
        for route, plan in app.plans():
            by_path.setdefault(route.path, {})[route.method] = plan
        framework = {r.path for r in app.iter_routes() if r.framework}
        for path in framework:
            by_path.setdefault(path, {})  # the documents and docs pages: GET only
        for path in sorted(by_path):
            _, names = compile_path(path)
            plans = by_path[path]
            if path in framework:
                plans = {"GET": app.check().static[path].methods["GET"]}
            targets.append(Target(example, path, "http", plans, names))
        for route, _ws in app.websocket_plans():
            _, names = compile_path(route.path)
            targets.append(Target(example, route.path, "websocket", {}, names))
        for mount in app.iter_mounts():
            directory = Path(getattr(mount.app, "directory", "") or "")
            files = sorted(p.name for p in directory.iterdir() if p.is_file())
            targets.append(Target(example, mount.path + "/{rest:path}", "mount", {}, [], files[0]))
    return targets


TARGETS = _targets()
HTTP_TARGETS = TARGETS  # a WebSocket path and a mount answer HTTP requests too
PATH_TARGETS = [t for t in TARGETS if t.names or t.kind == "mount"]
WS_TARGETS = [t for t in TARGETS if t.kind == "websocket"]
SSE_TARGETS = [
    t for t in TARGETS if any(getattr(p, "kinds", None) is not None for p in t.plans.values())
]


def test_every_route_of_every_example_is_a_target() -> None:
    seen = {(t.example, t.path) for t in TARGETS}
    for example, app in _apps().items():
        for route in app.iter_routes():
            assert (example, route.path) in seen, route
        for mount in app.iter_mounts():
            assert (example, mount.path + "/{rest:path}") in seen
    assert {t.example for t in WS_TARGETS} == {"chat"}
    assert [str(t) for t in SSE_TARGETS] == ["jobs:http:/jobs/{id}/events"]


# -- strategies per target ----------------------------------------------------------------


def valid_bodies(target: Target, method: str) -> st.SearchStrategy[dict[str, Any]] | None:
    plan = target.plan_for(method)
    if plan is None or plan.body is None:
        return None
    schema = plan.body.adapter.json_schema()
    return from_json_schema(schema).filter(lambda v: isinstance(v, dict))


def benign_body(target: Target, method: str) -> st.SearchStrategy[Body]:
    """No body where the route reads none; else a body of the right type."""
    valid = valid_bodies(target, method)
    if valid is None:
        return st.just(Body([], [b""]))
    return valid.map(
        lambda v: Body([(b"content-type", b"application/json")], [json.dumps(v).encode()])
    )


def benign_path(target: Target, site: Site) -> bytes:
    path = target.path
    for name, value in target.benign(site).items():
        path = path.replace("{" + name + "}", value).replace("{" + name + ":path}", value)
    return path.encode()


@dataclasses.dataclass
class HostileRequest:
    method: str
    raw_path: bytes
    query: bytes
    headers: Headers
    chunks: list[bytes]
    leave: bool = False


def _send(site: Site, request: HostileRequest) -> RawResponse:
    """Send ``request``; check the answer; check that a refusal changed nothing."""
    site.restore()
    before = site.state()
    response = site.caller.http(
        request.method,
        request.raw_path,
        query=request.query,
        headers=request.headers,
        chunks=request.chunks,
        leave=request.leave,
    )
    check_answer(request.method, response, repr(request))
    if response.status is None or response.status >= 400:
        assert site.state() == before, f"a refused {request.method} changed the store"
    return response


def _run(
    site: Site, strategy: st.SearchStrategy[HostileRequest], max_examples: int | None = None
) -> None:
    @settings(HOSTILE, max_examples=max_examples or HOSTILE.max_examples)
    @given(request=strategy)
    def check(request: HostileRequest) -> None:
        _send(site, request)

    check()


def _method_and_body(target: Target) -> st.SearchStrategy[tuple[str, Body]]:
    """A method (mostly the route's own) and a body of the type it reads, if any."""
    every = [*DECLARABLE, *STRANGE_METHODS]
    by_method = {m: st.tuples(st.just(m), benign_body(target, m)) for m in every}
    return methods(list(target.plans)).flatmap(by_method.__getitem__)


@pytest.mark.parametrize("target", HTTP_TARGETS, ids=str)
def test_hostile_bodies(sites: Callable[[str], Site], target: Target) -> None:
    """Bodies and their framing: random bytes, invalid UTF-8, JSON of the wrong shape,
    NaN, huge numbers, deep nesting, duplicate keys, truncation, no or wrong or doubled
    content type, a Content-Length that lies, any chunking."""
    site = sites(target.example)
    path = benign_path(target, site)
    readers = [m for m, plan in target.plans.items() if plan.body is not None]
    # A route that reads a body gets most of them on the methods that read it.
    method = methods(list(target.plans))
    if readers:
        method = st.one_of(*[st.sampled_from(readers)] * 3, method)
    by_method = {
        m: request_bodies(valid_bodies(target, m)).map(
            lambda body, m=m: HostileRequest(
                m, path, b"", [(b"host", b"testserver"), *body.headers], body.chunks, body.leave
            )
        )
        for m in [*DECLARABLE, *STRANGE_METHODS]
    }
    strategy = method.flatmap(by_method.__getitem__)
    _run(site, strategy, max_examples=200 if readers else None)


@pytest.mark.parametrize("target", HTTP_TARGETS, ids=str)
def test_hostile_query_strings(sites: Callable[[str], Site], target: Target) -> None:
    """Random and repeated keys, values that do not fit the type, invalid
    percent-encoding, NUL and control characters, very long values."""
    site = sites(target.example)
    path = benign_path(target, site)
    strategy = st.tuples(_method_and_body(target), query_strings(target.query_keys())).map(
        lambda t: HostileRequest(
            t[0][0], path, t[1], [*BENIGN_HEADERS, *t[0][1].headers], t[0][1].chunks
        )
    )
    _run(site, strategy)


@pytest.mark.parametrize("target", PATH_TARGETS, ids=str)
def test_hostile_path_segments(sites: Callable[[str], Site], target: Target) -> None:
    """Each placeholder (and a mount's rest of the path): percent-encoded slashes and
    dots, ``..``, unicode, 5000-digit numbers, empty segments, extra segments."""
    site = sites(target.example)
    names = target.names or ["rest"]
    template = target.path
    strategy = st.tuples(
        _method_and_body(target), raw_paths(template, names, target.benign(site))
    ).map(
        lambda t: HostileRequest(
            t[0][0], t[1], b"", [*BENIGN_HEADERS, *t[0][1].headers], t[0][1].chunks
        )
    )
    _run(site, strategy)


@pytest.mark.parametrize("target", HTTP_TARGETS, ids=str)
def test_hostile_headers(sites: Callable[[str], Site], target: Target) -> None:
    """Random names and values (valid per HTTP), hostile and repeated Host headers,
    Accept, Authorization of the wrong form, Origin and preflight headers, cookies,
    Range and conditional headers, Last-Event-ID."""
    site = sites(target.example)
    path = benign_path(target, site)
    # OPTIONS often, so that the preflights header_lists makes reach the CORS layer.
    method_and_body = mostly(_method_and_body(target), st.just(("OPTIONS", Body([], [b""]))))
    strategy = st.tuples(method_and_body, header_lists()).map(
        lambda t: HostileRequest(t[0][0], path, b"", [*t[1], *t[0][1].headers], t[0][1].chunks)
    )
    _run(site, strategy)


@pytest.mark.parametrize("target", HTTP_TARGETS, ids=str)
def test_hostile_cors_preflights(sites: Callable[[str], Site], target: Target) -> None:
    """A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method) with
    any origin, method and headers: answered by the CORS layer where the app has one
    (todos), else by the route; refused or not, never a plain-text error."""
    site = sites(target.example)
    path = benign_path(target, site)
    strategy = preflights().map(
        lambda pairs: HostileRequest(
            "OPTIONS",
            path,
            b"",
            [*BENIGN_HEADERS, *((k.encode(), v.encode("latin-1")) for k, v in pairs)],
            [b""],
        )
    )
    _run(site, strategy, max_examples=30)


MOUNT_TARGETS = [t for t in TARGETS if t.kind == "mount"]


@pytest.mark.parametrize("target", MOUNT_TARGETS, ids=str)
def test_hostile_ranges(sites: Callable[[str], Site], target: Target) -> None:
    """Range and If-Range headers of every form at a file a mount serves."""
    site = sites(target.example)
    path = benign_path(target, site)
    strategy = st.tuples(st.sampled_from(["GET", "HEAD"]), ranges()).map(
        lambda t: HostileRequest(
            t[0],
            path,
            b"",
            [*BENIGN_HEADERS, *((k.encode(), v.encode("latin-1")) for k, v in t[1])],
            [b""],
        )
    )
    _run(site, strategy, max_examples=80)


# -- server-sent events: the request side ---------------------------------------------------


def _events(body: bytes) -> list[dict[str, str]]:
    """The events of an SSE body, each a dict of its fields (comments left out)."""
    events = []
    for block in body.decode().split("\n\n"):
        fields = {}
        for line in block.splitlines():
            if line and not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
        if fields:
            events.append(fields)
    return events


@pytest.mark.parametrize("target", SSE_TARGETS, ids=str)
def test_hostile_event_stream_requests(sites: Callable[[str], Site], target: Target) -> None:
    """An SSE route's request side: a hostile ``Last-Event-ID`` (zero, one or two of
    them), query and path. A stream is either refused with a problem before it starts,
    or it replays exactly the events after the ``Last-Event-ID`` given."""
    site = sites(target.example)
    last_ids = st.lists(st.sampled_from(LAST_EVENT_IDS) | header_values(), max_size=2)
    segment = st.one_of(st.just("1"), st.just("1"), path_segments())
    strategy = st.tuples(last_ids, segment, query_strings(target.query_keys()), header_lists())

    @settings(HOSTILE, max_examples=100)
    @given(request=strategy)
    def check(request: tuple[list[str], str, bytes, Headers]) -> None:
        last_ids, segment, query, headers = request
        extra = [(b"last-event-id", v.encode("latin-1")) for v in last_ids]
        benign = [(b"host", b"testserver"), *extra]
        for chosen in (benign, [*headers, *extra]):
            path = target.path.replace("{id}", segment).encode()
            response = _send(site, HostileRequest("GET", path, query, chosen, [b""]))
            if response.status != 200 or chosen is not benign or segment != "1":
                continue
            assert (response.header("content-type") or "").startswith("text/event-stream")
            ids = [int(e["id"]) for e in _events(response.body) if "id" in e]
            if not last_ids:
                assert ids == [1, 2, 3], response.body
            elif len(last_ids) == 1 and last_ids[0].isascii() and last_ids[0].isdigit():
                assert ids == list(range(int(last_ids[0]) + 1, 4)), response.body
            else:
                assert ids == list(range(ids[0], 4)) if ids else True, response.body

    check()


def test_event_stream_last_event_id_cases(sites: Callable[[str], Site]) -> None:
    """The cases the property above draws from, each checked by hand."""
    site = sites("jobs")
    for value, status in [
        ("0", 200), ("2", 200), ("3", 200), ("99", 200), ("-1", 422), ("abc", 422),
        ("1.5", 422), ("NaN", 422), (HUGE_DIGITS, 422), ("", 422),
    ]:  # fmt: skip
        headers = [(b"host", b"testserver"), (b"last-event-id", value.encode())]
        response = _send(site, HostileRequest("GET", b"/jobs/1/events", b"", headers, [b""]))
        assert response.status == status, (value, response.status, response.body)


# -- WebSocket: the handshake and the frames --------------------------------------------------


@pytest.mark.parametrize("target", WS_TARGETS, ids=str)
def test_hostile_websocket_handshakes_and_frames(
    sites: Callable[[str], Site], target: Target
) -> None:
    """Hostile room names, query strings and headers (Host among them) at the
    handshake, then hostile frames. A refusal is a problem response (never 5xx); an
    open connection answers with valid messages and never closes with 1011; and
    once the client has left, nobody is left in any room."""
    site = sites(target.example)
    ws = next(p for route, p in site.app.websocket_plans() if route.path == target.path)
    assert ws.receives.adapter is not None
    valid = from_json_schema(ws.receives.adapter.json_schema())
    benign = target.benign(site)
    # Each part of the handshake hostile three times in ten, so that most connections
    # open and get hostile frames.
    path = st.just(benign_path(target, site))
    query = st.just(b"")
    headers = st.just([(b"host", b"testserver")])
    strategy = st.tuples(
        mostly(path, raw_paths(target.path, target.names, benign)),
        mostly(query, query_strings(target.query_keys())),
        mostly(headers, header_lists()),
        st.lists(websocket_frames(valid), max_size=5),
        mostly(st.just(True), st.just(False)),  # the server can send a refusal's response
    )

    @settings(HOSTILE, max_examples=150)
    @given(request=strategy)
    def check(request: tuple[bytes, bytes, Headers, list[dict[str, Any]], bool]) -> None:
        raw_path, query, headers, frames, extension = request
        before = site.state()
        transcript = site.caller.websocket(
            raw_path, query=query, headers=headers, frames=frames, extension=extension
        )
        if transcript.refusal is not None:
            assert not transcript.accepted
            check_answer("GET", transcript.refusal, repr(request))
            assert transcript.refusal.status is not None and transcript.refusal.status >= 400
        elif not transcript.accepted:
            assert transcript.close_code == 1008, transcript
        assert transcript.close_code != 1011, transcript
        for message in transcript.sent:
            assert message["type"] == "websocket.send", message
            data = json.loads(message["text"])
            assert data["type"] in ("joined", "said", "left", "error"), data
            assert "Traceback" not in message["text"]
        assert site.state() == before == {}, "a member is left in a room"

    check()


# -- the checks themselves fail where they should -------------------------------------------


def test_the_checks_catch_a_crash_a_bare_4xx_and_a_traceback() -> None:
    """``check_answer`` is what every property above relies on: it must fail on a 500,
    on a 4xx that is not a problem, on a problem whose status lies, on a traceback in a
    body and on a redirect off the site."""

    def answer(status: int, content_type: str, body: bytes, **more: str) -> RawResponse:
        headers = [(b"content-type", content_type.encode())]
        headers += [(k.encode(), v.encode()) for k, v in more.items()]
        return RawResponse(status, headers, body)

    problem = b'{"type": "about:blank", "title": "Bad Request", "status": 400}'
    check_answer("GET", answer(400, "application/problem+json", problem))
    bad = [
        answer(500, "application/problem+json", problem.replace(b"400", b"500")),
        answer(400, "text/plain", b"Bad Request"),
        answer(400, "application/json", problem),
        answer(422, "application/problem+json", problem),
        answer(400, "application/problem+json", b"not json"),
        answer(200, "text/plain", b'Traceback (most recent call last):\n  File "/x.py"'),
        answer(308, "text/plain", b"", location="//evil.example/"),
    ]
    for response in bad:
        with pytest.raises(AssertionError):
            check_answer("GET", response)


# -- the bugs these properties found, each pinned by a focused test -------------------------


def test_a_refused_cors_preflight_is_a_problem(sites: Callable[[str], Site]) -> None:
    """Starlette's CORS layer refused a preflight with a text/plain 400 ("Disallowed
    CORS origin"); it is a problem now, with the CORS headers kept, and an allowed
    preflight is answered as before."""
    caller = sites("todos").caller
    preflight = [(b"host", b"testserver"), (b"access-control-request-method", b"POST")]
    for origin, headers, refused in [
        (b"http://evil.example", [], "origin"),
        (b"http://localhost:5173", [(b"access-control-request-headers", b"x-evil")], "headers"),
        (b"http://evil.example", [(b"access-control-request-headers", b"x-evil")], "origin"),
    ]:
        response = caller.http(
            "OPTIONS", b"/todos", headers=[*preflight, (b"origin", origin), *headers]
        )
        check_answer("OPTIONS", response)
        assert response.status == 400
        problem = json.loads(response.body)
        assert refused in problem["detail"]
        assert "Origin" in (response.header("vary") or "")
        if refused == "origin":
            assert response.header("access-control-allow-origin") is None
    allowed = [*preflight, (b"origin", b"http://localhost:5173")]
    response = caller.http("OPTIONS", b"/todos", headers=allowed)
    assert response.status == 200
    assert response.header("access-control-allow-origin") == "http://localhost:5173"


def test_a_range_static_files_cannot_serve_is_a_problem(sites: Callable[[str], Site]) -> None:
    """A Range header StaticFiles cannot read (400) or that starts past the end of the
    file (416) was answered in text/plain; both are problems now (the 416 keeps its
    Content-Range), for HEAD too, and a range it can serve is still a 206."""
    caller = sites("chat").caller
    size = len(caller.http("GET", b"/static/chat.css").body)
    for method in ("GET", "HEAD"):
        for spec, status in [(b"bytes=9-1", 400), (b"lines=1-2", 400), (b"bytes=999999-", 416)]:
            headers = [(b"host", b"testserver"), (b"range", spec)]
            response = caller.http(method, b"/static/chat.css", headers=headers)
            check_answer(method, response)
            assert response.status == status, (method, spec, response)
            if status == 416:
                assert response.header("content-range") == f"bytes */{size}"
    for path in (b"/static/chat.css", b"/docs/assets/favicon-32x32.png"):
        headers = [(b"host", b"testserver"), (b"range", b"bytes=0-3")]
        response = caller.http("GET", path, headers=headers)
        assert (response.status, len(response.body)) == (206, 4)
    headers = [(b"host", b"testserver"), (b"range", b"bytes=9-1")]
    response = caller.http("GET", b"/docs/assets/favicon-32x32.png", headers=headers)
    check_answer("GET", response)
    assert response.status == 400
