"""Trace context across workers (issue #25, item 2): a channel message published
while a span is active carries its W3C trace context through the broadcast
backend, in memory and over Redis, and its delivery on an event stream or a
WebSocket is a ``deliver CHANNEL`` span under the stream's span, linked to the
span that published it.

Over Redis, two ``App`` instances on one redis-server (``tests/redis_server.py``)
stand for two workers, each with its own tracer provider and exporter.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="telemetry needs the otel extra")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from pydantic import BaseModel

from bocadillo import App, Channel, WebSocket
from bocadillo.telemetry import Telemetry
from bocadillo.testing import create_client

pytest_plugins = ["redis_server"]  # redis_url, redis_cli: a redis-server for the session

WAIT = 10.0


class Post(BaseModel):
    text: str


class Worker:
    """An app (a worker) with its own spans."""

    def __init__(self, broadcast: str | None = None, *, telemetry: bool = True) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        setting: Telemetry | bool = (
            Telemetry(tracer_provider=self.provider, access_log=None) if telemetry else False
        )
        self.app = App(broadcast=broadcast, telemetry=setting)
        self.feed: Channel[Post] = self.app.channel("feed", Post)

    def spans(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.exporter.get_finished_spans() if span.name == name]

    def span(self, name: str) -> ReadableSpan:
        found = self.spans(name)
        assert len(found) == 1, [span.name for span in self.exporter.get_finished_spans()]
        return found[0]


def publishing(worker: Worker) -> None:
    @worker.app.post("/posts", status_code=202)
    async def publish(post: Post, feed: Channel[Post]) -> Post:
        await feed.publish(post)
        return post


def streaming(worker: Worker, subscribed: threading.Event) -> None:
    @worker.app.sse("/posts/events", keepalive=None)
    async def events(feed: Channel[Post]) -> AsyncIterator[Post]:
        async with feed.subscribe() as sub:
            subscribed.set()
            async for post in sub:
                yield post


def assert_linked(delivery: ReadableSpan, stream: ReadableSpan, published: ReadableSpan) -> None:
    """``delivery`` is under ``stream``'s span, and links to ``published``'s."""
    assert delivery.kind is SpanKind.CONSUMER
    assert delivery.parent is not None
    assert delivery.parent.span_id == stream.context.span_id
    assert delivery.context.trace_id == stream.context.trace_id
    assert len(delivery.links) == 1
    link = delivery.links[0].context
    assert link.trace_id == published.context.trace_id
    assert link.span_id == published.context.span_id
    assert link.trace_id != stream.context.trace_id  # another trace: a link, not a parent
    attributes = delivery.attributes or {}
    assert attributes["messaging.destination.name"] == "feed"
    assert attributes["messaging.operation.type"] == "process"


def stream_one(worker: Worker, into: list[Any]) -> threading.Thread:
    """Read one event of ``/posts/events`` on ``worker``, in a thread."""

    def read() -> None:
        with create_client(worker.app) as client:
            into.extend(client.stream_events("/posts/events", max_events=1))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def test_a_message_published_on_one_worker_links_its_delivery_on_another(
    redis_url: str,
) -> None:
    a, b = Worker(redis_url), Worker(redis_url)
    publishing(a)
    subscribed = threading.Event()
    streaming(b, subscribed)
    got: list[Any] = []
    reader = stream_one(b, got)
    assert subscribed.wait(WAIT)
    with create_client(a.app) as client:
        assert client.post("/posts", json={"text": "hello"}).status_code == 202
    reader.join(WAIT)
    assert not reader.is_alive()
    assert [event.data for event in got] == [Post(text="hello")]

    published = a.span("POST /posts")
    stream = b.span("GET /posts/events")
    assert_linked(b.span("deliver feed"), stream, published)
    assert (stream.attributes or {})["bocadillo.channel.deliveries"] == 1


def test_the_link_goes_to_the_handlers_own_span_when_it_publishes_inside_one(
    redis_url: str,
) -> None:
    a, b = Worker(redis_url), Worker(redis_url)
    tracer = a.provider.get_tracer("app")

    @a.app.post("/posts", status_code=202)
    async def publish(post: Post, feed: Channel[Post]) -> Post:
        with tracer.start_as_current_span("moderate and publish"):
            await feed.publish(post)
        return post

    subscribed = threading.Event()
    streaming(b, subscribed)
    got: list[Any] = []
    reader = stream_one(b, got)
    assert subscribed.wait(WAIT)
    with create_client(a.app) as client:
        assert client.post("/posts", json={"text": "hello"}).status_code == 202
    reader.join(WAIT)
    assert len(got) == 1

    own = a.span("moderate and publish")
    assert own.parent is not None and own.parent.span_id == a.span("POST /posts").context.span_id
    assert_linked(b.span("deliver feed"), b.span("GET /posts/events"), own)


def test_in_memory_a_websocket_delivery_links_to_the_publishing_request() -> None:
    worker = Worker()
    publishing(worker)
    subscribed = threading.Event()

    @worker.app.websocket("/posts/follow")
    async def follow(ws: WebSocket[str, Post], feed: Channel[Post]) -> None:
        async with feed.subscribe() as sub:
            subscribed.set()
            await ws.send(await sub.get())

    with create_client(worker.app) as client, client.websocket_connect("/posts/follow") as ws:
        assert subscribed.wait(WAIT)
        assert client.post("/posts", json={"text": "hi"}).status_code == 202
        assert ws.receive_json() == {"text": "hi"}

    connection = worker.span("WEBSOCKET /posts/follow")
    assert_linked(worker.span("deliver feed"), connection, worker.span("POST /posts"))
    assert [event.name for event in connection.events] == ["message.sent"]


def test_a_message_published_outside_any_span_is_delivered_without_a_link(
    redis_url: str,
) -> None:
    a, b = Worker(redis_url), Worker(redis_url)
    subscribed = threading.Event()
    streaming(b, subscribed)
    got: list[Any] = []
    reader = stream_one(b, got)
    assert subscribed.wait(WAIT)

    async def publish() -> None:
        async with a.app.lifespan_context():
            await a.feed.publish(Post(text="from a task"))

    asyncio.run(publish())
    reader.join(WAIT)
    assert [event.data for event in got] == [Post(text="from a task")]
    assert b.span("deliver feed").links == ()


def test_with_telemetry_off_a_message_goes_over_redis_as_its_json_alone(
    redis_url: str,
) -> None:
    import redis.asyncio

    off = Worker(redis_url, telemetry=False)
    tracer = off.provider.get_tracer("app")

    async def scenario() -> Any:
        watcher = redis.asyncio.from_url(redis_url)
        pubsub = watcher.pubsub()
        await pubsub.subscribe("feed")
        try:
            async with off.app.lifespan_context():
                with tracer.start_as_current_span("a span of the app's own"):
                    await off.feed.publish(Post(text="plain"))
            while True:
                message = await asyncio.wait_for(pubsub.get_message(timeout=WAIT), WAIT)
                if message is not None and message["type"] == "message":
                    return message["data"]
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            await watcher.aclose()

    assert asyncio.run(scenario()) == b'{"text":"plain"}'


def test_a_message_with_a_broken_or_oversized_context_is_still_delivered(
    redis_url: str, redis_cli: Any
) -> None:
    b = Worker(redis_url)
    subscribed = threading.Event()
    streaming(b, subscribed)
    got: list[Any] = []

    def read() -> None:
        with create_client(b.app) as client:
            got.extend(client.stream_events("/posts/events", max_events=2))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert subscribed.wait(WAIT)
    redis_cli("PUBLISH", "feed", b'\x1e{"traceparent": 5}\x1e{"text":"broken"}')
    redis_cli("PUBLISH", "feed", b"\x1e" + b"x" * 5000 + b'\x1e{"text":"huge"}')  # dropped
    redis_cli("PUBLISH", "feed", b'\x1e{"traceparent":"00-01-02-03"}\x1e{"nope":1}')  # dropped
    redis_cli("PUBLISH", "feed", b'{"text":"plain"}')
    reader.join(WAIT)
    assert [event.data for event in got] == [Post(text="broken"), Post(text="plain")]
    assert [span.links for span in b.spans("deliver feed")] == [(), ()]
