"""Transfer to a person: what the carrier is asked to do when the model calls transfer_call
(docs/business.md §Transfer to a person).

The number always comes from `calls.transfer.targets` (the model names a label, matched in
call/tools.py); the caller ID shown to the person is decided here, the same for every
carrier: the other party's number where every carrier we support lets a call show it (the
caller of an inbound call), else our own number on the call.
"""

from __future__ import annotations

from voicecall_rt.call.records import CallRecord
from voicecall_rt.call.routes import transfer_url
from voicecall_rt.carrier.base import Decision, Dial, HangUp, Transfer
from voicecall_rt.config import Settings
from voicecall_rt.config_business import TransferTarget
from voicecall_rt.phone import normalize_e164
from voicecall_rt.store.base import Store


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
