"""A to-do list API: create, list (with paging and filters), read, update, delete.

Serve it with ``python3 scripts/serve.py`` (or ``uvicorn examples.todos.app:app``)
and try::

    curl -i -X POST localhost:8000/todos -H 'content-type: application/json' \\
         -d '{"title": "Buy bread"}'
    curl -i 'localhost:8000/todos?done=false&limit=10'
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from bocadillo import App, HTTPError, Query

app = App(
    title="Todos",
    version="1.0.0",
    description="A to-do list API: the signature of each handler is its contract.",
)

Title = Annotated[str, Field(min_length=1, max_length=100)]
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


class TodoStore:
    """In-memory storage; a real app would use a database."""

    def __init__(self) -> None:
        self.todos: dict[int, Todo] = {}
        self._ids = itertools.count(1)

    def add(self, data: TodoIn) -> Todo:
        todo = Todo(id=next(self._ids), created_at=datetime.now(UTC), **data.model_dump())
        self.todos[todo.id] = todo
        return todo

    def get(self, todo_id: int) -> Todo:
        try:
            return self.todos[todo_id]
        except KeyError:
            raise HTTPError(404, detail=f"There is no to-do with id {todo_id}.") from None


store = TodoStore()


@app.get("/todos", tags=["todos"])
async def list_todos(
    limit: int = Query(20, ge=1, le=100, description="How many to-dos to return."),
    offset: int = Query(0, ge=0, description="How many matching to-dos to skip."),
    done: bool | None = Query(None, description="Only done (true) or open (false) to-dos."),
    tag: list[str] = Query([], description="Only to-dos with every one of these tags."),
    q: str | None = Query(None, max_length=100, description="Text the title contains."),
    sort: Literal["id", "-id", "title"] = "id",
) -> TodoPage:
    """List to-dos, filtered and one page at a time."""
    matches = [
        todo
        for todo in store.todos.values()
        if (done is None or todo.done == done)
        and all(t in todo.tags for t in tag)
        and (q is None or q.casefold() in todo.title.casefold())
    ]
    key = sort.lstrip("-")
    matches.sort(key=lambda todo: getattr(todo, key), reverse=sort.startswith("-"))
    return TodoPage(
        items=matches[offset : offset + limit], total=len(matches), limit=limit, offset=offset
    )


@app.post("/todos", status_code=201, tags=["todos"])
async def create_todo(todo: TodoIn) -> Todo:
    """Create a to-do."""
    return store.add(todo)


@app.get("/todos/{id}", tags=["todos"])
async def get_todo(id: int) -> Todo:
    """Read one to-do."""
    return store.get(id)


@app.put("/todos/{id}", tags=["todos"])
async def replace_todo(id: int, todo: TodoIn) -> Todo:
    """Replace a to-do's title, state and tags."""
    current = store.get(id)
    updated = current.model_copy(update=todo.model_dump())
    store.todos[id] = updated
    return updated


@app.patch("/todos/{id}", tags=["todos"])
async def update_todo(id: int, patch: TodoPatch) -> Todo:
    """Change some fields of a to-do."""
    current = store.get(id)
    updated = current.model_copy(update=patch.model_dump(exclude_unset=True, exclude_none=True))
    store.todos[id] = updated
    return updated


@app.delete("/todos/{id}", tags=["todos"])
async def delete_todo(id: int) -> None:
    """Delete a to-do."""
    store.get(id)
    del store.todos[id]
