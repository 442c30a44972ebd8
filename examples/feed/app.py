"""A live feed: publish posts, and follow them as they come over server-sent events.

``POST /posts`` publishes a post on the ``feed`` channel and answers 202 with it
as every follower receives it: with an ``id`` (a UUID4 in hex, made by the
worker that published it) and ``published_at`` (that worker's ``time.time()``).
``GET /posts/events`` follows the feed: every post published from then on, in
the order they were published, as a ``post`` event whose ``id`` is the post's.
Each client gets its own subscription, with its own bounded queue: a client
that reads too slowly misses the oldest posts it had not read (the channel's
``drop_oldest`` default) and never holds up the publisher or the others.
``GET /health`` says which worker answered (its process id).

The channel's broadcast backend comes from ``$BOCADILLO_BROADCAST``: unset, the
posts go to the followers of the same process (in-memory); with a Redis URL,
to the followers of every worker, so the app can be served with several::

    redis-server --port 6379 &
    BOCADILLO_BROADCAST=redis://127.0.0.1:6379/0 \\
        .venv/bin/bocadillo run examples.feed.app:app --workers 2
    curl -N localhost:8000/posts/events          # in as many terminals as you like
    curl -i -X POST localhost:8000/posts -H 'content-type: application/json' \\
         -d '{"author": "ada", "text": "Hello, everyone"}'

In a browser, ``new EventSource("/posts/events")`` receives the same events
(``addEventListener("post", ...)``). A stream lasts until the client leaves,
or ``$FEED_STREAM_SECONDS`` seconds when that is set (read as the app starts):
the server then ends it, and a browser's ``EventSource`` reconnects by itself,
missing the posts published in between (the feed keeps no history). The
contract tests set it, as they read every stream to its end.

``bench/broadcast_load.py`` measures the feed served by two workers through
Redis, with 1,000 followers.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import Literal

from pydantic import BaseModel, Field

from bocadillo import App, Channel, Event


class Post(BaseModel):
    """What a client sends to publish a post."""

    author: str = Field(min_length=1, max_length=40, description="Who wrote it.")
    text: str = Field(min_length=1, max_length=500, description="What it says.")


class PublishedPost(Post):
    """A post as it was published: what every follower of the feed receives."""

    id: str = Field(
        pattern=r"^[0-9a-f]{32}$",
        description="The post's id: a UUID4 in hex, made by the worker that published it.",
    )
    published_at: float = Field(
        description="When it was published: seconds since the epoch, on the publishing "
        "worker's clock."
    )


class Health(BaseModel):
    """The worker that answered is up."""

    status: Literal["ok"] = "ok"
    worker: int = Field(description="The process id of the worker that answered.")


def create_app(broadcast: str | None = None, stream_seconds: float | None = None) -> App:
    """The feed app, its channel on the ``broadcast`` backend (None: in-memory).

    An event stream lasts ``stream_seconds`` at most: by default
    ``$FEED_STREAM_SECONDS`` (read as the app starts), else until the client leaves.
    """
    app = App(
        title="Feed",
        version="1.0.0",
        description="A live feed: publish posts, and follow them over server-sent events, "
        "from any worker.",
        broadcast=broadcast,
    )
    app.channel("feed", PublishedPost)  # a Channel[PublishedPost], provided as `feed`

    @app.provider(scope="app")
    async def stream_limit() -> float | None:
        """How long an event stream lasts at most, in seconds (None: until the client leaves)."""
        if stream_seconds is not None:
            return stream_seconds
        setting = os.environ.get("FEED_STREAM_SECONDS")
        return float(setting) if setting else None

    @app.post("/posts", status_code=202, tags=["posts"])
    async def publish_post(post: Post, feed: Channel[PublishedPost]) -> PublishedPost:
        """Publish a post: every client following the feed, on every worker, receives it.

        The answer is the post as they receive it, with its id and publication time.
        """
        published = PublishedPost(
            author=post.author, text=post.text, id=uuid.uuid4().hex, published_at=time.time()
        )
        await feed.publish(published)
        return published

    @app.sse("/posts/events", tags=["posts"], event_names={PublishedPost: "post"})
    async def post_events(
        feed: Channel[PublishedPost], stream_limit: float | None
    ) -> AsyncIterator[Event[PublishedPost]]:
        """Follow the feed: each post published from now on, in order, as a post event.

        The event's id is the post's id.
        """
        deadline = (
            None if stream_limit is None else asyncio.get_running_loop().time() + stream_limit
        )
        async with feed.subscribe() as subscription:
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        post = await subscription.get()
                except TimeoutError:
                    return  # the stream has lasted long enough: the client reconnects
                yield Event(post, id=post.id)

    @app.get("/health", tags=["health"])
    async def health() -> Health:
        """Which worker answered: its process id."""
        return Health(worker=os.getpid())

    return app


app = create_app(broadcast=os.environ.get("BOCADILLO_BROADCAST"))
