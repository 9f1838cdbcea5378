"""PostgreSQL's tables and their versioned migrations.

The version lives in `voicecall_rt_schema`; migrating takes a transaction-level advisory
lock, so instances starting together apply each migration once. DDL is transactional in
PostgreSQL: a migration that fails leaves the schema as it was.
"""

from __future__ import annotations

from typing import Any, Final

import asyncpg

from voicecall_rt.store.errors import StoreError
from voicecall_rt.store.rows import ACTIVE_IN
from voicecall_rt.store.tables import BLOCKED_COLUMNS, SCHEDULES_COLUMNS

# hashtext-free constant: the same number in every instance and every version.
_MIGRATION_LOCK: Final = 0x766F6963  # "voic"

# Migration N (1-based) brings the schema from version N-1 to N. Never edit a released
# entry: append a new one. JSON columns are jsonb (PostgreSQL checks them); asyncpg hands
# them over as the same JSON text SQLite stores.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """
        CREATE TABLE calls (
            ord                BIGINT GENERATED ALWAYS AS IDENTITY,
            id                 TEXT PRIMARY KEY,
            direction          TEXT NOT NULL CHECK (direction IN ('outbound', 'inbound')),
            from_number        TEXT NOT NULL,
            to_number          TEXT NOT NULL,
            task               TEXT NOT NULL DEFAULT '',
            system_prompt      TEXT,
            status             TEXT NOT NULL,
            carrier_sid        TEXT,
            created_at         BIGINT NOT NULL,
            answered_at        BIGINT,
            ended_at           BIGINT,
            end_reason         TEXT,
            answered_by        TEXT,
            amd_duration_ms    BIGINT,
            outcome            JSONB,
            usage              JSONB,
            error              TEXT,
            notify_session_key TEXT,
            outcome_schema     JSONB,
            carrier            TEXT
        )
        """,
        "CREATE INDEX calls_by_created ON calls (created_at, ord)",
        "CREATE INDEX calls_by_status ON calls (status, created_at)",
        "CREATE INDEX calls_by_carrier_sid ON calls (carrier_sid) WHERE carrier_sid IS NOT NULL",
        """
        CREATE TABLE transcript (
            call_id     TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
            seq         INTEGER NOT NULL,
            t_ms        BIGINT NOT NULL,
            role        TEXT NOT NULL CHECK (role IN ('caller', 'assistant', 'system')),
            text        TEXT NOT NULL,
            interrupted SMALLINT NOT NULL DEFAULT 0 CHECK (interrupted IN (0, 1)),
            PRIMARY KEY (call_id, seq)
        )
        """,
        """
        CREATE TABLE events (
            call_id TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
            seq     INTEGER NOT NULL,
            t_ms    BIGINT NOT NULL,
            kind    TEXT NOT NULL,
            data    JSONB NOT NULL DEFAULT '{}',
            PRIMARY KEY (call_id, seq)
        )
        """,
    ),
    # 2: several instances on this database (cluster/postgres.py): who they are and
    # whether they are alive, and which one owns each live call, for how long.
    (
        """
        CREATE TABLE instances (
            id           TEXT PRIMARY KEY,
            public_url   TEXT NOT NULL,
            state        TEXT NOT NULL CHECK (state IN ('serving', 'draining')),
            started_at   BIGINT NOT NULL,
            heartbeat_at BIGINT NOT NULL
        )
        """,
        # The API token all instances accept (a client may reach any of them).
        "CREATE TABLE shared_secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "ALTER TABLE calls ADD COLUMN owner TEXT",
        "ALTER TABLE calls ADD COLUMN lease_until BIGINT",
        f"CREATE INDEX calls_live_by_owner ON calls (owner) WHERE status IN {ACTIVE_IN}",
        # One live call per carrier call id, whichever instance took its webhook first.
        f"""CREATE UNIQUE INDEX calls_live_sid ON calls (carrier_sid)
            WHERE carrier_sid IS NOT NULL AND status IN {ACTIVE_IN}""",
    ),
    # 3: scheduled calls and retries, and the numbers never to call (docs/business.md).
    (
        f"CREATE TABLE schedules ({SCHEDULES_COLUMNS.format(json='JSONB', big='BIGINT')})",
        "CREATE INDEX schedules_due ON schedules (state, due_at)",
        "ALTER TABLE calls ADD COLUMN schedule_id TEXT",
        "ALTER TABLE calls ADD COLUMN attempt INTEGER",
        "CREATE INDEX calls_by_schedule ON calls (schedule_id) WHERE schedule_id IS NOT NULL",
        f"CREATE TABLE blocked_numbers ({BLOCKED_COLUMNS.format(big='BIGINT')})",
    ),
)
SCHEMA_VERSION: Final = len(MIGRATIONS)


async def migrate(conn: Any) -> None:
    """Bring the schema up to SCHEMA_VERSION; StoreError for a newer one."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS voicecall_rt_schema (version INTEGER NOT NULL)"
        )
        version = await conn.fetchval("SELECT version FROM voicecall_rt_schema")
        if version is None:
            version = 0
            await conn.execute("INSERT INTO voicecall_rt_schema (version) VALUES (0)")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"database schema version {version} is newer than this program's "
                f"({SCHEMA_VERSION}); refusing to touch it"
            )
        for statements in MIGRATIONS[version:]:
            for statement in statements:
                await conn.execute(statement)
        if version < SCHEMA_VERSION:
            await conn.execute("UPDATE voicecall_rt_schema SET version = $1", SCHEMA_VERSION)


async def check_schema(conn: Any) -> None:
    """StoreError unless the schema is this program's (for readers that must not migrate)."""
    try:
        version = await conn.fetchval("SELECT version FROM voicecall_rt_schema")
    except asyncpg.UndefinedTableError:
        raise StoreError("the database has no call history yet") from None
    if version != SCHEMA_VERSION:
        raise StoreError(f"database schema version {version}, this program's is {SCHEMA_VERSION}")
