"""Running jobs, and the feed of each: every event it sent, and a way to wait for the next.

A feed broadcasts: it keeps the job's events in a list (at most ``steps + 1``
of them) and an ``asyncio.Event`` that is set, and replaced, whenever one is
added. Each subscriber only holds its place in the list, so a thousand of
them cost a thousand indexes, not a thousand queues; a subscriber that comes
late, or reconnects with ``Last-Event-ID``, reads what it missed from the same
list and then waits with everyone else.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

from bocadillo import Event, HTTPError

from .models import Finished, Job, JobIn, Progress

JobEvent = Event[Progress | Finished]


class JobFeed:
    """One job: its current state, its events so far, and its subscribers' wake-up call."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.history: list[JobEvent] = []  # event n (its id) is history[n - 1]
        self.closed = False  # no more events will come: finished, or cancelled at shutdown
        self._changed = asyncio.Event()

    def publish(self, data: Progress | Finished) -> None:
        """Add an event (its id is its place in the feed) and wake every subscriber."""
        self.history.append(Event(data, id=len(self.history) + 1))
        if isinstance(data, Finished):
            self.closed = True
        self._wake()

    def close(self) -> None:
        """End the feed without a ``Finished`` event (the app is shutting down)."""
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()  # the next wait waits for the next change

    async def events(self, after: int = 0) -> AsyncIterator[JobEvent]:
        """The events after event ``after``: those already sent, then each new one as it
        comes, until the feed closes."""
        seen = max(after, 0)
        while True:
            while seen < len(self.history):
                seen += 1
                yield self.history[seen - 1]
            if self.closed:
                return
            await self._changed.wait()


class JobRunner:
    """Every job of the app and the tasks that run them. One per app (an app provider)."""

    def __init__(self, step_seconds: float) -> None:
        self.step_seconds = step_seconds
        self.feeds: dict[int, JobFeed] = {}
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, data: JobIn) -> Job:
        """Record a new job and start running it."""
        job = Job(id=next(self._ids), done=0, state="running", **data.model_dump())
        feed = self.feeds[job.id] = JobFeed(job)
        task = asyncio.create_task(self._run(feed), name=f"job {job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    def get(self, job_id: int) -> JobFeed:
        try:
            return self.feeds[job_id]
        except KeyError:
            raise HTTPError(404, detail=f"There is no job with id {job_id}.") from None

    async def _run(self, feed: JobFeed) -> None:
        job = feed.job
        for step in range(1, job.steps + 1):
            await asyncio.sleep(self.step_seconds)  # the work a real job would do
            job.done = step
            feed.publish(Progress(job_id=job.id, step=step, steps=job.steps))
        job.state = "finished"
        feed.publish(Finished(job_id=job.id, steps=job.steps))

    async def close(self) -> None:
        """Cancel the jobs still running, wait for their tasks, and end every feed."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for feed in self.feeds.values():
            feed.close()
