"""Where the to-dos live: in memory here; a real app would use a database."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from bocadillo import HTTPError

from .models import Todo, TodoIn


class TodoStore:
    """The to-dos by id (and their notes), with the errors a client can cause."""

    def __init__(self) -> None:
        self.todos: dict[int, Todo] = {}
        self.notes: dict[int, list[dict[str, Any]]] = {}  # by to-do id, oldest first
        self._ids = itertools.count(1)
        self._note_ids = itertools.count(1)

    def add(self, data: TodoIn) -> Todo:
        todo = Todo(id=next(self._ids), created_at=datetime.now(UTC), **data.model_dump())
        self.todos[todo.id] = todo
        return todo

    def get(self, todo_id: int) -> Todo:
        try:
            return self.todos[todo_id]
        except KeyError:
            raise HTTPError(404, detail=f"There is no to-do with id {todo_id}.") from None

    def add_note(self, todo_id: int, text: str) -> dict[str, Any]:
        self.get(todo_id)
        note = {"id": next(self._note_ids), "todo_id": todo_id, "text": text}
        self.notes.setdefault(todo_id, []).append(note)
        return note

    def get_notes(self, todo_id: int) -> list[dict[str, Any]]:
        self.get(todo_id)
        return self.notes.get(todo_id, [])
