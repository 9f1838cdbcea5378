"""Copying a SQLite call history into PostgreSQL (`voicecall-rt store copy`).

Every call, transcript line and event keeps its id and seq. The copy goes a batch of calls
at a time, each batch with all its lines and events in one PostgreSQL transaction: a call
appears in PostgreSQL whole or not at all, a copy cut short leaves only whole calls, and
no transaction grows with the size of the history or holds locks long beside instances
already serving from that database. Inserts do nothing for a key already there, so
running the copy again resumes or repeats it without a duplicate; the report says how
many rows were copied and how many were there already.

A call that was not finished in SQLite (its server was stopped mid-call, or crashed, or
still runs) is copied ended, as a restart would have settled it: `completed` if it was
answered, else `failed`, with end reason `copied-while-live` and the copy's time as its
end where it had none. No instance on PostgreSQL owns it, so left live it would count as
in progress forever; refusing it would leave the operator no way to copy a history that
ended in a crash. Stop the server on the SQLite file before copying: what it writes after
its calls were copied stays behind.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import aiosqlite
import asyncpg
import orjson
from pydantic import ValidationError

from voicecall_rt.call.records import CallRecord, CallStatus, now_ms
from voicecall_rt.store.errors import StoreError
from voicecall_rt.store.postgres.batches import refusal
from voicecall_rt.store.postgres.connect import CONNECTION_LOST
from voicecall_rt.store.postgres.database import PostgresStore
from voicecall_rt.store.rows import CALL_COLUMNS, JSON_COLUMNS, Row, record_columns, to_record
from voicecall_rt.store.sqlite import files
from voicecall_rt.store.sqlite.schema import migrate as migrate_sqlite

COPIED_WHILE_LIVE: Final = "copied-while-live"
CALLS_PER_BATCH: Final = 200
ROWS_PER_STATEMENT: Final = 2000


def _insert_rows(table: str, columns: Sequence[str], key: str) -> str:
    # One parameter, a JSON array of rows, typed by the table's own row type: the column
    # types live in one place (the migrations). Ordinality keeps the source's order, which
    # `calls.ord` (ties in the listing) records.
    names = ", ".join(columns)
    return (
        f"INSERT INTO {table} ({names}) SELECT {names} "  # noqa: S608 - constants
        f"FROM jsonb_populate_recordset(NULL::{table}, $1::jsonb) WITH ORDINALITY AS r "
        f"ORDER BY r.ordinality ON CONFLICT ({key}) DO NOTHING"
    )


_INSERT_CALLS: Final = _insert_rows("calls", CALL_COLUMNS, "id") + " RETURNING id"

_SOURCE_CALLS: Final = (
    f"SELECT rowid, {', '.join(CALL_COLUMNS)} FROM calls "  # noqa: S608 - constants
    "WHERE rowid > ? ORDER BY rowid LIMIT ?"
)


def _source_rows(table: str, columns: Sequence[str]) -> str:
    # Keyed on the primary key (call_id, seq), so each page starts where the last ended.
    return (
        f"SELECT {', '.join(columns)} FROM {table} "  # noqa: S608 - constants
        "WHERE call_id IN (SELECT value FROM json_each(?)) AND (call_id, seq) > (?, ?) "
        "ORDER BY call_id, seq LIMIT ?"
    )


@dataclass(frozen=True, slots=True)
class _Table:
    """A call's rows in one table: their columns, how to read a page, how to insert it."""

    columns: tuple[str, ...]
    select: str
    insert: str


def _table(name: str, columns: tuple[str, ...]) -> _Table:
    return _Table(columns, _source_rows(name, columns), _insert_rows(name, columns, "call_id, seq"))


# Tables of their own rows (not per call), copied whole after the calls, a page at a time:
# name, key, JSON columns (text in SQLite, jsonb in PostgreSQL).
_SCHEDULES: Final = ("schedules", "id", ("outcome_schema", "retry"))
_BLOCKED: Final = ("blocked_numbers", "number", ())

_LINES: Final = _table("transcript", ("call_id", "seq", "t_ms", "role", "text", "interrupted"))
_EVENTS: Final = _table("events", ("call_id", "seq", "t_ms", "kind", "data"))


@dataclass(slots=True)
class Counted:
    """Rows of one table: copied now, and found already there (a key PostgreSQL had)."""

    copied: int = 0
    present: int = 0


@dataclass(slots=True)
class CopyReport:
    source: Path  # the SQLite file
    target: str  # the PostgreSQL URL without its password
    calls: Counted = field(default_factory=Counted)
    transcript: Counted = field(default_factory=Counted)
    events: Counted = field(default_factory=Counted)
    # Scheduled calls and retries as they stand (a claim an instance held in SQLite
    # expires and is repaired as after a crash: call/scheduler.py), and blocked numbers.
    schedules: Counted = field(default_factory=Counted)
    blocked: Counted = field(default_factory=Counted)
    # Calls not finished in SQLite, copied (now) as ended `copied-while-live`.
    settled: list[str] = field(default_factory=list)


async def copy_history(data_dir: Path, url: str) -> CopyReport:
    """Copy the history in `data_dir`'s SQLite file into the PostgreSQL database at `url`
    (migrated first). StoreError when either cannot be used; never shows the password."""
    path = await asyncio.to_thread(_existing_history, data_dir)
    async with _source(data_dir) as source:
        target = await PostgresStore.open(url)
        try:
            report = CopyReport(source=path, target=target.where)
            async with target.pool.acquire() as conn:
                await _copy(source, conn, report)
                await _copy_whole(source, conn, _SCHEDULES, report.schedules)
                await _copy_whole(source, conn, _BLOCKED, report.blocked)
        except CONNECTION_LOST as exc:
            raise StoreError(
                f"lost the database at {target.where} ({type(exc).__name__}); run the copy "
                "again: what was copied stays, the rest follows"
            ) from None
        except asyncpg.PostgresError as exc:
            raise StoreError(f"the database refused the copy: {refusal(exc)}") from None
        finally:
            await target.close()
    return report


def _existing_history(data_dir: Path) -> Path:
    path = data_dir.expanduser() / files.DB_FILENAME
    if not path.is_file():
        # Checked before opening: opening would make an empty one.
        raise StoreError(f"no call history to copy: {path} does not exist")
    return path


@asynccontextmanager
async def _source(data_dir: Path) -> AsyncIterator[aiosqlite.Connection]:
    """The SQLite file, its schema brought up to date as any opening would, then read only."""
    path = await asyncio.to_thread(files.prepare_files, data_dir)
    conn = await files.connect(path)
    try:
        await migrate_sqlite(conn)
        await conn.execute("PRAGMA query_only = ON")
        conn.row_factory = sqlite3.Row
        yield conn
    finally:
        await conn.close()


async def _copy(source: aiosqlite.Connection, conn: Any, report: CopyReport) -> None:
    after = 0
    while True:
        rows = list(await source.execute_fetchall(_SOURCE_CALLS, (after, CALLS_PER_BATCH)))
        if not rows:
            return
        after = int(rows[-1]["rowid"])
        found = [_record(row) for row in rows]
        live = {record.id for record in found if not record.status.terminal}
        records = [_settled(record) for record in found]
        ids = [record.id for record in records]
        async with conn.transaction():
            inserted = {
                str(r["id"])
                for r in await conn.fetch(_INSERT_CALLS, _json([_call_row(r) for r in records]))
            }
            await _copy_rows(source, conn, _LINES, ids, report.transcript)
            await _copy_rows(source, conn, _EVENTS, ids, report.events)
        report.calls.copied += len(inserted)
        report.calls.present += len(records) - len(inserted)
        report.settled.extend(i for i in ids if i in live and i in inserted)


async def _copy_rows(
    source: aiosqlite.Connection,
    conn: Any,
    table: _Table,
    call_ids: list[str],
    counted: Counted,
) -> None:
    ids = orjson.dumps(call_ids).decode()
    last: tuple[str, int] = ("", 0)
    while True:
        params = (ids, *last, ROWS_PER_STATEMENT)
        rows = list(await source.execute_fetchall(table.select, params))
        if not rows:
            return
        last = (str(rows[-1]["call_id"]), int(rows[-1]["seq"]))
        payload = [{c: _value(c, row[c]) for c in table.columns} for row in rows]
        status: str = await conn.execute(table.insert, _json(payload))
        copied = int(status.rsplit(" ", 1)[1])  # "INSERT 0 <rows>"
        counted.copied += copied
        counted.present += len(rows) - copied


async def _copy_whole(
    source: aiosqlite.Connection,
    conn: Any,
    table: tuple[str, str, tuple[str, ...]],
    counted: Counted,
) -> None:
    """Every row of a table of its own, by rowid, each page in one statement."""
    name, key, json_columns = table
    columns = [str(r[1]) for r in await source.execute_fetchall(f"PRAGMA table_info({name})")]
    select = (
        f"SELECT rowid, {', '.join(columns)} FROM {name} "  # noqa: S608 - constants
        "WHERE rowid > ? ORDER BY rowid LIMIT ?"
    )
    insert = _insert_rows(name, columns, key)
    after = 0
    while True:
        rows = list(await source.execute_fetchall(select, (after, ROWS_PER_STATEMENT)))
        if not rows:
            return
        after = int(rows[-1]["rowid"])
        payload = [
            {
                c: orjson.loads(row[c]) if c in json_columns and row[c] is not None else row[c]
                for c in columns
            }
            for row in rows
        ]
        status: str = await conn.execute(insert, _json(payload))
        copied = int(status.rsplit(" ", 1)[1])
        counted.copied += copied
        counted.present += len(rows) - copied


def _record(row: Row) -> CallRecord:
    try:
        return to_record(row)
    except ValidationError as exc:
        # The errors name the fields, not their values (which may be call content).
        fields = sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]})
        raise StoreError(
            f"call {row['id']} in SQLite is not a valid record ({', '.join(fields)}); "
            "nothing of its batch was copied"
        ) from None


def _settled(record: CallRecord) -> CallRecord:
    if record.status.terminal:
        return record
    answered = record.answered_at is not None
    return record.model_copy(
        update={
            "status": CallStatus.COMPLETED if answered else CallStatus.FAILED,
            "end_reason": record.end_reason or COPIED_WHILE_LIVE,
            "ended_at": record.ended_at if record.ended_at is not None else now_ms(),
        }
    )


def _call_row(record: CallRecord) -> dict[str, Any]:
    # The store's own conversion, so a copied call is stored as a written one would be.
    row = dict(zip(CALL_COLUMNS, record_columns(record), strict=True))
    for column in JSON_COLUMNS:
        if row[column] is not None:
            row[column] = orjson.loads(row[column])  # a JSON value, not a JSON string
    return row


def _value(column: str, value: Any) -> Any:
    # events.data is JSON text in SQLite: a JSON value for the jsonb column.
    return orjson.loads(value) if column == "data" else value


def _json(rows: list[dict[str, Any]]) -> str:
    return orjson.dumps(rows).decode()
