"""SQLite persistence (DESIGN §8): calls, transcript lines and timeline events.

All writes go through one writer task. The write methods are plain functions that put an
operation on a queue and return at once, so the code next to the audio path never waits
on disk; the writer drains whatever has accumulated and commits it as one transaction.
Reads run on a second connection (WAL lets them proceed while the writer commits) and
flush first, so a read sees every write enqueued before it.

Only this process may write to the database. A call created by this process numbers its
transcript lines and events in memory (`seq` is known the moment a line is written, which
live followers need) until the call is released; after that, or for a call from an earlier
run, the writer numbers them in SQL (MAX + 1: it is the only writer and runs in order).
So the counters held never outnumber the calls in progress, however long the server runs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

import aiosqlite
import orjson
from pydantic import TypeAdapter

from voicecall_rt.call.records import (
    TERMINAL_STATUSES,
    CallEvent,
    CallRecord,
    CallStatus,
    Outcome,
    Role,
    TranscriptLine,
    now_ms,
)
from voicecall_rt.private_files import ensure_private_dir

__all__ = ["DB_FILENAME", "SCHEMA_VERSION", "Store", "StoreError"]

log = logging.getLogger("voicecall_rt.store")
_T = TypeVar("_T")

DB_FILENAME: Final = "calls.sqlite3"
_BUSY_TIMEOUT_MS: Final = 5000
# Bounds one transaction so a large backlog cannot hold the write lock for long.
_MAX_BATCH: Final = 1000

_CALL_COLUMNS: Final = (
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
)
_ROLES: Final = frozenset({"caller", "assistant", "system"})

# Derived from the enum so a status added in records.py is classified without a code change
# here. Literal values rather than json_each() so the (status, created_at) index is usable.
_ACTIVE_STATUSES: Final = tuple(s.value for s in CallStatus if not s.terminal)
_TERMINAL_VALUES: Final = tuple(s.value for s in TERMINAL_STATUSES)
_ACTIVE_IN: Final = "(" + ", ".join(f"'{s}'" for s in _ACTIVE_STATUSES) + ")"
assert all("'" not in s for s in _ACTIVE_STATUSES)

# Migration N (1-based) brings the schema from user_version N-1 to N. Never edit a
# released entry: append a new one.
_MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """
        CREATE TABLE calls (
            id              TEXT PRIMARY KEY,
            direction       TEXT NOT NULL CHECK (direction IN ('outbound', 'inbound')),
            from_number     TEXT NOT NULL,
            to_number       TEXT NOT NULL,
            task            TEXT NOT NULL DEFAULT '',
            system_prompt   TEXT,
            status          TEXT NOT NULL,
            carrier_sid     TEXT,
            created_at      INTEGER NOT NULL,
            answered_at     INTEGER,
            ended_at        INTEGER,
            end_reason      TEXT,
            answered_by     TEXT,
            amd_duration_ms INTEGER,
            outcome         TEXT CHECK (outcome IS NULL OR json_valid(outcome)),
            usage           TEXT CHECK (usage IS NULL OR json_valid(usage)),
            error           TEXT
        )
        """,
        "CREATE INDEX calls_by_created ON calls (created_at)",
        "CREATE INDEX calls_by_status ON calls (status, created_at)",
        "CREATE INDEX calls_by_carrier_sid ON calls (carrier_sid) WHERE carrier_sid IS NOT NULL",
        """
        CREATE TABLE transcript (
            call_id     TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
            seq         INTEGER NOT NULL,
            t_ms        INTEGER NOT NULL,
            role        TEXT NOT NULL CHECK (role IN ('caller', 'assistant', 'system')),
            text        TEXT NOT NULL,
            interrupted INTEGER NOT NULL DEFAULT 0 CHECK (interrupted IN (0, 1)),
            PRIMARY KEY (call_id, seq)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE events (
            call_id TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
            seq     INTEGER NOT NULL,
            t_ms    INTEGER NOT NULL,
            kind    TEXT NOT NULL,
            data    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(data)),
            PRIMARY KEY (call_id, seq)
        ) WITHOUT ROWID
        """,
    ),
    # 2: the caller's session key, handed back with the result by the notify webhook.
    ("ALTER TABLE calls ADD COLUMN notify_session_key TEXT",),
)
SCHEMA_VERSION: Final = len(_MIGRATIONS)

# Validators built once from the model, so update_call rejects a bad value at the call
# site (where the bug is) instead of in the writer, long after.
_FIELD_ADAPTERS: Final[dict[str, TypeAdapter[Any]]] = {
    name: TypeAdapter(Any if info.annotation is None else info.annotation)
    for name, info in CallRecord.model_fields.items()
    if name != "id"
}

_SELECT_CALL: Final = f"SELECT {', '.join(_CALL_COLUMNS)} FROM calls"  # noqa: S608 - constants
_INSERT_CALL: Final = (
    f"INSERT INTO calls ({', '.join(_CALL_COLUMNS)}) "  # noqa: S608 - constants
    f"VALUES ({', '.join('?' for _ in _CALL_COLUMNS)})"
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
    WHERE status IN {_ACTIVE_IN}
      AND (? IS NULL OR created_at < ?)
      AND id NOT IN (SELECT value FROM json_each(?))
    RETURNING id
"""  # noqa: S608 - _ACTIVE_IN is built from the enum, not from input


class StoreError(RuntimeError):
    """The store is closed, its writer is gone, or the database is unusable."""


@dataclass(slots=True)
class _Op:
    label: str  # what to name in logs: never the parameters, they hold call content
    call_id: str | None
    sql: str
    params: tuple[Any, ...]
    # Set by callers that need the rows back or the error (settle_stale).
    result: asyncio.Future[list[Any]] | None = None
    # An UPDATE that matched nothing is a lost write worth a warning.
    expect_row: bool = False

    @property
    def groupable(self) -> bool:
        # executemany returns no rows, so only ops nobody reads a result from.
        return self.result is None and not self.expect_row


@dataclass(slots=True)
class _Flush:
    done: asyncio.Future[None]


@dataclass(slots=True)
class _Stop:
    pass


_Item = _Op | _Flush | _Stop
# Per op: the rows it returned, or the error that made SQLite reject it.
_Outcome = list[Any] | sqlite3.Error


@dataclass(slots=True)
class _Seqs:
    transcript: dict[str, int] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)


class Store:
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
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._closer: asyncio.Future[None] | None = None
        self._writer = asyncio.create_task(self._run_writer(), name="voicecall_rt.store.writer")
        self._writer.add_done_callback(_report_writer_exit)

    # -- lifecycle ---------------------------------------------------------------------

    @classmethod
    async def open(cls, data_dir: Path) -> Store:
        path = await asyncio.to_thread(_prepare_files, data_dir)
        writer = await _connect(path)
        reader: aiosqlite.Connection | None = None
        try:
            await _migrate(writer)
            reader = await _connect(path)
            await reader.execute("PRAGMA query_only = ON")
            reader.row_factory = sqlite3.Row
            # SQLite gives the -wal/-shm it creates the database file's mode; checked again
            # now they exist so a looser pair from elsewhere cannot survive the open.
            await asyncio.to_thread(_tighten_sidecars, path)
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
            self._queue.put_nowait(_Stop())
            self._closer = asyncio.ensure_future(self._shutdown())
        # Shielded so that a caller being cancelled does not abandon a half-done close.
        await asyncio.shield(self._closer)

    async def _shutdown(self) -> None:
        await asyncio.wait({self._writer})
        try:
            await self._wconn.close()
        finally:
            await self._rconn.close()

    async def flush(self) -> None:
        """Return once every write enqueued before this call is committed (or failed)."""
        if self._closer is not None:
            await asyncio.shield(self._closer)
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Flush(done))
        await self._await_writer(done)

    # -- writes (never block: enqueue and return) --------------------------------------

    def insert_call(self, record: CallRecord) -> None:
        # Serialised now, so later changes to the (mutable) record are not what gets stored.
        row = _to_columns({c: getattr(record, c) for c in _CALL_COLUMNS})
        self._enqueue(
            _Op("insert_call", record.id, _INSERT_CALL, tuple(row[c] for c in _CALL_COLUMNS))
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
            _Op(
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
            self._enqueue(_Op("add_transcript", call_id, _APPEND_TRANSCRIPT, params))
            return None
        seq = self._seqs.transcript[call_id] = last + 1
        self._enqueue(
            _Op(
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
            self._enqueue(_Op("add_event", call_id, _APPEND_EVENT, params))
            return None
        seq = self._seqs.events[call_id] = last + 1
        self._enqueue(_Op("add_event", call_id, _INSERT_EVENT, (call_id, seq, t_ms, kind, payload)))
        return seq

    def _check_open(self) -> None:
        if self._closer is not None:
            raise StoreError("store is closed")

    def _enqueue(self, op: _Op) -> None:
        self._check_open()
        self._queue.put_nowait(op)

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
        self._enqueue(_Op("settle_stale", None, _SETTLE, params, result=result))
        rows = await self._await_writer(result)
        return sorted(str(r[0]) for r in rows)

    # -- reads (flush first: see every write enqueued before) --------------------------

    async def get_call(self, call_id: str) -> CallRecord | None:
        rows = await self._read(f"{_SELECT_CALL} WHERE id = ?", (call_id,))
        return _to_record(rows[0]) if rows else None

    async def find_by_carrier_sid(self, sid: str) -> CallRecord | None:
        rows = await self._read(
            f"{_SELECT_CALL} WHERE carrier_sid = ? ORDER BY created_at DESC, rowid DESC LIMIT 1",
            (sid,),
        )
        return _to_record(rows[0]) if rows else None

    async def list_calls(self, limit: int = 50, active_only: bool = False) -> list[CallRecord]:
        """Newest first."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        where = f" WHERE status IN {_ACTIVE_IN}" if active_only else ""
        rows = await self._read(
            f"{_SELECT_CALL}{where} ORDER BY created_at DESC, rowid DESC LIMIT ?", (limit,)
        )
        return [_to_record(r) for r in rows]

    async def count_active(self) -> int:
        rows = await self._read(f"SELECT COUNT(*) FROM calls WHERE status IN {_ACTIVE_IN}", ())  # noqa: S608 - constant
        return int(rows[0][0])

    async def transcript(self, call_id: str) -> list[TranscriptLine]:
        rows = await self._read(
            "SELECT call_id, seq, t_ms, role, text, interrupted FROM transcript "
            # In the order things were said: a caller's words are often transcribed (and so
            # written) after the model began answering them.
            "WHERE call_id = ? ORDER BY t_ms, seq",
            (call_id,),
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

    async def events(self, call_id: str, kinds: set[str] | None = None) -> list[CallEvent]:
        sql = "SELECT call_id, seq, t_ms, kind, data FROM events WHERE call_id = ?"
        params: tuple[Any, ...] = (call_id,)
        if kinds is not None:
            sql += " AND kind IN (SELECT value FROM json_each(?))"
            params += (orjson.dumps(sorted(kinds)).decode(),)
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

    async def _read(self, sql: str, params: Sequence[Any]) -> list[sqlite3.Row]:
        self._check_open()
        await self.flush()
        return list(await self._rconn.execute_fetchall(sql, params))

    # -- the writer --------------------------------------------------------------------

    async def _await_writer(self, fut: asyncio.Future[_T]) -> _T:
        # Waiting on the writer too, so a writer that died cannot leave callers hanging.
        waiters: set[asyncio.Future[Any]] = {fut, self._writer}
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if not fut.done():
            raise StoreError("store writer is not running")
        return fut.result()

    async def _run_writer(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < _MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except asyncio.QueueEmpty:
                    break
            ops = [item for item in batch if isinstance(item, _Op)]
            if ops:
                try:
                    await self._write(ops)
                except Exception:
                    # _write handles SQLite errors itself; this is a bug, keep serving.
                    log.exception("store: unexpected error in writer; %d writes lost", len(ops))
                    # Else a half-done transaction would be committed with the next batch.
                    await self._rollback_quietly()
                    for op in ops:
                        if op.result is not None and not op.result.done():
                            op.result.set_exception(StoreError("write failed"))
            for item in batch:
                if isinstance(item, _Flush) and not item.done.done():
                    item.done.set_result(None)
            if any(isinstance(item, _Stop) for item in batch):
                return

    async def _write(self, ops: list[_Op]) -> None:
        try:
            outcomes = await self._transaction(ops)
        except sqlite3.Error:
            # Something took the whole transaction down (busy, disk full, a
            # RAISE(ROLLBACK)): retry op by op so one bad write costs only itself.
            log.exception("store: batch of %d writes failed; retrying one by one", len(ops))
            await self._rollback_quietly()
            outcomes = []
            for op in ops:
                try:
                    outcomes.extend(await self._transaction([op]))
                except sqlite3.Error as exc:
                    _log_failure(op, exc)
                    await self._rollback_quietly()
                    outcomes.append(exc)
        for op, outcome in zip(ops, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if op.result is not None and not op.result.done():
                    op.result.set_exception(outcome)
                continue
            if op.expect_row and not outcome:
                log.warning("store: %s matched no call (call %s)", op.label, op.call_id)
            if op.result is not None and not op.result.done():
                op.result.set_result(outcome)

    async def _transaction(self, ops: Sequence[_Op]) -> list[_Outcome]:
        conn = self._wconn
        await conn.execute("BEGIN IMMEDIATE")
        outcomes: list[_Outcome] = []
        start = 0
        while start < len(ops):
            end = start + 1
            if ops[start].groupable:
                while end < len(ops) and ops[end].groupable and ops[end].sql == ops[start].sql:
                    end += 1
            if end - start > 1:
                outcomes.extend(await self._execute_run(ops[start:end]))
            else:
                outcomes.append(await self._execute_one(ops[start]))
            start = end
        await conn.execute("COMMIT")
        return outcomes

    async def _execute_run(self, run: Sequence[_Op]) -> list[_Outcome]:
        # Every await on aiosqlite is a round trip to its thread and a wake-up of the event
        # loop, so a run of identical inserts (a turn's events, say) goes as one
        # executemany. The savepoint lets a failure inside it fall back to one by one,
        # so only the bad row is lost.
        conn = self._wconn
        await conn.execute("SAVEPOINT run")
        try:
            await conn.executemany(run[0].sql, [op.params for op in run])
        except sqlite3.Error:
            if not conn.in_transaction:
                raise
            await conn.execute("ROLLBACK TO run")
            await conn.execute("RELEASE run")
            return [await self._execute_one(op) for op in run]
        await conn.execute("RELEASE run")
        return [[] for _ in run]

    async def _execute_one(self, op: _Op) -> _Outcome:
        conn = self._wconn
        try:
            return list(await conn.execute_fetchall(op.sql, op.params))
        except sqlite3.Error as exc:
            # A constraint failure undoes only its own statement; anything that ended the
            # transaction means the earlier ops are gone too: the caller redoes the batch.
            if not conn.in_transaction:
                raise
            _log_failure(op, exc)
            return exc

    async def _rollback_quietly(self) -> None:
        if self._wconn.in_transaction:
            try:
                await self._wconn.execute("ROLLBACK")
            except Exception:
                # Called from the writer's error paths: raising here would end the writer.
                log.exception("store: rollback failed")


# -- helpers -------------------------------------------------------------------------------


def _log_failure(op: _Op, exc: sqlite3.Error) -> None:
    # The exception text from SQLite names the constraint, not the values.
    log.error("store: %s failed (call %s): %s", op.label, op.call_id, exc)


def _report_writer_exit(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.critical("store: writer task died", exc_info=task.exception())


def _to_columns(values: dict[str, Any]) -> dict[str, Any]:
    """Model values → column values (enum → its string, outcome/usage → JSON text)."""
    row = dict(values)
    if "status" in row:
        row["status"] = CallStatus(row["status"]).value
    if "outcome" in row and row["outcome"] is not None:
        outcome = row["outcome"]
        if not isinstance(outcome, Outcome):
            outcome = Outcome.model_validate(outcome)
        row["outcome"] = outcome.model_dump_json()
    if "usage" in row and row["usage"] is not None:
        row["usage"] = orjson.dumps(row["usage"]).decode()
    return row


def _to_record(row: sqlite3.Row) -> CallRecord:
    values = {c: row[c] for c in _CALL_COLUMNS}
    for json_col in ("outcome", "usage"):
        if values[json_col] is not None:
            values[json_col] = orjson.loads(values[json_col])
    return CallRecord.model_validate(values)


def _prepare_files(data_dir: Path) -> Path:
    """Make the data dir (0700) and the database file (0600), tightening looser ones."""
    # config's default data dir is written with "~"; a literal "~" dir helps nobody.
    data_dir = ensure_private_dir(data_dir.expanduser())
    path = data_dir / DB_FILENAME
    # Created here, not by SQLite, so the mode is ours and not the umask's; NOFOLLOW so a
    # planted symlink cannot redirect call data elsewhere.
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    _tighten_sidecars(path)
    return path


def _tighten_sidecars(path: Path) -> None:
    for suffix in ("-wal", "-shm"):
        try:
            fd = os.open(
                path.with_name(path.name + suffix), os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC
            )
        except FileNotFoundError:
            continue
        try:
            if os.fstat(fd).st_mode & 0o077:
                os.fchmod(fd, 0o600)
        finally:
            os.close(fd)


async def _connect(path: Path) -> aiosqlite.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves; Python's implicit
    # transactions would hide where a batch starts and ends.
    conn = await aiosqlite.connect(path, isolation_level=None)
    try:
        await conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA synchronous = NORMAL")
        await conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        await conn.close()
        raise
    return conn


async def _migrate(conn: aiosqlite.Connection) -> None:
    version = await _user_version(conn)
    if version == SCHEMA_VERSION:
        # The usual case, and the CLI's: no write lock taken while the server is writing.
        return
    # Re-read under the write lock so two processes starting together cannot both apply
    # the same migration.
    await conn.execute("BEGIN IMMEDIATE")
    try:
        version = await _user_version(conn)
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"database schema version {version} is newer than this program's "
                f"({SCHEMA_VERSION}); refusing to touch it"
            )
        for statements in _MIGRATIONS[version:]:
            for statement in statements:
                await conn.execute(statement)
        await conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        await conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            await conn.execute("ROLLBACK")
        raise


async def _user_version(conn: aiosqlite.Connection) -> int:
    rows = list(await conn.execute_fetchall("PRAGMA user_version"))
    return int(rows[0][0])
