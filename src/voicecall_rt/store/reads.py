"""The store's queries, written once for every backend. Each runs once the writes enqueued
before it are committed, so a read sees them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import orjson

from voicecall_rt.call.records import CallEvent, CallRecord, TranscriptLine
from voicecall_rt.store.dialect import Dialect
from voicecall_rt.store.rows import ACTIVE_IN, CALL_COLUMNS, Row, to_record

_SELECT_CALL: Final = f"SELECT {', '.join(CALL_COLUMNS)} FROM calls"  # noqa: S608 - constants


class StoreReads:
    """The read half of a store: its queries, run through `_read`."""

    dialect: Dialect

    async def _read(self, sql: str, params: Sequence[Any]) -> list[Row]:
        """Run a query once every write enqueued before it is committed."""
        raise NotImplementedError

    def _newest_first(self) -> str:
        return f"ORDER BY created_at DESC, {self.dialect.insertion_order} DESC"

    async def get_call(self, call_id: str) -> CallRecord | None:
        rows = await self._read(f"{_SELECT_CALL} WHERE id = ?", (call_id,))
        return to_record(rows[0]) if rows else None

    async def find_by_carrier_sid(self, sid: str) -> CallRecord | None:
        rows = await self._read(
            f"{_SELECT_CALL} WHERE carrier_sid = ? {self._newest_first()} LIMIT 1", (sid,)
        )
        return to_record(rows[0]) if rows else None

    async def list_calls(self, limit: int = 50, active_only: bool = False) -> list[CallRecord]:
        """Newest first."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        where = f" WHERE status IN {ACTIVE_IN}" if active_only else ""
        rows = await self._read(f"{_SELECT_CALL}{where} {self._newest_first()} LIMIT ?", (limit,))
        return [to_record(r) for r in rows]

    async def calls_created_between(
        self, since_ms: int, until_ms: int, *, direction: str | None = None, limit: int
    ) -> list[CallRecord]:
        """The calls created in [since_ms, until_ms) (of one direction if given), newest
        first, at most `limit`: the dashboard's overview and its CSV (call/overview.py)."""
        where = "created_at >= ? AND created_at < ?"
        params: tuple[Any, ...] = (since_ms, until_ms)
        if direction is not None:
            where += " AND direction = ?"
            params += (direction,)
        rows = await self._read(
            f"{_SELECT_CALL} WHERE {where} {self._newest_first()} LIMIT ?", (*params, limit)
        )
        return [to_record(r) for r in rows]

    async def count_active(self) -> int:
        rows = await self._read(f"SELECT COUNT(*) FROM calls WHERE status IN {ACTIVE_IN}", ())  # noqa: S608 - constant
        return int(rows[0][0])

    async def transcript(self, call_id: str, *, after_seq: int = 0) -> list[TranscriptLine]:
        """The call's lines (those numbered after `after_seq`: what a follower lacks)."""
        rows = await self._read(
            "SELECT call_id, seq, t_ms, role, text, interrupted FROM transcript "
            # In the order things were said: a caller's words are often transcribed (and so
            # written) after the model began answering them.
            "WHERE call_id = ? AND seq > ? ORDER BY t_ms, seq",
            (call_id, after_seq),
        )
        return [
            TranscriptLine(
                call_id=r["call_id"],
                seq=r["seq"],
                t_ms=r["t_ms"],
                role=r["role"],
                text=r["text"],
                interrupted=bool(r["interrupted"]),
            )
            for r in rows
        ]

    async def events(
        self, call_id: str, kinds: set[str] | None = None, *, after_seq: int = 0
    ) -> list[CallEvent]:
        sql = "SELECT call_id, seq, t_ms, kind, data FROM events WHERE call_id = ? AND seq > ?"
        params: tuple[Any, ...] = (call_id, after_seq)
        if kinds is not None:
            sql += " AND " + self.dialect.column_in_list("kind")
            params += (self.dialect.list_param(sorted(kinds)),)
        rows = await self._read(sql + " ORDER BY seq", params)
        return [
            CallEvent(
                call_id=r["call_id"],
                seq=r["seq"],
                t_ms=r["t_ms"],
                kind=r["kind"],
                data=orjson.loads(r["data"]),
            )
            for r in rows
        ]
