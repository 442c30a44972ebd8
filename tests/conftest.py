"""Shared fixtures: a fresh app, a test client, a raw ASGI caller, a problem checker."""

import asyncio
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.testclient import TestClient

from bocadillo import App

PROBLEM_JSON = "application/problem+json"


@pytest.fixture(autouse=True, scope="session")
def session_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``DATABASE_URL`` for fixtures wider than a test (a server a module shares): set
    before them, so that nothing ever opens the developer's ``data/todos.db``."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'session.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", url)
        yield url


@pytest.fixture(autouse=True)
def database_url(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite database for each test, in ``DATABASE_URL`` (which the todos example
    and anything else using ``bocadillo.sqlalchemy.Database`` read when they start), so that
    no test touches the developer's ``data/todos.db``. Servers a test starts inherit it."""
    folder: Path = tmp_path_factory.mktemp("db")
    url = f"sqlite+aiosqlite:///{folder / 'test.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return url


@pytest.fixture
def app() -> App:
    return App()


@pytest.fixture
def client(app: App) -> TestClient:
    """A client that sends no lifespan events: the app compiles on its first request."""
    return TestClient(app)


@dataclasses.dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def _call_asgi(
    app: Any,
    method: str,
    path: str,
    *,
    headers: Sequence[tuple[str, str]] = (),
    chunks: Sequence[bytes] = (b"",),
    query_string: bytes = b"",
    root_path: str = "",
) -> RawResponse:
    """Send one HTTP request straight to an ASGI app and collect what it sends back.

    Unlike the TestClient, this shows the body an app sends for HEAD, and sends
    the request body in exactly the ``chunks`` given, with exactly ``headers``, on
    exactly ``path`` (``//evil.example/`` stays a path). With a ``root_path``, ``path``
    includes it, as servers send it.
    """
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": root_path,
        "query_string": query_string,
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    incoming = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop(0)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return RawResponse(
        status=start["status"],
        headers={k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]},
        body=body,
    )


@pytest.fixture
def call_asgi() -> Callable[..., RawResponse]:
    return _call_asgi


def _problem(response: httpx2.Response, status: int) -> dict[str, Any]:
    """Assert ``response`` is an RFC 9457 problem with ``status``; return its JSON."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert isinstance(body["title"], str)
    assert body["title"]
    return body


@pytest.fixture
def problem() -> Callable[[httpx2.Response, int], dict[str, Any]]:
    return _problem
