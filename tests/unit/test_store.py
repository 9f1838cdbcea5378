"""Store: schema, single batched writer, reads, reaper support, file permissions."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import stat
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.records import make_call
from voicecall_rt.call.records import CallRecord, CallStatus, Outcome, now_ms
from voicecall_rt.store import files as store_files
from voicecall_rt.store.database import Store
from voicecall_rt.store.errors import StoreError
from voicecall_rt.store.files import DB_FILENAME
from voicecall_rt.store.schema import CALL_COLUMNS, SCHEMA_VERSION


def sql(path: Path, statement: str) -> list[Any]:
    """Run one statement on a separate plain connection, as another process would."""
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        return db.execute(statement).fetchall()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def plant_loose_files(data_dir: Path) -> None:
    """Loosen the dir and db, and leave world-writable sidecars as another opener might."""
    db = data_dir / DB_FILENAME
    data_dir.chmod(0o755)
    db.chmod(0o644)
    for suffix in ("-wal", "-shm"):
        sidecar = Path(f"{db}{suffix}")
        sidecar.touch()
        sidecar.chmod(0o666)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "data")
    yield s
    await s.close()


async def count_commits(s: Store) -> list[str]:
    """Record the writer connection's COMMITs (one per batch)."""
    seen: list[str] = []
    await s._wconn.set_trace_callback(
        lambda sql: seen.append(sql) if sql.strip().upper() == "COMMIT" else None
    )
    return seen


# -- records ---------------------------------------------------------------------------


async def test_full_record_round_trip(store: Store) -> None:
    record = make_call(
        "c1",
        task="Book a table for two at 8pm",
        system_prompt="You are polite.",
        status=CallStatus.COMPLETED,
        carrier_sid="CA123",
        answered_at=2_000,
        ended_at=65_000,
        end_reason="hangup",
        answered_by="human",
        amd_duration_ms=1800,
        outcome=Outcome(success=True, summary="Booked", details={"time": "20:00", "n": 2}),
        usage={"input_tokens": 1200, "output": {"audio": 30.5, "text": [1, 2]}},
        error=None,
    )
    store.insert_call(record)
    assert await store.get_call("c1") == record
    assert await store.find_by_carrier_sid("CA123") == record
    assert await store.find_by_carrier_sid("CA-nope") is None
    assert await store.get_call("nope") is None


async def test_minimal_record_round_trip(store: Store) -> None:
    record = make_call("c1")
    store.insert_call(record)
    got = await store.get_call("c1")
    assert got == record
    assert got is not None and got.status is CallStatus.INITIATING and got.outcome is None


async def test_update_then_read(store: Store) -> None:
    store.insert_call(make_call("c1"))
    store.update_call("c1", status=CallStatus.RINGING, carrier_sid="CA9")
    store.update_call("c1", status="in-progress", answered_at=5_000)
    store.update_call(
        "c1",
        outcome={"success": False, "summary": "No tables", "details": {}},
        usage={"audio_in_s": 12},
    )
    got = await store.get_call("c1")
    assert got is not None
    assert got.status is CallStatus.IN_PROGRESS
    assert got.carrier_sid == "CA9"
    assert got.answered_at == 5_000
    assert got.outcome == Outcome(success=False, summary="No tables")
    assert got.usage == {"audio_in_s": 12}
    store.update_call("c1", outcome=None, usage=None)
    got = await store.get_call("c1")
    assert got is not None and got.outcome is None and got.usage is None


async def test_status_is_stored_as_its_string(store: Store, tmp_path: Path) -> None:
    store.insert_call(make_call("c1"))
    store.update_call("c1", status=CallStatus.NO_ANSWER)
    await store.flush()
    assert sql(store.path, "SELECT status FROM calls") == [("no-answer",)]


@pytest.mark.parametrize(
    "fields",
    [
        {"colour": "red"},
        {"id": "other"},
        {"status": "on-fire"},
        {"answered_at": "soon"},
        {"direction": "sideways"},
        {"outcome": {"success": True}},
        {"status": "ringing", "bogus": 1},
    ],
)
async def test_bad_update_raises_at_call_time(store: Store, fields: dict[str, object]) -> None:
    store.insert_call(make_call("c1"))
    with pytest.raises(ValueError):
        store.update_call("c1", **fields)
    got = await store.get_call("c1")
    assert got == make_call("c1")


async def test_update_of_unknown_call_is_logged(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="voicecall_rt.store"):
        store.update_call("ghost", status=CallStatus.FAILED)
        await store.flush()
    assert any("ghost" in r.getMessage() for r in caplog.records)


def test_store_columns_match_the_model() -> None:
    assert set(CALL_COLUMNS) == set(CallRecord.model_fields)


# -- transcript and events -------------------------------------------------------------


async def test_transcript_order_and_seq(store: Store) -> None:
    store.insert_call(make_call("a"))
    store.insert_call(make_call("b"))
    assert store.add_transcript("a", 10, "assistant", "Hello!") == 1
    assert store.add_transcript("a", 900, "caller", "Hi, who is th—", interrupted=True) == 2
    assert store.add_transcript("b", 5, "caller", "Other call") == 1
    assert store.add_transcript("a", 1200, "assistant", "I'm calling about…") == 3
    lines = await store.transcript("a")
    assert [(x.seq, x.t_ms, x.role, x.text, x.interrupted) for x in lines] == [
        (1, 10, "assistant", "Hello!", False),
        (2, 900, "caller", "Hi, who is th—", True),
        (3, 1200, "assistant", "I'm calling about…", False),
    ]
    assert all(x.call_id == "a" for x in lines)
    assert [x.text for x in await store.transcript("b")] == ["Other call"]
    assert await store.transcript("nobody") == []


async def test_bad_role_raises_and_consumes_no_seq(store: Store) -> None:
    store.insert_call(make_call("a"))
    with pytest.raises(ValueError):
        store.add_transcript("a", 0, "robot", "x")  # type: ignore[arg-type]
    assert store.add_transcript("a", 0, "system", "x") == 1


async def test_events_order_seq_and_kind_filter(store: Store) -> None:
    store.insert_call(make_call("a"))
    assert store.add_event("a", 0, "call.created") == 1
    assert store.add_event("a", 40, "latency.first_audio", {"ms": 412, "turn": 1}) == 2
    # Transcript and events count independently.
    assert store.add_transcript("a", 41, "caller", "hi") == 1
    assert store.add_event("a", 90, "call.ended", {"reason": "hangup"}) == 3
    events = await store.events("a")
    assert [(e.seq, e.t_ms, e.kind, e.data) for e in events] == [
        (1, 0, "call.created", {}),
        (2, 40, "latency.first_audio", {"ms": 412, "turn": 1}),
        (3, 90, "call.ended", {"reason": "hangup"}),
    ]
    only = await store.events("a", kinds={"call.created", "call.ended"})
    assert [e.seq for e in only] == [1, 3]
    assert await store.events("a", kinds=set()) == []


async def test_event_data_is_snapshotted_at_enqueue(store: Store) -> None:
    store.insert_call(make_call("a"))
    data: dict[str, object] = {"n": 1}
    store.add_event("a", 0, "k", data)
    data["n"] = 2
    assert (await store.events("a"))[0].data == {"n": 1}


async def test_unserialisable_event_raises_and_consumes_no_seq(store: Store) -> None:
    store.insert_call(make_call("a"))
    with pytest.raises(TypeError):
        store.add_event("a", 0, "k", {"x": object()})
    assert store.add_event("a", 0, "k") == 1


async def test_seq_continues_after_reopen(tmp_path: Path) -> None:
    s = await Store.open(tmp_path)
    s.insert_call(make_call("a"))
    s.insert_call(make_call("quiet"))
    for i in range(3):
        s.add_transcript("a", i, "caller", f"line {i}")
    s.add_event("a", 0, "k")
    await s.close()

    s = await Store.open(tmp_path)
    try:
        # Calls of an earlier run: numbered by the writer, so the seq is not known here.
        assert s.add_transcript("a", 10, "assistant", "after restart") is None
        assert s.add_event("a", 10, "k") is None
        assert s.add_event("quiet", 10, "k") is None
        assert s.add_event("quiet", 11, "k") is None
        assert [x.seq for x in await s.transcript("a")] == [1, 2, 3, 4]
        assert [x.text for x in await s.transcript("a")][-1] == "after restart"
        assert [e.seq for e in await s.events("a")] == [1, 2]
        assert [(e.seq, e.t_ms) for e in await s.events("quiet")] == [(1, 10), (2, 11)]
    finally:
        await s.close()


async def test_released_call_is_numbered_on_disk_in_order(store: Store) -> None:
    store.insert_call(make_call("a"))
    assert store.add_event("a", 0, "first") == 1
    assert store.add_transcript("a", 1, "caller", "hello") == 1
    store.release("a")  # nothing written yet: the writer must still number after these
    store.release("a")  # idempotent
    assert store.add_event("a", 2, "notify.sent") is None
    assert store.add_transcript("a", 3, "system", "late line") is None
    for i in range(3):  # grouped into one executemany by the writer: still one by one
        assert store.add_event("a", 10 + i, "notify.retry") is None
    events = await store.events("a")
    assert [(e.seq, e.kind) for e in events] == [
        (1, "first"),
        (2, "notify.sent"),
        (3, "notify.retry"),
        (4, "notify.retry"),
        (5, "notify.retry"),
    ]
    assert [(x.seq, x.text) for x in await store.transcript("a")] == [
        (1, "hello"),
        (2, "late line"),
    ]


async def test_counters_are_held_only_for_calls_not_released(store: Store) -> None:
    # The leak check of benchmarks/ found per-call counters kept forever: no more.
    for i in range(200):
        store.insert_call(make_call(f"c{i}"))
        store.add_event(f"c{i}", 0, "k")
        store.add_transcript(f"c{i}", 0, "caller", "x")
        if i >= 2:
            store.release(f"c{i}")
    assert set(store._seqs.events) == set(store._seqs.transcript) == {"c0", "c1"}
    await store.flush()
    assert [e.seq for e in await store.events("c150")] == [1]


# -- listing ---------------------------------------------------------------------------


async def test_list_newest_first_active_only_and_count(store: Store) -> None:
    store.insert_call(make_call("old", created_at=1_000, status=CallStatus.COMPLETED))
    store.insert_call(make_call("mid", created_at=2_000, status=CallStatus.IN_PROGRESS))
    store.insert_call(make_call("new", created_at=3_000, status=CallStatus.RINGING))
    store.insert_call(make_call("newest", created_at=4_000, status=CallStatus.BUSY))
    assert [c.id for c in await store.list_calls()] == ["newest", "new", "mid", "old"]
    assert [c.id for c in await store.list_calls(limit=2)] == ["newest", "new"]
    assert [c.id for c in await store.list_calls(active_only=True)] == ["new", "mid"]
    assert await store.count_active() == 2
    store.update_call("mid", status=CallStatus.COMPLETED)
    assert await store.count_active() == 1
    with pytest.raises(ValueError):
        await store.list_calls(limit=0)


async def test_list_ties_keep_insertion_order_newest_first(store: Store) -> None:
    for call_id in ("x", "y", "z"):
        store.insert_call(make_call(call_id, created_at=5))
    assert [c.id for c in await store.list_calls()] == ["z", "y", "x"]


# -- settle_stale ----------------------------------------------------------------------


async def test_settle_stale_both_branches(store: Store) -> None:
    store.insert_call(make_call("answered", status=CallStatus.IN_PROGRESS, answered_at=1_500))
    store.insert_call(make_call("ringing", status=CallStatus.RINGING))
    store.insert_call(
        make_call("had_reason", status=CallStatus.QUEUED, end_reason="carrier", ended_at=1_700)
    )
    store.insert_call(make_call("done", status=CallStatus.COMPLETED, end_reason="hangup"))
    before = now_ms()
    settled = await store.settle_stale(reason="restart")
    after = now_ms()
    assert settled == ["answered", "had_reason", "ringing"]

    answered = await store.get_call("answered")
    assert answered is not None
    assert answered.status is CallStatus.COMPLETED
    assert answered.end_reason == "restart"
    assert answered.ended_at is not None and before <= answered.ended_at <= after

    ringing = await store.get_call("ringing")
    assert ringing is not None
    assert ringing.status is CallStatus.FAILED and ringing.end_reason == "restart"

    had_reason = await store.get_call("had_reason")
    assert had_reason is not None
    assert had_reason.status is CallStatus.FAILED
    assert (had_reason.end_reason, had_reason.ended_at) == ("carrier", 1_700)

    done = await store.get_call("done")
    assert done == make_call("done", status=CallStatus.COMPLETED, end_reason="hangup")
    assert await store.count_active() == 0
    assert await store.settle_stale(reason="again") == []


async def test_settle_stale_exclude_and_older_than(store: Store) -> None:
    now = now_ms()
    store.insert_call(make_call("stale", created_at=now - 600_000))
    store.insert_call(make_call("live_old", created_at=now - 600_000))
    store.insert_call(make_call("fresh", created_at=now - 1_000))
    settled = await store.settle_stale(reason="reaper", older_than_ms=300_000, exclude={"live_old"})
    assert settled == ["stale"]
    assert [c.id for c in await store.list_calls(active_only=True)] == ["fresh", "live_old"]


async def test_settle_stale_is_ordered_after_enqueued_writes(store: Store) -> None:
    store.insert_call(make_call("c", status=CallStatus.IN_PROGRESS, answered_at=2))
    # Not flushed: settle must still see this update and leave the call alone.
    store.update_call("c", status=CallStatus.BUSY, end_reason="busy")
    assert await store.settle_stale(reason="restart") == []
    got = await store.get_call("c")
    assert got is not None and (got.status, got.end_reason) == (CallStatus.BUSY, "busy")


# -- files and schema ------------------------------------------------------------------


async def test_permissions_are_private(tmp_path: Path, open_umask: None) -> None:
    data_dir = tmp_path / "a" / "data"
    s = await Store.open(data_dir)
    try:
        s.insert_call(make_call("c"))
        s.add_event("c", 0, "k")
        await s.flush()
        db = data_dir / DB_FILENAME
        assert mode(data_dir) == 0o700
        assert mode(data_dir.parent) == 0o700  # created for us: private as well
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            assert path.exists(), path
            assert mode(path) == 0o600, path
    finally:
        await s.close()


async def test_sqlite_gives_sidecars_the_db_mode(
    tmp_path: Path, open_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Our own chmod of the sidecars only repairs leftovers; the -wal/-shm SQLite creates
    # while we run must be 0600 by themselves (SQLite copies the database file's mode).
    monkeypatch.setattr(store_files, "tighten_sidecars", lambda path: None)
    s = await Store.open(tmp_path)
    try:
        s.insert_call(make_call("c"))
        await s.flush()
        db = tmp_path / DB_FILENAME
        for path in (Path(f"{db}-wal"), Path(f"{db}-shm")):
            assert mode(path) == 0o600, path
    finally:
        await s.close()


async def test_loose_existing_permissions_are_tightened(tmp_path: Path, open_umask: None) -> None:
    data_dir = tmp_path / "data"
    s = await Store.open(data_dir)
    s.insert_call(make_call("c"))
    await s.close()
    plant_loose_files(data_dir)
    db = data_dir / DB_FILENAME

    s = await Store.open(data_dir)
    try:
        assert await s.get_call("c") is not None
        assert mode(data_dir) == 0o700
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            assert mode(path) == 0o600, path
    finally:
        await s.close()


async def test_symlinked_db_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    (data_dir / DB_FILENAME).symlink_to(tmp_path / "elsewhere.sqlite3")
    with pytest.raises(OSError):
        await Store.open(data_dir)
    assert not (tmp_path / "elsewhere.sqlite3").exists()


async def test_schema_version_and_reopen(tmp_path: Path) -> None:
    s = await Store.open(tmp_path)
    s.insert_call(make_call("c"))
    await s.close()
    path = tmp_path / DB_FILENAME
    assert sql(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert sql(path, "PRAGMA journal_mode") == [("wal",)]
    tables = {r[0] for r in sql(path, "SELECT name FROM sqlite_master WHERE type='table'")}
    indexes = {r[0] for r in sql(path, "SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"calls", "transcript", "events"} <= tables
    assert {"calls_by_created", "calls_by_status", "calls_by_carrier_sid"} <= indexes

    s = await Store.open(tmp_path)
    try:
        assert await s.get_call("c") == make_call("c")
    finally:
        await s.close()


async def test_data_dir_tilde_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    s = await Store.open(Path("~/vc"))
    try:
        assert s.path == tmp_path / "vc" / DB_FILENAME
    finally:
        await s.close()


async def test_second_reader_process_while_writer_runs(tmp_path: Path) -> None:
    # What `voicecall-rt calls` does while the server is up: open, read, close.
    server = await Store.open(tmp_path)
    try:
        server.insert_call(make_call("c", status=CallStatus.IN_PROGRESS))
        server.add_event("c", 0, "k")
        await server.flush()
        cli = await Store.open(tmp_path)
        try:
            assert [c.id for c in await cli.list_calls()] == ["c"]
            assert len(await cli.events("c")) == 1
        finally:
            await cli.close()
        assert server.add_event("c", 1, "k") == 2
        assert [e.seq for e in await server.events("c")] == [1, 2]
    finally:
        await server.close()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    s = await Store.open(tmp_path)
    await s.close()
    sql(tmp_path / DB_FILENAME, f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer"):
        await Store.open(tmp_path)


# -- the writer ------------------------------------------------------------------------


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
    s = await Store.open(tmp_path)
    await s.close()
    # RAISE(ROLLBACK) undoes the entire transaction, not just the statement: the writer
    # must notice and retry the batch op by op.
    sql(
        tmp_path / DB_FILENAME,
        "CREATE TRIGGER boom BEFORE INSERT ON events WHEN NEW.kind = 'boom' "
        "BEGIN SELECT RAISE(ROLLBACK, 'forced'); END",
    )

    s = await Store.open(tmp_path)
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
    s = await Store.open(tmp_path)
    await s.close()
    sql(
        tmp_path / DB_FILENAME,
        "CREATE TRIGGER no_settle BEFORE UPDATE OF status ON calls "
        "BEGIN SELECT RAISE(ABORT, 'forced'); END",
    )
    s = await Store.open(tmp_path)
    try:
        s.insert_call(make_call("c"))
        with pytest.raises(sqlite3.Error, match="forced"):
            await s.settle_stale(reason="r")
        s.add_event("c", 0, "still-writing")
        assert len(await s.events("c")) == 1
    finally:
        await s.close()


async def test_close_flushes_and_is_idempotent(tmp_path: Path) -> None:
    s = await Store.open(tmp_path)
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

    s = await Store.open(tmp_path)
    try:
        assert [x.text for x in await s.transcript("c")] == ["last words"]
    finally:
        await s.close()


async def test_concurrent_close(tmp_path: Path) -> None:
    s = await Store.open(tmp_path)
    s.insert_call(make_call("c"))
    await asyncio.gather(s.close(), s.close(), s.flush())
    assert s._writer.done()
