"""Retries in a whole simulated world, the scheduler's clock in the test's hands: a busy
attempt retried after the backoff then answered, attempts exhausted with the backoff
growing, voicemail retried only when `calls.retry.on` says so, and a retry moved into
calling hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.helpers.phone import TO
from tests.helpers.scheduling_world import (
    ANSWERED,
    BUSY,
    MONDAY_10AM,
    TASK,
    in_turn,
    ms,
    reaches,
    retry,
    schedule_of,
    scheduling_world,
)
from tests.helpers.world import MakeWorld
from voicecall_rt.simulator.scenario import CallPlan, Pause


async def test_busy_then_answered(make_world: MakeWorld) -> None:
    world, scheduler, clock = await scheduling_world(
        make_world,
        in_turn(BUSY, ANSWERED),
        **retry(3),
    )
    status, placed = await world.api("POST", "/api/calls", {"to": TO, "task": TASK})
    assert status == 201, placed
    first, schedule_id = placed["call"]["id"], placed["schedule"]["id"]
    assert placed["call"]["schedule_id"] == schedule_id and placed["call"]["attempt"] == 1
    assert (await world.wait_call(first))["call"]["status"] == "busy"
    pending = await reaches(world, schedule_id, "pending")
    assert pending["schedule"]["due_at"] == ms(MONDAY_10AM) + 60_000
    assert "busy" in pending["schedule"]["reason"]

    await scheduler.run_once()  # not due yet: nothing placed
    assert (await schedule_of(world, schedule_id))["schedule"]["state"] == "pending"
    clock.advance(60)
    await scheduler.run_once()
    waiting = await schedule_of(world, schedule_id)
    assert waiting["schedule"]["attempts_made"] == 2
    second = waiting["schedule"]["last_call_id"]
    assert second != first and waiting["schedule"]["first_call_id"] == first
    assert (await world.wait_call(second))["call"]["status"] == "completed"
    done = await reaches(world, schedule_id, "done")
    assert done["schedule"]["reason"] == "answered"
    assert [(a["attempt"], a["call_id"], a["status"]) for a in done["attempts"]] == [
        (1, first, "busy"),
        (2, second, "completed"),
    ]


async def test_attempts_exhausted_with_growing_backoff(make_world: MakeWorld) -> None:
    world, scheduler, clock = await scheduling_world(
        make_world,
        in_turn(BUSY),
        **retry(3, backoffMultiplier=3),
    )
    status, placed = await world.api("POST", "/api/calls", {"to": TO, "task": TASK})
    assert status == 201, placed
    schedule_id = placed["schedule"]["id"]
    for n, wait in ((1, 60), (2, 180)):
        pending = await reaches(world, schedule_id, "pending")
        assert pending["schedule"]["due_at"] == ms(clock.now) + wait * 1000, n
        clock.advance(wait)
        await scheduler.run_once()
    done = await reaches(world, schedule_id, "done")
    assert done["schedule"]["reason"] == "attempts exhausted: 3 of 3, last busy"
    assert [a["status"] for a in done["attempts"]] == ["busy", "busy", "busy"]
    assert len({a["call_id"] for a in done["attempts"]}) == 3


async def test_voicemail_retried_only_when_configured(make_world: MakeWorld) -> None:
    machine = CallPlan(
        ring_ms=100, answered_by="machine_end_beep", amd_delay_ms=100, callee=(Pause(20_000),)
    )
    for on, state in ((["busy"], "done"), (["busy", "voicemail"], "pending")):
        world, _, _ = await scheduling_world(
            make_world,
            in_turn(machine),
            **{
                "calls.retry.attempts": 2,
                "calls.retry.on": on,
                "calls.voicemail.policy": "hangup",
            },
        )
        status, placed = await world.api("POST", "/api/calls", {"to": TO, "task": TASK})
        assert status == 201, placed
        ended = await world.wait_call(placed["call"]["id"])
        assert ended["call"]["end_reason"] == "voicemail"
        decided = await reaches(world, placed["schedule"]["id"], state)
        if state == "done":
            assert "voicemail, not retried" in decided["schedule"]["reason"]


async def test_a_retry_is_moved_into_calling_hours(make_world: MakeWorld) -> None:
    world, _, clock = await scheduling_world(
        make_world,
        in_turn(BUSY),
        **retry(2),
        **{"calls.hours.start": "09:00", "calls.hours.end": "17:00"},
    )
    clock.now = MONDAY_10AM + timedelta(hours=6, minutes=59, seconds=30)  # 16:59:30 there
    status, placed = await world.api("POST", "/api/calls", {"to": TO, "task": TASK})
    assert status == 201, placed
    pending = await reaches(world, placed["schedule"]["id"], "pending")
    tuesday_9am = datetime(2030, 1, 8, 17, 0, tzinfo=UTC)  # 09:00 in San Francisco
    assert pending["schedule"]["due_at"] == ms(tuesday_9am)


async def test_a_call_hung_up_on_request_is_not_retried(make_world: MakeWorld) -> None:
    # Still ringing when the agent hangs it up: the carrier says canceled, as it would for a
    # ring that timed out, but someone chose to stop this call, so no attempt follows.
    world, scheduler, clock = await scheduling_world(
        make_world, in_turn(CallPlan(ring_ms=60_000)), **retry(3)
    )
    status, placed = await world.api("POST", "/api/calls", {"to": TO, "task": TASK})
    assert status == 201, placed
    call_id, schedule_id = placed["call"]["id"], placed["schedule"]["id"]
    await world.carrier.wait_call()
    status, _ = await world.api("POST", f"/api/calls/{call_id}/hangup")
    assert status == 200
    ended = (await world.wait_call(call_id))["call"]
    assert (ended["status"], ended["end_reason"]) == ("canceled", "hangup-requested")
    done = await reaches(world, schedule_id, "done")
    assert done["schedule"]["reason"] == "attempt 1: hung up on request, not retried"
    clock.advance(3600)
    await scheduler.run_once()
    assert [a["call_id"] for a in (await schedule_of(world, schedule_id))["attempts"]] == [call_id]
