"""SQLite's tables and their migrations (the version is SQLite's `user_version`)."""

from __future__ import annotations

from typing import Final

import aiosqlite

from voicecall_rt.store.errors import StoreError
from voicecall_rt.store.tables import BLOCKED_COLUMNS, SCHEDULES_COLUMNS

# Migration N (1-based) brings the schema from user_version N-1 to N. Never edit a
# released entry: append a new one.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
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
    # 3: the JSON Schema the outcome's details must follow (docs/outcomes.md).
    (
        "ALTER TABLE calls ADD COLUMN outcome_schema TEXT"
        " CHECK (outcome_schema IS NULL OR json_valid(outcome_schema))",
    ),
    # 4: the carrier that carried the call (its minutes are priced at that carrier's rate);
    # NULL for calls stored before there was a choice, all of them Twilio's.
    ("ALTER TABLE calls ADD COLUMN carrier TEXT",),
    # 5: scheduled calls and retries, and the numbers never to call (docs/business.md).
    (
        f"CREATE TABLE schedules ({SCHEDULES_COLUMNS.format(json='TEXT', big='INTEGER')})",
        "CREATE INDEX schedules_due ON schedules (state, due_at)",
        "ALTER TABLE calls ADD COLUMN schedule_id TEXT",
        "ALTER TABLE calls ADD COLUMN attempt INTEGER",
        "CREATE INDEX calls_by_schedule ON calls (schedule_id) WHERE schedule_id IS NOT NULL",
        f"CREATE TABLE blocked_numbers ({BLOCKED_COLUMNS.format(big='INTEGER')})",
    ),
)
SCHEMA_VERSION: Final = len(MIGRATIONS)


async def migrate(conn: aiosqlite.Connection) -> None:
    """Bring the schema up to SCHEMA_VERSION; StoreError for a newer one."""
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
        for statements in MIGRATIONS[version:]:
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
