"""The schedules table on both stores: created and read back, listed live first, claimed
once (two stores on one PostgreSQL racing for the same rows never both get one), the state
moves that hold only from the state they expect, cancelled, an attempt's calls; and
`store copy` taking the schedules and blocked numbers from SQLite to PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.helpers.store_backends import StoreBackend
from voicecall_rt.call.records import CallRecord
from voicecall_rt.store import Store
from voicecall_rt.store import schedules as s
from voicecall_rt.store.blocklist import DO_NOT_CALL, find_blocked, record_blocked
from voicecall_rt.store.copy import copy_history
from voicecall_rt.store.schedules import Schedule

T0 = 1_800_000_000_000


def _schedule(sid: str, due: int, **fields: object) -> Schedule:
    values: dict[str, object] = {
        "id": sid,
        "to_number": "+14155550100",
        "task": "Book a table",
        "created_at": T0,
        "due_at": due,
        "state": "pending",
        "max_attempts": 3,
        "retry": {"attempts": 3, "backoffSeconds": 60, "backoffMultiplier": 2, "on": ["busy"]},
        "outcome_schema": {"type": "object"},
        "updated_at": T0,
    }
    values.update(fields)
    return Schedule.model_validate(values)


async def test_created_read_back_and_listed_live_first(store: Store) -> None:
    await s.create_schedule(store, _schedule("sched_a", T0 + 5000))
    await s.create_schedule(store, _schedule("sched_b", T0 + 1000, when_allowed=True))
    await s.create_schedule(store, _schedule("sched_c", T0, state="done", reason="answered"))
    got = await s.get_schedule(store, "sched_b")
    assert got == _schedule("sched_b", T0 + 1000, when_allowed=True)
    assert got.retry_settings.backoff_seconds == 60
    assert await s.get_schedule(store, "sched_x") is None
    assert [x.id for x in await s.list_schedules(store)] == ["sched_b", "sched_a", "sched_c"]
    assert [x.id for x in await s.list_schedules(store, live_only=True)] == ["sched_b", "sched_a"]
    assert await s.next_due(store) == T0 + 1000


async def test_claim_takes_due_rows_once(store: Store) -> None:
    await s.create_schedule(store, _schedule("sched_a", T0))
    await s.create_schedule(store, _schedule("sched_b", T0 + 10_000))
    claimed = await s.claim_due(store, "one", now=T0 + 1, until=T0 + 60_000)
    assert [(x.id, x.state, x.claimed_by, x.claimed_until) for x in claimed] == [
        ("sched_a", "placing", "one", T0 + 60_000)
    ]
    assert await s.claim_due(store, "two", now=T0 + 2, until=T0 + 60_000) == []
    # Expired claims are what a crash left; a release puts the row back.
    assert await s.expired_claims(store, T0 + 59_999) == []
    [stale] = await s.expired_claims(store, T0 + 60_001)
    assert stale.id == "sched_a"
    released = await s.release_claim(store, "sched_a", due_at=T0 + 5, reason="limit", now=T0)
    assert released is not None and released.state == "pending" and released.claimed_by is None
    assert await s.release_claim(store, "sched_a", due_at=T0, reason=None, now=T0) is None


async def test_attempt_states_and_cancel(store: Store) -> None:
    await s.create_schedule(store, _schedule("sched_a", T0))
    [claimed] = await s.claim_due(store, "one", now=T0, until=T0 + 1000)
    record = CallRecord(
        id="call_1",
        direction="outbound",
        from_number="+14155550000",
        to_number=claimed.to_number,
        schedule_id="sched_a",
        attempt=1,
    )
    store.insert_call(record)
    await s.note_attempt(store, "sched_a", "call_1", 1, T0 + 1)
    waiting = await s.get_schedule(store, "sched_a")
    assert waiting is not None
    assert (waiting.state, waiting.attempts_made, waiting.first_call_id, waiting.last_call_id) == (
        "waiting",
        1,
        "call_1",
        "call_1",
    )
    assert [x.id for x in await s.waiting_schedules(store)] == ["sched_a"]
    assert [c.id for c in await s.schedule_attempts(store, "sched_a")] == ["call_1"]
    assert (await s.find_attempt(store, "sched_a", 1)) is not None
    assert await s.find_attempt(store, "sched_a", 2) is None
    # Only from the state expected: a retry of another attempt, or a finish from pending.
    assert await s.retry_later(store, "sched_a", "call_0", due_at=T0, reason="x", now=T0) is None
    assert (
        await s.finish(store, "sched_a", "done", "answered", now=T0, from_state="pending") is None
    )
    again = await s.retry_later(store, "sched_a", "call_1", due_at=T0 + 9, reason="busy", now=T0)
    assert again is not None and (again.state, again.due_at) == ("pending", T0 + 9)
    canceled = await s.cancel_schedule(store, "sched_a", T0 + 2)
    assert canceled is not None and (canceled.state, canceled.reason) == ("canceled", "canceled")
    assert await s.cancel_schedule(store, "sched_a", T0 + 3) is None  # over already
    assert await s.claim_due(store, "one", now=T0 + 100, until=T0 + 1000) == []


async def test_two_stores_racing_claim_each_row_once(store_backend: StoreBackend) -> None:
    """Two instances (two stores, as two processes would have) claim the same due rows at
    once, over and over: every row is claimed by exactly one."""
    first, second = await store_backend.open(), await store_backend.open()
    try:
        for n in range(40):
            await s.create_schedule(first, _schedule(f"sched_{n:02d}", T0 + n))
        await first.flush()
        got: dict[str, list[str]] = {"one": [], "two": []}

        async def claim(store: Store, name: str) -> None:
            while True:
                claimed = await s.claim_due(store, name, now=T0 + 100, until=T0 + 9000, limit=3)
                if not claimed:
                    return
                got[name] += [x.id for x in claimed]

        await asyncio.gather(claim(first, "one"), claim(second, "two"))
        every = got["one"] + got["two"]
        assert sorted(every) == [f"sched_{n:02d}" for n in range(40)]  # each once
        assert len(set(every)) == 40
        rows = await s.list_schedules(first, limit=100)
        assert {x.claimed_by for x in rows} <= {"one", "two"}
        assert all(x.state == "placing" for x in rows)
        for x in rows:
            assert x.id in got[x.claimed_by or ""]
    finally:
        await first.close()
        await second.close()


async def test_store_copy_takes_schedules_and_blocked_numbers(tmp_path: Path, pg_url: str) -> None:
    sqlite = StoreBackend("sqlite", tmp_path / "data")
    source = await sqlite.open()
    await s.create_schedule(source, _schedule("sched_a", T0, when_allowed=True))
    await s.create_schedule(source, _schedule("sched_b", T0 + 1, state="done", reason="answered"))
    await record_blocked(source, "+14155550199", source=DO_NOT_CALL, call_id="call_1")
    await source.close()

    report = await copy_history(tmp_path / "data", pg_url)
    assert (report.schedules.copied, report.blocked.copied) == (2, 1)
    target = await StoreBackend("postgres", pg_url).open()
    try:
        assert await s.get_schedule(target, "sched_a") == _schedule(
            "sched_a", T0, when_allowed=True
        )
        assert [x.id for x in await s.list_schedules(target)] == ["sched_a", "sched_b"]
        blocked = await find_blocked(target, "+14155550199")
        assert blocked is not None and blocked.call_id == "call_1"
    finally:
        await target.close()
    again = await copy_history(tmp_path / "data", pg_url)
    assert (again.schedules.copied, again.schedules.present) == (0, 2)
    assert (again.blocked.copied, again.blocked.present) == (0, 1)
