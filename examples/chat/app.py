"""A chat room over WebSockets: rooms by path, messages typed and discriminated by ``type``.

A client connects to ``/rooms/{room}`` and sends ``{"type": "join", "name": ...}``,
then ``{"type": "say", "text": ...}`` messages, and ``{"type": "leave"}``.
Everyone in the room receives ``joined``, ``said`` and ``left`` messages; a
message the room cannot act on gets an ``error`` message back (the connection
stays open: ``invalid_message="reply"``). ``GET /rooms`` lists the rooms with
someone in them. ``GET /`` is a page (a Jinja2 template, with its CSS and
JavaScript served from ``static/`` under ``/static``) that joins a room from a
browser.

The rooms live in an app-scoped provider (``rooms``); each connection gets its
own ``member`` (a connection-scoped provider), which leaves its room when the
connection ends, however it ends.

Serve it and try it from two terminals (``python -m websockets`` is the
interactive client of the ``websockets`` package, installed with uvicorn)::

    .venv/bin/uvicorn examples.chat.app:app --port 8000
    .venv/bin/python -m websockets ws://127.0.0.1:8000/rooms/lobby
    > {"type": "join", "name": "ada"}
    > {"type": "say", "text": "Hello!"}
    curl -s localhost:8000/rooms

or open http://127.0.0.1:8000/ in two browser windows.

The AsyncAPI document at http://127.0.0.1:8000/asyncapi.json describes the channel.

Several workers: everything a room says goes through one channel,
``events = app.channel("chat", RoomEvent)``, on the broadcast backend named by
``BOCADILLO_BROADCAST`` (in-process when unset; ``redis://...`` for several
workers). Each worker follows the channel with one subscription (the
``relay`` app provider), keeps its own replica of who is in which room from
the ``joined`` and ``left`` events, and passes each message on to its own
members of the room. So the members of a room may be on different workers,
and every worker answers ``GET /rooms`` and checks names the same way, as far
as the events say. What that leaves out:

- A name is refused (4009) when this worker's replica has it in the room. Two
  joins of the same name on two workers at the same instant can both pass
  (each worker checks before the other's ``joined`` arrives); a real app would
  claim the name atomically, with a Redis ``SET NX`` or a database.
- Redis pub/sub keeps no history: a worker that starts after others does not
  know the members who joined before it (its ``GET /rooms`` leaves them out,
  and it would let their names be taken), and events published while a
  worker is cut off from Redis are lost to it.

Serve it with two workers::

    redis-server --port 6379 --save "" --appendonly no &
    export BOCADILLO_BROADCAST=redis://127.0.0.1:6379/0
    .venv/bin/bocadillo run examples.chat.app:app --workers 2

``GET /health`` says which worker answered (its process id) and how many
members are connected to it.

Each member's messages go out through its own queue (``Member`` in
``rooms.py``), so a client that reads slowly holds up neither the room nor
the worker; one that falls 100 messages behind is closed with 1013 ("Try
Again Later").
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

from bocadillo import App, Channel, HTMLResponse, Request, Templates, WebSocket

from .models import (
    ClientMessage,
    Error,
    Health,
    Join,
    Leave,
    Room,
    RoomEvent,
    RoomName,
    Say,
    ServerMessage,
)
from .rooms import Member, Rooms

HERE = Path(__file__).parent

app = App(
    title="Chat",
    version="1.0.0",
    description="Chat rooms over WebSockets, with typed messages.",
    broadcast=os.environ.get("BOCADILLO_BROADCAST"),
)
app.static("/static", HERE / "static")
templates = Templates(HERE / "templates")

# Every room event of every worker; also the app provider named "chat". A worker
# reads it with one subscription (relay), so up to 1000 events may wait for it.
events: Channel[RoomEvent] = app.channel("chat", RoomEvent, max_queue=1000)


@app.provider(scope="app")
async def rooms() -> Rooms:
    """This worker's view of the rooms, made once at start-up."""
    return Rooms()


@app.provider(scope="app", autouse=True)
async def relay(rooms: Rooms, chat: Channel[RoomEvent]) -> AsyncIterator[None]:
    """This worker's one subscription to the room events, from start-up to shutdown:
    every event updates ``rooms`` and reaches this worker's members of its room."""
    async with rooms.following(chat):
        yield


@app.provider
async def member(room: RoomName, rooms: Rooms) -> AsyncIterator[Member]:
    """This connection's place in its room; it leaves the room when the connection ends."""
    current = Member(room)
    try:
        yield current
    finally:
        await rooms.leave(current)  # back once this worker has seen the `left`
        await current.finish()  # what is still queued for it (its own `left`) goes out


@app.get("/rooms", tags=["rooms"])
async def list_rooms(rooms: Rooms) -> list[Room]:
    """The rooms with someone in them, by name, with how many members each has."""
    return [Room(name=name, members=count) for name, count in rooms.counts().items()]


@app.websocket("/rooms/{room}", invalid_message="reply", tags=["rooms"])
async def chat(
    ws: WebSocket[ClientMessage, ServerMessage], room: RoomName, member: Member, rooms: Rooms
) -> None:
    """Chat in a room: join under a name, say things, leave.

    The members of a room may be served by different workers; they hear each
    other all the same. A client that falls 100 messages behind (it reads too
    slowly) is closed with 1013, Try Again Later.
    """
    member.start(ws)  # the member's messages, this connection's own replies among them
    async for message in ws:
        match message:
            case Join(name=name):
                if member.name is not None:
                    detail = f"You have already joined as {member.name}."
                    member.deliver(Error(code=4002, detail=detail))
                elif not await rooms.join(member, name):
                    member.deliver(Error(code=4009, detail=f"{name} is taken in this room."))
            case _ if member.name is None:
                member.deliver(Error(code=4001, detail="Join the room first."))
            case Say(text=text):
                await rooms.say(member, text)
            case Leave():
                return  # the member provider's teardown tells the room


@app.get("/health", tags=["health"])
async def health(rooms: Rooms) -> Health:
    """The worker that answered (its process id) and how many members it serves."""
    return Health(worker=os.getpid(), members=rooms.local_members())


@app.get("/", include_in_schema=False)
async def index(request: Request, rooms: Rooms) -> HTMLResponse:
    """The chat page: join a room and talk, from a browser."""
    listing = [Room(name=name, members=count) for name, count in rooms.counts().items()]
    return await templates.render(
        "index.html",
        title=app.title,
        room="lobby",
        rooms=listing,
        root_path=request.scope.get("root_path", ""),
    )
