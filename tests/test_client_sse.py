"""The generated client's event streams: the jobs example's feed read to its end,
resumed from an event id, and resumed by itself after a dropped connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from types import ModuleType
from typing import Any

import httpx
import pytest

from bocadillo.testing import LiveServer
from tests.test_client import generate, load

pytest.importorskip("datamodel_code_generator")


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    folder = tmp_path_factory.mktemp("generated") / "jobs_client"
    generate("examples.jobs.app:app", folder)
    return load(folder)


@pytest.fixture
def server() -> Iterator[LiveServer]:
    from examples.jobs.app import create_app

    with LiveServer(create_app(step_seconds=0.01)) as live:
        yield live


def test_a_stream_is_read_to_its_end_as_typed_events(jobs: Any, server: LiveServer) -> None:
    models = jobs.models
    with jobs.Client(server.url) as api:
        job = api.create_job(models.JobIn(label="Render", steps=3))
        events = list(api.job_events(job.id))

    assert events == [
        models.Progress(job_id=job.id, step=1, steps=3),
        models.Progress(job_id=job.id, step=2, steps=3),
        models.Progress(job_id=job.id, step=3, steps=3),
        models.Finished(job_id=job.id, steps=3),
    ]


def test_the_async_client_reads_and_resumes_from_an_event_id(jobs: Any, server: LiveServer) -> None:
    models = jobs.models

    async def scenario() -> list[Any]:
        async with jobs.AsyncClient(server.url) as api:
            job = await api.create_job(models.JobIn(label="Render", steps=3))
            return [event async for event in api.job_events(job.id, last_event_id=2)]

    assert asyncio.run(scenario()) == [
        models.Progress(job_id=1, step=3, steps=3),
        models.Finished(job_id=1, steps=3),
    ]


def test_a_stream_of_an_unknown_job_raises_the_documented_404(
    jobs: Any, server: LiveServer
) -> None:
    api = jobs.Client(server.url)
    with api, pytest.raises(jobs.ProblemError) as caught:
        next(iter(api.job_events(99)))

    assert caught.value.status == 404
    assert caught.value.operation == "job_events"


FIRST = b'id: 1\nevent: progress\ndata: {"job_id": 7, "step": 1, "steps": 2}\n\nretry: 10\n\n'
REST = (
    b": keep-alive\n\n"
    b'id: 2\nevent: progress\ndata: {"job_id": 7, "step": 2, "steps": 2}\n\n'
    b'id: 3\nevent: finished\ndata: {"job_id": 7,\ndata:  "steps": 2}\n\n'
)


class Dropped(httpx.SyncByteStream, httpx.AsyncByteStream):
    """An answer whose connection drops after ``first``."""

    def __init__(self, first: bytes) -> None:
        self.first = first

    def __iter__(self) -> Iterator[bytes]:
        yield self.first
        raise httpx.RemoteProtocolError("peer closed connection")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.first
        raise httpx.RemoteProtocolError("peer closed connection")


def feed_server(seen: list[str | None]) -> httpx.MockTransport:
    """Drops the first connection after one event; then sends the rest."""

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("last-event-id"))
        headers = {"content-type": "text/event-stream"}
        if len(seen) == 1:
            return httpx.Response(200, headers=headers, stream=Dropped(FIRST))
        return httpx.Response(200, headers=headers, content=REST)

    return httpx.MockTransport(answer)


def test_a_dropped_connection_is_resumed_with_last_event_id(jobs: Any) -> None:
    models, seen = jobs.models, []
    with jobs.Client("http://jobs.test", transport=feed_server(seen)) as api:
        events = list(api.job_events(7))

    assert seen == [None, "1"]
    assert events == [
        models.Progress(job_id=7, step=1, steps=2),
        models.Progress(job_id=7, step=2, steps=2),
        models.Finished(job_id=7, steps=2),
    ]


def test_the_async_client_resumes_a_dropped_connection_too(jobs: Any) -> None:
    seen: list[str | None] = []

    async def scenario() -> list[Any]:
        async with jobs.AsyncClient("http://jobs.test", transport=feed_server(seen)) as api:
            return [event async for event in api.job_events(7)]

    events = asyncio.run(scenario())

    assert seen == [None, "1"] and len(events) == 3


def test_a_connection_that_keeps_dropping_raises_after_the_reconnects(jobs: Any) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Dropped(b""))

    api = jobs.Client(
        "http://jobs.test", transport=httpx.MockTransport(answer), reconnects=2, reconnect_delay=0
    )
    with api, pytest.raises(httpx.RemoteProtocolError):
        list(api.job_events(7))


def test_an_undocumented_event_is_an_undocumented_response(jobs: Any) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"event: surprise\ndata: {}\n\n")

    api = jobs.Client("http://jobs.test", transport=httpx.MockTransport(answer))
    with api, pytest.raises(jobs.UndocumentedResponse) as caught:
        list(api.job_events(7))

    assert "undocumented event 'surprise'" in str(caught.value)
