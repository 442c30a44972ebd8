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
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from bocadillo import App, HTMLResponse, Request, Templates, WebSocket

from .models import (
    ClientMessage,
    Error,
    Join,
    Leave,
    Room,
    RoomName,
    Said,
    Say,
    ServerMessage,
)
from .rooms import Member, Rooms

HERE = Path(__file__).parent

app = App(
    title="Chat",
    version="1.0.0",
    description="Chat rooms over WebSockets, with typed messages.",
)
app.static("/static", HERE / "static")
templates = Templates(HERE / "templates")


@app.provider(scope="app")
async def rooms() -> Rooms:
    """Every room of the app, made once at start-up."""
    return Rooms()


@app.provider
async def member(room: RoomName, rooms: Rooms) -> AsyncIterator[Member]:
    """This connection's place in its room; it leaves the room when the connection ends."""
    current = Member(room)
    yield current
    await rooms.leave(current)


@app.get("/rooms", tags=["rooms"])
async def list_rooms(rooms: Rooms) -> list[Room]:
    """The rooms with someone in them, by name, with how many members each has."""
    return [Room(name=name, members=count) for name, count in rooms.counts().items()]


@app.websocket("/rooms/{room}", invalid_message="reply", tags=["rooms"])
async def chat(
    ws: WebSocket[ClientMessage, ServerMessage], room: RoomName, member: Member, rooms: Rooms
) -> None:
    """Chat in a room: join under a name, say things, leave."""
    member.send = ws.send
    async for message in ws:
        match message:
            case Join(name=name):
                if member.name is not None:
                    detail = f"You have already joined as {member.name}."
                    await ws.send(Error(code=4002, detail=detail))
                elif not await rooms.join(member, name):
                    await ws.send(Error(code=4009, detail=f"{name} is taken in this room."))
            case _ if member.name is None:
                await ws.send(Error(code=4001, detail="Join the room first."))
            case Say(text=text):
                await rooms.broadcast(room, Said(name=member.name, text=text))
            case Leave():
                await rooms.leave(member)
                return


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
