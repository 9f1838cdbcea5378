"""A call's outcome schema in the store: migration 3 adds its column to a SQLite database
made by an earlier version (its calls intact), and, on both backends, the schema
round-trips as JSON and the column refuses what is not JSON."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import asyncpg
import orjson
import pytest

from tests.helpers.records import make_call
from tests.helpers.store_backends import StoreBackend
from tests.helpers.store_sql import raw_sql, sql
from voicecall_rt.store import Store
from voicecall_rt.store.sqlite.database import SqliteStore
from voicecall_rt.store.sqlite.files import DB_FILENAME
from voicecall_rt.store.sqlite.schema import MIGRATIONS, SCHEMA_VERSION

SCHEMA = {"type": "object", "properties": {"time": {"type": "string"}}, "required": ["time"]}


def make_database(data_dir: Path, version: int) -> Path:
    """A database as version `version` of the schema left it, with one finished call."""
    data_dir.mkdir(mode=0o700)
    path = data_dir / DB_FILENAME
    with closing(sqlite3.connect(path)) as conn:
        for statements in MIGRATIONS[:version]:
            for statement in statements:
                conn.execute(statement)
        conn.execute(
            "INSERT INTO calls (id, direction, from_number, to_number, status, created_at) "
            "VALUES ('call_old', 'outbound', '+14155550100', '+14155550123', 'completed', 1)"
        )
        conn.execute(f"PRAGMA user_version = {version}")
        conn.commit()
    path.chmod(0o600)
    return path


def test_migration_3_is_the_outcome_schema() -> None:
    assert SCHEMA_VERSION == len(MIGRATIONS) >= 3
    assert any("outcome_schema" in statement for statement in MIGRATIONS[2])


@pytest.mark.parametrize("version", [1, 2])
async def test_an_older_database_gains_the_column_and_keeps_its_calls(
    tmp_path: Path, version: int
) -> None:
    path = make_database(tmp_path / "data", version)
    store = await SqliteStore.open(tmp_path / "data")
    try:
        old = await store.get_call("call_old")
        assert old is not None and old.outcome_schema is None
        store.update_call("call_old", outcome_schema=SCHEMA)
        again = await store.get_call("call_old")
        assert again is not None and again.outcome_schema == SCHEMA
    finally:
        await store.close()
    assert sql(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


async def test_the_schema_is_stored_as_json(store: Store, store_backend: StoreBackend) -> None:
    store.insert_call(make_call("c1", outcome_schema=SCHEMA))
    store.insert_call(make_call("c2"))
    with_schema, without = await store.get_call("c1"), await store.get_call("c2")
    assert with_schema is not None and with_schema.outcome_schema == SCHEMA
    assert without is not None and without.outcome_schema is None
    await store.flush()
    rows = await raw_sql(store, "SELECT id, outcome_schema FROM calls ORDER BY id")
    assert [(call_id, text and orjson.loads(text)) for call_id, text in rows] == [
        ("c1", SCHEMA),
        ("c2", None),
    ]
    if store_backend.name == "sqlite":
        # The text as written; PostgreSQL's jsonb keeps the value, not its spelling.
        assert rows[0][1] == (
            '{"type":"object","properties":{"time":{"type":"string"}},"required":["time"]}'
        )


# SQLite's CHECK (json_valid) and PostgreSQL's jsonb input both refuse it.
NOT_JSON_REFUSED = {
    "sqlite": sqlite3.IntegrityError,
    "postgres": asyncpg.InvalidTextRepresentationError,
}


async def test_the_column_refuses_text_that_is_not_json(
    store: Store, store_backend: StoreBackend
) -> None:
    store.insert_call(make_call("c1"))
    await store.flush()
    with pytest.raises(NOT_JSON_REFUSED[store_backend.name]):
        await raw_sql(store, "UPDATE calls SET outcome_schema = '{not json' WHERE id = 'c1'")
    assert (await store.get_call("c1")) == make_call("c1")
