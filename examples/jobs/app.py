"""A job-progress API: start a job, then follow it live over server-sent events.

``POST /jobs`` starts a job that completes one step every ``step_seconds``;
``GET /jobs/{id}/events`` streams its feed: a ``progress`` event per step
(its ``id`` is the step's number), then one ``finished`` event (the next id),
and then the stream ends. A client that reconnects with ``Last-Event-ID: 3``
gets what came after step 3: the steps it missed first, then the rest as they
happen.

The jobs live in an app-scoped provider (``runner``), which cancels the jobs
still running when the app shuts down; ``feed`` finds the job of a route's
``id``, or answers 404 before anything is streamed.

Serve it (``JOBS_STEP_SECONDS`` sets the pace) and try::

    JOBS_STEP_SECONDS=1 .venv/bin/uvicorn examples.jobs.app:app --port 8000
    curl -i -X POST localhost:8000/jobs -H 'content-type: application/json' \\
         -d '{"label": "Render video", "steps": 5}'
    curl -N localhost:8000/jobs/1/events
    curl -N localhost:8000/jobs/1/events -H 'Last-Event-ID: 3'

In a browser, ``new EventSource("/jobs/1/events")`` receives the same events;
call its ``close()`` on ``finished``, or it reconnects when the stream ends.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

from bocadillo import App, Event, Header

from .models import Finished, Job, JobIn, Progress
from .runner import JobFeed, JobRunner

# Fast enough that a whole stream (20 steps at most) takes 2 s: the contract
# tests (`bocadillo check`) read every stream to its end.
DEFAULT_STEP_SECONDS = 0.1
NO_SUCH_JOB = {404: "There is no job with that id."}


def create_app(step_seconds: float | None = None) -> App:
    """The jobs app, whose jobs take ``step_seconds`` a step: by default
    ``$JOBS_STEP_SECONDS`` (read as the app starts), else 0.1."""
    app = App(
        title="Jobs",
        version="1.0.0",
        description="Jobs that take a while, and a live feed of each over server-sent events.",
    )

    @app.provider(scope="app")
    async def runner() -> AsyncIterator[JobRunner]:
        """Every job of the app; the ones still running are cancelled at shutdown."""
        seconds = step_seconds
        if seconds is None:
            seconds = float(os.environ.get("JOBS_STEP_SECONDS", DEFAULT_STEP_SECONDS))
        jobs = JobRunner(seconds)
        yield jobs
        await jobs.close()

    @app.provider(raises=NO_SUCH_JOB)
    async def feed(id: int, runner: JobRunner) -> JobFeed:
        """The job of the path's ``id`` (a 404 problem if there is none)."""
        return runner.get(id)

    @app.post("/jobs", status_code=201, tags=["jobs"])
    async def create_job(job: JobIn, runner: JobRunner) -> Job:
        """Start a job: it completes one step at a time, then finishes."""
        return runner.start(job)

    @app.get("/jobs", tags=["jobs"])
    async def list_jobs(runner: JobRunner) -> list[Job]:
        """Every job, oldest first, running or finished."""
        return [feed.job for feed in runner.feeds.values()]

    @app.get("/jobs/{id}", tags=["jobs"])
    async def get_job(feed: JobFeed) -> Job:
        """Read one job: how many of its steps are done, and whether it has finished."""
        return feed.job

    @app.sse(
        "/jobs/{id}/events",
        tags=["jobs"],
        event_names={Progress: "progress", Finished: "finished"},
    )
    async def job_events(
        feed: JobFeed,
        last_event_id: int | None = Header(
            None, ge=0, description="The last event received, to resume after it."
        ),
    ) -> AsyncIterator[Event[Progress | Finished]]:
        """Follow a job: a progress event per step, then finished, and the stream ends.

        The events already sent come first (those after ``Last-Event-ID``, when a
        client reconnects with it), then each new one as it happens.
        """
        async for event in feed.events(after=last_event_id or 0):
            yield event

    return app


app = create_app()
