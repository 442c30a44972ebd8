"""Request streaming: ``async for chunk in request``, the body limit while
streaming, and ``ClientDisconnect`` when the client leaves mid-body."""

import asyncio
from collections.abc import Iterator
from typing import Any

from bocadillo import App, Body, ClientDisconnect, Request


def _scope(path: str, headers: list[tuple[bytes, bytes]] = []) -> dict[str, Any]:  # noqa: B006
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }


def _run(app: App, path: str, messages: list[dict[str, Any]], headers=()) -> list[dict[str, Any]]:
    """Call the app with exactly ``messages`` as what the client sends, then a
    disconnect; return what the app sent."""
    incoming = list(messages)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop(0)
        await asyncio.sleep(0)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(_scope(path, list(headers)), receive, send))
    return sent


def _chunks(*parts: bytes, end: bool = True) -> list[dict[str, Any]]:
    last = len(parts) - 1
    return [
        {"type": "http.request", "body": part, "more_body": not (end and i == last)}
        for i, part in enumerate(parts)
    ]


def _status(sent: list[dict[str, Any]]) -> int:
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


def _body(sent: list[dict[str, Any]]) -> bytes:
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def streaming_app(limit: int | None = None) -> tuple[App, list[bytes]]:
    app = App(max_body_size=16)
    seen: list[bytes] = []

    @app.post("/upload", max_body_size=limit)
    async def upload(request: Request) -> int:
        size = 0
        async for chunk in request:
            seen.append(chunk)
            size += len(chunk)
        return size

    return app, seen


def test_async_for_reads_the_body_chunk_by_chunk() -> None:
    app, seen = streaming_app()
    sent = _run(app, "/upload", _chunks(b"abc", b"de", b"f"))
    assert _status(sent) == 200
    assert _body(sent) == b"6"
    assert seen == [b"abc", b"de", b"f"]  # as they came, no empty chunk at the end


def test_a_streamed_body_past_the_limit_is_a_413_problem_once_past_it() -> None:
    app, seen = streaming_app()
    sent = _run(app, "/upload", _chunks(b"x" * 10, b"x" * 10, b"x" * 10))
    assert _status(sent) == 413
    headers = dict(next(m for m in sent if m["type"] == "http.response.start")["headers"])
    assert headers[b"content-type"] == b"application/problem+json"
    assert b"limit of 16 bytes" in _body(sent)
    assert seen == [b"x" * 10]  # the chunk that passed the limit never reached the handler


def test_a_declared_length_past_the_limit_is_refused_before_any_chunk() -> None:
    app, seen = streaming_app()
    sent = _run(app, "/upload", _chunks(b"x" * 4), headers=[(b"content-length", b"100")])
    assert _status(sent) == 413
    assert seen == []


def test_the_route_limit_holds_while_streaming() -> None:
    app, _ = streaming_app(limit=64)
    assert _status(_run(app, "/upload", _chunks(b"x" * 30, b"x" * 30))) == 200
    assert _status(_run(app, "/upload", _chunks(b"x" * 40, b"x" * 40))) == 413


def test_a_client_that_leaves_mid_body_raises_client_disconnect() -> None:
    app = App()
    caught: list[BaseException] = []

    @app.post("/upload")
    async def upload(request: Request) -> int:
        try:
            async for _ in request:
                pass
        except ClientDisconnect as exc:
            caught.append(exc)
            raise
        return 0

    sent = _run(app, "/upload", _chunks(b"abc", end=False))  # then the client leaves
    assert len(caught) == 1
    assert sent == []  # nobody is listening: nothing is answered


def test_client_disconnect_also_comes_out_of_body_and_json(caplog: Any) -> None:
    app = App()
    caught: list[str] = []

    @app.post("/body")
    async def body(request: Request) -> int:
        try:
            await request.body()
        except ClientDisconnect:
            caught.append("body")
        return 0

    @app.post("/json")
    async def json(request: Request) -> int:
        await request.json()  # uncaught: nothing answered, nothing logged
        return 0

    assert _status(_run(app, "/body", _chunks(b"ab", end=False))) == 200
    assert caught == ["body"]
    assert _run(app, "/json", _chunks(b"{", end=False)) == []
    assert "Unhandled" not in caplog.text


def test_a_streamed_body_read_after_a_json_body_gives_the_same_bytes() -> None:
    app = App()

    @app.post("/echo")
    async def echo(request: Request, payload: dict[str, int] = Body()) -> int:
        return len(b"".join([chunk async for chunk in request]))

    sent = _run(
        app, "/echo", _chunks(b'{"a":', b"1}"), headers=[(b"content-type", b"application/json")]
    )
    assert (_status(sent), _body(sent)) == (200, b"7")


def test_a_streaming_route_documents_no_request_body() -> None:
    app, _ = streaming_app()
    operation = app.openapi()["paths"]["/upload"]["post"]
    assert "requestBody" not in operation


def chunks_of(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_a_chunked_upload_through_the_test_client_streams() -> None:
    from bocadillo.testing import create_client

    app, seen = streaming_app(limit=1024)
    with create_client(app) as client:
        response = client.post("/upload", content=chunks_of(b"y" * 100, 25))
    assert response.json() == 100
    assert b"".join(seen) == b"y" * 100
