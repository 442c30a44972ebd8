"""The jobs example: start jobs and follow their progress over server-sent events,
in-process, served by uvicorn, and under load (bench/sse_load.py --quick)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from test_examples import _free_port  # tests/ is on sys.path: pytest puts it there

from bocadillo.testing import Client, ServerSentEvent, create_client
from examples.jobs.app import create_app
from examples.jobs.models import Finished, JobIn, Progress
from examples.jobs.runner import JobRunner

ROOT = Path(__file__).resolve().parent.parent
STEP = 0.01  # seconds a step, in-process


@pytest.fixture
def client() -> Iterator[Client]:
    # The runner is an app provider: each `with` (each lifespan) starts with no jobs.
    with create_client(create_app(step_seconds=STEP)) as test_client:
        yield test_client


def start(client: Client, label: str = "Render", steps: int = 3) -> dict[str, Any]:
    response = client.post("/jobs", json={"label": label, "steps": steps})
    assert response.status_code == 201, response.text
    job: dict[str, Any] = response.json()
    return job


def summary(events: list[ServerSentEvent]) -> list[tuple[str, str | None, Any]]:
    return [(e.event, e.id, e.data) for e in events]


def feed_of(job_id: int, steps: int, after: int = 0) -> list[tuple[str, str | None, Any]]:
    """The events a client following job ``job_id`` gets after event ``after``."""
    progress = [
        ("progress", str(n), Progress(job_id=job_id, step=n, steps=steps))
        for n in range(1, steps + 1)
    ]
    every = [*progress, ("finished", str(steps + 1), Finished(job_id=job_id, steps=steps))]
    return every[after:]


def test_a_new_job_is_running_with_no_step_done() -> None:
    # A minute a step: on a busy machine a 10 ms step could be done before the listing.
    with create_client(create_app(step_seconds=60)) as client:
        job = start(client, "Render video", steps=4)
        listed = client.get("/jobs").json()

    assert job == {"label": "Render video", "steps": 4, "id": 1, "done": 0, "state": "running"}
    assert listed == [job]


def test_following_a_job_streams_every_step_then_finished(client: Client) -> None:
    start(client, steps=5)

    with client.stream_events("/jobs/1/events", timeout=5) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"] == "text/event-stream; charset=utf-8"
        events = list(stream)

    assert summary(events) == feed_of(1, 5)
    assert client.get("/jobs/1").json()["done"] == 5
    assert client.get("/jobs/1").json()["state"] == "finished"


def test_the_stream_ends_after_finished(client: Client) -> None:
    start(client, steps=2)
    started = time.monotonic()

    events = list(client.stream_events("/jobs/1/events", timeout=30))

    assert events[-1].event == "finished"
    # Ended by the server, not by the client's 30 s timeout: a margin a busy machine keeps.
    assert time.monotonic() - started < 15


def test_reconnecting_with_last_event_id_resumes_after_it(client: Client) -> None:
    start(client, steps=5)
    first = list(client.stream_events("/jobs/1/events", max_events=3, timeout=5))
    assert [e.id for e in first] == ["1", "2", "3"]

    resumed = client.stream_events("/jobs/1/events", headers={"Last-Event-ID": first[-1].id or ""})

    assert summary(list(resumed)) == feed_of(1, 5, after=3)


def test_a_late_subscriber_gets_the_whole_history(client: Client) -> None:
    start(client, steps=3)
    list(client.stream_events("/jobs/1/events", timeout=5))  # until it has finished

    assert summary(list(client.stream_events("/jobs/1/events", timeout=5))) == feed_of(1, 3)


def test_resuming_after_the_last_event_ends_at_once(client: Client) -> None:
    start(client, steps=2)
    list(client.stream_events("/jobs/1/events", timeout=5))

    after_finished = client.stream_events("/jobs/1/events", headers={"Last-Event-ID": "3"})
    beyond = client.stream_events("/jobs/1/events", headers={"Last-Event-ID": "99"})

    assert list(after_finished) == list(beyond) == []


def test_jobs_are_apart_and_listed_oldest_first(client: Client) -> None:
    start(client, "one", steps=1)
    start(client, "two", steps=2)

    assert summary(list(client.stream_events("/jobs/2/events", timeout=5))) == feed_of(2, 2)
    assert [job["label"] for job in client.get("/jobs").json()] == ["one", "two"]


@pytest.mark.parametrize("path", ["/jobs/7", "/jobs/7/events"])
def test_an_unknown_job_is_a_404_problem(
    client: Client, path: str, problem: Callable[[httpx.Response, int], dict[str, Any]]
) -> None:
    response = client.get(path)  # the SSE route answers before streaming anything

    assert problem(response, 404)["detail"] == "There is no job with id 7."


@pytest.mark.parametrize(
    "body",
    [
        {"label": "", "steps": 3},
        {"label": "x" * 101, "steps": 3},
        {"label": "x", "steps": 0},
        {"label": "x", "steps": 21},
        {"label": "x", "steps": "3"},
        {"label": "x"},
        {"steps": 3},
    ],
)
def test_a_bad_job_is_a_422_problem_and_starts_nothing(
    client: Client, body: dict[str, Any], problem: Callable[[httpx.Response, int], dict[str, Any]]
) -> None:
    response = client.post("/jobs", json=body)

    assert problem(response, 422)["errors"][0]["loc"][0] == "body"
    assert client.get("/jobs").json() == []


@pytest.mark.parametrize("last_event_id", ["three", "-1"])
def test_a_bad_last_event_id_is_a_422_problem(
    client: Client, last_event_id: str, problem: Callable[[httpx.Response, int], dict[str, Any]]
) -> None:
    start(client, steps=1)

    response = client.get("/jobs/1/events", headers={"Last-Event-ID": last_event_id})

    assert problem(response, 422)["errors"][0]["loc"] == ["header", "last-event-id"]


def test_many_subscribers_all_receive_every_event() -> None:
    subscribers = 50
    with create_client(create_app(step_seconds=0.05)) as client:
        start(client, steps=8)
        with contextlib.ExitStack() as stack:
            # All of them follow the job at once, then each is read to the end.
            streams = [
                stack.enter_context(client.stream_events("/jobs/1/events", timeout=10))
                for _ in range(subscribers)
            ]
            received = [summary(list(stream)) for stream in streams]

    assert received == [feed_of(1, 8)] * subscribers


def test_shutting_down_cancels_running_jobs_and_ends_their_feeds() -> None:
    async def scenario() -> None:
        runner = JobRunner(step_seconds=0.02)
        job = runner.start(JobIn(label="long", steps=20))
        feed = runner.get(job.id)
        received = []
        two_steps_done = asyncio.Event()

        async def follow() -> None:
            async for event in feed.events():
                received.append(event)
                if len(received) == 2:
                    two_steps_done.set()

        follower = asyncio.create_task(follow())
        await asyncio.wait_for(two_steps_done.wait(), 2)
        await runner.close()
        await asyncio.wait_for(follower, 1)  # the follower's stream ended too

        assert 0 < job.done < 20 and job.state == "running"
        assert [e.id for e in received] == [str(n) for n in range(1, job.done + 1)]
        assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []

    asyncio.run(scenario())


def test_the_app_stops_at_once_with_jobs_running() -> None:
    app = create_app(step_seconds=60)
    started = time.monotonic()
    with create_client(app) as client:
        start(client, steps=20)
        start(client, steps=20)
    # Not after a step of 60 s: a margin a busy machine keeps.
    assert time.monotonic() - started < 20


def test_the_pace_is_read_from_the_environment_as_the_app_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = create_app()  # as the module's `app` is made: no step_seconds
    monkeypatch.setenv("JOBS_STEP_SECONDS", "60")
    with create_client(app) as client:
        start(client, steps=20)
        events = list(client.stream_events("/jobs/1/events", timeout=2))
        job = client.get("/jobs/1").json()

    # At 60 s a step, no step is done yet; at the default 0.1 s, 20 steps and the
    # finished event would have come within the 2 s. A busy machine only makes it slower.
    assert events == []
    assert job["done"] == 0


def test_the_events_are_documented_for_each_type(client: Client) -> None:
    document = client.get("/openapi.json").json()
    operation = document["paths"]["/jobs/{id}/events"]["get"]
    stream = operation["responses"]["200"]["content"]["text/event-stream"]["schema"]

    assert [e["properties"]["event"]["const"] for e in stream["oneOf"]] == ["progress", "finished"]
    assert [e["properties"]["data"]["contentSchema"] for e in stream["oneOf"]] == [
        {"$ref": "#/components/schemas/Progress"},
        {"$ref": "#/components/schemas/Finished"},
    ]
    assert set(operation["responses"]) >= {"200", "404", "422"}
    assert operation["tags"] == ["jobs"]


# -- over a real socket --------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The jobs example served by uvicorn (fast steps); yields its base URL and log."""
    port = _free_port()
    log = tmp_path_factory.mktemp("jobs") / "uvicorn.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "examples.jobs.app:app", "--port", str(port)],
            cwd=ROOT,
            env={**os.environ, "JOBS_STEP_SECONDS": "0.02"},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("uvicorn did not start serving the jobs example")
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", log
    finally:
        process.terminate()
        process.wait(timeout=10)


def _read_events(response: httpx.Response) -> list[tuple[str, str | None, Any]]:
    """The events of an SSE response, as (event, id, JSON data), until the stream ends."""
    events, fields, data = [], {}, []
    for line in response.iter_lines():
        if not line:
            if data:
                events.append((fields.get("event", "message"), fields.get("id"), data))
            fields, data = {}, []
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data.append(value)
            else:
                fields[name] = value
    return [(event, id, json.loads("\n".join(lines))) for event, id, lines in events]


def test_served_example_streams_a_job_to_the_end(served: tuple[str, Path]) -> None:
    base, log = served
    with httpx.Client(base_url=base, timeout=5) as http:
        job = http.post("/jobs", json={"label": "over the wire", "steps": 6}).json()
        with http.stream("GET", f"/jobs/{job['id']}/events") as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
            events = _read_events(response)
        resumed = http.get(f"/jobs/{job['id']}/events", headers={"Last-Event-ID": "4"})
        missing = http.get("/jobs/999/events")

    expected = [(event, id, data.model_dump()) for event, id, data in feed_of(job["id"], steps=6)]
    assert events == expected
    assert [(e, i) for e, i, _ in _read_events(resumed)] == [
        ("progress", "5"),
        ("progress", "6"),
        ("finished", "7"),
    ]
    assert (missing.status_code, missing.headers["content-type"]) == (
        404,
        "application/problem+json",
    )
    assert "Traceback" not in log.read_text()


# -- under load: bench/sse_load.py --quick ---------------------------------------------


def test_a_hundred_clients_each_get_every_event() -> None:
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "sse_load.py"), "--quick", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["clients"] == 100 and result["all_delivered"]
    assert result["delivered_events"] == 100 * result["events_per_client"]
    assert time.monotonic() - started < 45  # the run's own timeout is 60 s
