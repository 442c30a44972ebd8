"""The app that tests/test_faults.py serves with ``bocadillo run`` (``--app-dir tests``).

Every route that can be interrupted uses a request provider whose teardown
counts itself, and ``GET /stats`` shows the counters, so a test can see from
outside the server whether a provider was made, whether it was torn down,
whether a stream's generator finished, and how much of a body was produced.

- ``GET /health``: ``{"status": "ok"}``.
- ``GET /stats``: the counters, and the number of asyncio tasks alive.
- ``GET /ping``: ``{"status": "ok"}``, through a provider (the idle connections' request).

``/health`` and ``/ping`` say when the server ran them, in a ``served-at`` header: the
server's ``time.monotonic()``, the system-wide clock a test on the same machine reads too.
A test times what the server did from it, not how fast a busy client noticed.
- ``POST /items``: a JSON body (``Item``), echoed with 201.
- ``GET /big``: ``CHUNKS`` chunks of ``CHUNK_SIZE`` bytes (50 MiB) with a
  ``content-length``; chunk ``i`` is ``chunk(i)``, so a client can check
  every byte.
- ``GET /endless``: 64 KiB chunks from a generator that never awaits, endless.
- ``GET /events``: server-sent ``Tick`` events, one every 10 ms, endless.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel

from bocadillo import App, JSONResponse, StreamingResponse

CHUNK_SIZE = 64 * 1024
CHUNKS = 800  # 50 MiB in all
TOTAL_SIZE = CHUNK_SIZE * CHUNKS

made: Counter[str] = Counter()  # provider made, by provider name
torn: Counter[str] = Counter()  # provider torn down
finished: Counter[str] = Counter()  # a stream's generator reached its finally
produced: Counter[str] = Counter()  # chunks or events a generator yielded

app = App(title="Faults", version="1.0.0")


def chunk(index: int) -> bytes:
    """The ``index``-th chunk of ``/big``: its number, big-endian, repeated."""
    return struct.pack(">I", index) * (CHUNK_SIZE // 4)


def _counting_provider(name: str) -> None:
    async def probe() -> AsyncIterator[str]:
        made[name] += 1
        try:
            yield name
        finally:
            torn[name] += 1

    app.provider(name=name)(probe)


for _name in ("ping_probe", "upload_probe", "big_probe", "endless_probe", "events_probe"):
    _counting_provider(_name)


class Item(BaseModel):
    name: str
    data: str


class Tick(BaseModel):
    n: int


def stamped_ok() -> JSONResponse:
    return JSONResponse({"status": "ok"}, headers={"served-at": repr(time.monotonic())})


@app.get("/health")
async def health() -> JSONResponse:
    return stamped_ok()


@app.get("/stats")
async def stats() -> dict[str, Any]:
    return {
        "made": dict(made),
        "torn": dict(torn),
        "finished": dict(finished),
        "produced": dict(produced),
        "tasks": len(asyncio.all_tasks()),
    }


@app.get("/ping")
async def ping(ping_probe: str) -> JSONResponse:
    return stamped_ok()


@app.post("/items", status_code=201)
async def create_item(item: Item, upload_probe: str) -> Item:
    return item


@app.get("/big")
async def big(big_probe: str) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        try:
            for index in range(CHUNKS):
                produced["big"] += 1
                yield chunk(index)
        finally:
            finished["big"] += 1

    return StreamingResponse(
        body(),
        media_type="application/octet-stream",
        headers={"content-length": str(TOTAL_SIZE)},
    )


@app.get("/endless")
async def endless(endless_probe: str) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        block = chunk(0)
        try:
            while True:  # never awaits: only the client leaving can end it
                produced["endless"] += 1
                yield block
        finally:
            finished["endless"] += 1

    return StreamingResponse(body(), media_type="application/octet-stream")


@app.sse("/events", keepalive=None)
async def events(events_probe: str) -> AsyncIterator[Tick]:
    n = 0
    try:
        while True:
            n += 1
            produced["events"] += 1
            yield Tick(n=n)
            await asyncio.sleep(0.01)
    finally:
        finished["events"] += 1
