"""The PostgreSQL backend: one database shared by every instance (`store.url`).

The writer has a connection of its own (`batches`); reads use a small pool. A read while
the database is unreachable fails with StoreError; writes are held and retried.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Final

import asyncpg

from voicecall_rt.store.base import Store
from voicecall_rt.store.dialect import Dialect, numbered
from voicecall_rt.store.errors import StoreError
from voicecall_rt.store.postgres.batches import PostgresBatches, refusal
from voicecall_rt.store.postgres.connect import CONNECTION_LOST, connect, create_pool, masked_url
from voicecall_rt.store.postgres.schema import check_schema, migrate
from voicecall_rt.store.rows import CALL_COLUMNS, Row
from voicecall_rt.store.writer import Writer

POSTGRES: Final = Dialect(
    # DO NOTHING: a batch redone after a lost COMMIT answer must not fail on its own rows
    # (ids and a live call's seqs are never reused, so nothing else can conflict).
    insert_call=(
        f"INSERT INTO calls ({', '.join(CALL_COLUMNS)}) "  # noqa: S608 - constants
        f"VALUES ({', '.join('?' for _ in CALL_COLUMNS)}) ON CONFLICT (id) DO NOTHING"
    ),
    insert_transcript=(
        "INSERT INTO transcript (call_id, seq, t_ms, role, text, interrupted) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (call_id, seq) DO NOTHING"
    ),
    insert_event=(
        "INSERT INTO events (call_id, seq, t_ms, kind, data) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (call_id, seq) DO NOTHING"
    ),
    # Typed: in a SELECT list a parameter has no column to take its type from.
    append_transcript=(
        "INSERT INTO transcript (call_id, seq, t_ms, role, text, interrupted) "
        "SELECT ?::text, COALESCE(MAX(seq), 0) + 1, ?::bigint, ?::text, ?::text, ?::smallint "
        "FROM transcript WHERE call_id = ?"
    ),
    append_event=(
        "INSERT INTO events (call_id, seq, t_ms, kind, data) "
        "SELECT ?::text, COALESCE(MAX(seq), 0) + 1, ?::bigint, ?::text, ?::jsonb "
        "FROM events WHERE call_id = ?"
    ),
    insertion_order="ord",
    in_list="{column} = ANY(?::text[])",
    list_param=list,
)


class PostgresStore(Store):
    """The call database in PostgreSQL. Create with `await PostgresStore.open(url)`."""

    dialect = POSTGRES
    read_patience_s = 5.0

    def __init__(self, url: str, writer_conn: Any, pool: Any) -> None:
        # Private: open() is the constructor, it migrates the schema.
        self._batches = PostgresBatches(functools.partial(connect, url), writer_conn)
        super().__init__(Writer(self._batches))
        self._url = url
        self._pool = pool

    @classmethod
    async def open(cls, url: str, *, create: bool = True) -> PostgresStore:
        """The store at `url`, its schema brought up to date; with `create=False` (a
        reader such as `status`) a database without our tables is refused, not set up."""
        try:
            conn = await connect(url)
        except (*CONNECTION_LOST, asyncpg.PostgresError) as exc:
            raise StoreError(f"cannot open the database at {masked_url(url)}: {exc}") from None
        pool = None
        try:
            if create:
                await migrate(conn)
            else:
                await check_schema(conn)
            pool = await create_pool(url)
        except BaseException:
            await conn.close()
            if pool is not None:
                await pool.close()
            raise
        return cls(url, conn, pool)

    @property
    def where(self) -> str:
        return masked_url(self._url)

    @property
    def url(self) -> str:
        """The URL with its password: for the parts that open their own connections."""
        return self._url

    @property
    def pool(self) -> Any:
        return self._pool

    @property
    def outages(self) -> int:
        """How many times the writer lost the database and had to hold writes."""
        return self._batches.outages

    async def close(self) -> None:
        self._batches.closing()
        await super().close()

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[Row]:
        try:
            async with self._pool.acquire() as conn:
                return list(await conn.fetch(numbered(sql), *params))
        except CONNECTION_LOST as exc:
            raise StoreError(f"database unreachable ({type(exc).__name__})") from None
        except asyncpg.PostgresError as exc:
            raise StoreError(f"database refused a read: {refusal(exc)}") from None

    async def _close_connections(self) -> None:
        try:
            await self._batches.close()
        finally:
            await self._pool.close()
