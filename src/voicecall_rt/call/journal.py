"""A call's timeline: written to the store as it happens and fanned out to live followers.

Followers (the demo, `call --follow`, the API's event stream) get bounded queues: a slow
follower loses its oldest entries, it never slows the call down. Listeners (metrics) are
called synchronously with every entry and lose none: they must be quick and never raise.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from voicecall_rt.call.records import CallRecord, Role, now_ms
from voicecall_rt.store.base import Store

FOLLOWER_QUEUE = 256
ALL_CALLS = "*"


class Hub:
    """Live fan-out of journal entries: per call, and `*` for every call."""

    def __init__(self) -> None:
        self._followers: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._listeners: list[Callable[[dict[str, Any]], None]] = []

    def listen(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Call `listener(entry)` for every entry of every call, as it is published."""
        self._listeners.append(listener)

    def unlisten(self, listener: Callable[[dict[str, Any]], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def follow(self, call_id: str = ALL_CALLS) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(FOLLOWER_QUEUE)
        self._followers[call_id].add(queue)
        return queue

    def unfollow(self, queue: asyncio.Queue[dict[str, Any]], call_id: str = ALL_CALLS) -> None:
        followers = self._followers.get(call_id)
        if followers is not None:
            followers.discard(queue)
            if not followers:
                del self._followers[call_id]

    def followed_calls(self) -> set[str]:
        """The calls someone follows by id (not `*`)."""
        return {key for key in self._followers if key != ALL_CALLS}

    def publish(self, entry: dict[str, Any]) -> None:
        """An entry of a call this instance runs: to the listeners and every follower."""
        for listener in self._listeners:
            listener(entry)
        for key in (entry["call_id"], ALL_CALLS):
            self._deliver(key, entry)

    def publish_remote(self, entry: dict[str, Any]) -> None:
        """An entry of a call another instance runs (cluster/feed.py): only to those who
        follow that call. The listeners (metrics) and `*` followers (the notifier) are
        about this instance's own calls: the owner serves them."""
        self._deliver(entry["call_id"], entry)

    def _deliver(self, key: str, entry: dict[str, Any]) -> None:
        for queue in self._followers.get(key, ()):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(entry)


class CallJournal:
    """Transcript lines and timeline events of one call."""

    __slots__ = ("call_id", "created_at", "hub", "store")

    def __init__(self, store: Store, hub: Hub, call_id: str, created_at: int) -> None:
        self.store = store
        self.hub = hub
        self.call_id = call_id
        self.created_at = created_at

    def t_ms(self) -> int:
        return now_ms() - self.created_at

    def line(
        self, role: Role, text: str, *, t_ms: int | None = None, interrupted: bool = False
    ) -> None:
        t = self.t_ms() if t_ms is None else t_ms
        seq = self.store.add_transcript(self.call_id, t, role, text, interrupted=interrupted)
        self.hub.publish(line_entry(self.call_id, t, role, text, interrupted, seq))

    def event(self, kind: str, **data: Any) -> None:
        t = self.t_ms()
        seq = self.store.add_event(self.call_id, t, kind, data)
        self.hub.publish(event_entry(self.call_id, kind, t, data, seq))


# The entries followers get, whether the call runs here or on another instance (its rows
# read back from the store: cluster/feed.py). `seq` is None for a line written after the
# call was released: the store numbers it.


def line_entry(
    call_id: str, t_ms: int, role: Role, text: str, interrupted: bool, seq: int | None
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "call_id": call_id,
        "kind": "transcript",
        "t_ms": t_ms,
        "role": role,
        "text": text,
        "interrupted": interrupted,
    }
    if seq is not None:
        entry["seq"] = seq
    return entry


def event_entry(
    call_id: str, kind: str, t_ms: int, data: dict[str, Any], seq: int | None
) -> dict[str, Any]:
    entry: dict[str, Any] = {"call_id": call_id, "kind": kind, "t_ms": t_ms, "data": data}
    if seq is not None:
        entry["seq"] = seq
    return entry


def status_entry(record: CallRecord) -> dict[str, Any]:
    return {
        "call_id": record.id,
        "kind": "call.status",
        "t_ms": now_ms() - record.created_at,
        "data": {"status": record.status.value, "end_reason": record.end_reason},
    }
