"""Call records for tests that need one in the store."""

from __future__ import annotations

from voicecall_rt.call.records import CallRecord


def make_call(call_id: str, *, created_at: int = 1_000, **kw: object) -> CallRecord:
    fields: dict[str, object] = {
        "id": call_id,
        "direction": "outbound",
        "from_number": "+15550001111",
        "to_number": "+15550002222",
        "created_at": created_at,
    }
    fields.update(kw)
    return CallRecord.model_validate(fields)
