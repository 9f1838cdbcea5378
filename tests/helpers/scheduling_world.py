"""A whole simulated world for retries and scheduled calls, the scheduler's clock in the
test's hands (the manager's `clock`; a round is `Scheduler.run_once`), with the plans its
calls follow and readers of a schedule as the local API shows it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.helpers.polling import eventually
from tests.helpers.world import MakeWorld
from voicecall_rt.call.scheduler import Scheduler
from voicecall_rt.simulator.scenario import CallPlan, HangUp, ModelScript, Pause
from voicecall_rt.simulator.world import SimWorld

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


def in_turn(*plans: CallPlan) -> Callable[[str], CallPlan]:
    """Each call gets the next plan (the last one again once they run out)."""
    given: list[CallPlan] = []

    def plan(_to: str) -> CallPlan:
        given.append(plans[min(len(given), len(plans) - 1)])
        return given[-1]

    return plan


async def scheduling_world(
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
