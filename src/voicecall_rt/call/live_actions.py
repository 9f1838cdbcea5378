"""What the bridge asks of the carrier on a live call, by our call id: hang it up, press
keys. The carrier's id for the call is looked up at the moment of asking (it may have been
learnt late: at answer, or from the stream), and a carrier refusal is journaled, never
raised into the call."""

from __future__ import annotations

import logging

from voicecall_rt.call.roster import Roster
from voicecall_rt.carrier.base import CarrierApi, CarrierError

log = logging.getLogger(__name__)


class LiveActions:
    def __init__(self, calls: Roster, carrier: CarrierApi | None) -> None:
        self._calls = calls
        self._carrier = carrier

    async def hang_up(self, call_id: str) -> None:
        active = self._calls.get(call_id)
        if active is None or self._carrier is None:
            return
        sid = active.record.carrier_sid
        if not sid or active.record.status.terminal:
            return
        # One status whatever the state: `canceled` would not end a call answered meanwhile.
        try:
            await self._carrier.hang_up(sid)
        except CarrierError as exc:
            active.journal.event("hangup.failed", error=str(exc))
            log.warning("call %s: hang-up failed: %s", call_id, exc)

    async def press_keys(self, call_id: str, digits: str) -> bool:
        """The carrier's own keypad command, where it has one; a refusal falls back to
        tones in the audio (journaled), as the press must still happen."""
        active = self._calls.get(call_id)
        sid = active.record.carrier_sid if active is not None else None
        if active is None or self._carrier is None or not sid:
            return False
        try:
            return await self._carrier.send_digits(sid, digits)
        except CarrierError as exc:
            active.journal.event("dtmf.carrier_failed", error=str(exc))
            log.warning("call %s: the carrier's keypad command failed: %s", call_id, exc)
            return False
