"""Who is in which room, and delivering a message to all of them."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bocadillo import WebSocketDisconnect

from .models import Joined, Left

logger = logging.getLogger(__name__)

Send = Callable[[Any], Awaitable[None]]


@dataclasses.dataclass(eq=False)
class Member:
    """One connection to one room; it has a ``name`` once it has joined."""

    room: str
    send: Send | None = None
    name: str | None = None

    async def deliver(self, message: Any) -> None:
        if self.send is None:
            return
        try:
            await self.send(message)
        except WebSocketDisconnect:
            # Closing already; its own teardown takes it out of the room.
            logger.debug("%s in %s left before a message reached them", self.name, self.room)


class Rooms:
    """Room name -> its members by name. One per app (an app-scoped provider)."""

    def __init__(self) -> None:
        self._rooms: dict[str, dict[str, Member]] = {}
        self._lock = asyncio.Lock()  # a name check and its claim happen as one step

    def counts(self) -> dict[str, int]:
        """How many members each room has (a room exists while someone is in it)."""
        return {name: len(members) for name, members in sorted(self._rooms.items())}

    async def join(self, member: Member, name: str) -> bool:
        """Add ``member`` under ``name`` and tell the room; False if the name is taken."""
        async with self._lock:
            members = self._rooms.setdefault(member.room, {})
            if name in members:
                return False
            member.name = name
            members[name] = member
        await self.broadcast(member.room, Joined(name=name, members=sorted(members)))
        return True

    async def leave(self, member: Member) -> None:
        """Take ``member`` out of its room, and tell everyone who was there (it too)."""
        async with self._lock:
            members = self._rooms.get(member.room, {})
            audience = list(members.values())
            if member.name is None or members.get(member.name) is not member:
                return
            del members[member.name]
            if not members:
                del self._rooms[member.room]
        name, member.name = member.name, None
        await asyncio.gather(*(m.deliver(Left(name=name)) for m in audience))

    async def broadcast(self, room: str, message: Any) -> None:
        """Send ``message`` to every member of ``room`` at once."""
        members = list(self._rooms.get(room, {}).values())
        await asyncio.gather(*(m.deliver(message) for m in members))
