"""Copying a SQLite history into PostgreSQL (store/copy.py): every call, line and event
read back the same through PostgresStore, ids, seqs and the listing's order kept; calls
not finished in SQLite copied ended; a second run copies nothing twice and a later one
only what is new; a missing SQLite file or an unreachable database refused, the password
never shown. The command's exit codes and output: tests/integration/test_cli_store.py."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.helpers.records import full_call, make_call
from tests.helpers.store_sql import postgres_sql
from voicecall_rt.call.records import CallRecord, CallStatus, now_ms
from voicecall_rt.store import Store, StoreError
from voicecall_rt.store import copy as store_copy
from voicecall_rt.store.copy import COPIED_WHILE_LIVE, copy_history
from voicecall_rt.store.postgres.database import PostgresStore
from voicecall_rt.store.sqlite.database import SqliteStore

DONE = full_call("done", created_at=1_000)
# Not finished in SQLite: one answered, one still ringing, one with an end reason already.
LIVE = (
    make_call("talking", created_at=3_000, status=CallStatus.IN_PROGRESS, answered_at=3_100),
    make_call("ringing", created_at=3_000, status=CallStatus.RINGING),
    make_call("queued", created_at=3_000, status=CallStatus.QUEUED, end_reason="carrier"),
)
# Created in the same millisecond: the listing orders them by insertion, newest first.
TIES = tuple(make_call(f"tie{i}", created_at=2_000, status=CallStatus.BUSY) for i in range(4))


async def write_history(data_dir: Path) -> None:
    """A SQLite history written as the server writes it."""
    sqlite = await SqliteStore.open(data_dir)
    try:
        for record in (DONE, *TIES, *LIVE):
            sqlite.insert_call(record)
        for i in range(7):
            sqlite.add_transcript("done", 10 * i, "caller" if i % 2 else "assistant", f"line {i}")
        sqlite.add_transcript("done", 75, "caller", "cut o—", interrupted=True)
        for i in range(5):
            sqlite.add_event("done", i, "latency.first_audio", {"ms": 400 + i, "turn": i})
        sqlite.add_event("done", 99, "call.ended", {"reason": "model-ended", "nested": [1, {}]})
        sqlite.release("done")
        sqlite.add_event("done", 120, "notify.sent")  # numbered by the writer, after release
        sqlite.add_transcript("talking", 5, "caller", "Hello?")
        sqlite.add_event("ringing", 0, "call.created")
    finally:
        await sqlite.close()


async def contents(store: Store) -> dict[str, object]:
    """Everything a store holds, as its reads give it."""
    calls = await store.list_calls(limit=1000)
    return {
        "order": [c.id for c in calls],
        "calls": {c.id: c for c in calls},
        "transcripts": {c.id: await store.transcript(c.id) for c in calls},
        "events": {c.id: await store.events(c.id) for c in calls},
    }


def settled(record: CallRecord, ended_at: int) -> CallRecord:
    answered = record.answered_at is not None
    return record.model_copy(
        update={
            "status": CallStatus.COMPLETED if answered else CallStatus.FAILED,
            "end_reason": record.end_reason or COPIED_WHILE_LIVE,
            "ended_at": ended_at,
        }
    )


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of a few calls and statements of a few rows, so the test crosses them."""
    monkeypatch.setattr(store_copy, "CALLS_PER_BATCH", 3)
    monkeypatch.setattr(store_copy, "ROWS_PER_STATEMENT", 2)


@pytest.mark.usefixtures("small_batches")
async def test_a_history_copied_reads_back_the_same(tmp_path: Path, pg_url: str) -> None:
    await write_history(tmp_path / "data")
    sqlite = await SqliteStore.open(tmp_path / "data")
    try:
        before = await contents(sqlite)
    finally:
        await sqlite.close()

    start = now_ms()
    report = await copy_history(tmp_path / "data", pg_url)
    end = now_ms()
    assert (report.calls.copied, report.calls.present) == (8, 0)
    assert (report.transcript.copied, report.transcript.present) == (9, 0)
    assert (report.events.copied, report.events.present) == (8, 0)
    assert sorted(report.settled) == ["queued", "ringing", "talking"]
    assert report.source == tmp_path / "data" / "calls.sqlite3"

    postgres = await PostgresStore.open(pg_url)
    try:
        after = await contents(postgres)
        assert await postgres.count_active() == 0
    finally:
        await postgres.close()
    assert after["order"] == before["order"]
    assert after["transcripts"] == before["transcripts"]
    assert after["events"] == before["events"]
    copied_calls = after["calls"]
    assert isinstance(copied_calls, dict)
    ended_at = {c.id: copied_calls[c.id].ended_at for c in LIVE}
    assert all(e is not None and start <= e <= end for e in ended_at.values()), ended_at
    expected = dict(before["calls"])  # type: ignore[call-overload]
    expected.update({c.id: settled(c, ended_at[c.id] or 0) for c in LIVE})
    assert copied_calls == expected
    assert copied_calls["queued"].end_reason == "carrier"  # an end reason already there stays


@pytest.mark.usefixtures("small_batches")
async def test_copying_again_copies_nothing_twice_and_then_what_is_new(
    tmp_path: Path, pg_url: str
) -> None:
    await write_history(tmp_path / "data")
    await copy_history(tmp_path / "data", pg_url)
    counts = "SELECT (SELECT COUNT(*) FROM calls), (SELECT COUNT(*) FROM transcript), "
    counts += "(SELECT COUNT(*) FROM events)"
    assert await postgres_sql(pg_url, counts) == [(8, 9, 8)]

    again = await copy_history(tmp_path / "data", pg_url)
    assert (again.calls.copied, again.calls.present) == (0, 8)
    assert (again.transcript.copied, again.transcript.present) == (0, 9)
    assert (again.events.copied, again.events.present) == (0, 8)
    assert again.settled == []
    assert await postgres_sql(pg_url, counts) == [(8, 9, 8)]

    # The SQLite server went on: a new call, and more of an old one.
    sqlite = await SqliteStore.open(tmp_path / "data")
    try:
        sqlite.insert_call(make_call("later", created_at=5_000, status=CallStatus.COMPLETED))
        sqlite.add_event("later", 0, "call.created")
        assert sqlite.add_transcript("done", 200, "system", "a late line") is None
    finally:
        await sqlite.close()
    third = await copy_history(tmp_path / "data", pg_url)
    assert (third.calls.copied, third.calls.present) == (1, 8)
    assert (third.transcript.copied, third.transcript.present) == (1, 9)
    assert (third.events.copied, third.events.present) == (1, 8)
    postgres = await PostgresStore.open(pg_url)
    try:
        assert [x.seq for x in await postgres.transcript("done")] == list(range(1, 10))
        assert (await postgres.list_calls(limit=1))[0].id == "later"
    finally:
        await postgres.close()


async def test_a_missing_sqlite_file_is_refused_and_not_made(tmp_path: Path, pg_url: str) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        await copy_history(tmp_path / "nowhere", pg_url)
    assert not (tmp_path / "nowhere").exists()
    # Refused before PostgreSQL was touched.
    assert await postgres_sql(pg_url, "SELECT to_regclass('calls')") == [(None,)]


async def test_an_unreachable_database_is_refused_without_its_password(tmp_path: Path) -> None:
    await write_history(tmp_path / "data")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://copier:hunter2-pw@127.0.0.1:{port}/calls"
    with pytest.raises(StoreError) as refused:
        await copy_history(tmp_path / "data", url)
    assert f"copier:***@127.0.0.1:{port}" in str(refused.value)
    assert "hunter2-pw" not in str(refused.value)
