"""Who is in which room, kept by every worker from the room events on one channel,
and delivering a room's messages to this worker's own members.

Everything a room says (``joined``, ``said``, ``left``) is published as a
``RoomEvent`` on the ``chat`` channel. Each worker follows that channel with one
subscription (``Rooms.following``) and, for every event, in the order they come:

- updates its replica of the rooms (room -> member id -> name) from ``joined``
  and ``left``;
- queues the message for each of its own members of that room.

A member's messages go out through its own queue and writer task, so a client
that reads slowly never holds up the worker's subscription or the other
members; one more than ``OUTBOX_LIMIT`` messages behind is closed with 1013
("Try Again Later").
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from bocadillo import Channel, Subscription, WebSocket, WebSocketDisconnect

from .models import Joined, Left, RoomEvent, Said

logger = logging.getLogger(__name__)

OUTBOX_LIMIT = 100  # messages queued for one member before it counts as too slow
ROUND_TRIP_SECONDS = 5.0  # how long a join or a leave waits for its event to come back
FLUSH_SECONDS = 5.0  # how long a closing connection may take to send what is queued
TOO_SLOW = 1013  # the close code for a member that fell OUTBOX_LIMIT messages behind


def _member_id() -> str:
    return uuid.uuid4().hex


@dataclasses.dataclass(eq=False)
class Member:
    """One connection to one room; it has a ``name`` once it has joined.

    ``deliver`` queues a message without waiting; the writer task started by
    ``start`` sends the queue in order, and ``finish`` sends what is left.
    """

    room: str
    name: str | None = None
    id: str = dataclasses.field(default_factory=_member_id)
    behind: bool = False  # fell OUTBOX_LIMIT messages behind: the connection closes
    _outbox: collections.deque[Any] = dataclasses.field(default_factory=collections.deque)
    _ready: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    _closing: bool = False
    _writer: asyncio.Task[None] | None = None

    def start(self, ws: WebSocket[Any, Any]) -> None:
        """Send this member's messages on ``ws`` from now on, in the order they come."""
        self._writer = asyncio.create_task(self._write(ws), name=f"chat member {self.id}")

    def deliver(self, message: Any) -> None:
        """Queue ``message`` for this member (never waits)."""
        if self._closing or self.behind:
            return
        if len(self._outbox) >= OUTBOX_LIMIT:
            self.behind = True
            self._outbox.clear()
        else:
            self._outbox.append(message)
        self._ready.set()

    async def _write(self, ws: WebSocket[Any, Any]) -> None:
        while True:
            while not self._outbox:
                if self.behind:
                    logger.info("%s in %s fell behind; closing with 1013", self.name, self.room)
                    await ws.close(TOO_SLOW, "Too slow to keep up")
                    return
                if self._closing:
                    return
                self._ready.clear()
                await self._ready.wait()
            try:
                await ws.send(self._outbox.popleft())
            except WebSocketDisconnect:
                # Closed already (the client left, or sent a frame that closed it).
                logger.debug("%s in %s left before a message reached them", self.name, self.room)
                self._outbox.clear()
                return

    async def finish(self) -> None:
        """Send what is still queued (for at most ``FLUSH_SECONDS``), then stop writing."""
        self._closing = True
        self._ready.set()
        writer, self._writer = self._writer, None
        if writer is None:
            return
        try:
            await asyncio.wait_for(writer, FLUSH_SECONDS)  # cancels it on a timeout
        except TimeoutError:
            logger.info("%s in %s did not take its last messages", self.name, self.room)


class Rooms:
    """This worker's replica of the rooms, and its own members. One per app (an
    app-scoped provider), following the ``chat`` channel (``following``).

    Not following a channel (``Rooms()`` alone), it is one process's rooms: an
    event is applied at once instead of being published.
    """

    def __init__(self) -> None:
        # Every member of every room, on every worker, as the events said: room ->
        # member id -> name. What GET /rooms counts and a join checks names against.
        self._rooms: dict[str, dict[str, str]] = {}
        # This worker's members, by room and id, who get the room's messages.
        self._local: dict[str, dict[str, Member]] = {}
        # This worker's members whose `joined` has not come back yet (their names
        # are taken already for the joins that follow here).
        self._joining: dict[str, Member] = {}
        # A join or leave waiting for its own event: (member id, message type).
        self._waiting: dict[tuple[str, str], asyncio.Future[None]] = {}
        self._channel: Channel[RoomEvent] | None = None

    # -- reading -----------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """How many members each room has (a room exists while someone is in it)."""
        return {name: len(members) for name, members in sorted(self._rooms.items())}

    def local_members(self) -> int:
        """How many members of the rooms are connected to this worker."""
        return sum(len(members) for members in self._local.values())

    def taken(self, room: str, name: str) -> bool:
        """Whether ``name`` is in use in ``room``, as far as this worker knows."""
        if name in self._rooms.get(room, {}).values():
            return True
        return any(m.room == room and m.name == name for m in self._joining.values())

    # -- what a member does ------------------------------------------------------

    async def join(self, member: Member, name: str) -> bool:
        """Tell the room ``member`` joined as ``name``; False if the name is taken.

        Returns once this worker has seen the ``joined`` event (the member has
        been sent it), or after ``ROUND_TRIP_SECONDS``.
        """
        if self.taken(member.room, name):
            return False
        member.name = name
        self._joining[member.id] = member
        members = sorted({*self._rooms.get(member.room, {}).values(), name})
        await self._tell(member, Joined(name=name, members=members), wait=True)
        return True

    async def say(self, member: Member, text: str) -> None:
        """Tell the room what ``member`` said."""
        assert member.name is not None
        await self._tell(member, Said(name=member.name, text=text))

    async def leave(self, member: Member) -> None:
        """Tell the room ``member`` left (it too gets the ``left``); nothing if it had not
        joined. Returns once this worker has seen the event, or after
        ``ROUND_TRIP_SECONDS``. Never raises: it runs as a connection ends."""
        self._joining.pop(member.id, None)
        if member.name is None:
            return
        name, member.name = member.name, None
        try:
            await self._tell(member, Left(name=name), wait=True)
        except Exception:
            # The broadcast is down (or stopped with the app): the other workers will
            # not hear of it; this one forgets the member at least.
            logger.warning("Could not tell %s that %s left", member.room, name, exc_info=True)
            self._forget(member.room, member.id)

    async def _tell(
        self, member: Member, message: Joined | Said | Left, wait: bool = False
    ) -> None:
        event = RoomEvent(room=member.room, member=member.id, message=message)
        if self._channel is None:
            self._apply(event)
            return
        if not wait:
            await self._channel.publish(event)
            return
        key = (member.id, message.type)
        back = asyncio.get_running_loop().create_future()
        self._waiting[key] = back
        try:
            await self._channel.publish(event)
            await asyncio.wait_for(back, ROUND_TRIP_SECONDS)
        except TimeoutError:
            logger.warning(
                "The %s of %s in %s did not come back", message.type, member.id, member.room
            )
            self._apply(event)  # here at least
        finally:
            self._waiting.pop(key, None)

    # -- following the channel ---------------------------------------------------

    @contextlib.asynccontextmanager
    async def following(self, channel: Channel[RoomEvent]) -> AsyncIterator[None]:
        """Publish this worker's room events on ``channel``, and apply every event from
        every worker, for as long as the block lasts."""
        async with channel.subscribe() as subscription:
            self._channel = channel
            task = asyncio.create_task(self._follow(subscription), name="chat rooms")
            try:
                yield
            finally:
                self._channel = None
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _follow(self, subscription: Subscription[RoomEvent]) -> None:
        dropped = 0
        while True:
            try:
                event = await subscription.get()
            except ConnectionError:  # the broadcast is shutting down
                return
            if subscription.dropped != dropped:
                dropped = subscription.dropped
                logger.warning("%d room events dropped: member lists may be wrong", dropped)
            try:
                self._apply(event)
            except Exception:
                logger.exception("Could not apply %r", event)

    def _apply(self, event: RoomEvent) -> None:
        """One event, from any worker: update the replica, deliver to this worker's
        members of the room, and wake the join or leave that waits for it."""
        room, message = event.room, event.message
        local = self._local.get(room, {})
        if isinstance(message, Joined):
            self._rooms.setdefault(room, {})[event.member] = message.name
            joining = self._joining.pop(event.member, None)
            if joining is not None:
                local = self._local.setdefault(room, {})
                local[event.member] = joining
            audience = list(local.values())
        elif isinstance(message, Left):
            audience = list(local.values())  # the one leaving too, if it is here
            self._forget(room, event.member)
        else:
            audience = list(local.values())
        for member in audience:
            member.deliver(message)
        back = self._waiting.get((event.member, message.type))
        if back is not None and not back.done():
            back.set_result(None)

    def _forget(self, room: str, member_id: str) -> None:
        for rooms in (self._rooms, self._local):
            members: dict[str, Any] | None = rooms.get(room)
            if members is not None:
                members.pop(member_id, None)
                if not members:
                    del rooms[room]
