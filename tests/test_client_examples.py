"""The generated clients of the jobs and feed examples drive a live server: every
operation, and the documented errors a typed client can meet."""

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
def jobs(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    folder = tmp_path_factory.mktemp("generated") / "jobs_ops_client"
    generate("examples.jobs.app:app", folder)
    return load(folder)


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    folder = tmp_path_factory.mktemp("generated") / "feed_client"
    generate("examples.feed.app:app", folder)
    return load(folder)


@pytest.fixture
def jobs_server() -> Iterator[LiveServer]:
    from examples.jobs.app import create_app

    with LiveServer(create_app(step_seconds=0.01)) as live:
        yield live


@pytest.fixture
def feed_server() -> Iterator[LiveServer]:
    from examples.feed.app import create_app

    # Streams end by themselves after 5 s, so a follower never waits for ever.
    with LiveServer(create_app(stream_seconds=5)) as live:
        yield live


def test_every_jobs_operation_and_its_404(jobs: Any, jobs_server: LiveServer) -> None:
    models = jobs.models
    with jobs.Client(jobs_server.url) as api:
        created = api.create_job(models.JobIn(label="Render", steps=2))
        assert created.label == "Render"
        assert api.get_job(created.id).id == created.id
        assert [job.id for job in api.list_jobs()] == [created.id]
        assert list(api.job_events(created.id))[-1] == models.Finished(job_id=created.id, steps=2)
        with pytest.raises(jobs.ProblemError) as missing:
            api.get_job(999)
    assert missing.value.status == 404
    assert missing.value.body.status == 404


def test_every_feed_operation_a_post_followed_as_it_is_published(
    feed: Any, feed_server: LiveServer
) -> None:
    models = feed.models

    async def scenario() -> tuple[Any, list[Any], set[str]]:
        async with feed.AsyncClient(feed_server.url) as api:
            health = await api.health()
            received: list[Any] = []

            async def follow() -> None:
                async for post in api.post_events():
                    received.append(post)
                    return

            follower = asyncio.create_task(follow())
            published: set[str] = set()
            # The follower subscribes when its stream starts: publish until it has one.
            for _ in range(100):
                post = await api.publish_post(models.Post(author="ada", text="Hello"))
                published.add(post.id)
                await asyncio.sleep(0.05)
                if received or follower.done():
                    break
            await asyncio.wait_for(follower, timeout=10)
            return health, received, published

    health, received, published = asyncio.run(scenario())
    assert health.status == "ok"
    assert len(received) == 1
    assert isinstance(received[0], models.PublishedPost)
    assert received[0].id in published
    assert (received[0].author, received[0].text) == ("ada", "Hello")


def test_a_blocking_client_follows_the_feed_to_the_end_of_its_stream(feed: Any) -> None:
    from examples.feed.app import create_app

    # A stream that ends at once: the iterator ends with it, without an error.
    with LiveServer(create_app(stream_seconds=0.2)) as live, feed.Client(live.url) as api:
        assert list(api.post_events()) == []
