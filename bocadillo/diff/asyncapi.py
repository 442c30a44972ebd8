"""Comparing two AsyncAPI 3 documents: channels, their messages each way, close codes.

Channels are matched by address (path parameters' names ignored), messages by their
key in the channel and by direction, read from the document's operations: a message
an operation ``receive`` s is one the server accepts (it may only widen), a message an
operation ``send`` s is one the server sends (it may only narrow). A message no
operation names is taken as flowing both ways, the strictest reading.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bocadillo.diff.changes import Change, Severity
from bocadillo.diff.openapi import normal_path
from bocadillo.diff.schemas import Flow, SchemaContext, compare_schema, escape, resolve

__all__ = ["diff_asyncapi"]

BREAKING, SAFE = Severity.BREAKING, Severity.SAFE

Document = Mapping[str, Any]


def diff_asyncapi(old: Document, new: Document) -> list[Change]:
    """Every change from ``old`` to ``new``, in document order."""
    changes: list[Change] = []
    old_channels, new_channels = _channels(old), _channels(new)
    for key, (channel_id, address) in old_channels.items():
        where = f"channel {address}"
        pointer = f"/channels/{escape(channel_id)}"
        if key not in new_channels:
            message = "channel removed"
            changes.append(Change(BREAKING, "channel-removed", "asyncapi", where, pointer, message))
            continue
        new_id, new_address = new_channels[key]
        _Channel(old, new, channel_id, new_id, f"channel {new_address}", changes).compare()
    for key, (channel_id, address) in new_channels.items():
        if key not in old_channels:
            pointer = f"/channels/{escape(channel_id)}"
            where = f"channel {address}"
            changes.append(
                Change(SAFE, "channel-added", "asyncapi", where, pointer, "channel added")
            )
    return changes


def _channels(document: Document) -> dict[str, tuple[str, str]]:
    """``{normal address: (channel id, address)}``; a channel without address by its id."""
    found: dict[str, tuple[str, str]] = {}
    for channel_id, channel in (document.get("channels") or {}).items():
        if not isinstance(channel, Mapping):
            continue
        channel, _ = resolve(document, channel, f"/channels/{escape(channel_id)}")
        address = channel.get("address")
        if isinstance(address, str):
            found[normal_path(address)] = (channel_id, address)
        else:
            found[f"#{channel_id}"] = (channel_id, channel_id)
    return found


def _directions(document: Document, channel_id: str) -> dict[str, set[bool]]:
    """Each message key of the channel, and whether the server accepts it (True) or sends it."""
    channel_ref = f"#/channels/{escape(channel_id)}"
    channel, _ = resolve(document, document["channels"][channel_id], "")
    found: dict[str, set[bool]] = {key: set() for key in channel.get("messages") or {}}
    for operation in (document.get("operations") or {}).values():
        if not isinstance(operation, Mapping):
            continue
        if (operation.get("channel") or {}).get("$ref") != channel_ref:
            continue
        accepts = operation.get("action") == "receive"
        for message in operation.get("messages") or ():
            ref = message.get("$ref", "") if isinstance(message, Mapping) else ""
            prefix = f"{channel_ref}/messages/"
            if ref.startswith(prefix):
                key = ref[len(prefix) :].replace("~1", "/").replace("~0", "~")
                found.setdefault(key, set()).add(accepts)
    return {key: directions or {True, False} for key, directions in found.items()}


class _Channel:
    def __init__(
        self,
        old: Document,
        new: Document,
        old_id: str,
        new_id: str,
        where: str,
        changes: list[Change],
    ) -> None:
        self.old, self.new, self.old_id, self.new_id = old, new, old_id, new_id
        self.old_ptr = f"/channels/{escape(old_id)}"
        self.new_ptr = f"/channels/{escape(new_id)}"
        self.old_channel, _ = resolve(old, old["channels"][old_id], self.old_ptr)
        self.new_channel, _ = resolve(new, new["channels"][new_id], self.new_ptr)
        self.ctx = SchemaContext("asyncapi", where, old, new, changes)

    def compare(self) -> None:
        self.messages()
        self.close_codes()

    def messages(self) -> None:
        old_dirs, new_dirs = _directions(self.old, self.old_id), _directions(self.new, self.new_id)
        old_messages = self.old_channel.get("messages") or {}
        new_messages = self.new_channel.get("messages") or {}
        for key, directions in old_dirs.items():
            for accepts in sorted(directions, reverse=True):
                kind = "received" if accepts else "sent"
                pointer = f"{self.old_ptr}/messages/{escape(key)}"
                if accepts not in new_dirs.get(key, set()):
                    if accepts:
                        message = f"received message {key} removed: clients sending it are refused"
                        self.ctx.emit(BREAKING, "received-message-removed", pointer, message)
                    else:
                        message = f"sent message {key} removed"
                        self.ctx.emit(SAFE, "sent-message-removed", pointer, message)
                    continue
                new_pointer = f"{self.new_ptr}/messages/{escape(key)}"
                old_message, old_m_ptr = resolve(self.old, old_messages.get(key, {}), pointer)
                new_message, new_m_ptr = resolve(self.new, new_messages.get(key, {}), new_pointer)
                flow = Flow(accepts, f"{kind}-message", f"{kind}-message", f"{kind} message {key}")
                compare_schema(
                    self.ctx,
                    flow,
                    old_message.get("payload", {}),
                    new_message.get("payload", {}),
                    old_m_ptr + "/payload",
                    new_m_ptr + "/payload",
                )
        for key, directions in new_dirs.items():
            for accepts in sorted(directions, reverse=True):
                if accepts in old_dirs.get(key, set()):
                    continue
                pointer = f"{self.new_ptr}/messages/{escape(key)}"
                if accepts:
                    message = f"received message {key} added"
                    self.ctx.emit(SAFE, "received-message-added", pointer, message)
                else:
                    message = f"sent message {key} added: old clients do not expect it"
                    self.ctx.emit(BREAKING, "sent-message-added", pointer, message)

    def close_codes(self) -> None:
        old_codes = self.old_channel.get("x-close-codes")
        new_codes = self.new_channel.get("x-close-codes")
        if not isinstance(old_codes, Mapping) or not isinstance(new_codes, Mapping):
            return  # a document that does not say its close codes says nothing about them
        for code in new_codes:
            if code not in old_codes:
                pointer = f"{self.new_ptr}/x-close-codes/{escape(code)}"
                message = f"close code {code} added: {new_codes[code]}"
                self.ctx.emit(BREAKING, "close-code-added", pointer, message)
        for code in old_codes:
            if code not in new_codes:
                pointer = f"{self.old_ptr}/x-close-codes/{escape(code)}"
                self.ctx.emit(SAFE, "close-code-removed", pointer, f"close code {code} removed")
