"""The reaper: every call ends in a terminal status with a reason, even when the carrier's
last callback never comes. Every `REAP_INTERVAL_S` it settles the calls whose stream ended
without a final status for `SETTLE_GRACE_S`, and hangs up those that never connected long
after their ring timeout."""

from __future__ import annotations

import asyncio

from voicecall_rt.call.records import CallStatus, now_ms
from voicecall_rt.call.roster import Roster
from voicecall_rt.config import Settings

SETTLE_GRACE_S = 60.0  # how long a finished call may wait for the carrier's final status
REAP_INTERVAL_S = 15.0


async def reap(calls: Roster, settings: Settings) -> None:
    loop_now = asyncio.get_running_loop().time()
    never_connected_ms = (settings.calls.timeout_seconds + SETTLE_GRACE_S) * 1000
    for active in calls:
        ended = active.bridge_ended_at
        if ended is not None and loop_now - ended >= SETTLE_GRACE_S:
            calls.settle(active, None, "no final status from the carrier")
        elif (
            ended is None
            and not active.bridge.streaming
            and now_ms() - active.record.created_at >= never_connected_ms
        ):
            active.reaping = True
            await active.bridge.end("never-connected", hang_up=True)
            calls.settle(active, CallStatus.FAILED, "never-connected")


async def reap_forever(calls: Roster, settings: Settings) -> None:
    while True:
        await asyncio.sleep(REAP_INTERVAL_S)
        await reap(calls, settings)
