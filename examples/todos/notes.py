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
from sqlalchemy import String, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from bocadillo import Router

from .queries import known_id, no_such_todo
from .tables import NoteRow, TodoRow

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
async def add_note(id: int, note: NoteIn, session: AsyncSession) -> Note:  # type: ignore[valid-type]
    """Add a note to a to-do."""
    known_id(id)
    # One statement that writes first: the note, if the to-do exists.
    added = await session.execute(
        insert(NoteRow)
        .from_select(
            ["todo_id", "text"],
            select(TodoRow.id, literal(note["text"], String)).where(TodoRow.id == id),  # type: ignore[index]
        )
        .returning(NoteRow.id)
    )
    note_id = added.scalar_one_or_none()
    if note_id is None:
        raise no_such_todo(id)
    return {"id": note_id, "todo_id": id, "text": note["text"]}  # type: ignore[index]


@router.get("/{id}/notes", raises={404: "There is no to-do with that id."})
async def list_notes(id: int, session: AsyncSession) -> NoteList:  # type: ignore[valid-type]
    """A to-do's notes, oldest first."""
    known_id(id)
    if await session.get(TodoRow, id) is None:
        raise no_such_todo(id)
    notes = await session.execute(
        select(NoteRow.id, NoteRow.todo_id, NoteRow.text)
        .where(NoteRow.todo_id == id)
        .order_by(NoteRow.id)
    )
    return [row._asdict() for row in notes]
