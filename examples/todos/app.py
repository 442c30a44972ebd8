"""A to-do list API: create, list (with paging and filters), read, update, delete.

Each handler names ``store`` to receive the app's ``TodoStore``, made by the
provider in ``providerconf.py`` (loaded automatically, as it sits beside this
module).

Serve it with ``python3 scripts/serve.py`` (or ``uvicorn examples.todos.app:app``)
and try::

    curl -i -X POST localhost:8000/todos -H 'content-type: application/json' \\
         -d '{"title": "Buy bread"}'
    curl -i 'localhost:8000/todos?done=false&limit=10'
"""

from __future__ import annotations

from typing import Literal

from bocadillo import CORS, App, Query

from .models import Todo, TodoIn, TodoPage, TodoPatch
from .notes import router as notes_router
from .store import TodoStore

app = App(
    title="Todos",
    version="1.0.0",
    description="A to-do list API: the signature of each handler is its contract.",
    # A front end served from localhost:5173 (a Vite dev server, say) may call the API.
    cors=CORS(allow_origins=["http://localhost:5173"], allow_headers=["content-type"]),
    gzip=True,  # pages of to-dos compress well; small answers are sent as they are
)
app.include_router(notes_router)  # notes on a to-do, declared with typesystem (notes.py)

NO_SUCH_TODO = {404: "There is no to-do with that id."}


@app.get("/todos", tags=["todos"])
async def list_todos(
    store: TodoStore,
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
async def create_todo(todo: TodoIn, store: TodoStore) -> Todo:
    """Create a to-do."""
    return store.add(todo)


@app.get("/todos/{id}", tags=["todos"], raises=NO_SUCH_TODO)
async def get_todo(id: int, store: TodoStore) -> Todo:
    """Read one to-do."""
    return store.get(id)


@app.put("/todos/{id}", tags=["todos"], raises=NO_SUCH_TODO)
async def replace_todo(id: int, todo: TodoIn, store: TodoStore) -> Todo:
    """Replace a to-do's title, state and tags."""
    current = store.get(id)
    updated = current.model_copy(update=todo.model_dump())
    store.todos[id] = updated
    return updated


@app.patch("/todos/{id}", tags=["todos"], raises=NO_SUCH_TODO)
async def update_todo(id: int, patch: TodoPatch, store: TodoStore) -> Todo:
    """Change some fields of a to-do."""
    current = store.get(id)
    updated = current.model_copy(update=patch.model_dump(exclude_unset=True, exclude_none=True))
    store.todos[id] = updated
    return updated


@app.delete("/todos/{id}", tags=["todos"], raises=NO_SUCH_TODO)
async def delete_todo(id: int, store: TodoStore) -> None:
    """Delete a to-do."""
    store.get(id)
    del store.todos[id]
