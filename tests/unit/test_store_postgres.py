"""What only the PostgreSQL store does: versioned migrations (from scratch, from each
earlier version with the data kept, by several instances opening at once, all or nothing),
writes held through a database restart or outage and landing in order, once, while reads
fail rather than hang, and a URL's password never shown."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import asyncpg
import pytest

from tests.helpers.polling import eventually
from tests.helpers.postgres_server import PostgresServer
from tests.helpers.records import make_call
from tests.helpers.store_sql import postgres_sql
from voicecall_rt.store.errors import StoreError
from voicecall_rt.store.postgres.connect import masked_url
from voicecall_rt.store.postgres.database import PostgresStore
from voicecall_rt.store.postgres.schema import MIGRATIONS, SCHEMA_VERSION

PASSWORD = "s3cret-Pw"  # looked for where it must never be


def with_password(url: str) -> str:
    """`url` with a password (the test server trusts loopback, so it is not checked)."""
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@", 1)


async def database_at(url: str, version: int) -> None:
    """The database as `version` of the schema left it, with one finished call in it."""
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute("CREATE TABLE voicecall_rt_schema (version INTEGER NOT NULL)")
            await conn.execute("INSERT INTO voicecall_rt_schema (version) VALUES ($1)", version)
            for statements in MIGRATIONS[:version]:
                for statement in statements:
                    await conn.execute(statement)
            await conn.execute(
                "INSERT INTO calls (id, direction, from_number, to_number, status, created_at, "
                "outcome) VALUES ('old', 'outbound', '+15550001111', '+15550002222', "
                """'completed', 1000, '{"success": true, "summary": "done", "details": {}}')"""
            )
            await conn.execute(
                "INSERT INTO transcript (call_id, seq, t_ms, role, text) "
                "VALUES ('old', 1, 5, 'caller', 'hello')"
            )
            await conn.execute(
                "INSERT INTO events (call_id, seq, t_ms, kind, data) "
                """VALUES ('old', 1, 0, 'call.created', '{"n": 1}')"""
            )
    finally:
        await conn.close()


async def stored_version(url: str) -> list[tuple[Any, ...]]:
    return await postgres_sql(url, "SELECT version FROM voicecall_rt_schema")


# -- migrations ----------------------------------------------------------------------------


async def test_migrations_from_scratch(pg_url: str) -> None:
    store = await PostgresStore.open(pg_url)
    try:
        store.insert_call(make_call("c"))
        assert await store.get_call("c") == make_call("c")
    finally:
        await store.close()
    assert await stored_version(pg_url) == [(SCHEMA_VERSION,)]
    tables = await postgres_sql(
        pg_url, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    )
    assert {"calls", "transcript", "events", "instances", "voicecall_rt_schema"} <= {
        t for (t,) in tables
    }


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
async def test_migrations_from_an_earlier_version_keep_the_data(pg_url: str, version: int) -> None:
    await database_at(pg_url, version)
    store = await PostgresStore.open(pg_url)
    try:
        old = await store.get_call("old")
        assert old is not None and old.outcome is not None and old.outcome.summary == "done"
        assert [(x.seq, x.text) for x in await store.transcript("old")] == [(1, "hello")]
        assert [(e.kind, e.data) for e in await store.events("old")] == [("call.created", {"n": 1})]
        # The history goes on where it was, in the new schema.
        assert store.add_event("old", 9, "later") is None
        assert [e.seq for e in await store.events("old")] == [1, 2]
    finally:
        await store.close()
    assert await stored_version(pg_url) == [(SCHEMA_VERSION,)]


async def test_instances_opening_an_empty_database_at_once_migrate_it_once(pg_url: str) -> None:
    stores = await asyncio.gather(*(PostgresStore.open(pg_url) for _ in range(4)))
    try:
        # Every CREATE TABLE in the migrations would fail the second time: four stores
        # open means one ran them and the others found the schema done.
        assert await stored_version(pg_url) == [(SCHEMA_VERSION,)]
        stores[0].insert_call(make_call("c"))
        await stores[0].flush()
        for store in stores:
            assert await store.get_call("c") == make_call("c")
    finally:
        await asyncio.gather(*(store.close() for store in stores))


async def test_a_failed_migration_leaves_the_schema_as_it_was(pg_url: str) -> None:
    await database_at(pg_url, SCHEMA_VERSION - 1)
    # Something in the way of the last migration: it fails, and takes nothing with it.
    await postgres_sql(pg_url, "CREATE TABLE schedules (in_the_way INTEGER)")
    with pytest.raises(asyncpg.DuplicateTableError):
        await PostgresStore.open(pg_url)
    assert await stored_version(pg_url) == [(SCHEMA_VERSION - 1,)]
    columns = await postgres_sql(
        pg_url,
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'schedules'",
    )
    assert columns == [("in_the_way",)]
    assert await postgres_sql(pg_url, "SELECT id, status FROM calls") == [("old", "completed")]


# -- outages -------------------------------------------------------------------------------


@pytest.mark.slow  # a real server restart
async def test_writes_through_a_restart_land_in_order_once(
    postgres: PostgresServer, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = await PostgresStore.open(with_password(pg_url))
    try:
        store.insert_call(make_call("c"))
        for i in range(1, 6):
            store.add_transcript("c", i, "caller", f"line {i}")
            store.add_event("c", i, "tick", {"i": i})
        await store.flush()
        with caplog.at_level(logging.DEBUG):
            # Every connection is cut, the writer's too: the next batch finds it gone,
            # reconnects and commits, the batches after it queued behind.
            await postgres.restart()
            for i in range(6, 41):
                assert store.add_transcript("c", i, "assistant", f"line {i}") == i
                assert store.add_event("c", i, "tick", {"i": i}) == i
                if i % 5 == 0:
                    await asyncio.sleep(0)  # let the writer take what is queued as a batch
            await store.flush()
            lines = await store.transcript("c")
            events = await store.events("c")
        assert [(x.seq, x.text) for x in lines] == [(i, f"line {i}") for i in range(1, 41)]
        assert [(e.seq, e.data) for e in events] == [(i, {"i": i}) for i in range(1, 41)]
        assert PASSWORD not in caplog.text
    finally:
        await store.close()
    rows = await postgres_sql(pg_url, "SELECT COUNT(*), COUNT(DISTINCT text) FROM transcript")
    assert rows == [(40, 40)]


@pytest.mark.slow  # a real server stopped and started
async def test_an_outage_holds_writes_and_fails_reads(
    postgres: PostgresServer, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = await PostgresStore.open(with_password(pg_url))
    store.read_patience_s = 0.3  # how long a read waits for held writes before failing
    try:
        store.insert_call(make_call("live"))
        store.insert_call(make_call("ended"))
        store.add_transcript("live", 1, "caller", "line 1")
        store.add_event("ended", 1, "call.ended")
        store.release("ended")  # its later events are numbered by the writer, in SQL
        await store.flush()
        await postgres.stop()
        with caplog.at_level(logging.DEBUG):
            # Nothing waiting to be written: the read goes to the database, which is gone.
            with pytest.raises(StoreError, match="unreachable"):
                await store.get_call("live")
            for i in range(2, 21):
                assert store.add_transcript("live", i, "assistant", f"line {i}") == i
                assert store.add_event("ended", i, "notify.retry") is None
                if i % 5 == 0:
                    await asyncio.sleep(0)  # let the writer take what is queued as a batch

            async def outage_seen() -> bool:
                return store.outages == 1

            await eventually(outage_seen, 10, "the writer saw the outage")
            # Writes are held: a read waits for them, then fails rather than hang.
            with pytest.raises(StoreError):
                await store.transcript("live")
            await postgres.start()
            await store.flush()
        lines = await store.transcript("live")
        assert [(x.seq, x.text) for x in lines] == [(i, f"line {i}") for i in range(1, 21)]
        events = await store.events("ended")
        assert [(e.seq, e.kind) for e in events] == [(1, "call.ended")] + [
            (i, "notify.retry") for i in range(2, 21)
        ]
        assert store.outages == 1
        held = [r.getMessage() for r in caplog.records if "holding" in r.getMessage()]
        assert len(held) == 1, held
        assert PASSWORD not in caplog.text
    finally:
        await store.close()


# -- the password ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@db.example:5432/calls", "postgresql://u:***@db.example:5432/calls"),
        ("postgresql://u:p%40ss@db.example/calls", "postgresql://u:***@db.example/calls"),
        ("postgres://:pw@db.example/calls", "postgres://:***@db.example/calls"),
        ("postgresql://u@db.example/calls", "postgresql://u@db.example/calls"),
        (
            "postgresql://u@db.example/calls?sslmode=require&password=pw",
            "postgresql://u@db.example/calls?sslmode=require&password=***",
        ),
    ],
)
def test_masked_url(url: str, shown: str) -> None:
    assert masked_url(url) == shown


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: nothing listens there


async def test_a_refused_open_never_shows_the_password(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    nobody = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{closed_port()}/calls"
    missing = with_password(pg_url.rsplit("/", 1)[0] + "/no_such_database")
    with caplog.at_level(logging.DEBUG):
        for url in (nobody, missing):
            with pytest.raises(StoreError) as refused:
                await PostgresStore.open(url)
            assert masked_url(url) in str(refused.value)
            assert PASSWORD not in str(refused.value)
            assert refused.value.__cause__ is None and refused.value.__suppress_context__
    assert PASSWORD not in caplog.text
