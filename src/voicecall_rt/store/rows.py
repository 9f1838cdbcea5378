"""A call record as columns and back: the column list every backend shares, the values
an update may set, and the conversions (enum ↔ its string, JSON objects ↔ JSON text)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Protocol

import orjson
from pydantic import TypeAdapter

from voicecall_rt.call.records import CallRecord, CallStatus, Outcome

CALL_COLUMNS: Final = (
    "id",
    "direction",
    "from_number",
    "to_number",
    "task",
    "system_prompt",
    "status",
    "carrier_sid",
    "created_at",
    "answered_at",
    "ended_at",
    "end_reason",
    "answered_by",
    "amd_duration_ms",
    "outcome",
    "usage",
    "error",
    "notify_session_key",
    "outcome_schema",
    "carrier",
    "schedule_id",
    "attempt",
)


class Row(Protocol):
    """A result row as both drivers give it: by column name or position."""

    def __getitem__(self, key: str | int, /) -> Any: ...


# Stored as JSON text in every backend, so one conversion serves them all.
JSON_COLUMNS: Final = ("outcome", "usage", "outcome_schema")

# Derived from the enum so a status added in records.py is classified without a code change
# here. Literal values rather than a parameter so the (status, created_at) index is usable.
ACTIVE_STATUSES: Final = tuple(s.value for s in CallStatus if not s.terminal)
ACTIVE_IN: Final = "(" + ", ".join(f"'{s}'" for s in ACTIVE_STATUSES) + ")"
assert all("'" not in s for s in ACTIVE_STATUSES)

# Validators built once from the model, so update_call rejects a bad value at the call
# site (where the bug is) instead of in the writer, long after.
_FIELD_ADAPTERS: Final[dict[str, TypeAdapter[Any]]] = {
    name: TypeAdapter(Any if info.annotation is None else info.annotation)
    for name, info in CallRecord.model_fields.items()
    if name != "id"
}


def record_columns(record: CallRecord) -> tuple[Any, ...]:
    """The record's values in CALL_COLUMNS order, serialised now (the record is mutable)."""
    row = to_columns({c: getattr(record, c) for c in CALL_COLUMNS})
    return tuple(row[c] for c in CALL_COLUMNS)


def update_columns(fields: Mapping[str, Any]) -> dict[str, Any]:
    """`fields` validated against the model and as column values; ValueError otherwise."""
    unknown = sorted(set(fields) - _FIELD_ADAPTERS.keys())
    if unknown:
        raise ValueError(f"update_call: not updatable column(s): {', '.join(unknown)}")
    return to_columns(
        {name: _FIELD_ADAPTERS[name].validate_python(v) for name, v in fields.items()}
    )


def to_columns(values: Mapping[str, Any]) -> dict[str, Any]:
    """Model values → column values (enum → its string, outcome/usage/schema → JSON text)."""
    row = dict(values)
    if "status" in row:
        row["status"] = CallStatus(row["status"]).value
    if "outcome" in row and row["outcome"] is not None:
        outcome = row["outcome"]
        if not isinstance(outcome, Outcome):
            outcome = Outcome.model_validate(outcome)
        row["outcome"] = outcome.model_dump_json()
    for json_col in ("usage", "outcome_schema"):
        if row.get(json_col) is not None:
            row[json_col] = orjson.dumps(row[json_col]).decode()
    return row


def to_record(row: Row) -> CallRecord:
    """A row of CALL_COLUMNS → the record."""
    values = {c: row[c] for c in CALL_COLUMNS}
    for json_col in JSON_COLUMNS:
        if values[json_col] is not None:
            values[json_col] = orjson.loads(values[json_col])
    return CallRecord.model_validate(values)
