"""Store contents: call records written and read back, each call's transcript and events
numbered in order (also across a restart and after release), listing, and settling the
calls a crash or a reaper left open. Every test runs on SQLite and on PostgreSQL (the
`store` and `store_backend` fixtures are in tests/unit/conftest.py).
"""

from __future__ import annotations

import logging

import pytest

from tests.helpers.records import full_call, make_call
from tests.helpers.store_backends import StoreBackend
from tests.helpers.store_sql import raw_sql
from voicecall_rt.call.records import CallRecord, CallStatus, Outcome, now_ms
from voicecall_rt.store import Store
from voicecall_rt.store.rows import CALL_COLUMNS

# -- records ---------------------------------------------------------------------------


async def test_full_record_round_trip(store: Store) -> None:
    record = full_call("c1")
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


async def test_status_is_stored_as_its_string(store: Store) -> None:
    store.insert_call(make_call("c1"))
    store.update_call("c1", status=CallStatus.NO_ANSWER)
    await store.flush()
    assert await raw_sql(store, "SELECT status FROM calls") == [("no-answer",)]


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


async def test_seq_continues_after_reopen(store_backend: StoreBackend) -> None:
    s = await store_backend.open()
    s.insert_call(make_call("a"))
    s.insert_call(make_call("quiet"))
    for i in range(3):
        s.add_transcript("a", i, "caller", f"line {i}")
    s.add_event("a", 0, "k")
    await s.close()

    s = await store_backend.open()
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
