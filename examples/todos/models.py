"""The to-do list's data: what clients send and what they get back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

# No NUL character: PostgreSQL's text cannot hold one (a 422, on every database).
Title = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00]*$")]
Tag = Annotated[str, Field(min_length=1, max_length=30, pattern=r"^[a-z0-9-]+$")]


class TodoIn(BaseModel):
    """What a client sends to create or replace a to-do."""

    title: Title
    done: bool = False
    tags: list[Tag] = Field(default_factory=list, max_length=10)


class TodoPatch(BaseModel):
    """A partial update: only the fields sent are changed."""

    title: Title | None = None
    done: bool | None = None
    tags: list[Tag] | None = Field(default=None, max_length=10)


class Todo(TodoIn):
    """A stored to-do."""

    id: int
    created_at: datetime


class TodoPage(BaseModel):
    """One page of to-dos, and how many match in all."""

    items: list[Todo]
    total: int
    limit: int
    offset: int
