"""The store's single writer: writes only enqueued and batched into one transaction, a failing
operation costing only itself (even one that rolls the whole transaction back), errors
reaching who waits on them, and a close that flushes, is idempotent and refuses what follows.
Every test runs on SQLite and on PostgreSQL; where the backends differ, the test says how.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import Any

import asyncpg
import pytest

from tests.helpers.records import make_call
from tests.helpers.store_backends import StoreBackend
from tests.helpers.store_sql import raw_sql
from voicecall_rt.call.records import CallStatus
from voicecall_rt.store import Store
from voicecall_rt.store.errors import StoreError
from voicecall_rt.store.ops import WriteOp

# What each backend raises for a statement it refuses (the store hands it on unchanged).
REFUSED: dict[str, type[Exception]] = {"sqlite": sqlite3.Error, "postgres": asyncpg.PostgresError}

# A trigger refusing an insert or an update when `condition` holds, in each backend's SQL.
# SQLite's RAISE(ROLLBACK) undoes the whole transaction, not just the statement; in
# PostgreSQL any error does.
SQLITE_TRIGGER = (
    "CREATE TRIGGER {name} BEFORE {event} ON {table} WHEN {condition} "
    "BEGIN SELECT RAISE({how}, 'forced'); END"
)
POSTGRES_TRIGGER = (
    "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN IF {condition} THEN RAISE EXCEPTION 'forced'; END IF; RETURN NEW; END $$",
    "CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()",
)


async def add_trigger(
    store: Store, backend: StoreBackend, *, name: str, event: str, table: str, condition: str
) -> None:
    """Make the database refuse writes to `table` matching `condition` with 'forced'."""
    if backend.name == "sqlite":
        statement = SQLITE_TRIGGER.format(
            name=name, event=event, table=table, condition=condition, how="ROLLBACK"
        )
        await raw_sql(store, statement)
        return
    for statement in POSTGRES_TRIGGER:
        await raw_sql(
            store, statement.format(name=name, event=event, table=table, condition=condition)
        )


def count_batches(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of each batch the writer hands the backend (one transaction each)."""
    batches: Any = store._writer._batches
    sizes: list[int] = []
    write = batches.write

    async def counted(ops: list[WriteOp]) -> None:
        sizes.append(len(ops))
        await write(ops)

    monkeypatch.setattr(batches, "write", counted)
    return sizes


async def test_writes_are_batched(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.insert_call(make_call("c"))
    await store.flush()
    batches = count_batches(store, monkeypatch)
    seqs = [store.add_event("c", i, "tick", {"i": i}) for i in range(500)]
    assert seqs == list(range(1, 501))
    await store.flush()
    # Enqueued without yielding to the writer, so all 500 went in one transaction.
    assert batches == [500]
    events = await store.events("c")
    assert [(e.seq, e.data["i"]) for e in events] == [(i + 1, i) for i in range(500)]


async def test_write_methods_do_not_touch_the_database(store: Store) -> None:
    store.insert_call(make_call("c"))
    store.add_transcript("c", 0, "caller", "x")
    # Nothing has run yet: the write methods only enqueue (checked before anything yields
    # to the writer: looking at the database from outside would).
    assert store._writer.pending() == 2
    await store.flush()
    assert await raw_sql(store, "SELECT COUNT(*) FROM calls") == [(1,)]
    assert await raw_sql(store, "SELECT COUNT(*) FROM transcript") == [(1,)]


# Each backend's words for the refused transcript line (the constraint, never the values).
FOREIGN_KEY_REFUSED = {
    "sqlite": "FOREIGN KEY constraint failed",
    "postgres": 'insert or update on table "transcript" violates foreign key constraint '
    '"transcript_call_id_fkey"',
}


async def test_failing_op_is_logged_and_later_writes_land(
    store: Store, store_backend: StoreBackend, caplog: pytest.LogCaptureFixture
) -> None:
    store.insert_call(make_call("c"))
    with caplog.at_level(logging.DEBUG, logger="voicecall_rt.store"):
        # Same batch: good, FK violation, good.
        store.add_transcript("c", 1, "caller", "before")
        store.add_transcript("no-such-call", 2, "caller", "SECRET-CONTENT")
        store.add_transcript("c", 3, "caller", "after")
        await store.flush()
        # A later batch is served too.
        store.insert_call(make_call("c", to_number="+15559999999"))  # duplicate id
        store.add_event("c", 4, "later")
        await store.flush()
    assert [x.text for x in await store.transcript("c")] == ["before", "after"]
    assert [e.kind for e in await store.events("c")] == ["later"]
    # The first insert stands either way.
    assert await store.get_call("c") == make_call("c")
    op_failures = [r.getMessage() for r in caplog.records if "failed (call" in r.getMessage()]
    refused = FOREIGN_KEY_REFUSED[store_backend.name]
    refused_line = f"store: add_transcript failed (call no-such-call): {refused}"
    retried = [r for r in caplog.records if "retrying one by one" in r.getMessage()]
    if store_backend.name == "sqlite":
        # Each bad op is reported once, by name and call id; a constraint failure is handled
        # inside the transaction, without failing the whole batch.
        assert op_failures == [
            refused_line,
            "store: insert_call failed (call c): UNIQUE constraint failed: calls.id",
        ]
        assert retried == []
    else:
        # PostgreSQL's keyed insert does nothing when the row exists, on purpose: a batch
        # redone after a lost COMMIT answer must not fail on its own rows. And any error
        # aborts PostgreSQL's transaction, so the batch was redone one write at a time.
        assert op_failures == [refused_line]
        assert len(retried) == 1
    assert "SECRET-CONTENT" not in caplog.text
    assert store._writer.done() is False


async def test_a_refused_row_is_never_logged_with_its_content(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # PostgreSQL's error for a NOT NULL or CHECK violation carries the whole failing row in
    # its DETAIL; the log must name the constraint, never what was said.
    store.insert_call(make_call("c"))
    store.add_transcript("c", 1, "caller", "before")
    await store.flush()
    with caplog.at_level(logging.DEBUG, logger="voicecall_rt.store"):
        store.add_transcript("c", 2, "caller", "first")
        store.add_transcript("c", None, "caller", "SECRET-CONTENT")  # type: ignore[arg-type]
        store.add_transcript("c", 4, "caller", "after")
        await store.flush()
    assert [x.text for x in await store.transcript("c")] == ["before", "first", "after"]
    failures = [r.getMessage() for r in caplog.records if "failed (call" in r.getMessage()]
    assert len(failures) == 1 and "t_ms" in failures[0], failures
    assert "SECRET-CONTENT" not in caplog.text


async def test_op_that_aborts_the_whole_transaction_costs_only_itself(
    store: Store, store_backend: StoreBackend, caplog: pytest.LogCaptureFixture
) -> None:
    # The writer must notice the transaction is gone and retry the batch op by op.
    await add_trigger(
        store,
        store_backend,
        name="boom",
        event="INSERT",
        table="events",
        condition="NEW.kind = 'boom'",
    )
    with caplog.at_level(logging.ERROR, logger="voicecall_rt.store"):
        store.insert_call(make_call("c"))
        store.add_event("c", 1, "first")
        store.add_event("c", 2, "boom")
        store.add_event("c", 3, "third")
        await store.flush()
    assert [(e.seq, e.kind) for e in await store.events("c")] == [(1, "first"), (3, "third")]
    assert await store.get_call("c") is not None
    assert any("forced" in r.getMessage() for r in caplog.records)
    # Only the culprit failed: the ops after it did not run outside a transaction
    # (they would fail on the rolled-back call row, or be applied twice).
    op_failures = [r.getMessage() for r in caplog.records if "failed (call" in r.getMessage()]
    assert op_failures == ["store: add_event failed (call c): forced"]
    store.add_event("c", 4, "fourth")
    assert [e.kind for e in await store.events("c")][-1] == "fourth"


async def test_settle_stale_error_reaches_the_caller(
    store: Store, store_backend: StoreBackend
) -> None:
    await add_trigger(
        store,
        store_backend,
        name="no_settle",
        event="UPDATE OF status",
        table="calls",
        condition="TRUE",
    )
    store.insert_call(make_call("c"))
    with pytest.raises(REFUSED[store_backend.name], match="forced"):
        await store.settle_stale(reason="r")
    store.add_event("c", 0, "still-writing")
    assert len(await store.events("c")) == 1


async def test_close_flushes_and_is_idempotent(store_backend: StoreBackend) -> None:
    s = await store_backend.open()
    s.insert_call(make_call("c"))
    s.add_transcript("c", 0, "caller", "last words")
    await s.close()  # no flush before: close must commit what was enqueued
    await s.close()
    await s.flush()  # harmless after close
    with pytest.raises(StoreError):
        s.add_event("c", 1, "too late")
    with pytest.raises(StoreError):
        s.update_call("c", status=CallStatus.COMPLETED)
    with pytest.raises(StoreError):
        await s.get_call("c")

    s = await store_backend.open()
    try:
        assert [x.text for x in await s.transcript("c")] == ["last words"]
    finally:
        await s.close()


async def test_concurrent_close(store_backend: StoreBackend) -> None:
    s = await store_backend.open()
    s.insert_call(make_call("c"))
    await asyncio.gather(s.close(), s.close(), s.flush())
    assert s._writer.done()
    s = await store_backend.open()
    try:
        assert await s.get_call("c") == make_call("c")
    finally:
        await s.close()
