"""Draining for a rolling restart: take no new call, let the live ones finish, and at the
deadline have each one's model say goodbye before it is hung up.

`begin_drain` flips the manager at once (new outbound calls are refused with `draining`,
inbound ones answered Busy, `/ready` says 503); `drain` then waits. What is left when it
returns is settled by the server's stop, as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from voicecall_rt.call.bridge import STREAM_END_WAIT_S
from voicecall_rt.call.conversation import FAREWELL_MAX_WAIT_S, PROMPT_WAIT_S
from voicecall_rt.call.manager import CallManager
from voicecall_rt.call.roster import ActiveCall

log = logging.getLogger(__name__)

DRAIN_REASON = "server-draining"
# Worded like the other system notes (conversation.py): what happened, then exactly what to
# say. The outcome first, so what the call achieved is kept.
GOODBYE_NOTE = (
    "This call must end now: the service you are calling through is shutting down. If you "
    "have not called report_outcome yet, call it with what happened so far. Then, in one "
    "short sentence, say you are sorry but you have to end the call now, and say goodbye. "
    "Do not ask anything or wait for an answer."
)
# A goodbye's own bounds: the wait for a response under way, the farewell's wait, then the
# end (the stream's close); past this the call is hung up without it.
GOODBYE_MAX_S = PROMPT_WAIT_S + FAREWELL_MAX_WAIT_S + STREAM_END_WAIT_S + 1.0
# After the hang-ups, how long the carriers' final statuses are awaited before the stop
# settles whatever is left.
SETTLE_WAIT_S = 10.0


def begin_drain(manager: CallManager) -> int:
    """Take no new call from now on; returns how many calls are live."""
    manager.draining = True
    manager.cluster.set_draining(True)  # the registry shows it to the other instances
    return manager.active_count


async def drain(manager: CallManager, timeout_s: float) -> bool:
    """Wait up to `timeout_s` for every live call to end by itself (True if they all did);
    then each one left says goodbye and is hung up (`server-draining`)."""
    calls = list(manager.calls)  # no call is added while draining
    if await _all_settled(calls, timeout_s):
        log.info("drained: every call ended by itself")
        return True
    left = [active for active in calls if not active.settled.is_set()]
    log.warning("drain timeout: %d live call(s) are asked to say goodbye", len(left))
    for active in left:
        active.bridge.say_goodbye(GOODBYE_NOTE, DRAIN_REASON)
    ended = [asyncio.ensure_future(active.bridge.wait_ended()) for active in left]
    try:
        _, late = await asyncio.wait(ended, timeout=GOODBYE_MAX_S)
    finally:
        for waiter in ended:
            waiter.cancel()
    if late:
        for active in left:
            if not active.bridge.ended:  # the goodbye never came: hang up without it
                active.bridge.spawn(active.bridge.end(DRAIN_REASON, hang_up=True))
    await _all_settled(left, SETTLE_WAIT_S)
    return False


async def _all_settled(calls: Iterable[ActiveCall], timeout_s: float) -> bool:
    waiters = [
        asyncio.ensure_future(active.settled.wait())
        for active in calls
        if not active.settled.is_set()
    ]
    if not waiters:
        return True
    try:
        _, pending = await asyncio.wait(waiters, timeout=timeout_s)
    finally:
        for waiter in waiters:
            waiter.cancel()
    return not pending
