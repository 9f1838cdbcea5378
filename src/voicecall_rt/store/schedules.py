"""Scheduled calls and the follow-up attempts of calls that did not get through
(`schedules`, store/tables.py says what each state means), written once for every backend.

Every change of state is one conditional UPDATE run in the store's writer and awaited
(`Store.write_returning`): whoever's condition still holds wins, so two instances on one
PostgreSQL never both claim a row, and a cancel racing a retry leaves a canceled row.
"""

from __future__ import annotations

import secrets
from typing import Any, Final, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from voicecall_rt.call.records import CallRecord
from voicecall_rt.config_business import RetrySettings
from voicecall_rt.store.base import Store
from voicecall_rt.store.rows import CALL_COLUMNS, Row, to_record

ScheduleState = Literal["pending", "placing", "waiting", "done", "canceled", "failed"]
LIVE_STATES: Final[tuple[ScheduleState, ...]] = ("pending", "placing", "waiting")
FINAL_STATES: Final[tuple[ScheduleState, ...]] = ("done", "canceled", "failed")

_COLUMNS: Final = (
    "id, to_number, task, system_prompt, notify_session_key, outcome_schema, created_at,"
    " due_at, state, attempts_made, max_attempts, retry, when_allowed, claimed_by,"
    " claimed_until, first_call_id, last_call_id, reason, updated_at"
)
_NAMES: Final = tuple(name.strip() for name in _COLUMNS.split(","))
_LIVE_IN: Final = "('pending', 'placing', 'waiting')"
_SELECT: Final = f"SELECT {_COLUMNS} FROM schedules"  # noqa: S608 - constants
_CANCEL: Final = f"""
    UPDATE schedules SET state = 'canceled', reason = 'canceled', claimed_by = NULL,
        claimed_until = NULL, updated_at = ?
    WHERE id = ? AND state IN {_LIVE_IN}
"""  # noqa: S608 - constants
# The subquery picks the rows; the outer WHERE re-checks each as it locks it (PostgreSQL
# re-reads a row another transaction changed), so a row claimed meanwhile is left out.
_CLAIM: Final = f"""
    UPDATE schedules SET state = 'placing', claimed_by = ?, claimed_until = ?, updated_at = ?
    WHERE state = 'pending' AND due_at <= ? AND id IN (
        SELECT id FROM schedules WHERE state = 'pending' AND due_at <= ?
        ORDER BY due_at, id LIMIT ?)
    RETURNING {_COLUMNS}
"""  # noqa: S608 - constants


def new_schedule_id() -> str:
    return "sched_" + secrets.token_hex(8)


class Schedule(BaseModel):
    """One schedule row. Times are epoch milliseconds."""

    model_config = ConfigDict(extra="forbid")

    id: str
    to_number: str
    task: str = ""
    system_prompt: str | None = None
    notify_session_key: str | None = None
    outcome_schema: dict[str, Any] | None = None
    created_at: int
    due_at: int
    state: ScheduleState
    attempts_made: int = 0
    max_attempts: int = Field(ge=1)
    # The retry settings as they were when it was created (camelCase, as in the config).
    retry: dict[str, Any] = Field(default_factory=dict)
    when_allowed: bool = False
    claimed_by: str | None = None
    claimed_until: int | None = None
    first_call_id: str | None = None
    last_call_id: str | None = None
    reason: str | None = None
    updated_at: int

    @property
    def retry_settings(self) -> RetrySettings:
        return RetrySettings.model_validate(self.retry)


def _schedule(row: Row) -> Schedule:
    # By position: a write's RETURNING rows are plain tuples on SQLite.
    values = {name: row[i] for i, name in enumerate(_NAMES)}
    for column in ("outcome_schema", "retry"):
        if values[column] is not None:
            values[column] = orjson.loads(values[column])
    values["retry"] = values["retry"] or {}
    values["when_allowed"] = bool(values["when_allowed"])
    return Schedule.model_validate(values)


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


async def create_schedule(store: Store, schedule: Schedule) -> None:
    """Store a new schedule; once this returns, any instance may claim it."""
    s = schedule
    await store.write_returning(
        "create_schedule",
        f"INSERT INTO schedules ({_COLUMNS}) VALUES"  # noqa: S608 - constants
        " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            s.id,
            s.to_number,
            s.task,
            s.system_prompt,
            s.notify_session_key,
            _json(s.outcome_schema),
            s.created_at,
            s.due_at,
            s.state,
            s.attempts_made,
            s.max_attempts,
            _json(s.retry),
            int(s.when_allowed),
            s.claimed_by,
            s.claimed_until,
            s.first_call_id,
            s.last_call_id,
            s.reason,
            s.updated_at,
        ),
    )


async def get_schedule(store: Store, schedule_id: str) -> Schedule | None:
    rows = await store.query(f"{_SELECT} WHERE id = ?", (schedule_id,))
    return _schedule(rows[0]) if rows else None


async def list_schedules(
    store: Store, limit: int = 50, *, live_only: bool = False
) -> list[Schedule]:
    """The live ones (pending, placing, waiting) first, soonest due; then the newest."""
    where = f" WHERE state IN {_LIVE_IN}" if live_only else ""
    rows = await store.query(
        f"{_SELECT}{where} ORDER BY CASE WHEN state IN {_LIVE_IN} THEN 0 ELSE 1 END,"
        f" CASE WHEN state IN {_LIVE_IN} THEN due_at ELSE -created_at END,"
        " id LIMIT ?",
        (limit,),
    )
    return [_schedule(row) for row in rows]


async def schedule_attempts(store: Store, schedule_id: str) -> list[CallRecord]:
    """The calls placed for it, first attempt first."""
    rows = await store.query(
        f"SELECT {', '.join(CALL_COLUMNS)} FROM calls WHERE schedule_id = ?"  # noqa: S608
        " ORDER BY attempt, created_at",
        (schedule_id,),
    )
    return [to_record(row) for row in rows]


async def find_attempt(store: Store, schedule_id: str, attempt: int) -> CallRecord | None:
    rows = await store.query(
        f"SELECT {', '.join(CALL_COLUMNS)} FROM calls"  # noqa: S608 - constants
        " WHERE schedule_id = ? AND attempt = ? ORDER BY created_at LIMIT 1",
        (schedule_id, attempt),
    )
    return to_record(rows[0]) if rows else None


async def _moved(store: Store, label: str, sql: str, params: tuple[Any, ...]) -> Schedule | None:
    rows = await store.write_returning(label, f"{sql} RETURNING {_COLUMNS}", params)
    return _schedule(rows[0]) if rows else None


async def cancel_schedule(store: Store, schedule_id: str, now: int) -> Schedule | None:
    """Canceled if it was live (a live attempt goes on; no further one is placed); None if
    it is unknown or already over."""
    return await _moved(
        store,
        "cancel_schedule",
        _CANCEL,
        (now, schedule_id),
    )


async def claim_due(
    store: Store, instance: str, *, now: int, until: int, limit: int = 10
) -> list[Schedule]:
    """The pending schedules due at `now`, soonest first, claimed for `instance` until
    `until` (state placing). A row two instances race for is claimed by one: the UPDATE
    re-checks `state = 'pending'` on the row it locks."""
    rows = await store.write_returning(
        "claim_schedules",
        _CLAIM,
        (instance, until, now, now, now, limit),
    )
    return sorted((_schedule(row) for row in rows), key=lambda s: (s.due_at, s.id))


async def note_attempt(
    store: Store, schedule_id: str, call_id: str, attempt: int, now: int
) -> None:
    """Attempt `attempt` is call `call_id`, stored: a placing row waits for it now. A row
    canceled meanwhile stays canceled, with the call noted."""
    await store.write_returning(
        "note_attempt",
        "UPDATE schedules SET attempts_made = ?, last_call_id = ?,"
        " first_call_id = COALESCE(first_call_id, ?),"
        " state = CASE WHEN state = 'placing' THEN 'waiting' ELSE state END,"
        " claimed_by = NULL, claimed_until = NULL, updated_at = ? WHERE id = ? RETURNING id",
        (attempt, call_id, call_id, now, schedule_id),
    )


async def release_claim(
    store: Store, schedule_id: str, *, due_at: int, reason: str | None, now: int
) -> Schedule | None:
    """A placing row back to pending, due at `due_at` (nothing was dialled)."""
    return await _moved(
        store,
        "release_schedule",
        "UPDATE schedules SET state = 'pending', due_at = ?, reason = ?, claimed_by = NULL,"
        " claimed_until = NULL, updated_at = ? WHERE id = ? AND state = 'placing'",
        (due_at, reason, now, schedule_id),
    )


async def retry_later(
    store: Store, schedule_id: str, last_call_id: str, *, due_at: int, reason: str, now: int
) -> Schedule | None:
    """A waiting row whose attempt `last_call_id` ended: pending again, due at `due_at`."""
    return await _moved(
        store,
        "retry_schedule",
        "UPDATE schedules SET state = 'pending', due_at = ?, reason = ?, updated_at = ?"
        " WHERE id = ? AND state = 'waiting' AND last_call_id = ?",
        (due_at, reason, now, schedule_id, last_call_id),
    )


async def finish(
    store: Store,
    schedule_id: str,
    state: ScheduleState,
    reason: str,
    *,
    now: int,
    from_state: ScheduleState,
) -> Schedule | None:
    """Over (`done` or `failed`) with `reason`, if it is still in `from_state`."""
    return await _moved(
        store,
        "finish_schedule",
        "UPDATE schedules SET state = ?, reason = ?, claimed_by = NULL, claimed_until = NULL,"
        " updated_at = ? WHERE id = ? AND state = ?",
        (state, reason[:500], now, schedule_id, from_state),
    )


async def expired_claims(store: Store, now: int) -> list[Schedule]:
    """Placing rows whose instance did not finish placing in time (it died, say)."""
    rows = await store.query(
        f"{_SELECT} WHERE state = 'placing' AND claimed_until < ? ORDER BY due_at", (now,)
    )
    return [_schedule(row) for row in rows]


async def waiting_schedules(store: Store) -> list[Schedule]:
    rows = await store.query(f"{_SELECT} WHERE state = 'waiting' ORDER BY due_at", ())
    return [_schedule(row) for row in rows]


async def next_due(store: Store) -> int | None:
    """When the soonest pending schedule is due (epoch ms); None if none is pending."""
    rows = await store.query("SELECT MIN(due_at) FROM schedules WHERE state = 'pending'", ())
    value = rows[0][0] if rows else None
    return None if value is None else int(value)
