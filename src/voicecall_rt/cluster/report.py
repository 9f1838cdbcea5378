"""What `voicecall-rt status` says about the store and the instances sharing it. Reads
only: it never creates or migrates anything."""

from __future__ import annotations

from typing import Final

import asyncpg

from voicecall_rt.config import Settings
from voicecall_rt.store import store_where
from voicecall_rt.store.postgres.connect import CONNECTION_LOST, connect
from voicecall_rt.store.postgres.schema import SCHEMA_VERSION

_INSTANCES: Final = """
    SELECT id, state,
           (extract(epoch FROM clock_timestamp()) * 1000)::bigint - heartbeat_at AS silent_ms
    FROM instances ORDER BY id
"""


async def describe_store(settings: Settings) -> tuple[bool, str]:
    """(usable, what to say): the backend, and for PostgreSQL its schema and instances."""
    where = store_where(settings)
    if settings.store.url is None:
        return True, f"SQLite at {where} (one machine)"
    try:
        conn = await connect(settings.store.url.get_secret_value())
    except (*CONNECTION_LOST, asyncpg.PostgresError) as exc:
        return False, f"PostgreSQL at {where} is unreachable: {exc}"
    try:
        try:
            version = await conn.fetchval("SELECT version FROM voicecall_rt_schema")
        except asyncpg.UndefinedTableError:
            return True, f"PostgreSQL at {where}: empty (the first `serve` creates the tables)"
        if version > SCHEMA_VERSION:
            return False, (
                f"PostgreSQL at {where}: schema {version} is newer than this program's "
                f"({SCHEMA_VERSION}); upgrade voicecall-rt"
            )
        rows = await conn.fetch(_INSTANCES) if version >= 2 else []
    finally:
        await conn.close()
    lease_ms = settings.server.lease_seconds * 1000
    alive = [
        f"{r['id']} ({r['state']}, heard {r['silent_ms'] / 1000:.0f} s ago)"
        for r in rows
        if r["silent_ms"] <= lease_ms
    ]
    gone = len(rows) - len(alive)
    instances = ", ".join(alive) if alive else "none running"
    if gone:
        instances += f"; {gone} silent past the lease (their calls are settled as lost)"
    return True, f"PostgreSQL at {where}, schema {version}; instances: {instances}"
