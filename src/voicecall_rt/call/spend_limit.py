"""`limits.perCallSpendUsd`: a call whose running cost reaches it says goodbye and hangs up
(docs/business.md §Guards). The cost is the one pricing.py gives a stored call, from the
model's usage so far and the carrier minutes begun since the answer; it is looked at once a
second by a task of the call's, never on the audio path."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final

from voicecall_rt.call.guards import spent_usd
from voicecall_rt.pricing import cost

if TYPE_CHECKING:
    from voicecall_rt.call.bridge import CallBridge

SPEND_REASON: Final = "spend-limit"
# Worded like the drain's goodbye (call/drain.py): what happened, then exactly what to say.
SPEND_NOTE: Final = (
    "This call must end now: it has reached the spending limit set for one call. If you "
    "have not called report_outcome yet, call it with what happened so far. Then, in one "
    "short sentence, say you are sorry but you have to end the call now, and say goodbye. "
    "Do not ask anything or wait for an answer."
)
CHECK_EVERY_S: Final = 1.0


def running_cost(bridge: CallBridge) -> float:
    """What the call has cost so far, in USD (an unpriced model's part counts nothing)."""
    settings = bridge.settings
    so_far = cost(
        bridge.usage,
        bridge.talk_ms(),
        settings.openai.model,
        settings.pricing,
        settings.openai.transcription_model,
        settings.carrier,
    )
    return spent_usd(so_far)


async def watch_spend(bridge: CallBridge, limit_usd: float, every_s: float = CHECK_EVERY_S) -> None:
    """Until the call ends: once its running cost reaches `limit_usd`, journal it and have
    the model say goodbye (the call then ends as `spend-limit`)."""
    while not bridge.ended:
        await asyncio.sleep(every_s)
        spent = running_cost(bridge)
        if spent >= limit_usd:
            bridge.journal.event("spend.limit", spent_usd=round(spent, 6), limit_usd=limit_usd)
            bridge.say_goodbye(SPEND_NOTE, SPEND_REASON)
            return
