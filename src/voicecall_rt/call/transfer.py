"""Transfer to a person: what the carrier is asked to do when the model calls transfer_call,
and what follows when the carrier reports on the person dialled (docs/business.md
§Transfer to a person).

The number always comes from `calls.transfer.targets` (the model names a label, matched in
call/tools.py); the caller ID shown to the person is decided here, the same for every
carrier: the other party's number where every carrier we support lets a call show it (the
caller of an inbound call), else our own number on the call.

A carrier that leaves the caller's side of the call up when the person dialled never
answers, or hangs up (Telnyx), reports that leg's end (`TransferLegEnded`): the caller's
line is then hung up here, or they would wait on a silent line until the call's time limit.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from voicecall_rt.call.records import CallRecord, CallStatus, Outcome, now_ms
from voicecall_rt.call.routes import transfer_url
from voicecall_rt.carrier.base import (
    CarrierApi,
    CarrierError,
    Decision,
    Dial,
    HangUp,
    Transfer,
    TransferLegEnded,
)
from voicecall_rt.config import Settings
from voicecall_rt.config_business import TransferTarget
from voicecall_rt.phone import normalize_e164
from voicecall_rt.store.base import Store

log = logging.getLogger(__name__)

# How long a leg's end waits for its call to be settled: the person dialled may be busy
# before our side of the call has finished ending (the stream's last frames, the store).
SETTLE_WAIT_S: Final = 30.0
# The events that say how the transfer ended, once it was handed over.
TRANSFER_ENDS: Final = frozenset({"transfer.failed", "transfer.ended"})


def handed_over(outcome: Outcome | None, label: str) -> Outcome:
    """The outcome of a call handed to `label`: the model's own report with where the call
    went, or, if it made none, a success saying so."""
    if outcome is None:
        outcome = Outcome(success=True, summary=f"Transferred to {label}")
    return outcome.model_copy(update={"transferred_to": label})


def never_answered(outcome: Outcome, cause: str) -> Outcome:
    """The outcome once the person the call was handed to never answered: not transferred,
    and our own "Transferred to" success (made when the model reported nothing) undone."""
    label = outcome.transferred_to or "the transfer target"
    if outcome == handed_over(None, label):
        return Outcome(success=False, summary=f"Transfer to {label} failed ({cause})")
    return outcome.model_copy(update={"transferred_to": None})


def our_number(record: CallRecord) -> str:
    """The number of ours on this call: the one we called from, or the one called."""
    return record.from_number if record.direction == "outbound" else record.to_number


def caller_id(record: CallRecord, pass_caller_id: bool) -> str:
    """Who the person the call goes to sees calling.

    An inbound caller's own number (Twilio's <Dial callerId> takes "the calling number";
    Telnyx and Plivo keep the original caller on a transferred inbound call) when
    `pass_caller_id`; our number otherwise, for an outbound call (the callee's number is not
    ours to present on every carrier), and for a caller who withheld their number."""
    if pass_caller_id and record.direction == "inbound":
        try:
            return normalize_e164(record.from_number)
        except ValueError:
            pass
    return our_number(record)


def plan_transfer(record: CallRecord, target: TransferTarget, settings: Settings) -> Transfer:
    """What the carrier is asked for: the target's number, the caller ID, and where our
    server serves the document that dials it (a carrier that fetches one: Plivo)."""
    assert settings.public_url is not None  # a call is only ever placed or taken with one
    return Transfer(
        number=target.number,
        caller_id=caller_id(record, settings.calls.transfer.pass_caller_id),
        document_url=transfer_url(settings.public_url, record.id, target.label),
        call_id=record.id,
    )


def find_target(settings: Settings, label: str) -> TransferTarget | None:
    """The configured target with this exact label (the one our own URL carries)."""
    return next((t for t in settings.calls.transfer.targets if t.label == label), None)


async def transfer_document(
    store: Store, settings: Settings, call_id: str, label: str, call_sid: str
) -> Decision:
    """What our transfer URL answers the carrier (its request already verified as signed):
    dial the target `label` names, for the call the carrier names (`call_sid`) if it is the
    call `call_id`; hang up otherwise. Read from the store, as the call may already be
    settled here, or run by another instance."""
    target = find_target(settings, label)
    record = await store.get_call(call_id) if target is not None else None
    if target is None or record is None or not call_sid or record.carrier_sid != call_sid:
        return HangUp()
    return Dial(target.number, caller_id(record, settings.calls.transfer.pass_caller_id))


class TransferEnds:
    """What follows the handover, where the carrier reports the end of a transfer's leg
    (`TransferLegEnded`): `wait_settled(call_id, timeout_s)` returns once the call is
    settled, here or on another instance."""

    def __init__(
        self,
        store: Store,
        carrier: CarrierApi | None,
        wait_settled: Callable[[str, float], Awaitable[None]],
    ) -> None:
        self._store = store
        self._carrier = carrier
        self._wait_settled = wait_settled
        self._busy: set[str] = set()  # calls whose leg's end is being handled here

    async def on_leg_ended(self, event: TransferLegEnded) -> None:
        """A leg of the transfer of call `event.call_id` ended (its webhook verified as
        signed): if the call was handed over and the leg is not the caller's own, hang the
        caller's line up (the carrier's id for it is the stored one, never the event's) and
        journal how the transfer ended. The call id is only a name to look up: a call not
        handed over, or whose transfer's end is already told, is left alone."""
        if event.call_id in self._busy:
            return  # the same end delivered again while the first is handled
        self._busy.add(event.call_id)
        try:
            await self._wait_settled(event.call_id, SETTLE_WAIT_S)
            await self._end(event)
        finally:
            self._busy.discard(event.call_id)

    async def _end(self, event: TransferLegEnded) -> None:
        store = self._store
        record = await store.get_call(event.call_id)
        if record is None or record.end_reason != "transferred" or not record.carrier_sid:
            return  # not a call handed over (or its failure is already recorded)
        if event.call_sid == record.carrier_sid:
            return  # the caller's own leg: nobody is left on the line
        if await store.events(record.id, set(TRANSFER_ENDS)):
            return  # the same end told again
        answered = event.status is CallStatus.COMPLETED
        data: dict[str, Any] = {"cause": event.raw[:64]}
        if record.outcome is not None and record.outcome.transferred_to is not None:
            data["target"] = record.outcome.transferred_to
        if self._carrier is not None:
            try:
                await self._carrier.hang_up(record.carrier_sid)  # a line over counts as done
            except CarrierError as exc:
                data["hangup_error"] = str(exc)
                log.warning("call %s: hang-up after the transfer failed: %s", record.id, exc)
        kind = "transfer.ended" if answered else "transfer.failed"
        store.add_event(record.id, now_ms() - record.created_at, kind, data)
        if not answered:
            update: dict[str, Any] = {"end_reason": "transfer-failed"}
            if record.outcome is not None:
                update["outcome"] = never_answered(record.outcome, data["cause"])
            store.update_call(record.id, **update)
        log.info("call %s: %s (%s): the caller's line is hung up", record.id, kind, data["cause"])
