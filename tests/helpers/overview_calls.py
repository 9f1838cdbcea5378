"""Stored calls of known endings, costs, turn latencies, days and directions, for the
overview's tests (unit, API and browser). Carrier cost only (no model usage but one
unpriced call): Twilio's built-in $0.0184 and Telnyx's $0.0105 per started minute.

UTC days 2026-12-01 to 2026-12-03:
- the 1st: a (outbound, model-ended, 90 s, success, turns 400 and 600 ms), b (outbound,
  no-media: a carrier drop, 30 s, turns 1000), c (inbound, Telnyx, carrier-stop, 61 s,
  not a success — its summary a formula —, turns 500), x (outbound, 03:00 UTC,
  hangup-requested, 5 s);
- the 2nd: d (no-answer), e (failed), f (model-fatal, 10 s), g (a voicemail left, 20 s,
  not a success, turn 700), h (inbound, 30 s, an unpriced model), i (ringing: live);
- the 3rd: none; y (outbound, completed) at 02:00 UTC on the 4th, the 3rd in New York.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from voicecall_rt.call.records import CallRecord, CallStatus, Outcome
from voicecall_rt.store import Store

SEEDED_DAYS: Final = (dt.date(2026, 12, 1), dt.date(2026, 12, 3))
FORMULA_SUMMARY: Final = '=HYPERLINK("http://example.invalid","x")'
INBOUND_NUMBER: Final = "+14155550177"


def at(day: int, hour: int = 12, minute: int = 0) -> int:
    """Epoch ms of 2026-12-`day` `hour`:`minute` UTC."""
    return int(dt.datetime(2026, 12, day, hour, minute, tzinfo=dt.UTC).timestamp() * 1000)


def _call(
    call_id: str,
    created_at: int,
    status: CallStatus,
    reason: str | None,
    talk_s: float | None,
    **fields: Any,
) -> CallRecord:
    answered = ended = None
    if talk_s is not None:
        answered = created_at + 5_000
        ended = answered + int(talk_s * 1000)
    values: dict[str, Any] = {
        "id": call_id,
        "direction": "outbound",
        "from_number": "+14155550100",
        "to_number": "+14155550123",
        "task": f"Task of {call_id}",
        "status": status,
        "created_at": created_at,
        "answered_at": answered,
        "ended_at": ended,
        "end_reason": reason,
        **fields,
    }
    return CallRecord.model_validate(values)


def seeded_records() -> list[CallRecord]:
    done, failed = CallStatus.COMPLETED, CallStatus.FAILED
    inbound = {"direction": "inbound", "from_number": INBOUND_NUMBER, "to_number": "+14155550100"}
    return [
        _call(
            "call_a",
            at(1),
            done,
            "model-ended",
            90,
            outcome=Outcome(success=True, summary="Booked a table"),
        ),
        _call("call_b", at(1, 13), done, "no-media", 30),
        _call(
            "call_c",
            at(1, 14),
            done,
            "carrier-stop",
            61,
            carrier="telnyx",
            outcome=Outcome(success=False, summary=FORMULA_SUMMARY),
            **inbound,
        ),
        _call("call_x", at(1, 3), done, "hangup-requested", 5),
        _call("call_d", at(2, 9), CallStatus.NO_ANSWER, "no-answer", None),
        _call("call_e", at(2, 10), failed, "failed", None),
        _call("call_f", at(2, 11), done, "model-fatal", 10, error="insufficient_quota"),
        _call(
            "call_g",
            at(2, 12),
            done,
            "model-ended",
            20,
            outcome=Outcome(success=False, summary="Left a message"),
        ),
        _call(
            "call_h",
            at(2, 13),
            done,
            "model-ended",
            30,
            usage={"model": "mystery-model", "input_tokens": 100, "output_tokens": 50},
            **inbound,
        ),
        _call("call_i", at(2, 14), CallStatus.RINGING, None, None),
        _call("call_y", at(4, 2), done, "model-ended", 15),
    ]


TURNS: Final = {"call_a": [400, 600], "call_b": [1000], "call_c": [500], "call_g": [700]}


def seed_calls(store: Store) -> list[CallRecord]:
    """Store the calls above with their journal's turn latencies (and g's voicemail)."""
    records = seeded_records()
    for record in records:
        store.insert_call(record)
        for n, ms in enumerate(TURNS.get(record.id, [])):
            store.add_event(record.id, 10_000 + n * 5_000, "turn.latency", {"ms": ms})
        store.add_event(record.id, 1_000, "status", {"status": "ringing"})  # not read
    store.add_event("call_g", 9_000, "voicemail", {"cut": False})
    return records
