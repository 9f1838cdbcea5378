"""What ends a call that nothing else ends, armed when its carrier stream starts: the time
limit, a silent line on an outbound call (one "Hello?", then a hang-up), a stream that
stops sending audio (a zombie), and the per-call spend limit (call/spend_limit.py).

The timers are handed back for the bridge to cancel as the call ends; the watching tasks
are the call's own, cancelled with it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from voicecall_rt.call.spend_limit import watch_spend

if TYPE_CHECKING:
    from voicecall_rt.call.bridge import CallBridge


def arm_watchdogs(bridge: CallBridge) -> list[asyncio.TimerHandle]:
    """Start the call's watchdogs; its timers, to cancel when it ends."""
    loop = asyncio.get_running_loop()
    settings = bridge.settings
    calls = settings.calls
    timers = [
        loop.call_later(
            calls.max_duration_seconds,
            lambda: bridge.spawn(bridge.end("max-duration", hang_up=True)),
        )
    ]
    bridge.spawn(watch_media(bridge))
    if settings.limits.per_call_spend_usd is not None:
        bridge.spawn(watch_spend(bridge, settings.limits.per_call_spend_usd))
    if bridge.direction == "outbound":
        # Outbound listens first; a line that stays silent gets one "Hello?", then a
        # hang-up.
        conversation = bridge.conversation
        timers.append(
            loop.call_later(calls.silence_nudge_seconds, lambda: bridge.spawn(conversation.nudge()))
        )
        timers.append(
            loop.call_later(
                calls.silence_hangup_seconds, lambda: bridge.spawn(conversation.silent_end())
            )
        )
    return timers


async def watch_media(bridge: CallBridge) -> None:
    """Zombie watchdog: a stream that stops sending audio is a call that is gone."""
    timeout = bridge.settings.calls.media_timeout_seconds
    interval = min(1.0, timeout / 4)
    relay = bridge.relay
    seen, quiet = relay.frames_in, 0.0
    while not bridge.state.ended:
        await asyncio.sleep(interval)
        if relay.frames_in != seen:
            seen, quiet = relay.frames_in, 0.0
            continue
        quiet += interval
        if quiet >= timeout:
            bridge.spawn(bridge.end("no-media", hang_up=True))
            return
