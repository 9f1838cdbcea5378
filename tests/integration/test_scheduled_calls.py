"""Scheduled calls in a whole simulated world, the scheduler's clock in the test's hands: a
call scheduled for later placed once when due, a cancelled one never, bad times refused with
nothing stored, `whenAllowed` waiting for calling hours; and what a crash leaves (an expired
claim) and refusals at the placing moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.helpers.phone import TO
from tests.helpers.scheduling_world import (
    ANSWERED,
    MONDAY_10AM,
    TASK,
    in_turn,
    ms,
    reaches,
    schedule_of,
    scheduling_world,
)
from tests.helpers.world import MakeWorld
from voicecall_rt.call.records import CallRecord, CallStatus
from voicecall_rt.simulator.world import FROM_NUMBER
from voicecall_rt.store.blocklist import DO_NOT_CALL, record_blocked
from voicecall_rt.store.schedules import Schedule, create_schedule


def stored_schedule(sid: str, due: int, **fields: Any) -> Schedule:
    """A schedule row as the scheduler would have stored it (one attempt, no retry)."""
    values = {"id": sid, "to_number": TO, "task": TASK, "created_at": due, "due_at": due}
    values |= {"state": "pending", "max_attempts": 1, "updated_at": due, **fields}
    return Schedule.model_validate(values)


async def test_scheduled_for_later_is_placed_once_when_due(make_world: MakeWorld) -> None:
    world, scheduler, clock = await scheduling_world(make_world, in_turn(ANSWERED))
    at = (MONDAY_10AM + timedelta(minutes=10)).isoformat()
    status, body = await world.api("POST", "/api/calls", {"to": TO, "task": TASK, "at": at})
    assert status == 202, body
    schedule_id = body["schedule"]["id"]
    assert body["schedule"]["state"] == "pending" and "call" not in body
    status, listed = await world.api("GET", "/api/schedules")
    assert [s["id"] for s in listed["schedules"]] == [schedule_id]
    await scheduler.run_once()
    assert (await schedule_of(world, schedule_id))["attempts"] == []
    clock.advance(600)
    await scheduler.run_once()
    await scheduler.run_once()  # again: nothing more is placed
    placed = await schedule_of(world, schedule_id)
    [attempt] = placed["attempts"]
    assert (await world.wait_call(attempt["call_id"]))["call"]["status"] == "completed"
    assert (await reaches(world, schedule_id, "done"))["schedule"]["reason"] == "answered"
    status, calls = await world.api("GET", "/api/calls")
    assert [c["id"] for c in calls["calls"]] == [attempt["call_id"]]
    # Over: a cancel is refused.
    status, refused = await world.api("DELETE", f"/api/schedules/{schedule_id}")
    assert status == 409 and refused["error"]["code"] == "schedule-over"


async def test_cancelled_before_due_is_never_placed(make_world: MakeWorld) -> None:
    world, scheduler, clock = await scheduling_world(make_world, in_turn(ANSWERED))
    body = {"to": TO, "task": TASK, "at": "2030-01-07T20:00:00", "timeZone": "Europe/Paris"}
    status, created = await world.api("POST", "/api/calls", body)
    assert status == 202, created
    schedule_id = created["schedule"]["id"]
    assert created["schedule"]["due_at"] == ms(datetime(2030, 1, 7, 19, 0, tzinfo=UTC))
    status, canceled = await world.api("DELETE", f"/api/schedules/{schedule_id}")
    assert status == 200 and canceled["schedule"]["state"] == "canceled"
    clock.advance(86_400)
    await scheduler.run_once()
    assert (await schedule_of(world, schedule_id))["attempts"] == []
    status, missing = await world.api("DELETE", "/api/schedules/sched_nope")
    assert (status, missing["error"]["code"]) == (404, "not-found")


async def test_bad_times_are_refused_and_nothing_is_stored(make_world: MakeWorld) -> None:
    world, _, _ = await scheduling_world(make_world, in_turn(ANSWERED))
    cases = [
        ({"at": "2030-01-07T17:00:00Z"}, "invalid-time", "in the past"),
        ({"at": "2032-01-07T17:00:00Z"}, "invalid-time", "days ahead"),
        ({"at": "2030-01-07T19:00:00"}, "invalid-time", "no offset"),
        ({"at": "2030-01-07T19:00:00", "timeZone": "Mars/Olympus"}, "invalid-time-zone", "Mars"),
        ({"at": "tomorrow"}, "invalid-time", "ISO 8601"),
        ({"timeZone": "Europe/Paris"}, "invalid-time-zone", "give `at`"),
        ({"at": "2030-03-31T02:30:00", "timeZone": "Europe/Paris"}, "invalid-time", "not exist"),
        ({"at": "2030-01-08T10:00:00Z", "to": "12"}, "invalid-number", ""),
    ]
    for extra, code, words in cases:
        status, body = await world.api("POST", "/api/calls", {"to": TO, "task": TASK, **extra})
        assert (status, body["error"]["code"]) == (400, code), extra
        assert words in body["error"]["message"], body
    status, listed = await world.api("GET", "/api/schedules")
    assert listed["schedules"] == []
    status, calls = await world.api("GET", "/api/calls")
    assert calls["calls"] == []


async def test_when_allowed_schedules_for_the_next_allowed_time(make_world: MakeWorld) -> None:
    world, _, clock = await scheduling_world(
        make_world, in_turn(ANSWERED), **{"calls.hours.start": "09:00", "calls.hours.end": "17:00"}
    )
    clock.now = MONDAY_10AM + timedelta(hours=8)  # 18:00 in San Francisco
    status, refused = await world.api("POST", "/api/calls", {"to": TO, "task": TASK})
    assert (status, refused["error"]["code"]) == (409, "outside-calling-hours")
    body = {"to": TO, "task": TASK, "whenAllowed": True}
    status, created = await world.api("POST", "/api/calls", body)
    assert status == 202, created
    assert created["schedule"]["due_at"] == ms(datetime(2030, 1, 8, 17, 0, tzinfo=UTC))
    assert created["schedule"]["when_allowed"] is True


# ---- what a crash leaves, and refusals at the placing moment ---------------------------------


async def test_an_expired_claim_is_repaired_and_never_dialled_twice(make_world: MakeWorld) -> None:
    world, scheduler, _ = await scheduling_world(make_world, in_turn(ANSWERED))
    store, now = world.server.store, ms(MONDAY_10AM)
    claimed = {"state": "placing", "claimed_by": "gone", "claimed_until": now - 1}
    # Claimed by an instance that died before dialling: placed again.
    await create_schedule(store, stored_schedule("sched_a", now, **claimed))
    # Claimed by one that died after storing its attempt (busy): decided, not dialled again.
    await create_schedule(store, stored_schedule("sched_b", now, **claimed))
    attempt = CallRecord(
        id="call_b1",
        direction="outbound",
        from_number=FROM_NUMBER,
        to_number=TO,
        status=CallStatus.BUSY,
        end_reason="busy",
        schedule_id="sched_b",
        attempt=1,
    )
    store.insert_call(attempt)
    store.release("call_b1")
    await scheduler.run_once()
    a = await schedule_of(world, "sched_a")
    [placed] = a["attempts"]
    assert a["schedule"]["attempts_made"] == 1 and placed["call_id"] != "call_b1"
    b = await reaches(world, "sched_b", "done")
    assert b["schedule"]["reason"] == "attempts exhausted: 1 of 1, last busy"
    assert [x["call_id"] for x in b["attempts"]] == ["call_b1"]
    await world.wait_call(placed["call_id"])
    _, calls = await world.api("GET", "/api/calls")
    assert sorted(c["id"] for c in calls["calls"]) == sorted([placed["call_id"], "call_b1"])


async def test_a_refusal_when_due_ends_the_schedule_or_waits(make_world: MakeWorld) -> None:
    world, scheduler, clock = await scheduling_world(make_world, in_turn(ANSWERED))
    at = (MONDAY_10AM + timedelta(minutes=5)).isoformat()
    status, created = await world.api("POST", "/api/calls", {"to": TO, "task": TASK, "at": at})
    assert status == 202, created
    world.server.manager.draining = True  # this instance is stopping: it leaves it
    clock.advance(300)
    await scheduler.run_once()
    assert (await schedule_of(world, created["schedule"]["id"]))["schedule"]["state"] == "pending"
    world.server.manager.draining = False
    await record_blocked(world.server.store, TO, source=DO_NOT_CALL, call_id="call_0")
    await scheduler.run_once()
    failed = await schedule_of(world, created["schedule"]["id"])
    assert failed["schedule"]["state"] == "failed" and failed["attempts"] == []
    assert failed["schedule"]["reason"].startswith("blocked-number: ")
