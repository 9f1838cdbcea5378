"""`Store`, the call database as the rest of the program sees it, whatever the backend:
the writes, which only enqueue, the numbering of a live call's lines, and closing.

A call created by this process numbers its transcript lines and events in memory (`seq` is
known the moment a line is written, which live followers need) until the call is
released; after that, or for a call from elsewhere (an earlier run, another instance), the
writer numbers them in SQL (MAX + 1). So the counters held never outnumber the calls in
progress, however long the server runs. A backend (`sqlite/`, `postgres/`) supplies its
connections, its `Batches` and its `Dialect`.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from voicecall_rt.call.records import CallRecord, CallStatus, Role, now_ms
from voicecall_rt.store.errors import StoreError
from voicecall_rt.store.ops import WriteOp
from voicecall_rt.store.reads import StoreReads
from voicecall_rt.store.rows import ACTIVE_IN, Row, record_columns, update_columns
from voicecall_rt.store.writer import Writer

_ROLES: Final = frozenset({"caller", "assistant", "system"})

_SETTLE: Final = """
    UPDATE calls SET
        status = CASE WHEN answered_at IS NOT NULL THEN ? ELSE ? END,
        end_reason = COALESCE(end_reason, ?),
        ended_at = COALESCE(ended_at, ?)
    WHERE status IN {active}
      AND (CAST(? AS BIGINT) IS NULL OR created_at < ?)
      AND NOT ({excluded})
    RETURNING id
"""


@dataclass(slots=True)
class _Seqs:
    transcript: dict[str, int] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)


class Store(StoreReads, abc.ABC):
    """The call database. Open with `voicecall_rt.store.open_store(settings)` (or a
    backend's own `open`); finish with `close()`.

    Write methods must be called from the event loop's thread. The `seq` they return
    rises by one per call and table; a write that fails in the writer leaves a gap.
    """

    # How long a read waits for the writes before it (None: as long as they take). A
    # database that went away holds them (postgres/batches.py): a read then fails in time.
    read_patience_s: float | None = None

    def __init__(self, writer: Writer) -> None:
        self._seqs = _Seqs()  # the calls this process created and has not released
        self._closer: asyncio.Future[None] | None = None
        self._writer = writer
        self._settle_sql = _SETTLE.format(
            active=ACTIVE_IN, excluded=self.dialect.column_in_list("id")
        )

    # -- what a backend supplies --------------------------------------------------------

    @property
    @abc.abstractmethod
    def where(self) -> str:
        """Where the data is, for people (a path, or a URL without its password)."""

    @abc.abstractmethod
    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[Row]:
        """Run a query on a read connection (`?` placeholders)."""

    @abc.abstractmethod
    async def _close_connections(self) -> None:
        """Close what the backend opened, once the writer has stopped."""

    # -- lifecycle ---------------------------------------------------------------------

    async def close(self) -> None:
        """Commit everything enqueued, stop the writer, close the database. Idempotent."""
        if self._closer is None:
            self._writer.stop()
            self._closer = asyncio.ensure_future(self._shutdown())
        # Shielded so that a caller being cancelled does not abandon a half-done close.
        await asyncio.shield(self._closer)

    async def _shutdown(self) -> None:
        await self._writer.stopped()
        await self._close_connections()

    async def flush(self) -> None:
        """Return once every write enqueued before this call is committed (or failed)."""
        if self._closer is not None:
            await asyncio.shield(self._closer)
            return
        await self._writer.flush()

    # -- writes (never block: enqueue and return) --------------------------------------

    def insert_call(self, record: CallRecord) -> None:
        self._enqueue(
            WriteOp("insert_call", record.id, self.dialect.insert_call, record_columns(record))
        )
        self.track(record.id)

    def track(self, call_id: str) -> None:
        """Number this new call's lines and events here, in memory, until it is released
        (its row was stored by `insert_call`, or by the cluster's reservation)."""
        self._seqs.transcript[call_id] = 0
        self._seqs.events[call_id] = 0

    def release(self, call_id: str) -> None:
        """Drop a call's counters: its later lines and events are numbered by the writer."""
        self._seqs.transcript.pop(call_id, None)
        self._seqs.events.pop(call_id, None)

    def update_call(self, call_id: str, **fields: Any) -> None:
        """Set the given columns. Unknown columns or values of the wrong type: ValueError."""
        row = update_columns(fields)
        if not row:
            return
        names = list(row)
        sql = (
            f"UPDATE calls SET {', '.join(f'{n} = ?' for n in names)} "  # noqa: S608 - names are whitelisted columns
            "WHERE id = ? RETURNING id"
        )
        params = (*(row[n] for n in names), call_id)
        self._enqueue(WriteOp("update_call", call_id, sql, params, expect_row=True))

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
            appended = (call_id, t_ms, role, text, int(interrupted), call_id)
            self._enqueue(
                WriteOp("add_transcript", call_id, self.dialect.append_transcript, appended)
            )
            return None
        seq = self._seqs.transcript[call_id] = last + 1
        params = (call_id, seq, t_ms, role, text, int(interrupted))
        self._enqueue(WriteOp("add_transcript", call_id, self.dialect.insert_transcript, params))
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
            appended = (call_id, t_ms, kind, payload, call_id)
            self._enqueue(WriteOp("add_event", call_id, self.dialect.append_event, appended))
            return None
        seq = self._seqs.events[call_id] = last + 1
        params = (call_id, seq, t_ms, kind, payload)
        self._enqueue(WriteOp("add_event", call_id, self.dialect.insert_event, params))
        return seq

    async def write_returning(self, label: str, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """Run one write in the writer, ordered after the writes enqueued before it, and
        return its rows (a RETURNING clause's); the database's refusal is raised. For a
        module with a table of its own (store/blocklist.py): `label` names it in logs."""
        result: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._enqueue(WriteOp(label, None, sql, params, result=result))
        return await self._writer.result(result)

    async def query(self, sql: str, params: Sequence[Any]) -> list[Row]:
        """A read of a module with a table of its own: sees every write enqueued before it."""
        return await self._read(sql, params)

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
            self.dialect.list_param(sorted(exclude)),
        )
        result: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._enqueue(WriteOp("settle_stale", None, self._settle_sql, params, result=result))
        rows = await self._writer.result(result)
        return sorted(str(r[0]) for r in rows)

    # -- reads (StoreReads: flush first, see every write enqueued before) ---------------

    async def _read(self, sql: str, params: Sequence[Any]) -> list[Row]:
        self._check_open()
        if self.read_patience_s is None:
            await self.flush()
        else:
            try:
                async with asyncio.timeout(self.read_patience_s):
                    await self.flush()
            except TimeoutError:
                raise StoreError("the database has not taken this instance's writes yet") from None
        return await self._fetch(sql, params)
