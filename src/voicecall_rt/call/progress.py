"""How a call's record moves as the carrier reports on it: the dial accepted, the carrier's
id for the call learnt, the answer, status changes, the answering-machine verdict, and the
final status that settles the call.

Carriers deliver callbacks late, twice, or out of order; the rules that make each one
count once, and never move a call backwards, are kept here in one place. What to answer
the carrier (a stream, a hang-up) is the manager's to decide (call/manager.py).
"""

from __future__ import annotations

import logging

from voicecall_rt.call.records import CallRecord, CallStatus, now_ms
from voicecall_rt.call.roster import ActiveCall, Roster
from voicecall_rt.carrier.base import MachineVerdict, StatusChanged
from voicecall_rt.store.base import Store

log = logging.getLogger(__name__)


# Status order, so a late or replayed callback never moves a call backwards.
_RANK = {
    CallStatus.INITIATING: 0,
    CallStatus.QUEUED: 1,
    CallStatus.RINGING: 2,
    CallStatus.IN_PROGRESS: 3,
}


class CallProgress:
    def __init__(self, calls: Roster, store: Store) -> None:
        self._calls = calls
        self._store = store

    def note_dialled(self, record: CallRecord, sid: str) -> None:
        """The carrier accepted the dial and named the call `sid`: queued, unless a
        callback that came first already moved it further."""
        self._calls.note_sid(record, sid)
        if _RANK.get(record.status, 9) < _RANK[CallStatus.QUEUED]:
            record.status = CallStatus.QUEUED
        self._store.update_call(record.id, carrier_sid=sid, status=record.status)

    def same_call(self, active: ActiveCall, sid: str, dial_id: str) -> bool:
        """Whether the carrier's `sid` names this call."""
        self.learn_sid(active, sid, dial_id)
        known = active.record.carrier_sid
        return not known or sid == known

    def learn_sid(self, active: ActiveCall, sid: str, dial_id: str) -> None:
        """A carrier that answered the dial with a request id (`dial_id`, Plivo) names the
        call itself once it exists: from then on, that is the id a hang-up must use."""
        if sid and dial_id and dial_id == active.record.carrier_sid:
            self._calls.note_sid(active.record, sid)

    def note_answered(self, active: ActiveCall, sid: str) -> None:
        record = active.record
        if sid and not record.carrier_sid:
            self._calls.note_sid(record, sid)
        if record.answered_at is None:
            record.answered_at = now_ms()
            record.status = CallStatus.IN_PROGRESS
            self._store.update_call(
                record.id,
                answered_at=record.answered_at,
                status=record.status,
                carrier_sid=record.carrier_sid,
            )
            active.journal.event("answered")
            active.bridge.note_answered()
            self._calls.publish_status(record)

    async def on_status(self, call_id: str | None, event: StatusChanged) -> None:
        sid, status = event.call_sid, event.status
        if status is None:
            log.warning("ignoring unknown call status %r", event.raw[:32])
            return
        calls = self._calls
        active = calls.find(call_id, sid) or calls.find(None, event.dial_id)
        if active is None or active.reaping:
            return  # already settled, not ours, or being settled by the reaper
        self.learn_sid(active, sid, event.dial_id)
        record = active.record
        if record.status.terminal or (
            not status.terminal and _RANK.get(status, 0) <= _RANK.get(record.status, 0)
        ):
            return
        active.journal.event("status", status=status.value)
        if status is CallStatus.IN_PROGRESS:
            self.note_answered(active, sid)
            return
        if not status.terminal:
            record.status = status
            self._store.update_call(record.id, status=status)
            calls.publish_status(record)
            return
        # Even when the bridge is already ending, wait for it: what it still has to store
        # (usage, outcome, recordings) must land before the call is settled.
        summary = await active.bridge.end_by_carrier(status.value)
        calls.settle(active, status, summary.end_reason)

    async def on_amd(self, call_id: str | None, verdict: MachineVerdict) -> None:
        active = self._calls.find(call_id, verdict.call_sid) or self._calls.find(
            None, verdict.dial_id
        )
        if active is None:
            return
        self.learn_sid(active, verdict.call_sid, verdict.dial_id)
        answered_by = verdict.raw[:32]  # stored in the carrier's words
        duration = verdict.duration_ms
        if (active.record.answered_by, active.record.amd_duration_ms) == (answered_by, duration):
            return  # the same verdict delivered again: it has had its effect
        active.record.answered_by = answered_by
        active.record.amd_duration_ms = duration
        self._store.update_call(active.record.id, answered_by=answered_by, amd_duration_ms=duration)
        active.journal.event("amd", answered_by=answered_by, duration_ms=duration)
        if not active.bridge.ended:
            active.bridge.on_amd(verdict.answerer)
