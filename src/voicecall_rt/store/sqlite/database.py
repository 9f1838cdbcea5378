"""The SQLite backend: one file under the data dir, in WAL mode, for one process.

Only this process may write to the database: the writer is its one connection that
writes; reads run on a second one (WAL lets them proceed while the writer commits).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import aiosqlite
import orjson

from voicecall_rt.store.base import Store
from voicecall_rt.store.dialect import Dialect
from voicecall_rt.store.rows import CALL_COLUMNS, Row
from voicecall_rt.store.sqlite import files
from voicecall_rt.store.sqlite.batches import SqliteBatches
from voicecall_rt.store.sqlite.schema import migrate
from voicecall_rt.store.writer import Writer

SQLITE: Final = Dialect(
    insert_call=(
        f"INSERT INTO calls ({', '.join(CALL_COLUMNS)}) "  # noqa: S608 - constants
        f"VALUES ({', '.join('?' for _ in CALL_COLUMNS)})"
    ),
    insert_transcript=(
        "INSERT INTO transcript (call_id, seq, t_ms, role, text, interrupted) "
        "VALUES (?, ?, ?, ?, ?, ?)"
    ),
    insert_event="INSERT INTO events (call_id, seq, t_ms, kind, data) VALUES (?, ?, ?, ?, ?)",
    # An aggregate without GROUP BY is one row, even for a call with no rows yet.
    append_transcript=(
        "INSERT INTO transcript (call_id, seq, t_ms, role, text, interrupted) "
        "SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ? FROM transcript WHERE call_id = ?"
    ),
    append_event=(
        "INSERT INTO events (call_id, seq, t_ms, kind, data) "
        "SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ? FROM events WHERE call_id = ?"
    ),
    insertion_order="rowid",
    in_list="{column} IN (SELECT value FROM json_each(?))",
    list_param=lambda values: orjson.dumps(list(values)).decode(),
)


class SqliteStore(Store):
    """The call database in `<dataDir>/calls.sqlite3`. Create with `await SqliteStore.open(dir)`."""

    dialect = SQLITE

    def __init__(
        self, path: Path, writer: aiosqlite.Connection, reader: aiosqlite.Connection
    ) -> None:
        # Private: open() is the constructor, it prepares the files and the schema.
        super().__init__(Writer(SqliteBatches(writer)))
        self._path = path
        self._wconn = writer
        self._rconn = reader

    @classmethod
    async def open(cls, data_dir: Path) -> SqliteStore:
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

    @property
    def where(self) -> str:
        return str(self._path)

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[Row]:
        return list(await self._rconn.execute_fetchall(sql, params))

    async def _close_connections(self) -> None:
        try:
            await self._wconn.close()
        finally:
            await self._rconn.close()
