"""The numbers recorded never to be called again (`blocked_numbers`): a callee who asked not
to be called (source 'do-not-call', with the call it was said on). The configured blocklist
(`calls.blockedNumbers`) is in the settings, not here; call/guards.py reads both."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from voicecall_rt.call.records import now_ms
from voicecall_rt.store.base import Store
from voicecall_rt.store.rows import Row

DO_NOT_CALL: Final = "do-not-call"

_COLUMNS: Final = "number, source, reason, call_id, created_at"
# Asked again on a later call: the latest call and reason are the ones kept.
_RECORD: Final = f"""
    INSERT INTO blocked_numbers ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (number) DO UPDATE SET
        source = excluded.source, reason = excluded.reason,
        call_id = excluded.call_id, created_at = excluded.created_at
    RETURNING number
"""  # noqa: S608 - constants


@dataclass(frozen=True, slots=True)
class BlockedNumber:
    number: str  # E.164
    source: str
    reason: str
    call_id: str | None
    created_at: int  # epoch ms


def _blocked(row: Row) -> BlockedNumber:
    return BlockedNumber(
        number=row["number"],
        source=row["source"],
        reason=row["reason"],
        call_id=row["call_id"],
        created_at=int(row["created_at"]),
    )


async def record_blocked(
    store: Store, number: str, *, source: str, reason: str = "", call_id: str | None = None
) -> None:
    """Record `number` (E.164) as never to be called again; once committed it is refused."""
    await store.write_returning(
        "record_blocked", _RECORD, (number, source, reason[:200], call_id, now_ms())
    )


async def find_blocked(store: Store, number: str) -> BlockedNumber | None:
    rows = await store.query(
        f"SELECT {_COLUMNS} FROM blocked_numbers WHERE number = ?",  # noqa: S608 - constants
        (number,),
    )
    return _blocked(rows[0]) if rows else None


async def list_blocked(store: Store) -> list[BlockedNumber]:
    """Newest first."""
    rows = await store.query(
        f"SELECT {_COLUMNS} FROM blocked_numbers ORDER BY created_at DESC, number",  # noqa: S608
        (),
    )
    return [_blocked(row) for row in rows]


async def unblock(store: Store, number: str) -> bool:
    """Forget a recorded number; False if it was not recorded."""
    rows = await store.write_returning(
        "unblock", "DELETE FROM blocked_numbers WHERE number = ? RETURNING number", (number,)
    )
    return bool(rows)
