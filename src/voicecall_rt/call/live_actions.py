"""What the bridge asks of the carrier on a live call, by our call id: hang it up, press
keys, transfer it. The carrier's id for the call is looked up at the moment of asking (it
may have been learnt late: at answer, or from the stream), and a carrier refusal is
journaled, never raised into the call (but a transfer's, which decides how it ends)."""

from __future__ import annotations

import logging

from voicecall_rt.call.roster import Roster
from voicecall_rt.call.transfer import plan_transfer
from voicecall_rt.carrier.base import CarrierApi, CarrierError, Transfer
from voicecall_rt.config import Settings
from voicecall_rt.config_business import TransferTarget

log = logging.getLogger(__name__)


class LiveActions:
    def __init__(self, calls: Roster, carrier: CarrierApi | None, settings: Settings) -> None:
        self._calls = calls
        self._carrier = carrier
        self._settings = settings

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

    async def transfer(self, call_id: str, target: TransferTarget) -> Transfer:
        """Ask the carrier to hand the call to `target` (call/transfer.py says with which
        caller ID); what it was asked for, once accepted. Raises CarrierError — the one
        action whose refusal the caller of it must hear of (the call ends otherwise)."""
        active = self._calls.get(call_id)
        sid = active.record.carrier_sid if active is not None else None
        if active is None or self._carrier is None or not sid or active.record.status.terminal:
            raise CarrierError("the call is not live at the carrier: it cannot be transferred")
        transfer = plan_transfer(active.record, target, self._settings)
        await self._carrier.transfer(sid, transfer)
        return transfer
