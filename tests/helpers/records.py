"""Call records for tests that need one in the store."""

from __future__ import annotations

from voicecall_rt.call.records import CallRecord, CallStatus, Outcome


def _required(call_id: str, created_at: int) -> dict[str, object]:
    return {
        "id": call_id,
        "direction": "outbound",
        "from_number": "+15550001111",
        "to_number": "+15550002222",
        "created_at": created_at,
    }


def make_call(call_id: str, *, created_at: int = 1_000, **kw: object) -> CallRecord:
    return CallRecord.model_validate({**_required(call_id, created_at), **kw})


def full_call(call_id: str, *, created_at: int = 1_000, **kw: object) -> CallRecord:
    """A finished call with every field set (JSON ones nested), for round trips."""
    fields: dict[str, object] = {
        **_required(call_id, created_at),
        "task": "Book a table for two at 8pm",
        "system_prompt": "You are polite.",
        "status": CallStatus.COMPLETED,
        "carrier_sid": "CA123",
        "carrier": "telnyx",
        "answered_at": 2_000,
        "ended_at": 65_000,
        "end_reason": "hangup",
        "answered_by": "human",
        "amd_duration_ms": 1800,
        "outcome": Outcome(success=True, summary="Booked", details={"time": "20:00", "n": 2}),
        "usage": {"input_tokens": 1200, "output": {"audio": 30.5, "text": [1, 2]}},
        "error": None,
        "outcome_schema": {"type": "object", "properties": {"n": {"type": "integer"}}},
        "notify_session_key": "agent:main",
    }
    return CallRecord.model_validate({**fields, **kw})
