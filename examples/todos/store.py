"""Where the to-dos live: in memory here; a real app would use a database."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from bocadillo import HTTPError

from .models import Todo, TodoIn


class TodoStore:
    """The to-dos by id, with the errors a client can cause."""

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
