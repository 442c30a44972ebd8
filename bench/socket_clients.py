"""The over-socket bench's own clients for what wrk cannot load: a WebSocket echo loop
and an event-stream reader, both plain asyncio over TCP, bounded in time.

- ``websocket_load``: N connections at once; each opens a WebSocket on the
  scenario's path, sends the scenario's 100 text frames one at a time, checks
  each reply (JSON equal to the expected ``Pong``) before the next, closes with
  1000, and starts again until the time is up. Messages/s counts the echoed
  messages; a connection's handshake is part of the time, as in-process.
- ``sse_load``: N streams at once; each sends ``GET`` with ``Connection: close``,
  reads the response to the end, decodes the chunked body and checks its
  1,000 events (names and data), then starts again until the time is up.

A wrong answer raises ``AssertionError`` with the framework, server and what
came; so does a connection that ends early.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class StreamResult:
    units: int  # messages or events, all checked
    seconds: float
    connections: int  # WebSocket conversations or event streams completed
    client_cpu: float = 0.0  # this process's CPU seconds over the load

    @property
    def rate(self) -> float:
        return self.units / self.seconds if self.seconds else 0.0


# -- WebSocket -----------------------------------------------------------------------------


def mask_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One final client frame (masked, as RFC 6455 requires of a client)."""
    key = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    masked = int.from_bytes(payload, "big") ^ int.from_bytes((key * (n // 4 + 1))[:n], "big")
    return head + key + masked.to_bytes(n, "big")


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """(opcode, payload) of one unmasked server frame."""
    first, second = await reader.readexactly(2)
    n = second & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    if second & 0x80:
        raise AssertionError("the server masked a frame")
    return first & 0x0F, await reader.readexactly(n)


async def read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """The status and headers of an HTTP/1.1 response head."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return status, headers


async def websocket_conversation(
    port: int, path: str, messages: tuple[bytes, ...], expected: list[Any], where: str
) -> int:
    """One connection: handshake, the echo of every message, close. The messages echoed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        status, _ = await read_head(reader)
        assert status == 101, f"{where}: WebSocket handshake answered {status}"
        frames = [mask_frame(m) for m in messages]
        for frame, want in zip(frames, expected, strict=True):
            writer.write(frame)
            opcode, payload = await read_frame(reader)
            assert opcode == 0x1, f"{where}: frame opcode {opcode}: {payload[:200]!r}"
            assert json.loads(payload) == want, f"{where}: reply {payload[:200]!r}"
        writer.write(mask_frame(struct.pack("!H", 1000), opcode=0x8))
        opcode, payload = await read_frame(reader)
        assert opcode == 0x8, f"{where}: no close frame after ours (opcode {opcode})"
        return len(messages)
    finally:
        writer.close()


# -- server-sent events ------------------------------------------------------------------


def dechunk(body: bytes) -> bytes:
    """A chunked transfer-coded body, decoded (it must end with the last chunk)."""
    out = []
    pos = 0
    while True:
        end = body.index(b"\r\n", pos)
        size = int(body[pos:end].split(b";")[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(body[end + 2 : end + 2 + size])
        pos = end + 2 + size + 2


async def event_stream(
    port: int, path: str, check: Callable[[int, str | None, bytes], None]
) -> None:
    """One stream read to its end and checked by ``check``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        status, headers = await read_head(reader)
        raw = await reader.read()  # to the end: the server closes after the stream
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        body = dechunk(raw) if chunked else raw
        check(status, headers.get("content-type"), body)
    finally:
        writer.close()


# -- the loads -----------------------------------------------------------------------------


async def keep_going(
    one: Callable[[], Awaitable[int]], connections: int, seconds: float
) -> StreamResult:
    """``connections`` loops of ``one()`` at once until ``seconds`` have passed (each loop
    finishes the conversation it is in); the units counted from the first start."""
    deadline = time.perf_counter() + seconds
    totals = [0, 0]

    async def loop() -> None:
        while True:  # at least once, then until the deadline
            units = await one()  # not `totals[0] += await ...`: read before the await
            totals[0] += units
            totals[1] += 1
            if time.perf_counter() >= deadline:
                return

    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(loop() for _ in range(connections))), seconds + 60)
    return StreamResult(totals[0], time.perf_counter() - started, totals[1])


def run_loop(coroutine: Awaitable[StreamResult]) -> StreamResult:
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(coroutine)  # type: ignore[arg-type]
    return uvloop.run(coroutine)  # type: ignore[arg-type]


def websocket_load(
    port: int, scenario: Any, seconds: float, connections: int, where: str
) -> StreamResult:
    async def one() -> int:
        return await websocket_conversation(
            port, scenario.path, scenario.messages, scenario.expected, where
        )

    return run_loop(keep_going(one, connections, seconds))


def sse_load(
    port: int,
    scenario: Any,
    seconds: float,
    connections: int,
    where: str,
    verify: Callable[[str, Any, int, str | None, bytes], None],
) -> StreamResult:
    def check(status: int, content_type: str | None, body: bytes) -> None:
        verify(where, scenario, status, content_type, body)

    async def one() -> int:
        await event_stream(port, scenario.path, check)
        return len(scenario.expected)

    return run_loop(keep_going(one, connections, seconds))
