"""Providers for the todos app, loaded automatically because this file sits
beside app.py. Any handler that names a parameter ``store`` receives it."""

from __future__ import annotations

from collections.abc import Iterator

from bocadillo import provider

from .store import TodoStore


@provider(scope="app")
def store() -> Iterator[TodoStore]:
    """One store for the app's lifetime, emptied at shutdown."""
    todos = TodoStore()
    yield todos
    todos.todos.clear()
    todos.notes.clear()
