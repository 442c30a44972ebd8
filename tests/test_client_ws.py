"""The generated client's WebSockets: the chat example's typed conversation, a
refused message, the documented close codes as typed exceptions, and a refused
handshake."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from bocadillo.testing import LiveServer
from tests.test_client import generate, load

pytest.importorskip("datamodel_code_generator")


@pytest.fixture(scope="module")
def chat(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    folder = tmp_path_factory.mktemp("generated") / "chat_client"
    generate("examples.chat.app:app", folder)
    return load(folder)


@pytest.fixture
def server() -> Iterator[LiveServer]:
    from examples.chat.app import app

    with LiveServer(app) as live:
        yield live


def run(scenario: Any) -> Any:
    return asyncio.run(asyncio.wait_for(scenario, timeout=10))


def test_a_typed_conversation_ends_when_the_server_closes_normally(
    chat: Any, server: LiveServer
) -> None:
    models = chat.models

    async def scenario() -> list[Any]:
        async with chat.AsyncClient(server.url) as api, api.chat("lobby") as conn:
            await conn.send(models.Join(type="join", name="ada"))
            joined = await conn.receive()
            await conn.send(models.Say(type="say", text="Hello!"))
            said = await conn.receive()
            await conn.send(models.Leave(type="leave"))
            return [joined, said, *[message async for message in conn]]

    joined, said, *rest = run(scenario())

    assert isinstance(joined, models.Joined) and joined.name == "ada"
    assert isinstance(said, models.Said) and (said.name, said.text) == ("ada", "Hello!")
    assert all(isinstance(message, models.Left) for message in rest)


def test_a_refused_message_is_answered_and_the_conversation_goes_on(
    chat: Any, server: LiveServer
) -> None:
    models = chat.models

    async def scenario() -> tuple[Any, Any, Any]:
        async with chat.AsyncClient(server.url) as api, api.chat("lobby") as conn:
            await conn.send(models.Say(type="say", text="Too early"))
            early = await conn.receive()
            await conn.connected().send('{"type": "join"}')  # past the types: no name
            invalid = await conn.receive()
            await conn.send(models.Join(type="join", name="bob"))
            return early, invalid, await conn.receive()

    early, invalid, joined = run(scenario())

    assert (early.code, early.detail) == (4001, "Join the room first.")
    assert invalid.code == 1007
    assert isinstance(joined, models.Joined)


def test_a_documented_close_code_raises_its_typed_exception(chat: Any, server: LiveServer) -> None:
    async def scenario() -> None:
        async with chat.AsyncClient(server.url) as api, api.chat("lobby") as conn:
            await conn.connected().send(b"\x00binary")  # the route takes text frames
            async for _ in conn:
                pass

    with pytest.raises(chat.Closed1003) as caught:
        run(scenario())

    assert caught.value.code == 1003
    assert isinstance(caught.value, chat.ClosedError)
    assert not isinstance(caught.value, chat.UndocumentedClose)
    assert "binary frame" in str(caught.value)


def test_a_refused_handshake_raises_with_its_status(chat: Any, server: LiveServer) -> None:
    async def scenario() -> None:
        async with chat.AsyncClient(server.url) as api, api.chat("Not A Room!"):
            pass

    with pytest.raises(chat.HandshakeRefused) as caught:
        run(scenario())

    assert caught.value.status == 422  # the room's name does not match its pattern
    assert caught.value.operation == "chat"


def test_the_blocking_client_has_the_same_typed_connection(chat: Any, server: LiveServer) -> None:
    models = chat.models
    with chat.Client(server.url) as api, api.chat("lobby") as conn:
        conn.send(models.Join(type="join", name="cy"))
        joined = conn.receive()
        conn.send(models.Leave(type="leave"))
        rest = list(conn)

    assert isinstance(joined, models.Joined) and joined.name == "cy"
    assert all(isinstance(message, models.Left) for message in rest)

    api = chat.Client(server.url)
    with api, api.chat("lobby") as conn, pytest.raises(chat.Closed1003):
        conn.connected().send(b"\x00binary")
        list(conn)


def test_the_chat_http_operations_see_the_room_a_connection_joined(
    chat: Any, server: LiveServer
) -> None:
    models = chat.models

    async def scenario() -> tuple[list[Any], list[Any], Any]:
        async with chat.AsyncClient(server.url) as api:
            before = await api.list_rooms()
            async with api.chat("lobby") as conn:
                await conn.send(models.Join(type="join", name="ada"))
                await conn.receive()
                during = await api.list_rooms()
                health = await api.health()
                await conn.send(models.Leave(type="leave"))
            return before, during, health

    before, during, health = run(scenario())
    assert before == []
    assert during == [models.Room(name="lobby", members=1)]
    assert isinstance(health, models.Health)
