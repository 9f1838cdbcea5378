"""The calls not settled yet: found by our id or the carrier's, and settled exactly once.

Settling is the final word on a call (terminal status, reason, the slot freed, the stream
token forgotten, waiters woken); keeping it beside the lookup tables means no path can free
a slot and leave a stale carrier id behind, or the other way round.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from voicecall_rt.call.bridge import CallBridge
from voicecall_rt.call.journal import CallJournal, Hub, status_entry
from voicecall_rt.call.records import CallRecord, CallStatus, now_ms
from voicecall_rt.call.tokens import StreamTokens
from voicecall_rt.store.base import Store

log = logging.getLogger(__name__)


@dataclass
class ActiveCall:
    record: CallRecord
    bridge: CallBridge
    journal: CallJournal
    bridge_ended_at: float | None = None
    # The reaper is ending it: its verdict stands, not the carrier's answer to our hang-up.
    reaping: bool = False
    settled: asyncio.Event = field(default_factory=asyncio.Event)


class Roster:
    def __init__(self, store: Store, hub: Hub, tokens: StreamTokens) -> None:
        self._store = store
        self._hub = hub
        self._tokens = tokens
        self._by_id: dict[str, ActiveCall] = {}
        self._by_sid: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._by_id

    def __iter__(self) -> Iterator[ActiveCall]:
        """A snapshot: settling while iterating is allowed."""
        return iter(list(self._by_id.values()))

    def ids(self) -> list[str]:
        return list(self._by_id)

    def get(self, call_id: str) -> ActiveCall | None:
        return self._by_id.get(call_id)

    def add(self, active: ActiveCall) -> None:
        self._by_id[active.record.id] = active

    def find(self, call_id: str | None, sid: str | None) -> ActiveCall | None:
        """By our id when the callback carries it, else by the carrier's call id."""
        if call_id and call_id in self._by_id:
            return self._by_id[call_id]
        if sid and sid in self._by_sid:
            return self._by_id.get(self._by_sid[sid])
        return None

    def note_sid(self, record: CallRecord, sid: str) -> None:
        """The carrier's id for the call, learnt at dial, at answer or from the stream."""
        record.carrier_sid = sid
        self._by_sid[sid] = record.id

    def settle(self, active: ActiveCall, status: CallStatus | None, reason: str) -> None:
        """Final word on a call: terminal status, reason, free the slot, wake the waiters."""
        if active.settled.is_set():
            return  # already settled (an inbound call settles when its bridge ends)
        record = active.record
        if status is None:
            status = CallStatus.COMPLETED if record.answered_at else CallStatus.CANCELED
        record.status = status
        record.end_reason = record.end_reason or reason
        record.ended_at = record.ended_at or now_ms()
        self._store.update_call(
            record.id, status=status, end_reason=record.end_reason, ended_at=record.ended_at
        )
        self._by_id.pop(record.id, None)
        self._tokens.forget(record.id)
        if record.carrier_sid:
            self._by_sid.pop(record.carrier_sid, None)
        # `reason` says why it is settled now (the call's own end reason is on the record).
        active.journal.event("settled", status=status.value, reason=reason)
        self._store.release(record.id)  # what is still written about it is numbered on disk
        self.publish_status(record)
        active.settled.set()
        log.info("call %s settled: %s (%s)", record.id, status.value, record.end_reason)

    def publish_status(self, record: CallRecord) -> None:
        self._hub.publish(status_entry(record))
