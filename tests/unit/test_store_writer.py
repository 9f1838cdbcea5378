"""The store's single writer: writes only enqueued and batched into one transaction, a failing
operation costing only itself (even one that rolls the whole transaction back), errors
reaching who waits on them, and a close that flushes, is idempotent and refuses what follows.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest

from tests.helpers.records import make_call
from tests.helpers.store_sql import sql
from voicecall_rt.call.records import CallStatus
from voicecall_rt.store import Store
from voicecall_rt.store.errors import StoreError
from voicecall_rt.store.sqlite.database import SqliteStore
from voicecall_rt.store.sqlite.files import DB_FILENAME


async def count_commits(s: Store) -> list[str]:
    """Record the writer connection's COMMITs (one per batch)."""
    seen: list[str] = []
    await s._wconn.set_trace_callback(
        lambda sql: seen.append(sql) if sql.strip().upper() == "COMMIT" else None
    )
    return seen


async def test_writes_are_batched(store: Store) -> None:
    store.insert_call(make_call("c"))
    await store.flush()
    commits = await count_commits(store)
    seqs = [store.add_event("c", i, "tick", {"i": i}) for i in range(500)]
    assert seqs == list(range(1, 501))
    await store.flush()
    # Enqueued without yielding to the writer, so all 500 went in one transaction.
    assert len(commits) == 1
    events = await store.events("c")
    assert [(e.seq, e.data["i"]) for e in events] == [(i + 1, i) for i in range(500)]


async def test_write_methods_do_not_touch_the_database(store: Store) -> None:
    store.insert_call(make_call("c"))
    store.add_transcript("c", 0, "caller", "x")
    # Nothing has run yet: the write methods only enqueue.
    assert sql(store.path, "SELECT COUNT(*) FROM calls") == [(0,)]
    await store.flush()
    assert sql(store.path, "SELECT COUNT(*) FROM calls") == [(1,)]


async def test_failing_op_is_logged_and_later_writes_land(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    store.insert_call(make_call("c"))
    with caplog.at_level(logging.DEBUG, logger="voicecall_rt.store"):
        # Same batch: good, FK violation, good.
        store.add_transcript("c", 1, "caller", "before")
        store.add_transcript("no-such-call", 2, "caller", "SECRET-CONTENT")
        store.add_transcript("c", 3, "caller", "after")
        await store.flush()
        # A later batch is served too.
        store.insert_call(make_call("c"))  # duplicate id
        store.add_event("c", 4, "later")
        await store.flush()
    assert [x.text for x in await store.transcript("c")] == ["before", "after"]
    assert [e.kind for e in await store.events("c")] == ["later"]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    # Each bad op is reported once, by name and call id; a constraint failure is handled
    # inside the transaction, without failing the whole batch.
    assert errors == [
        "store: add_transcript failed (call no-such-call): FOREIGN KEY constraint failed",
        "store: insert_call failed (call c): UNIQUE constraint failed: calls.id",
    ]
    assert all("SECRET-CONTENT" not in r.getMessage() for r in caplog.records)
    assert store._writer.done() is False


async def test_op_that_aborts_the_whole_transaction_costs_only_itself(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    s = await SqliteStore.open(tmp_path)
    await s.close()
    # RAISE(ROLLBACK) undoes the entire transaction, not just the statement: the writer
    # must notice and retry the batch op by op.
    sql(
        tmp_path / DB_FILENAME,
        "CREATE TRIGGER boom BEFORE INSERT ON events WHEN NEW.kind = 'boom' "
        "BEGIN SELECT RAISE(ROLLBACK, 'forced'); END",
    )

    s = await SqliteStore.open(tmp_path)
    try:
        with caplog.at_level(logging.ERROR, logger="voicecall_rt.store"):
            s.insert_call(make_call("c"))
            s.add_event("c", 1, "first")
            s.add_event("c", 2, "boom")
            s.add_event("c", 3, "third")
            await s.flush()
        assert [(e.seq, e.kind) for e in await s.events("c")] == [(1, "first"), (3, "third")]
        assert await s.get_call("c") is not None
        assert any("forced" in r.getMessage() for r in caplog.records)
        # Only the culprit failed: the ops after it did not run outside a transaction
        # (they would fail on the rolled-back call row, or be applied twice).
        op_failures = [r.getMessage() for r in caplog.records if "failed (call" in r.getMessage()]
        assert op_failures == ["store: add_event failed (call c): forced"]
        s.add_event("c", 4, "fourth")
        assert [e.kind for e in await s.events("c")][-1] == "fourth"
    finally:
        await s.close()


async def test_settle_stale_error_reaches_the_caller(tmp_path: Path) -> None:
    s = await SqliteStore.open(tmp_path)
    await s.close()
    sql(
        tmp_path / DB_FILENAME,
        "CREATE TRIGGER no_settle BEFORE UPDATE OF status ON calls "
        "BEGIN SELECT RAISE(ABORT, 'forced'); END",
    )
    s = await SqliteStore.open(tmp_path)
    try:
        s.insert_call(make_call("c"))
        with pytest.raises(sqlite3.Error, match="forced"):
            await s.settle_stale(reason="r")
        s.add_event("c", 0, "still-writing")
        assert len(await s.events("c")) == 1
    finally:
        await s.close()


async def test_close_flushes_and_is_idempotent(tmp_path: Path) -> None:
    s = await SqliteStore.open(tmp_path)
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

    s = await SqliteStore.open(tmp_path)
    try:
        assert [x.text for x in await s.transcript("c")] == ["last words"]
    finally:
        await s.close()


async def test_concurrent_close(tmp_path: Path) -> None:
    s = await SqliteStore.open(tmp_path)
    s.insert_call(make_call("c"))
    await asyncio.gather(s.close(), s.close(), s.flush())
    assert s._writer.done()
