"""`Store`, the call database: opening and closing it, and the writes, which only enqueue.

Only this process may write to the database. A call created by this process numbers its
transcript lines and events in memory (`seq` is known the moment a line is written, which
live followers need) until the call is released; after that, or for a call from an earlier
run, the writer numbers them in SQL (MAX + 1: it is the only writer and runs in order).
So the counters held never outnumber the calls in progress, however long the server runs.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import aiosqlite
import orjson
from pydantic import TypeAdapter

from voicecall_rt.call.records import CallRecord, CallStatus, Outcome, Role, now_ms
from voicecall_rt.store import files
from voicecall_rt.store.errors import StoreError
from voicecall_rt.store.reads import StoreReads
from voicecall_rt.store.schema import ACTIVE_IN, CALL_COLUMNS, migrate
from voicecall_rt.store.writer import WriteOp, Writer

_ROLES: Final = frozenset({"caller", "assistant", "system"})

# Validators built once from the model, so update_call rejects a bad value at the call
# site (where the bug is) instead of in the writer, long after.
_FIELD_ADAPTERS: Final[dict[str, TypeAdapter[Any]]] = {
    name: TypeAdapter(Any if info.annotation is None else info.annotation)
    for name, info in CallRecord.model_fields.items()
    if name != "id"
}

_INSERT_CALL: Final = (
    f"INSERT INTO calls ({', '.join(CALL_COLUMNS)}) "  # noqa: S608 - constants
    f"VALUES ({', '.join('?' for _ in CALL_COLUMNS)})"
)
_INSERT_TRANSCRIPT: Final = (
    "INSERT INTO transcript (call_id, seq, t_ms, role, text, interrupted) VALUES (?, ?, ?, ?, ?, ?)"
)
_INSERT_EVENT: Final = "INSERT INTO events (call_id, seq, t_ms, kind, data) VALUES (?, ?, ?, ?, ?)"
# Released calls: numbered by the writer. An aggregate without GROUP BY is one row, even
# for a call with no rows yet.
_APPEND_TRANSCRIPT: Final = (
    "INSERT INTO transcript (call_id, seq, t_ms, role, text, interrupted) "
    "SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ? FROM transcript WHERE call_id = ?"
)
_APPEND_EVENT: Final = (
    "INSERT INTO events (call_id, seq, t_ms, kind, data) "
    "SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ? FROM events WHERE call_id = ?"
)
_SETTLE: Final = f"""
    UPDATE calls SET
        status = CASE WHEN answered_at IS NOT NULL THEN ? ELSE ? END,
        end_reason = COALESCE(end_reason, ?),
        ended_at = COALESCE(ended_at, ?)
    WHERE status IN {ACTIVE_IN}
      AND (? IS NULL OR created_at < ?)
      AND id NOT IN (SELECT value FROM json_each(?))
    RETURNING id
"""  # noqa: S608 - ACTIVE_IN is built from the enum, not from input


@dataclass(slots=True)
class _Seqs:
    transcript: dict[str, int] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)


class Store(StoreReads):
    """The call database. Create with `await Store.open(data_dir)`; finish with `close()`.

    Write methods must be called from the event loop's thread. The `seq` they return
    rises by one per call and table; a write that fails in the writer leaves a gap.
    """

    def __init__(
        self, path: Path, writer: aiosqlite.Connection, reader: aiosqlite.Connection
    ) -> None:
        # Private: open() is the constructor, it prepares the files and the schema.
        self._path = path
        self._wconn = writer
        self._rconn = reader
        self._seqs = _Seqs()  # the calls this process created and has not released
        self._closer: asyncio.Future[None] | None = None
        self._writer = Writer(writer)

    # -- lifecycle ---------------------------------------------------------------------

    @classmethod
    async def open(cls, data_dir: Path) -> Store:
        path = await asyncio.to_thread(files.prepare_files, data_dir)
        writer = await files.connect(path)
        reader: aiosqlite.Connection | None = None
        try:
            await migrate(writer)
            reader = await files.connect(path)
            await reader.execute("PRAGMA query_only = ON")
            reader.row_factory = sqlite3.Row
            # SQLite gives the -wal/-shm it creates the database file's mode; checked again
            # now they exist so a looser pair from elsewhere cannot survive the open.
            await asyncio.to_thread(files.tighten_sidecars, path)
        except BaseException:
            await writer.close()
            if reader is not None:
                await reader.close()
            raise
        return cls(path, writer, reader)

    @property
    def path(self) -> Path:
        return self._path

    async def close(self) -> None:
        """Commit everything enqueued, stop the writer, close the database. Idempotent."""
        if self._closer is None:
            self._writer.stop()
            self._closer = asyncio.ensure_future(self._shutdown())
        # Shielded so that a caller being cancelled does not abandon a half-done close.
        await asyncio.shield(self._closer)

    async def _shutdown(self) -> None:
        await self._writer.stopped()
        try:
            await self._wconn.close()
        finally:
            await self._rconn.close()

    async def flush(self) -> None:
        """Return once every write enqueued before this call is committed (or failed)."""
        if self._closer is not None:
            await asyncio.shield(self._closer)
            return
        await self._writer.flush()

    # -- writes (never block: enqueue and return) --------------------------------------

    def insert_call(self, record: CallRecord) -> None:
        # Serialised now, so later changes to the (mutable) record are not what gets stored.
        row = _to_columns({c: getattr(record, c) for c in CALL_COLUMNS})
        self._enqueue(
            WriteOp("insert_call", record.id, _INSERT_CALL, tuple(row[c] for c in CALL_COLUMNS))
        )
        self._seqs.transcript[record.id] = 0
        self._seqs.events[record.id] = 0

    def release(self, call_id: str) -> None:
        """Drop a call's counters: its later lines and events are numbered by the writer."""
        self._seqs.transcript.pop(call_id, None)
        self._seqs.events.pop(call_id, None)

    def update_call(self, call_id: str, **fields: Any) -> None:
        """Set the given columns. Unknown columns or values of the wrong type: ValueError."""
        unknown = sorted(set(fields) - _FIELD_ADAPTERS.keys())
        if unknown:
            raise ValueError(f"update_call: not updatable column(s): {', '.join(unknown)}")
        if not fields:
            return
        validated = {name: _FIELD_ADAPTERS[name].validate_python(v) for name, v in fields.items()}
        row = _to_columns(validated)
        names = list(row)
        sql = (
            f"UPDATE calls SET {', '.join(f'{n} = ?' for n in names)} "  # noqa: S608 - names are whitelisted columns
            "WHERE id = ? RETURNING id"
        )
        self._enqueue(
            WriteOp(
                "update_call",
                call_id,
                sql,
                (*(row[n] for n in names), call_id),
                expect_row=True,
            )
        )

    def add_transcript(
        self, call_id: str, t_ms: int, role: Role, text: str, interrupted: bool = False
    ) -> int | None:
        """Enqueue a transcript line; returns its seq (1, 2, … per call), None once the
        call is released (the writer numbers it)."""
        if role not in _ROLES:
            raise ValueError(f"add_transcript: unknown role {role!r}")
        self._check_open()
        last = self._seqs.transcript.get(call_id)
        if last is None:
            params = (call_id, t_ms, role, text, int(interrupted), call_id)
            self._enqueue(WriteOp("add_transcript", call_id, _APPEND_TRANSCRIPT, params))
            return None
        seq = self._seqs.transcript[call_id] = last + 1
        self._enqueue(
            WriteOp(
                "add_transcript",
                call_id,
                _INSERT_TRANSCRIPT,
                (call_id, seq, t_ms, role, text, int(interrupted)),
            )
        )
        return seq

    def add_event(
        self, call_id: str, t_ms: int, kind: str, data: dict[str, Any] | None = None
    ) -> int | None:
        """Enqueue a timeline event; returns its seq (1, 2, … per call), None once the
        call is released (the writer numbers it)."""
        # Serialised now: it snapshots a dict the caller may go on mutating, and a value
        # that is not JSON fails here rather than in the writer.
        payload = orjson.dumps(data if data is not None else {}).decode()
        self._check_open()
        last = self._seqs.events.get(call_id)
        if last is None:
            params = (call_id, t_ms, kind, payload, call_id)
            self._enqueue(WriteOp("add_event", call_id, _APPEND_EVENT, params))
            return None
        seq = self._seqs.events[call_id] = last + 1
        self._enqueue(
            WriteOp("add_event", call_id, _INSERT_EVENT, (call_id, seq, t_ms, kind, payload))
        )
        return seq

    def _check_open(self) -> None:
        if self._closer is not None:
            raise StoreError("store is closed")

    def _enqueue(self, op: WriteOp) -> None:
        self._check_open()
        self._writer.put(op)

    # -- reaper ------------------------------------------------------------------------

    async def settle_stale(
        self,
        *,
        reason: str,
        older_than_ms: int | None = None,
        exclude: AbstractSet[str] = frozenset(),
    ) -> list[str]:
        """Give every non-terminal call a terminal status; returns their ids (sorted).

        `completed` if it was answered, else `failed`; `end_reason` and `ended_at` are
        filled only where empty. Runs in the writer, ordered after writes enqueued before
        it, so a status update already on its way is not overwritten.
        """
        now = now_ms()
        cutoff = None if older_than_ms is None else now - older_than_ms
        params = (
            CallStatus.COMPLETED.value,
            CallStatus.FAILED.value,
            reason,
            now,
            cutoff,
            cutoff,
            orjson.dumps(sorted(exclude)).decode(),
        )
        result: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._enqueue(WriteOp("settle_stale", None, _SETTLE, params, result=result))
        rows = await self._writer.result(result)
        return sorted(str(r[0]) for r in rows)

    # -- reads (StoreReads: flush first, see every write enqueued before) ---------------

    async def _read(self, sql: str, params: Sequence[Any]) -> list[sqlite3.Row]:
        self._check_open()
        await self.flush()
        return list(await self._rconn.execute_fetchall(sql, params))


def _to_columns(values: dict[str, Any]) -> dict[str, Any]:
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
