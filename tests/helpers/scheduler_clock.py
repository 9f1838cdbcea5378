"""A scheduler that never waits for a due time: the manager's clock jumps there instead.

For tests whose client runs in another process (the OpenClaw plugin's Node tests) and
cannot drive `Scheduler.run_once` with a clock in hand: a retry's backoff (10 s at the
least) or a call for later is then placed as soon as the scheduler looks, with nothing
waited for. Between jumps the clock is `behind_s` behind the real one, so the due times
the server gives out for retries are already past for a client reading them by its own
clock, and such a client never waits for them either.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from voicecall_rt.call.scheduler import Scheduler, wait_event
from voicecall_rt.store import schedules


class JumpingClock:
    def __init__(self, behind_s: float) -> None:
        self.behind = timedelta(seconds=behind_s)
        self.jumped = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) - self.behind + self.jumped

    def jump_to(self, epoch_ms: int) -> None:
        """Be at `epoch_ms` (or later) until `back`."""
        self.jumped = max(timedelta(0), datetime.fromtimestamp(epoch_ms / 1000, UTC) - self.back())

    def back(self) -> datetime:
        """`behind_s` behind the real clock again; the time now."""
        self.jumped = timedelta(0)
        return self()


def never_waiting(scheduler: Scheduler, behind_s: float = 3600) -> JumpingClock:
    """Give the running scheduler (and its manager) a clock that jumps to each due time, for
    the round that places what is due, and is back behind the real one after it (so a
    call for later, which may be due after the real now, does not carry the clock along)."""
    clock = JumpingClock(behind_s)
    scheduler.manager.clock = clock

    async def wait(event: asyncio.Event, timeout_s: float) -> None:
        now = clock.back()
        due = await schedules.next_due(scheduler.store)
        if due is not None and due > int(now.timestamp() * 1000):
            clock.jump_to(due)
            return
        await wait_event(event, timeout_s)  # nothing due: until a schedule or a call changes

    # The scheduler takes its wait when built; the server built this one, so it is swapped
    # in, and the wait under way (on the real clock) is ended.
    scheduler._wait = wait
    scheduler.wake()
    return clock
