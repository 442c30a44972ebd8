"""The jobs' data: what a client sends, what it gets back, and the events of a job's feed."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class JobIn(BaseModel):
    """What a client sends to start a job."""

    label: str = Field(min_length=1, max_length=100, description="What the job is called.")
    steps: int = Field(ge=1, le=20, description="How many steps the job takes.")


class Job(JobIn):
    """A job, running or finished."""

    id: int
    done: int = Field(description="How many steps are done.")
    state: Literal["running", "finished"]


class Progress(BaseModel):
    """One more step of the job is done; the event's ``id`` is the step's number."""

    job_id: int
    step: int
    steps: int


class Finished(BaseModel):
    """The job is over: the last event of its feed, after which the stream ends."""

    job_id: int
    steps: int
