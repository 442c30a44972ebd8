"""A body whose declared Content-Length has arrived is whole: the app answers without
waiting for the server's empty last message (granian sends a small body as one message
with ``more_body``, then an empty one)."""

import asyncio
import contextlib
from typing import Any

from pydantic import BaseModel

from bocadillo import App, ClientDisconnect, Request


class Item(BaseModel):
    name: str
    price: float


def framing_app() -> App:
    app = App(max_body_size=1000)

    @app.post("/items", status_code=201)
    async def create(item: Item) -> Item:
        return item

    @app.post("/raw")
    async def raw(request: Request) -> int:
        return len(await request.body())

    return app


class GranianLikeReceive:
    """Gives the body in ``chunks``, each with ``more_body``; then only ``http.disconnect``
    (the client gone): an app that waits for one more message has nothing to answer."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.messages = [{"type": "http.request", "body": c, "more_body": True} for c in chunks]
        self.reads = 0

    async def __call__(self) -> dict[str, Any]:
        self.reads += 1
        if self.messages:
            return self.messages.pop(0)
        await asyncio.sleep(0)
        return {"type": "http.disconnect"}


def post(path: str, chunks: list[bytes], length: int) -> tuple[int | None, bytes, int]:
    app = framing_app()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(length).encode()),
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    receive = GranianLikeReceive(chunks)

    async def run() -> None:
        async with asyncio.timeout(10):
            with contextlib.suppress(ClientDisconnect):  # left mid-body: nothing to answer
                await app(scope, receive, send)

    asyncio.run(run())
    start = next((m for m in sent if m["type"] == "http.response.start"), None)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return (start["status"] if start else None), body, receive.reads


def test_a_body_of_the_declared_length_in_one_message_is_answered_at_once() -> None:
    data = b'{"name": "widget", "price": 9.5}'
    status, body, reads = post("/items", [data], len(data))
    assert status == 201, body
    assert body == b'{"name":"widget","price":9.5}'
    assert reads == 1


def test_a_body_of_the_declared_length_in_chunks_is_answered_at_once() -> None:
    data = b'{"name": "widget", "price": 9.5}'
    status, body, reads = post("/items", [data[:10], data[10:20], data[20:]], len(data))
    assert status == 201, body
    assert body == b'{"name":"widget","price":9.5}'
    assert reads == 3


def test_a_body_shorter_than_declared_is_still_waited_for() -> None:
    """The client left before the declared length arrived: nothing is answered."""
    data = b'{"name": "widget", "price": 9.5}'
    status, _, reads = post("/items", [data], len(data) + 5)
    assert status is None
    assert reads == 2
