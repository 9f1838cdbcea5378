"""A store's database read from outside, as another process would read it: a plain
sqlite3 connection on the file, or a separate asyncpg connection on the URL."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import asyncpg

from voicecall_rt.store import Store
from voicecall_rt.store.postgres.database import PostgresStore
from voicecall_rt.store.sqlite.database import SqliteStore


def sql(path: Path, statement: str) -> list[Any]:
    """Run one statement on a separate plain connection, as another process would."""
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        return db.execute(statement).fetchall()


async def sqlite_sql(path: Path, statement: str) -> list[tuple[Any, ...]]:
    """`sql` off the event loop (sqlite3 blocks), which the store's own connections share."""
    return await asyncio.to_thread(sql, path, statement)


async def postgres_sql(url: str, statement: str) -> list[tuple[Any, ...]]:
    """Run one statement on a connection of its own; rows as tuples, as sqlite3 gives them."""
    conn = await asyncpg.connect(url)
    try:
        return [tuple(row) for row in await conn.fetch(statement)]
    finally:
        await conn.close()


async def raw_sql(store: Store, statement: str) -> list[tuple[Any, ...]]:
    """One statement on `store`'s database from outside the store, whichever backend."""
    if isinstance(store, SqliteStore):
        return await sqlite_sql(store.path, statement)
    if isinstance(store, PostgresStore):
        return await postgres_sql(store.url, statement)
    raise TypeError(f"no outside view of {type(store).__name__}")
