"""Channels across processes (issue #12): the Redis broadcast backend, on a real redis-server.

Two kinds of tests, each against its own ``redis-server`` (``tests/redis_server.py``,
on a free 127.0.0.1 port; skipped with the way to install it when there is none):

- in-process: two ``App`` instances on the same Redis URL stand for two processes;
  one publishes, the other subscribes (typed messages in order, validation at
  publish, topics, slow subscribers, subscriptions given back to Redis);
- two workers: ``bocadillo run examples.feed.app:app --workers 2`` with
  ``BOCADILLO_BROADCAST`` set to the Redis URL; an SSE subscriber on one worker
  and a publisher on the other, over keep-alive HTTP connections, every post
  delivered in order, in both directions.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from bocadillo import App, Channel, SlowSubscriber, Subscription

pytest_plugins = ["redis_server"]  # redis_url, redis_cli: a redis-server for the session

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 30.0  # the bound of every in-process test, in seconds
WAIT = 5.0  # the longest a message may take to arrive, in seconds

RedisCLI = Callable[..., object]  # the redis_cli fixture: one command to the session's Redis


class Post(BaseModel):
    author: str
    text: str


def post(i: int) -> Post:
    return Post(author=f"author {i % 7}", text=f"message {i}")


def run(test: Callable[[], Awaitable[None]]) -> None:
    """Run an async test body, bounded by ``TIMEOUT``."""

    async def bounded() -> None:
        await asyncio.wait_for(test(), TIMEOUT)

    asyncio.run(bounded())


@contextlib.asynccontextmanager
async def started(*apps: App) -> AsyncIterator[None]:
    """The apps started (their Redis connections made) for the block, then stopped."""
    async with contextlib.AsyncExitStack() as stack:
        for app in apps:
            await stack.enter_async_context(app.lifespan_context())
        yield


async def receive(sub: Subscription[Any], count: int) -> list[Any]:
    """The next ``count`` messages of ``sub``, each within ``WAIT`` seconds."""
    return [await asyncio.wait_for(sub.get(), WAIT) for _ in range(count)]


async def read_all(sub: Subscription[Post], count: int, into: list[Post]) -> None:
    while len(into) < count:
        into.append(await sub.get())


async def nothing_more(sub: Subscription[Any], within: float = 0.5) -> None:
    with pytest.raises(TimeoutError):
        message = await asyncio.wait_for(sub.get(), within)
        pytest.fail(f"an unexpected message: {message!r}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def numsub(redis_cli: RedisCLI, name: str) -> int:
    """How many Redis connections are subscribed to ``name``, as the server sees it."""
    reply = redis_cli("PUBSUB", "NUMSUB", name)
    assert isinstance(reply, list)
    count = reply[1]
    assert isinstance(count, int)
    return count


# -- in-process: two apps on one Redis --------------------------------------------------


def test_typed_messages_arrive_in_order_in_the_other_app(redis_url: str) -> None:
    publisher, subscriber = App(broadcast=redis_url), App(broadcast=redis_url)
    sent = [post(i) for i in range(200)]

    async def test() -> None:
        async with started(publisher, subscriber):
            feed_out: Channel[Post] = publisher.channel("feed", Post)
            feed_in: Channel[Post] = subscriber.channel("feed", Post)
            async with feed_in.subscribe() as there, feed_out.subscribe() as here:
                got_there: list[Post] = []
                got_here: list[Post] = []
                readers = [
                    asyncio.create_task(read_all(there, len(sent), got_there)),
                    asyncio.create_task(read_all(here, len(sent), got_here)),
                ]
                for i, message in enumerate(sent):
                    # A dict is validated into the channel's type.
                    data = message if i % 2 else message.model_dump()
                    await feed_out.publish(data)  # type: ignore[arg-type]
                await asyncio.wait_for(asyncio.gather(*readers), WAIT)
                await nothing_more(there)
            assert all(type(message) is Post for message in got_there)
            assert got_there == sent
            assert got_here == sent  # the publisher's own process gets them too
            assert there.dropped == here.dropped == 0

    run(test)


def test_a_message_that_is_not_of_the_channel_type_is_refused_at_publish(
    redis_url: str,
) -> None:
    publisher, subscriber = App(broadcast=redis_url), App(broadcast=redis_url)

    async def test() -> None:
        async with started(publisher, subscriber):
            feed_out: Channel[Post] = publisher.channel("feed", Post)
            feed_in: Channel[Post] = subscriber.channel("feed", Post)
            async with feed_in.subscribe() as sub:
                for wrong in ({"author": "ana"}, {"author": 1, "text": 2}, "a post", 42, None):
                    with pytest.raises(TypeError):
                        await feed_out.publish(wrong)  # type: ignore[arg-type]
                await feed_out.publish(post(1))
                # Nothing of the refused ones reached the subscriber.
                assert await receive(sub, 1) == [post(1)]
                await nothing_more(sub)

    run(test)


def test_a_message_from_another_publisher_that_does_not_fit_is_dropped(
    redis_url: str, redis_cli: RedisCLI, caplog: pytest.LogCaptureFixture
) -> None:
    """Another program (or app version) publishing on the Redis channel cannot break it:
    each message that does not fit is logged and skipped."""
    subscriber = App(broadcast=redis_url)

    async def test() -> None:
        feed: Channel[Post] = subscriber.channel("feed", Post)
        async with started(subscriber), feed.subscribe() as sub:
            for payload in (b"not json", b'{"author": "ana"}', b"[]"):
                redis_cli("PUBLISH", "feed", payload)
            redis_cli("PUBLISH", "feed", post(2).model_dump_json())
            assert await receive(sub, 1) == [post(2)]
            await nothing_more(sub)

    with caplog.at_level("WARNING", logger="bocadillo.channels"):
        run(test)
    dropped = [r for r in caplog.records if "does not fit its type" in r.getMessage()]
    assert len(dropped) == 3, caplog.text


def test_topics_are_separate_channels(redis_url: str, redis_cli: RedisCLI) -> None:
    publisher, subscriber = App(broadcast=redis_url), App(broadcast=redis_url)

    async def test() -> None:
        async with started(publisher, subscriber):
            feed_out: Channel[Post] = publisher.channel("feed", Post)
            feed_in: Channel[Post] = subscriber.channel("feed", Post)
            lobby, kitchen = feed_in.topic("lobby"), feed_in.topic("kitchen")
            assert lobby.name == "feed:lobby"
            async with (
                feed_in.subscribe() as whole,
                lobby.subscribe() as in_lobby,
                kitchen.subscribe() as in_kitchen,
            ):
                assert numsub(redis_cli, "feed:lobby") == 1
                await feed_out.topic("lobby").publish(post(1))
                await feed_out.topic("kitchen").publish(post(2))
                await feed_out.publish(post(3))
                await feed_out.topic("lobby").publish(post(4))
                # The same name on the Redis side: another program can publish to a topic.
                redis_cli("PUBLISH", "feed:kitchen", post(5).model_dump_json())
                assert await receive(in_lobby, 2) == [post(1), post(4)]
                assert await receive(in_kitchen, 2) == [post(2), post(5)]
                assert await receive(whole, 1) == [post(3)]
                await nothing_more(whole)
                await nothing_more(in_lobby, within=0.1)
                await nothing_more(in_kitchen, within=0.1)
                # A topic of a topic is a channel of its own as well.
                with pytest.raises(TypeError):
                    await feed_out.topic("lobby").publish({"text": "no author"})  # type: ignore[arg-type]

    run(test)


def test_leaving_the_block_gives_the_redis_subscription_back(
    redis_url: str, redis_cli: RedisCLI
) -> None:
    app = App(broadcast=redis_url)

    async def test() -> None:
        async with started(app):
            feed: Channel[Post] = app.channel("feed", Post)
            async with feed.subscribe(), feed.subscribe():
                # One Redis subscription per process, however many subscribers.
                assert numsub(redis_cli, "feed") == 1
                async with feed.topic("room").subscribe():
                    assert numsub(redis_cli, "feed:room") == 1
                assert await wait_for_numsub(redis_cli, "feed:room", 0)
            assert await wait_for_numsub(redis_cli, "feed", 0)
            # And a new subscriber after that still gets the messages.
            async with feed.subscribe() as sub:
                await feed.publish(post(7))
                assert await receive(sub, 1) == [post(7)]

    run(test)


async def wait_for_numsub(redis_cli: RedisCLI, name: str, count: int) -> bool:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if numsub(redis_cli, name) == count:
            return True
        await asyncio.sleep(0.02)
    return False


def test_publishing_before_the_app_started_is_a_runtime_error() -> None:
    app = App(broadcast="redis://127.0.0.1:9/0")  # never connected: no server needed
    feed: Channel[Post] = app.channel("feed", Post)

    async def test() -> None:
        with pytest.raises(RuntimeError, match="start"):
            await feed.publish(post(1))

    run(test)


def test_a_slow_subscriber_drops_the_oldest_while_a_fast_one_gets_everything(
    redis_url: str,
) -> None:
    publisher, subscriber = App(broadcast=redis_url), App(broadcast=redis_url)
    sent = [post(i) for i in range(1000)]

    async def test() -> None:
        async with started(publisher, subscriber):
            feed_out: Channel[Post] = publisher.channel("feed", Post)
            feed_in: Channel[Post] = subscriber.channel("feed", Post)  # max_queue=100, drop_oldest
            async with feed_in.subscribe() as slow, feed_in.subscribe() as fast:
                fast_got: list[Post] = []
                reader = asyncio.create_task(read_all(fast, len(sent), fast_got))
                start = time.monotonic()
                for message in sent:
                    await feed_out.publish(message)  # never waits for the slow one
                publishing = time.monotonic() - start
                await asyncio.wait_for(reader, WAIT)
                assert fast_got == sent
                assert fast.dropped == 0
                # The slow one kept the newest 100 and counted the others.
                assert slow.dropped == len(sent) - 100
                assert await receive(slow, 100) == sent[-100:]
                await nothing_more(slow, within=0.1)
            assert publishing < 20, f"publishing 1000 messages took {publishing:.1f} s"

    run(test)


def test_a_slow_subscriber_is_disconnected_while_a_fast_one_gets_everything(
    redis_url: str,
) -> None:
    publisher, subscriber = App(broadcast=redis_url), App(broadcast=redis_url)
    sent = [post(i) for i in range(1000)]

    async def test() -> None:
        async with started(publisher, subscriber):
            feed_out: Channel[Post] = publisher.channel("feed", Post)
            feed_in: Channel[Post] = subscriber.channel(
                "feed", Post, max_queue=50, overflow="disconnect"
            )
            async with feed_in.subscribe() as slow, feed_in.subscribe() as fast:
                fast_got: list[Post] = []
                reader = asyncio.create_task(read_all(fast, len(sent), fast_got))
                for message in sent:
                    await feed_out.publish(message)
                await asyncio.wait_for(reader, WAIT)
                assert fast_got == sent
                with pytest.raises(SlowSubscriber):
                    await asyncio.wait_for(slow.get(), WAIT)
                with pytest.raises(SlowSubscriber):
                    async for _ in slow:
                        pytest.fail("a disconnected subscriber got a message")
            # The other subscriptions of the channel carry on.
            async with feed_in.subscribe() as again:
                await feed_out.publish(post(1))
                assert await receive(again, 1) == [post(1)]

    run(test)


def test_the_channel_is_injected_by_name_and_publishes_through_redis(redis_url: str) -> None:
    """A route's ``Channel[Post]`` parameter is the app's channel, on the Redis backend."""
    from bocadillo.testing import create_client

    served, other = App(broadcast=redis_url), App(broadcast=redis_url)
    served.channel("feed", Post)

    @served.post("/posts", status_code=202)
    async def publish(body: Post, feed: Channel[Post]) -> Post:
        await feed.publish(body)
        return body

    got: queue.Queue[Post] = queue.Queue()
    subscribed = threading.Event()
    done = threading.Event()

    def listen() -> None:
        async def main() -> None:
            feed: Channel[Post] = other.channel("feed", Post)
            async with started(other), feed.subscribe() as sub:
                subscribed.set()
                for message in await receive(sub, 3):
                    got.put(message)
                done.set()

        asyncio.run(asyncio.wait_for(main(), TIMEOUT))

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    try:
        assert subscribed.wait(WAIT)
        with create_client(served) as client:
            for i in range(3):
                response = client.post("/posts", json=post(i).model_dump())
                assert response.status_code == 202, response.text
            response = client.post("/posts", json={"author": "no text"})
            assert response.status_code == 422
        assert done.wait(WAIT)
        assert [got.get_nowait() for _ in range(3)] == [post(i) for i in range(3)]
    finally:
        listener.join(TIMEOUT)


# -- two workers: bocadillo run --workers 2 ---------------------------------------------


class FeedServer:
    """``bocadillo run examples.feed.app:app --workers 2`` on a free port, in its own
    process group, with ``BOCADILLO_BROADCAST`` set."""

    def __init__(self, directory: Path, broadcast: str) -> None:
        self.port = free_port()
        self._out = directory / "feed.out"
        self._err = directory / "feed.err"
        env = {
            **os.environ,
            "BOCADILLO_BROADCAST": broadcast,
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        with self._out.open("wb") as out, self._err.open("wb") as err:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bocadillo",
                    "run",
                    "examples.feed.app:app",
                    "--workers",
                    "2",
                    "--port",
                    str(self.port),
                ],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )

    def log(self) -> str:
        return self._err.read_text(errors="replace") + self._out.read_text(errors="replace")

    def wait_for_workers(self, workers: int, timeout: float) -> None:
        """Until ``workers`` processes have finished their start-up (Redis connected)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited with {self.process.returncode}:\n{self.log()}")
            if self.log().count("Application startup complete") >= workers:
                return
            time.sleep(0.05)
        pytest.fail(f"{workers} workers did not start within {timeout} s:\n{self.log()}")

    def stop(self) -> None:
        """Ctrl-C (SIGINT to the main process), then kill whatever is left of the group."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


@pytest.fixture
def feed_server(redis_url: str, tmp_path: Path) -> Iterator[FeedServer]:
    if not (ROOT / "examples" / "feed" / "app.py").is_file():
        pytest.fail("examples/feed/app.py is missing")
    server = FeedServer(tmp_path, redis_url)
    try:
        server.wait_for_workers(2, timeout=60)
        yield server
    finally:
        server.stop()


def health(connection: http.client.HTTPConnection) -> int:
    """``GET /health`` on a kept-alive connection: the pid of the worker serving it."""
    connection.request("GET", "/health")
    response = connection.getresponse()
    body = json.loads(response.read())
    assert response.status == 200, body
    assert response.getheader("connection", "").lower() != "close"
    assert body["status"] == "ok"
    worker = body["worker"]
    assert isinstance(worker, int)
    return worker


def connections_by_worker(
    port: int, workers: int, each: int, timeout: float
) -> dict[int, list[http.client.HTTPConnection]]:
    """Open keep-alive connections until ``workers`` different workers serve ``each`` of
    them; the connections of any other worker are closed."""
    found: dict[int, list[http.client.HTTPConnection]] = {}
    spare: list[http.client.HTTPConnection] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            full = [pid for pid, conns in found.items() if len(conns) >= each]
            if len(full) >= workers:
                return {pid: found.pop(pid)[:each] for pid in full[:workers]}
            if time.monotonic() > deadline:
                counts = {pid: len(conns) for pid, conns in found.items()}
                pytest.fail(f"not {workers} workers with {each} connections each: {counts}")
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
            pid = health(connection)
            conns = found.setdefault(pid, [])
            (conns if len(conns) < each else spare).append(connection)
    finally:
        for connection in spare + [c for conns in found.values() for c in conns]:
            connection.close()


class EventStream:
    """``GET /posts/events`` on a connection; a thread parses the events into a queue."""

    def __init__(self, connection: http.client.HTTPConnection) -> None:
        self.connection = connection
        connection.request("GET", "/posts/events", headers={"Accept": "text/event-stream"})
        connection.sock.settimeout(TIMEOUT)  # the reader thread's bound
        self.response = connection.getresponse()
        assert self.response.status == 200, self.response.read()
        content_type = self.response.getheader("content-type", "")
        assert content_type.startswith("text/event-stream"), content_type
        self.events: queue.Queue[dict[str, Any] | BaseException] = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        data: list[bytes] = []
        try:
            while True:
                line = self.response.readline()
                if not line:
                    raise ConnectionError("the event stream ended")
                line = line.rstrip(b"\r\n")
                if line.startswith(b"data:"):
                    data.append(line[5:].removeprefix(b" "))
                elif not line and data:
                    self.events.put(json.loads(b"\n".join(data)))
                    data = []
        except BaseException as exc:
            self.events.put(exc)

    def next(self, timeout: float) -> dict[str, Any] | None:
        """The next event's data, or None if none came within ``timeout``."""
        try:
            item = self.events.get(timeout=timeout)
        except queue.Empty:
            return None
        if isinstance(item, BaseException):
            raise AssertionError(f"the event stream failed: {item!r}") from item
        return item

    def close(self) -> None:
        sock = self.connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.connection.close()
        self._thread.join(WAIT)


def publish(connection: http.client.HTTPConnection, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /posts``: the post as published (with its ``id`` and ``published_at``)."""
    connection.request(
        "POST", "/posts", body=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    response = connection.getresponse()
    answer = response.read()
    assert response.status == 202, answer
    published: dict[str, Any] = json.loads(answer)
    assert {"author": published["author"], "text": published["text"]} == body
    return published


def wait_until_subscribed(stream: EventStream, publisher: http.client.HTTPConnection) -> None:
    """The stream's subscription starts after its headers: post warm-up messages until
    one arrives, then read up to the last one posted."""
    deadline = time.monotonic() + TIMEOUT
    posted = 0
    while time.monotonic() < deadline:
        posted += 1
        last = publish(publisher, {"author": "warm-up", "text": str(posted)})
        event = stream.next(0.5)
        if event is None:
            continue
        # Everything published after a delivered one is delivered: read up to the last.
        while event != last:
            assert event is not None, "a warm-up message was lost after the subscription"
            assert event["author"] == "warm-up", event
            event = stream.next(WAIT)
        return
    pytest.fail(f"the subscriber got none of {posted} warm-up messages")


def deliver(subscriber: http.client.HTTPConnection, publisher: http.client.HTTPConnection) -> None:
    """200 posts on ``publisher`` all reach the SSE stream on ``subscriber``, in order."""
    stream = EventStream(subscriber)
    try:
        wait_until_subscribed(stream, publisher)
        sent = [publish(publisher, post(i).model_dump()) for i in range(200)]
        got: list[dict[str, Any]] = []
        for _ in sent:
            event = stream.next(WAIT)
            assert event is not None, f"{len(got)} of {len(sent)} posts arrived"
            got.append(event)
        assert got == sent  # the same posts, ids and times as the publisher answered
        assert len({event["id"] for event in got}) == len(sent)
        assert stream.next(0.3) is None, "more events than posts"
    finally:
        stream.close()


def test_two_workers_deliver_every_post_in_order_both_ways(feed_server: FeedServer) -> None:
    by_worker = connections_by_worker(feed_server.port, workers=2, each=2, timeout=TIMEOUT)
    (first, a), (second, b) = by_worker.items()
    assert first != second
    try:
        deliver(subscriber=a[0], publisher=b[0])  # subscriber on one worker, publisher on the other
        deliver(subscriber=b[1], publisher=a[1])  # and the reverse
        # Still served by the same two workers: the posts crossed processes.
        assert health(a[1]) == first
        assert health(b[0]) == second
    finally:
        for connection in a + b:
            connection.close()
    log = feed_server.log()
    assert "Traceback" not in log, log
    assert "ERROR" not in log, log


def test_subscribers_recover_when_redis_restarts(tmp_path: Path) -> None:
    # Its own redis-server, killed and started again on the same port: publishing
    # while it is down is a 503 (BroadcastUnavailable), and afterwards the reader
    # reconnects and resubscribes, so the open subscription receives again.
    from redis_server import SKIP_MESSAGE, RedisServer

    from bocadillo import BroadcastUnavailable

    executable = shutil.which("redis-server")
    if executable is None:
        pytest.skip(SKIP_MESSAGE)
    port = free_port()
    server = RedisServer(executable, tmp_path, port)
    assert server.wait_until_ready(15)
    publisher, subscriber = App(broadcast=server.url), App(broadcast=server.url)
    sending = publisher.channel("feed", Post)
    receiving = subscriber.channel("feed", Post)

    async def test() -> None:
        nonlocal server
        async with started(publisher, subscriber), receiving.subscribe() as sub:
            await sending.publish(Post(author="ada", text="before"))
            assert [p.text for p in await receive(sub, 1)] == ["before"]
            server.stop()
            with pytest.raises(BroadcastUnavailable) as refused:
                await sending.publish(Post(author="ada", text="while down"))
            assert refused.value.status_code == 503
            assert refused.value.headers == {"Retry-After": "1"}
            server = RedisServer(executable, tmp_path, port)
            assert server.wait_until_ready(15)
            for _ in range(100):  # until the reader is back (its pause grows to 5 s)
                with contextlib.suppress(BroadcastUnavailable):
                    await sending.publish(Post(author="ada", text="after"))
                with contextlib.suppress(TimeoutError):
                    message = await asyncio.wait_for(sub.get(), 0.2)
                    assert message.text == "after"
                    return
            pytest.fail("the subscription never received again after Redis came back")

    try:
        run(test)
    finally:
        server.stop()
