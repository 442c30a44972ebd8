"""Notes on a to-do, declared with typesystem schemas instead of pydantic models.

A typesystem schema works wherever a pydantic model does: the body is
validated strictly against ``NoteIn``, the response is dumped by ``Note``
(declared fields only, in order), and errors are the same ``422`` problems.
``app.py`` includes this router.

    curl -i -X POST localhost:8000/todos/1/notes -H 'content-type: application/json' \\
         -d '{"text": "Wholemeal, not white."}'
    curl -i localhost:8000/todos/1/notes
"""

from __future__ import annotations

import typesystem

from bocadillo import Router

from .store import TodoStore

NoteIn = typesystem.Schema(
    title="NoteIn",
    fields={"text": typesystem.String(max_length=500)},
)

# Named in Definitions, so that a list of notes refers to the one Note schema.
definitions = typesystem.Definitions()
Note = typesystem.Schema(
    title="Note",
    fields={
        "id": typesystem.Integer(),
        "todo_id": typesystem.Integer(),
        "text": typesystem.String(max_length=500),
    },
)
definitions["Note"] = Note
NoteList = typesystem.Array(items=typesystem.Reference("Note", definitions=definitions))

router = Router(prefix="/todos", tags=["notes"])

# A typesystem schema is a value, not a class: Bocadillo reads it from the
# annotation at run time, where a static type checker cannot follow (hence the
# ignores below; a pydantic model needs none).


@router.post("/{id}/notes", status_code=201, raises={404: "There is no to-do with that id."})
async def add_note(id: int, note: NoteIn, store: TodoStore) -> Note:  # type: ignore[valid-type]
    """Add a note to a to-do."""
    return store.add_note(id, note["text"])  # type: ignore[index]


@router.get("/{id}/notes", raises={404: "There is no to-do with that id."})
async def list_notes(id: int, store: TodoStore) -> NoteList:  # type: ignore[valid-type]
    """A to-do's notes, oldest first."""
    return store.get_notes(id)
