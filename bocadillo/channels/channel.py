"""Typed publish/subscribe channels, in one process or across many through Redis.

::

    feed = app.channel("feed", Post)          # a Channel[Post], and a provider named "feed"

    @app.post("/posts", status_code=202)
    async def publish(post: Post, feed: Channel[Post]) -> Post:
        await feed.publish(post)              # validated and serialized once
        return post

    @app.sse("/posts/events")
    async def events(feed: Channel[Post]) -> AsyncIterator[Post]:
        async with feed.subscribe() as sub:
            async for post in sub:            # typed, in publish order
                yield post

A message is dumped to JSON once when it is published and read back there (so
it is validated against the channel's type); every other process decodes it
once and hands the same value to every subscriber there. The backend is the
app's ``broadcast`` setting: in-memory by default (one process), or Redis
pub/sub (``App(broadcast="redis://...")``) for several workers or machines.

Each subscription has a bounded queue, so a slow subscriber never holds up a
publisher or the other subscribers: past ``max_queue`` messages, the oldest is
dropped (``overflow="drop_oldest"``, counted in ``sub.dropped``) or the
subscription ends with ``SlowSubscriber`` (``overflow="disconnect"``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

import orjson

from bocadillo.errors import ConfigurationError, HTTPError
from bocadillo.observe import CURRENT, Observation
from bocadillo.schemas.protocol import SchemaAdapter, SchemaValidationError
from bocadillo.schemas.registry import adapter_for

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

__all__ = [
    "Backend",
    "BroadcastUnavailable",
    "Channel",
    "MemoryBackend",
    "RedisBackend",
    "SlowSubscriber",
    "Subscription",
    "make_backend",
]

T = TypeVar("T")
Overflow = Literal["drop_oldest", "disconnect"]

logger = logging.getLogger("bocadillo.channels")

# The WebSocket close code for a subscriber that could not keep up ("Try Again Later").
SLOW_SUBSCRIBER_CLOSE_CODE = 1013

# A message's trace context (W3C traceparent, tracestate...), as telemetry gathers it.
TraceContext = dict[str, str]
# On Redis, a message published under a trace context is
# RS + the context as a JSON object + RS + the message's JSON; a message without
# one is its JSON alone (as before the context was sent). JSON never starts with RS.
_RS = b"\x1e"
MAX_CONTEXT_SIZE = 4096  # bytes of context a message may carry; past it, ignored


class SlowSubscriber(Exception):
    """A subscription with ``overflow="disconnect"`` fell ``max_queue`` messages behind.

    Raised by the subscription's next ``get()`` (or iteration). Escaping a
    WebSocket handler, it closes the connection with code 1013; escaping an
    event stream's generator, it ends the stream.
    """

    def __init__(self, channel: str, max_queue: int) -> None:
        super().__init__(f"a subscriber of {channel!r} fell {max_queue} messages behind")
        self.channel = channel
        self.max_queue = max_queue


class BroadcastUnavailable(HTTPError):
    """The broadcast backend (Redis) cannot be reached: a 503 problem where it
    reaches an HTTP client, with ``Retry-After: 1``."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(
            503,
            detail="Messages cannot be sent or received right now; try again shortly.",
            headers={"Retry-After": "1"},
        )
        self.cause = cause


class _Closed:
    """Put in a queue to end its subscription."""


_CLOSED = _Closed()


class Subscription(Generic[T]):
    """One subscriber's messages: ``async for message in sub`` or ``await sub.get()``."""

    __slots__ = ("_event", "_failure", "_observation", "_queue", "channel", "dropped")

    def __init__(self, channel: Channel[T]) -> None:
        self.channel = channel
        self.dropped = 0  # messages dropped because this subscriber was behind
        self._queue: collections.deque[Any] = collections.deque()
        self._event = asyncio.Event()
        self._failure: BaseException | None = None
        # The request, connection or stream that subscribed, when telemetry is on.
        self._observation: Observation | None = CURRENT.get()

    def _put(self, value: Any, context: TraceContext | None = None) -> None:
        """Queue ``value`` without waiting (called by the backend, for every message);
        ``context``: the trace context it was published under, if any."""
        if self._failure is not None:
            return
        queue = self._queue
        observation = self._observation
        if len(queue) >= self.channel.max_queue:
            if self.channel.overflow == "disconnect":
                if observation is not None:
                    observation.dropped(self.channel.name, "disconnect")
                self._fail(SlowSubscriber(self.channel.name, self.channel.max_queue))
                return
            queue.popleft()
            self.dropped += 1
            if observation is not None:
                observation.dropped(self.channel.name, "drop_oldest")
        queue.append(value)
        self._event.set()
        if observation is not None:
            observation.delivered(self.channel.name, context)

    def _fail(self, error: BaseException) -> None:
        self._failure = error
        self._queue.clear()
        self._event.set()

    async def get(self) -> T:
        """The next message, waiting for it; raises ``SlowSubscriber`` once dropped out."""
        while not self._queue:
            if self._failure is not None:
                raise self._failure
            self._event.clear()
            await self._event.wait()
        value: T = self._queue.popleft()
        return value

    def __aiter__(self) -> Subscription[T]:
        return self

    async def __anext__(self) -> T:
        return await self.get()


class Backend(Protocol):
    """Carries published messages to the subscriptions of every process.

    A backend with a ``trace_context`` attribute (the two built in) carries the
    trace context of each message too: telemetry sets it to a function that
    gathers the active one (``None``, the default: nothing is gathered).
    """

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, channel: Channel[Any], payload: bytes, value: Any) -> None:
        """Send ``payload`` (``value`` as JSON, validated) to every subscription."""
        ...

    async def subscribe(self, subscription: Subscription[Any]) -> None: ...

    async def unsubscribe(self, subscription: Subscription[Any]) -> None: ...


class _Fanout:
    """The subscriptions of this process, by channel name, and the one decode per message."""

    def __init__(self) -> None:
        self.subscriptions: dict[str, set[Subscription[Any]]] = {}

    def add(self, subscription: Subscription[Any]) -> bool:
        """Add it; True if it is the first of its channel here."""
        subs = self.subscriptions.setdefault(subscription.channel.name, set())
        subs.add(subscription)
        return len(subs) == 1

    def discard(self, subscription: Subscription[Any]) -> bool:
        """Remove it; True if it was the last of its channel here."""
        name = subscription.channel.name
        subs = self.subscriptions.get(name)
        if subs is None:
            return False
        subs.discard(subscription)
        if subs:
            return False
        del self.subscriptions[name]
        return True

    def deliver(self, name: str, data: bytes) -> None:
        """Decode a message that came from elsewhere (Redis) once, and queue it."""
        subs = self.subscriptions.get(name)
        if not subs:
            return
        channel = next(iter(subs)).channel
        payload, context = open_envelope(data)
        try:
            value = channel.adapter.validate_json(payload)
        except Exception:  # another app (version) published something else
            logger.warning("A message on %r does not fit its type; dropped", name, exc_info=True)
            return
        self.deliver_value(name, value, context)

    def deliver_value(self, name: str, value: Any, context: TraceContext | None = None) -> None:
        for sub in self.subscriptions.get(name, ()):
            sub._put(value, context)


def envelope(payload: bytes, context: TraceContext | None) -> bytes:
    """A message as it goes over Redis: its JSON, after its trace context if it has one."""
    if not context:
        return payload
    return _RS + orjson.dumps(context) + _RS + payload


def open_envelope(data: bytes) -> tuple[bytes, TraceContext | None]:
    """A message from Redis: its JSON, and the trace context it carries (``None``
    without one, or with one that is too large or not an object of strings)."""
    if not data.startswith(_RS):
        return data, None
    end = data.find(_RS, 1, MAX_CONTEXT_SIZE + 2)
    if end == -1:
        # No context within bounds: the rest is not a message this version sent.
        return data, None
    payload = data[end + 1 :]
    try:
        context = orjson.loads(data[1:end])
    except orjson.JSONDecodeError:
        return payload, None
    if not isinstance(context, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in context.items()
    ):
        return payload, None
    return payload, context


class MemoryBackend:
    """One process: a message goes straight to this process's subscriptions."""

    def __init__(self) -> None:
        self._fanout = _Fanout()
        self.trace_context: Callable[[], TraceContext | None] | None = None

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        for subs in list(self._fanout.subscriptions.values()):
            for sub in list(subs):
                sub._fail(ConnectionError("the app is shutting down"))

    async def publish(self, channel: Channel[Any], payload: bytes, value: Any) -> None:
        gather = self.trace_context
        self._fanout.deliver_value(channel.name, value, None if gather is None else gather())

    async def subscribe(self, subscription: Subscription[Any]) -> None:
        self._fanout.add(subscription)

    async def unsubscribe(self, subscription: Subscription[Any]) -> None:
        self._fanout.discard(subscription)


class RedisBackend:
    """Redis pub/sub: every process subscribes once per channel that has subscribers
    there, and one reader task per process fans the messages out.

    A ``SUBSCRIBE`` is confirmed before ``subscribe()`` returns, so a message
    published after it reaches the subscriber. If the connection to Redis
    fails, the reader reconnects and subscribes again, with a growing pause;
    messages published while it was down are lost (Redis pub/sub keeps none).
    """

    def __init__(self, url: str) -> None:
        try:
            import redis.asyncio  # noqa: F401
        except ImportError:
            raise ConfigurationError(
                f"broadcast={url!r} needs the redis package: pip install 'bocadillo[redis]'"
            ) from None
        self.url = url
        self._fanout = _Fanout()
        self._client: Redis | None = None
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._confirmed: dict[str, asyncio.Future[None]] = {}
        self._lock = asyncio.Lock()
        self.trace_context: Callable[[], TraceContext | None] | None = None

    async def start(self) -> None:
        import redis.asyncio

        self._client = redis.asyncio.from_url(self.url)
        await self._client.ping()  # a wrong URL fails the start, not a request
        self._pubsub = self._client.pubsub()
        self._reader = asyncio.create_task(self._read(), name="bocadillo-redis-reader")

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
            self._reader = None
        for subs in list(self._fanout.subscriptions.values()):
            for sub in list(subs):
                sub._fail(ConnectionError("the app is shutting down"))
        if self._pubsub is not None:
            with contextlib.suppress(Exception):  # Redis may be gone already
                await self._pubsub.aclose()  # type: ignore[no-untyped-call]
            self._pubsub = None
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
            self._client = None

    def _started(self) -> tuple[Redis, PubSub]:
        if self._client is None or self._pubsub is None:
            raise RuntimeError(
                "the Redis broadcast connects at the app's start-up: serve the app, or use "
                "`with create_client(app)` / `async with app.lifespan_context()` in tests"
            )
        return self._client, self._pubsub

    async def publish(self, channel: Channel[Any], payload: bytes, value: Any) -> None:
        client, _ = self._started()
        gather = self.trace_context
        if gather is not None:
            payload = envelope(payload, gather())
        try:
            await client.publish(channel.name, payload)
        except Exception as exc:  # redis.exceptions.ConnectionError, TimeoutError...
            raise BroadcastUnavailable(exc) from exc

    async def subscribe(self, subscription: Subscription[Any]) -> None:
        _, pubsub = self._started()
        name = subscription.channel.name
        async with self._lock:
            if self._fanout.add(subscription):
                confirmed = asyncio.get_running_loop().create_future()
                self._confirmed[name] = confirmed
                try:
                    await pubsub.subscribe(name)
                except Exception as exc:
                    self._fanout.discard(subscription)
                    self._confirmed.pop(name, None)
                    raise BroadcastUnavailable(exc) from exc
            else:  # another subscriber of this process asked; wait for the same answer
                confirmed = self._confirmed[name]
        try:
            await asyncio.wait_for(asyncio.shield(confirmed), timeout=10)
        except BaseException as exc:
            await self.unsubscribe(subscription)
            if isinstance(exc, TimeoutError):
                raise BroadcastUnavailable(exc) from exc
            raise

    async def unsubscribe(self, subscription: Subscription[Any]) -> None:
        if self._pubsub is None:
            return
        async with self._lock:
            if self._fanout.discard(subscription):
                self._confirmed.pop(subscription.channel.name, None)
                try:
                    await self._pubsub.unsubscribe(subscription.channel.name)
                except Exception as exc:  # Redis is down: the reconnect forgets it anyway
                    logger.debug("Redis broadcast: unsubscribe failed: %s", exc)

    async def _read(self) -> None:
        pause = 0.1
        while True:
            pubsub = self._pubsub
            assert pubsub is not None
            try:
                if not pubsub.subscribed:
                    await asyncio.sleep(0.05)
                    continue
                # After a failure, the next call reconnects, and redis-py subscribes
                # the connection again to every channel it had.
                message = await pubsub.get_message(timeout=1.0)
                pause = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # redis.exceptions.ConnectionError, OSError...
                logger.warning("Redis broadcast: %s; reconnecting in %.1f s", exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)
                continue
            if message is None:
                continue
            kind = message["type"]
            name = message["channel"]
            name = name.decode() if isinstance(name, bytes) else name
            if kind == "message":
                self._fanout.deliver(name, message["data"])
            elif kind == "subscribe":
                confirmed = self._confirmed.get(name)
                if confirmed is not None and not confirmed.done():
                    confirmed.set_result(None)


def make_backend(setting: str | Backend | None) -> Backend:
    """The backend for ``App(broadcast=...)``: None or "memory://", a Redis URL, or one made."""
    if setting is None or setting == "memory://":
        return MemoryBackend()
    if isinstance(setting, str):
        if setting.startswith(("redis://", "rediss://", "unix://")):
            return RedisBackend(setting)
        raise ConfigurationError(
            f"broadcast={setting!r}: use None or 'memory://' (one process) or a Redis URL "
            "('redis://host:6379/0')"
        )
    return setting


class Channel(Generic[T]):
    """A named channel of ``T`` messages, made with ``app.channel(name, T)``.

    ``await channel.publish(message)`` sends to every subscriber, in every
    process; ``async with channel.subscribe() as sub`` receives.
    ``channel.topic(key)`` is a channel of the same type named ``name:key``
    (a room, a user, a job).
    """

    __slots__ = ("_app", "adapter", "max_queue", "message_type", "name", "overflow")

    def __init__(
        self,
        app: Any,
        name: str,
        message_type: Any,
        *,
        max_queue: int = 100,
        overflow: Overflow = "drop_oldest",
        adapter: SchemaAdapter | None = None,
    ) -> None:
        if not name:
            raise ConfigurationError("a channel needs a name")
        if max_queue < 1:
            raise ConfigurationError(f"channel {name!r}: max_queue must be at least 1")
        if overflow not in ("drop_oldest", "disconnect"):
            raise ConfigurationError(
                f"channel {name!r}: overflow must be 'drop_oldest' or 'disconnect'"
            )
        self._app = app
        self.name = name
        self.message_type = message_type
        self.max_queue = max_queue
        self.overflow: Overflow = overflow
        self.adapter: SchemaAdapter = adapter or adapter_for(message_type)

    def __repr__(self) -> str:
        kind = getattr(self.message_type, "__name__", self.message_type)
        return f"<Channel {self.name!r} of {kind}>"

    def topic(self, key: str) -> Channel[T]:
        """The channel ``name:key``, with the same message type and queue settings."""
        return Channel(
            self._app,
            f"{self.name}:{key}",
            self.message_type,
            max_queue=self.max_queue,
            overflow=self.overflow,
            adapter=self.adapter,
        )

    async def publish(self, message: T | Mapping[str, Any]) -> None:
        """Validate ``message`` against the channel's type, dump it once, and send it.

        Raises ``TypeError`` for a message that is not of the type, and
        ``BroadcastUnavailable`` (a 503 for an HTTP client) when Redis cannot be
        reached. Does not wait for subscribers.
        """
        try:
            payload = self.adapter.dump_json(message)
            # Read back as a subscriber will: this validates an instance that was
            # built without validation (model_construct, a changed field) too, and
            # is the value this process's subscribers get.
            value = self.adapter.validate_json(payload)
        except SchemaValidationError as exc:
            raise TypeError(
                f"{message!r} is not a message of channel {self.name!r}: {exc.errors}"
            ) from None
        await self._app.broadcast_backend.publish(self, payload, value)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription[T]]:
        """Receive the messages published from now on, until the block ends."""
        backend: Backend = self._app.broadcast_backend
        subscription: Subscription[T] = Subscription(self)
        await backend.subscribe(subscription)
        try:
            yield subscription
        finally:
            await backend.unsubscribe(subscription)
