"""Channels with the in-memory backend: typed publish/subscribe, slow subscribers,
injection as providers, and what WebSocket and SSE routes do with a slow one."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel, Field

from bocadillo import App, Channel, ConfigurationError, SlowSubscriber, WebSocket
from bocadillo.testing import create_client


class Post(BaseModel):
    author: str
    text: str = Field(max_length=20)


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout=10))


def test_every_subscriber_gets_every_message_typed_and_in_order() -> None:
    app = App()
    feed = app.channel("feed", Post)

    async def scenario() -> None:
        async with (
            app.lifespan_context(),
            feed.subscribe() as first,
            feed.subscribe() as second,
        ):
            for n in range(50):
                await feed.publish(Post(author="ada", text=f"post {n}"))
            for sub in (first, second):
                received = [await sub.get() for _ in range(50)]
                assert all(isinstance(post, Post) for post in received)
                assert [post.text for post in received] == [f"post {n}" for n in range(50)]
                assert sub.dropped == 0

    run(scenario())


def test_a_message_is_validated_once_at_publish() -> None:
    app = App()
    feed = app.channel("feed", Post)

    async def scenario() -> None:
        async with feed.subscribe() as sub:
            await feed.publish({"author": "ada", "text": "a dict that fits"})  # type: ignore[arg-type]
            assert await sub.get() == Post(author="ada", text="a dict that fits")
            with pytest.raises(TypeError, match="not a message of channel 'feed'"):
                await feed.publish(Post.model_construct(author="ada", text="x" * 21))
            with pytest.raises(TypeError):
                await feed.publish({"author": 1})  # type: ignore[arg-type]
            # Nothing of the refused messages reached the subscriber: the next one it
            # gets is the next one that fitted.
            await feed.publish(Post(author="bob", text="after the refused"))
            assert await sub.get() == Post(author="bob", text="after the refused")

    run(scenario())


def test_topics_are_separate_channels_of_the_same_type() -> None:
    app = App()
    rooms = app.channel("rooms", Post)

    async def scenario() -> None:
        lobby, kitchen = rooms.topic("lobby"), rooms.topic("kitchen")
        assert lobby.name == "rooms:lobby" and lobby.message_type is Post
        async with lobby.subscribe() as in_lobby, kitchen.subscribe() as in_kitchen:
            await lobby.publish(Post(author="ada", text="hi lobby"))
            await kitchen.publish(Post(author="bob", text="hi kitchen"))
            assert (await in_lobby.get()).text == "hi lobby"
            assert (await in_kitchen.get()).text == "hi kitchen"
            # Neither got the other's message: the next each gets is the next on its topic.
            await lobby.publish(Post(author="ada", text="lobby again"))
            await kitchen.publish(Post(author="bob", text="kitchen again"))
            assert (await in_lobby.get()).text == "lobby again"
            assert (await in_kitchen.get()).text == "kitchen again"

    run(scenario())


def test_a_slow_subscriber_loses_its_oldest_messages_not_the_others() -> None:
    app = App()
    feed = app.channel("feed", Post, max_queue=10)

    async def scenario() -> None:
        async with feed.subscribe() as slow, feed.subscribe() as fast:
            received: list[str] = []

            async def read_fast() -> None:
                while len(received) < 100:
                    received.append((await fast.get()).text)

            reader = asyncio.create_task(read_fast())
            for n in range(100):
                await feed.publish(Post(author="ada", text=f"{n}"))
                await asyncio.sleep(0)  # the fast reader keeps up
            await asyncio.wait_for(reader, 5)
            assert received == [str(n) for n in range(100)]
            # The slow one never read: it holds the last 10, and knows it lost 90.
            assert slow.dropped == 90
            assert [(await slow.get()).text for _ in range(10)] == [str(n) for n in range(90, 100)]

    run(scenario())


def test_a_subscriber_that_falls_behind_is_dropped_with_overflow_disconnect() -> None:
    app = App()
    feed = app.channel("feed", Post, max_queue=3, overflow="disconnect")

    async def scenario() -> None:
        async with feed.subscribe() as sub:
            for n in range(4):
                await feed.publish(Post(author="ada", text=f"{n}"))
            with pytest.raises(SlowSubscriber, match="fell 3 messages behind"):
                await sub.get()
            with pytest.raises(SlowSubscriber):  # and it stays dropped
                await sub.get()

    run(scenario())


def test_a_channel_is_a_provider_by_its_name_and_can_be_overridden() -> None:
    app = App()
    feed = app.channel("feed", Post)
    published: list[Post] = []

    @app.post("/posts", status_code=202)
    async def publish(post: Post, feed: Channel[Post]) -> Post:
        await feed.publish(post)
        return post

    @app.get("/channel")
    async def which(feed: Channel[Post]) -> dict[str, str]:
        return {"name": feed.name}

    class Recorder:
        name = "recorder"

        async def publish(self, post: Post) -> None:
            published.append(post)

    with create_client(app) as client:
        assert client.get("/channel").json() == {"name": "feed"}
        assert client.post("/posts", json={"author": "ada", "text": "hi"}).status_code == 202
    assert feed.name == "feed"
    with create_client(app, overrides={"feed": Recorder()}) as client:
        assert client.post("/posts", json={"author": "bob", "text": "hello"}).status_code == 202
        assert client.get("/channel").json() == {"name": "recorder"}
    assert published == [Post(author="bob", text="hello")]


def test_publishing_does_not_wait_for_subscribers_that_do_not_read() -> None:
    app = App()
    feed = app.channel("feed", Post, max_queue=5)

    async def scenario() -> float:
        async with feed.subscribe(), feed.subscribe():
            loop = asyncio.get_running_loop()
            started = loop.time()
            for _ in range(10_000):
                await feed.publish(Post(author="ada", text="x"))
            return loop.time() - started

    assert run(scenario()) < 5


async def _websocket_session(app: App, path: str, frames: list[str], go: asyncio.Event) -> Any:
    """Run one WebSocket connection in this loop; return what the app sent."""
    incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await incoming.put({"type": "websocket.connect"})
    for frame in frames:
        await incoming.put({"type": "websocket.receive", "text": frame})
    sent: list[dict[str, Any]] = []
    closed = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if incoming.empty() and closed.is_set():
            return {"type": "websocket.disconnect", "code": 1000}
        return await incoming.get()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "websocket.close":
            closed.set()
            await incoming.put({"type": "websocket.disconnect", "code": 1000})

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "scheme": "ws",
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "subprotocols": [],
    }
    await app(scope, receive, send)
    return sent


def test_a_websocket_whose_subscription_falls_behind_is_closed_1013() -> None:
    app = App()
    feed = app.channel("feed", Post, max_queue=2, overflow="disconnect")
    subscribed = asyncio.Event()
    go = asyncio.Event()

    @app.websocket("/follow")
    async def follow(ws: WebSocket[str, Post], feed: Channel[Post]) -> None:
        async with feed.subscribe() as sub:
            subscribed.set()
            await go.wait()  # busy elsewhere while the channel fills up
            async for post in sub:
                await ws.send(post)

    async def scenario() -> list[dict[str, Any]]:
        async with app.lifespan_context():
            session = asyncio.create_task(_websocket_session(app, "/follow", [], go))
            await subscribed.wait()
            for n in range(3):
                await feed.publish(Post(author="ada", text=f"{n}"))
            go.set()
            result: list[dict[str, Any]] = await session
            return result

    sent = run(scenario())
    assert sent[0]["type"] == "websocket.accept"
    assert sent[-1] == {"type": "websocket.close", "code": 1013, "reason": "Too slow to keep up"}
    assert not [m for m in sent if m["type"] == "websocket.send"]


def test_an_event_stream_whose_subscription_falls_behind_ends() -> None:
    app = App()
    feed = app.channel("feed", Post, max_queue=2, overflow="disconnect")
    subscribed = asyncio.Event()
    go = asyncio.Event()

    @app.sse("/posts/events", keepalive=None)
    async def events(feed: Channel[Post]) -> AsyncIterator[Post]:
        async with feed.subscribe() as sub:
            subscribed.set()
            await go.wait()
            async for post in sub:
                yield post

    async def scenario() -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []
        done = asyncio.Event()

        async def receive() -> dict[str, Any]:
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/posts/events",
            "raw_path": b"/posts/events",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"testserver"), (b"accept", b"text/event-stream")],
            "client": ("127.0.0.1", 1),
            "server": ("testserver", 80),
        }
        async with app.lifespan_context():
            stream = asyncio.create_task(app(scope, receive, send))
            await subscribed.wait()
            for n in range(3):
                await feed.publish(Post(author="ada", text=f"{n}"))
            go.set()
            await stream
        return sent

    sent = run(scenario())
    assert sent[0]["status"] == 200
    bodies = b"".join(m.get("body", b"") for m in sent[1:])
    assert bodies == b""  # nothing it could no longer deliver in order
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


def test_channel_settings_are_checked_when_declared() -> None:
    app = App()
    app.channel("feed", Post)
    with pytest.raises(ConfigurationError, match="already has a channel named 'feed'"):
        app.channel("feed", Post)
    with pytest.raises(ConfigurationError, match="max_queue"):
        app.channel("other", Post, max_queue=0)
    with pytest.raises(ConfigurationError, match="overflow"):
        app.channel("third", Post, overflow="block")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="Redis URL"):
        App(broadcast="amqp://localhost")


def test_a_redis_url_without_the_redis_package_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'bocadillo\[redis\]'"):
        App(broadcast="redis://127.0.0.1:6379/0")
