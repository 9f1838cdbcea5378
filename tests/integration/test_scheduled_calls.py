"""Retries and scheduled calls in a whole simulated world, the scheduler's clock in the
test's hands (the manager's `clock`; a round is `Scheduler.run_once`): a busy attempt
retried after the backoff then answered, attempts exhausted with the backoff growing,
voicemail retried only when `calls.retry.on` says so, a retry moved into calling hours,
a call scheduled for later placed once when due, a cancelled one never, and bad times
refused with nothing stored."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate

from tests.helpers.cli import cli, one_line, world_config
from tests.helpers.mcp_client import error, mcp_client, ok
from tests.helpers.phone import TO
from tests.helpers.polling import eventually
from tests.helpers.world import MakeWorld
from voicecall_rt.call.records import CallRecord, CallStatus
from voicecall_rt.call.scheduler import Scheduler
from voicecall_rt.cli.shared import EXIT_FAILED
from voicecall_rt.simulator.scenario import CallPlan, HangUp, ModelScript, Pause
from voicecall_rt.simulator.world import FROM_NUMBER, SimWorld
from voicecall_rt.store.blocklist import DO_NOT_CALL, record_blocked
from voicecall_rt.store.schedules import Schedule, create_schedule

TASK = "Confirm the delivery slot for tomorrow."
SILENT = ModelScript()
BUSY = CallPlan(answer="busy", ring_ms=100)
ANSWERED = CallPlan(ring_ms=100, callee=(Pause(300), HangUp()))
# Monday 2030-01-07 10:00 in San Francisco (the +1415 number's zone): inside 09:00-17:00.
MONDAY_10AM = datetime(2030, 1, 7, 18, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def retry(attempts: int, **more: Any) -> dict[str, Any]:
    """calls.retry settings: `attempts`, a 60 s backoff unless `more` says otherwise."""
    keys = {"attempts": attempts, "backoffSeconds": 60, **more}
    return {f"calls.retry.{key}": value for key, value in keys.items()}


def stored_schedule(sid: str, due: int, **fields: Any) -> Schedule:
    """A schedule row as the scheduler would have stored it (one attempt, no retry)."""
    values = {"id": sid, "to_number": TO, "task": TASK, "created_at": due, "due_at": due}
    values |= {"state": "pending", "max_attempts": 1, "updated_at": due, **fields}
    return Schedule.model_validate(values)


def in_turn(*plans: CallPlan) -> Callable[[str], CallPlan]:
    """Each call gets the next plan (the last one again once they run out)."""
    given: list[CallPlan] = []

    def plan(_to: str) -> CallPlan:
        given.append(plans[min(len(given), len(plans) - 1)])
        return given[-1]

    return plan


async def setup(
    make_world: MakeWorld, plans: Callable[[str], CallPlan], **settings: Any
) -> tuple[SimWorld, Scheduler, Clock]:
    world = await make_world(plans, SILENT, **settings)
    clock = Clock(MONDAY_10AM)
    world.server.manager.clock = clock
    assert world.server.scheduler is not None
    return world, world.server.scheduler, clock


async def schedule_of(world: SimWorld, schedule_id: str) -> dict[str, Any]:
    status, data = await world.api("GET", f"/api/schedules/{schedule_id}")
    assert status == 200, data
    result: dict[str, Any] = data
    return result


async def reaches(world: SimWorld, schedule_id: str, state: str) -> dict[str, Any]:
    """The schedule once it is in `state` (the scheduler decides when an attempt settles)."""
    seen: dict[str, Any] = {}

    async def check() -> bool:
        seen.update(await schedule_of(world, schedule_id))
        return bool(seen["schedule"]["state"] == state)

    await eventually(check, 20, f"schedule {schedule_id} {state}")
    return seen


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


async def test_busy_then_answered(make_world: MakeWorld) -> None:
    world, scheduler, clock = await setup(
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
    world, scheduler, clock = await setup(
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
        world, _, _ = await setup(
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
    world, _, clock = await setup(
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


async def test_scheduled_for_later_is_placed_once_when_due(make_world: MakeWorld) -> None:
    world, scheduler, clock = await setup(make_world, in_turn(ANSWERED))
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
    world, scheduler, clock = await setup(make_world, in_turn(ANSWERED))
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
    world, _, _ = await setup(make_world, in_turn(ANSWERED))
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
    world, _, clock = await setup(
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


# ---- the CLI ------------------------------------------------------------------------------


async def test_cli_call_wait_follows_the_retries(make_world: MakeWorld, tmp_path: Path) -> None:
    world, scheduler, clock = await setup(
        make_world,
        in_turn(BUSY, ANSWERED),
        **retry(2, backoffSeconds=10),
    )
    clock.now = datetime.now(UTC)  # the CLI waits for a pending attempt in real time
    config = world_config(world, tmp_path)
    waiting = asyncio.ensure_future(cli("call", "-n", TO, "-t", TASK, "--wait", config=config))
    listed: list[dict[str, Any]] = []

    async def retry_pending() -> bool:
        _, data = await world.api("GET", "/api/schedules")
        listed[:] = data["schedules"]
        return bool(listed) and listed[0]["state"] == "pending"

    await eventually(retry_pending, 20, "the first attempt busy, the second pending")
    clock.advance(10)
    await scheduler.run_once()
    code, out, err = await waiting
    assert code == EXIT_FAILED, err  # answered, but no outcome reported
    assert "attempt 1 (call_" in err and "): busy (busy)" in err
    assert "attempt 2 (call_" in err and "): completed" in err
    done = await schedule_of(world, listed[0]["id"])
    assert done["schedule"]["state"] == "done"
    assert done["attempts"][1]["call_id"] in out  # the final attempt is the call reported
    assert "attempt 2 of schedule" in out


async def test_cli_scheduled_and_cancel(make_world: MakeWorld, tmp_path: Path) -> None:
    world, _, _ = await setup(make_world, in_turn(ANSWERED))
    config = world_config(world, tmp_path)
    at = (MONDAY_10AM + timedelta(hours=1)).isoformat()
    status, created = await world.api("POST", "/api/calls", {"to": TO, "task": TASK, "at": at})
    assert status == 202, created
    schedule_id = created["schedule"]["id"]
    code, out, err = await cli("calls", "scheduled", "--json", config=config)
    assert code == 0, err
    [listed] = json.loads(out)
    assert (listed["id"], listed["state"], listed["due_at"]) == (
        schedule_id,
        "pending",
        ms(MONDAY_10AM + timedelta(hours=1)),
    )
    code, out, err = await cli("calls", "scheduled", config=config)
    assert code == 0 and schedule_id in out and "2030-01-07 19:00:00 UTC" in out
    code, out, err = await cli("calls", "cancel", schedule_id, config=config)
    assert code == 0, err
    assert f"schedule {schedule_id} canceled" in out
    assert (await schedule_of(world, schedule_id))["schedule"]["state"] == "canceled"
    code, out, err = await cli("calls", "cancel", schedule_id, config=config)
    assert code == EXIT_FAILED and "canceled already" in one_line(err)
    code, out, err = await cli("calls", "cancel", "sched_nope", config=config)
    assert code == EXIT_FAILED and "no schedule sched_nope" in one_line(err)


async def test_schedule_responses_match_the_openapi_document(make_world: MakeWorld) -> None:
    world, _, _ = await setup(make_world, in_turn(BUSY), **retry(2))
    status, document = await world.api("GET", "/api/openapi.json")
    validate(document)

    def matches(body: Any, name: str) -> None:
        ref = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
        jsonschema.validate(body, ref)

    status, placed = await world.api("POST", "/api/calls", {"to": TO, "task": TASK})
    assert status == 201
    matches(placed, "CallEnvelope")
    at = (MONDAY_10AM + timedelta(days=1)).isoformat()
    status, later = await world.api("POST", "/api/calls", {"to": TO, "task": TASK, "at": at})
    assert status == 202
    matches(later, "ScheduleEnvelope")
    matches(await reaches(world, placed["schedule"]["id"], "pending"), "ScheduleDetail")
    status, listed = await world.api("GET", "/api/schedules")
    matches(listed, "ScheduleList")
    assert [s["id"] for s in listed["schedules"]] == [
        placed["schedule"]["id"],  # due first
        later["schedule"]["id"],
    ]
    status, canceled = await world.api("DELETE", f"/api/schedules/{later['schedule']['id']}")
    matches(canceled, "ScheduleEnvelope")
    assert set(document["paths"]) >= {"/api/schedules", "/api/schedules/{schedule_id}"}


# ---- MCP -----------------------------------------------------------------------------------


@pytest.mark.slow  # the MCP server as a child process
async def test_mcp_schedules_lists_gets_and_cancels(make_world: MakeWorld, tmp_path: Path) -> None:
    world, _, _ = await setup(make_world, in_turn(ANSWERED))
    config = world_config(world, tmp_path)
    at = (MONDAY_10AM + timedelta(hours=2)).isoformat()
    async with asyncio.timeout(60), mcp_client(config) as client:
        placed = ok(await client.call_tool("make_phone_call", {"to": TO, "task": TASK, "at": at}))
        schedule_id = placed["call_id"]
        assert schedule_id.startswith("sched_")
        assert (placed["status"], placed["active"]) == ("scheduled", False)
        assert placed["schedule"]["due_at"] == "2030-01-07T20:00:00+00:00"
        assert "cancel_scheduled_call" in placed["next_step"]
        got = ok(await client.call_tool("get_call", {"call_id": schedule_id}))
        assert got["status"] == "scheduled" and got["schedule"]["state"] == "pending"
        listed = ok(await client.call_tool("list_calls", {}))
        assert listed["calls"] == []
        assert [s["schedule_id"] for s in listed["scheduled"]] == [schedule_id]
        canceled = ok(await client.call_tool("cancel_scheduled_call", {"schedule_id": schedule_id}))
        assert canceled["status"] == "canceled"
        again = error(await client.call_tool("cancel_scheduled_call", {"schedule_id": schedule_id}))
        assert "canceled already" in again
        past = {"to": TO, "task": TASK, "at": "2001-01-01T00:00:00Z"}
        refused = error(await client.call_tool("make_phone_call", past))
        assert "the call was not placed" in refused and "in the past" in refused
    assert (await world.api("GET", "/api/calls"))[1]["calls"] == []


# ---- what a crash leaves, and refusals at the placing moment ---------------------------------


async def test_an_expired_claim_is_repaired_and_never_dialled_twice(make_world: MakeWorld) -> None:
    world, scheduler, _ = await setup(make_world, in_turn(ANSWERED))
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
    world, scheduler, clock = await setup(make_world, in_turn(ANSWERED))
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
