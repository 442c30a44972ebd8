"""The chat's messages: what a client sends, what the server sends back, discriminated
by their ``type`` field, the room events the workers share on the ``chat`` channel,
and the rooms listing."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

RoomName = Annotated[str, Field(pattern=r"^[a-z0-9-]{1,32}$", description="The room's name.")]
MemberName = Annotated[str, Field(min_length=1, max_length=32)]

# -- client to server ----------------------------------------------------------------


class Join(BaseModel):
    """Enter the room under a name no one else there has."""

    type: Literal["join"]
    name: MemberName


class Say(BaseModel):
    """Say something to everyone in the room."""

    type: Literal["say"]
    text: str = Field(min_length=1, max_length=500)


class Leave(BaseModel):
    """Leave the room; the server then closes the connection (1000)."""

    type: Literal["leave"]


ClientMessage = Annotated[Join | Say | Leave, Field(discriminator="type")]

# -- server to client ----------------------------------------------------------------


class Joined(BaseModel):
    """Someone (perhaps you) joined; ``members`` is who is in the room now."""

    type: Literal["joined"] = "joined"
    name: str
    members: list[str]


class Said(BaseModel):
    """Someone (perhaps you) said something."""

    type: Literal["said"] = "said"
    name: str
    text: str


class Left(BaseModel):
    """Someone (perhaps you) left, or their connection closed."""

    type: Literal["left"] = "left"
    name: str


class Error(BaseModel):
    """A message the room cannot act on. ``code`` 1007 (with ``errors``) is a message
    that does not validate; 4001 says join first, 4002 already joined, 4009 name taken."""

    type: Literal["error"] = "error"
    code: int
    detail: str
    errors: list[dict[str, Any]] = []


ServerMessage = Annotated[Joined | Said | Left | Error, Field(discriminator="type")]
RoomMessage = Annotated[Joined | Said | Left, Field(discriminator="type")]

# -- between workers -------------------------------------------------------------------


class RoomEvent(BaseModel):
    """What a room says, on the ``chat`` channel: every worker receives every event,
    keeps its list of who is in which room from the ``joined`` and ``left`` ones, and
    passes the message on to its own members of the room."""

    room: str
    member: str  # the id of the connection it is about (unique across workers)
    message: RoomMessage


# -- HTTP ----------------------------------------------------------------------------


class Room(BaseModel):
    """A room with someone in it."""

    name: str
    members: int


class Health(BaseModel):
    """The worker that answered: its process id, and how many members of the rooms
    are connected to it (each worker has its own connections; the rooms are shared)."""

    status: Literal["ok"] = "ok"
    worker: int
    members: int
