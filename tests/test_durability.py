"""Nothing acknowledged is lost: the todos example killed with SIGKILL under load, restarted.

``bocadillo run examples.todos.app:app`` (a real process, tests/todos_server.py) on a
database that outlives it (SQLite in a file, PostgreSQL from tests/postgres_server.py).
``CLIENTS`` threads, each with its own keep-alive connection, write at once: to-dos with
tags, notes on their own to-dos, replacements of their own to-dos, and writes the
server must refuse (a ``422`` body, a note on a missing to-do: ``404``, a to-do with a tag
twice: ``409``, refused by the database after the to-do's row was written). Once
``KILL_AFTER`` writes were acknowledged, the server's whole process group gets SIGKILL,
whatever is in flight. Then the example starts again on the same database, and:

- every write that got a ``2xx`` is there, with the content it was acknowledged with
  (a to-do's title, state and tags; a note's text, under its to-do);
- a write that got no answer may or may not be there, but nothing is half-written: every
  to-do found is one a client sent, whole (its tags are the ones sent with it);
- a refused write left no trace.

Each client writes only its own to-dos and stops at its first unanswered request, so a
to-do is either in its last acknowledged state or in the one state sent after it that
got no answer. Bounded: at most ``CLIENTS * WRITES`` writes, each with a timeout; the
kill comes after a count of acknowledgements, never after a sleep, and nothing asserts
how long anything took. ``-s`` prints the figures.
"""

from __future__ import annotations

import dataclasses
import http.client
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from todos_server import TodosServer, request

pytest_plugins = ["postgres_server"]  # postgres_db: a fresh database on a PostgreSQL server

pytestmark = pytest.mark.slow

CLIENTS = 12  # threads writing at once, each on its own keep-alive connection
WRITES = 80  # the most writes one client sends
KILL_AFTER = 150  # acknowledged writes before SIGKILL
MISSING = 1_000_000_000  # a to-do id no test creates
PAGE = 100


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database that outlives the server: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'data' / 'todos.db'}"
    else:
        yield request.getfixturevalue("postgres_db")


def todo_body(client: int, write: int, kind: str) -> dict[str, Any]:
    """What client ``client`` sends as its write number ``write``: a unique title, tags
    derived from it (so a to-do found without all of them is half-written)."""
    return {
        "title": f"{kind}-{client}-{write}",
        "done": write % 2 == 0,
        "tags": [f"c{client}", f"w{write}", kind],
    }


@dataclasses.dataclass
class Ledger:
    """What the clients sent and what the server acknowledged, shared by the threads."""

    acknowledged: int = 0
    refused: int = 0
    unanswered: int = 0
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    enough: threading.Event = dataclasses.field(default_factory=threading.Event)
    killed: threading.Event = dataclasses.field(default_factory=threading.Event)
    # by to-do id: its last acknowledged content, and the content of a write that got no answer
    todos: dict[int, dict[str, Any]] = dataclasses.field(default_factory=dict)
    maybe_todos: dict[int, dict[str, Any]] = dataclasses.field(default_factory=dict)
    # creations that got no answer, by title
    maybe_created: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    # acknowledged notes by id: (to-do id, text); a note that got no answer: (to-do id, text)
    notes: dict[int, tuple[int, str]] = dataclasses.field(default_factory=dict)
    maybe_notes: list[tuple[int, str]] = dataclasses.field(default_factory=list)
    refused_titles: set[str] = dataclasses.field(default_factory=set)
    refused_notes: set[str] = dataclasses.field(default_factory=set)
    failures: list[str] = dataclasses.field(default_factory=list)
    early: list[str] = dataclasses.field(default_factory=list)  # no answer before the kill

    def ack(self) -> None:
        with self.lock:
            self.acknowledged += 1
            if self.acknowledged >= KILL_AFTER:
                self.enough.set()


def content(todo: dict[str, Any]) -> dict[str, Any]:
    return {"title": todo["title"], "done": todo["done"], "tags": sorted(todo["tags"])}


def writer(server: TodosServer, client: int, ledger: Ledger) -> None:
    """Client ``client``: writes until its first unanswered request or ``WRITES``."""
    mine: list[int] = []
    try:
        connection = server.connect()
    except OSError:
        return
    try:
        for write in range(WRITES):
            if ledger.killed.is_set():
                return
            kind = write % 5
            if kind in (0, 1) or not mine:  # create a to-do
                body = todo_body(client, write, "made")
                with ledger.lock:
                    ledger.maybe_created[body["title"]] = content(body)
                status, answer = request(connection, "POST", "/todos", body)
                if status != 201 or content(answer) != content(body):
                    ledger.failures.append(f"POST /todos {body}: {status} {answer}")
                    return
                with ledger.lock:
                    del ledger.maybe_created[body["title"]]
                    ledger.todos[answer["id"]] = content(answer)
                mine.append(answer["id"])
                ledger.ack()
            elif kind == 2:  # a note on one of its to-dos
                todo_id = mine[write % len(mine)]
                text = f"note-{client}-{write}"
                with ledger.lock:
                    ledger.maybe_notes.append((todo_id, text))
                status, answer = request(
                    connection, "POST", f"/todos/{todo_id}/notes", {"text": text}
                )
                if status != 201 or answer["text"] != text or answer["todo_id"] != todo_id:
                    ledger.failures.append(f"POST note {text}: {status} {answer}")
                    return
                with ledger.lock:
                    ledger.maybe_notes.remove((todo_id, text))
                    ledger.notes[answer["id"]] = (todo_id, text)
                ledger.ack()
            elif kind == 3:  # replace one of its to-dos
                todo_id = mine[write % len(mine)]
                body = todo_body(client, write, "put")
                with ledger.lock:
                    ledger.maybe_todos[todo_id] = content(body)
                status, answer = request(connection, "PUT", f"/todos/{todo_id}", body)
                if status != 200 or content(answer) != content(body):
                    ledger.failures.append(f"PUT /todos/{todo_id} {body}: {status} {answer}")
                    return
                with ledger.lock:
                    del ledger.maybe_todos[todo_id]
                    ledger.todos[todo_id] = content(answer)
                ledger.ack()
            else:  # writes the server must refuse
                title = f"refused-{client}-{write}"
                text = f"refused-note-{client}-{write}"
                with ledger.lock:
                    ledger.refused_titles.add(title)
                    ledger.refused_notes.add(text)
                bad = {"title": title, "tags": ["Not A Tag"]}
                status, answer = request(connection, "POST", "/todos", bad)
                if status != 422:
                    ledger.failures.append(f"POST /todos {bad}: {status} {answer}, not 422")
                    return
                path = f"/todos/{MISSING}/notes"
                status, answer = request(connection, "POST", path, {"text": text})
                if status != 404:
                    ledger.failures.append(f"POST {path}: {status} {answer}, not 404")
                    return
                # A tag sent twice breaks a unique constraint after the to-do's row was
                # written: the 409 must roll the whole to-do back.
                twice = {"title": f"{title}-409", "tags": ["twice", "twice"]}
                with ledger.lock:
                    ledger.refused_titles.add(twice["title"])
                status, answer = request(connection, "POST", "/todos", twice)
                if status != 409:
                    ledger.failures.append(f"POST /todos {twice}: {status} {answer}, not 409")
                    return
                with ledger.lock:
                    ledger.refused += 3
    except (OSError, http.client.HTTPException) as error:
        # No answer: the server was killed (or is being killed) with the request in flight.
        with ledger.lock:
            ledger.unanswered += 1
            if not ledger.killed.is_set():
                ledger.early.append(f"client {client}: {error!r}")
    finally:
        connection.close()


def read_back(server: TodosServer) -> tuple[dict[int, dict[str, Any]], dict[int, list[Any]]]:
    """Every to-do (by id) and every to-do's notes, read through the restarted server."""
    connection = server.connect()
    try:
        todos: dict[int, dict[str, Any]] = {}
        offset = 0
        while True:
            status, page = request(connection, "GET", f"/todos?limit={PAGE}&offset={offset}")
            assert status == 200, page
            todos.update({todo["id"]: todo for todo in page["items"]})
            offset += PAGE
            if offset >= page["total"]:
                break
        assert len(todos) == page["total"]
        notes = {}
        for todo_id in todos:
            status, found = request(connection, "GET", f"/todos/{todo_id}/notes")
            assert status == 200, found
            notes[todo_id] = found
        return todos, notes
    finally:
        connection.close()


def test_nothing_acknowledged_is_lost_when_the_server_is_killed(
    database_url: str, tmp_path: Path
) -> None:
    ledger = Ledger()
    with TodosServer(tmp_path, database_url, name="first") as server:
        threads = [
            threading.Thread(target=writer, args=(server, client, ledger), daemon=True)
            for client in range(CLIENTS)
        ]
        for thread in threads:
            thread.start()
        # The kill comes after KILL_AFTER acknowledgements (or when every client is done).
        while not ledger.enough.wait(0.01):
            if not any(thread.is_alive() for thread in threads):
                break
        ledger.killed.set()
        server.kill()
        for thread in threads:
            thread.join(60)
        assert not any(thread.is_alive() for thread in threads), "a client is stuck"
        assert not ledger.failures, ledger.failures
        assert ledger.acknowledged >= KILL_AFTER, (
            f"only {ledger.acknowledged} writes acknowledged: {ledger.early}\n{server.log()}"
        )

    with TodosServer(tmp_path, database_url, name="second") as server:
        todos, notes = read_back(server)

    # Every acknowledged to-do is there, as acknowledged (or as a later write with no answer).
    for todo_id, acknowledged in ledger.todos.items():
        assert todo_id in todos, f"acknowledged to-do {todo_id} {acknowledged} is lost"
        found = content(todos[todo_id])
        assert found in (acknowledged, ledger.maybe_todos.get(todo_id)), (todo_id, found)
    # Everything else found was sent and got no answer; and every to-do is whole.
    sent = {**ledger.maybe_created}
    for todo_id, found in todos.items():
        if todo_id not in ledger.todos:
            assert content(found) == sent.get(found["title"]), f"not sent like this: {found}"
        assert not found["title"].startswith("refused-"), f"a refused write is stored: {found}"
    # Every acknowledged note is there, under its to-do; any other note got no answer.
    stored = {note["id"]: (todo_id, note["text"]) for todo_id, ns in notes.items() for note in ns}
    for note_id, acknowledged_note in ledger.notes.items():
        assert stored.get(note_id) == acknowledged_note, f"note {acknowledged_note} is lost"
    for note_id, note in stored.items():
        if note_id not in ledger.notes:
            assert note in ledger.maybe_notes, f"a note nobody sent like this: {note}"
        assert not note[1].startswith("refused-"), f"a refused note is stored: {note}"

    found_after = sum(1 for todo_id in ledger.todos if todo_id in todos) + sum(
        1 for note_id in ledger.notes if note_id in stored
    )
    print(
        f"\n{database_url.split(':', 1)[0]}: {ledger.acknowledged} writes acknowledged "
        f"({len(ledger.todos)} to-dos, {len(ledger.notes)} notes, the rest replacements), "
        f"{ledger.refused} refused, {ledger.unanswered} unanswered at the kill; after the "
        f"restart: {len(todos)} to-dos and {len(stored)} notes, every acknowledged one "
        f"of them ({found_after}) among them"
    )
