"""The fake Telnyx's `transfer`: the new leg it dials (leg B), played from a plan.

Telnyx's transfer command (developers.telnyx.com/api-reference/call-commands/transfer-call)
dials `to` as a call of its own, with its own `call_control_id`: `call.initiated`, then
`call.answered` and `call.bridged`, or, if the transfer could not be completed, a
`call.hangup` for leg B, and "the original call will remain active and may be issued
additional commands". Leg B's events carry the command's `target_leg_client_state` (the
SDK: "state to every subsequent webhook for the new leg") and go to its `webhook_url`, or
else to the Call Control application's URL. Once bridged, when leg B hangs up the original
call is hung up too, unless the command asked `park_after_unbridge=self` (the SDK: "If not
set, the default behavior is to hang up the leg"). If the original call ends first, leg B
goes with it.

The transfer leaves the original call's media stream alone: Telnyx's transfer lists no
`streaming.*` event, and a stream lasts until `streaming_stop`, its WebSocket's close or
the call's end (our server closes its side once the call is handed over).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from voicecall_rt.simulator.sim_call import SimCall, WebhookKind

__all__ = ["TransferLegPlan", "run_leg"]


@dataclass(frozen=True)
class TransferLegPlan:
    """What becomes of the person a transfer dials: `answer` after `ring_ms`, talk for
    `talk_ms`, then hang up; or be `busy`, not answer (`no-answer`: rings out the
    command's `timeout_secs`) or refuse the call (`failed`, Telnyx's `call_rejected`)."""

    answer: Literal["answer", "busy", "no-answer", "failed"] = "answer"
    ring_ms: int = 50
    talk_ms: int = 200


class Event(Protocol):
    def __call__(self, call: SimCall, kind: WebhookKind, event_type: str, **extra: Any) -> None: ...


async def _ends_within(call: SimCall, seconds: float) -> bool:
    """Whether `call` is over within `seconds` (waited on, not polled)."""
    try:
        await call.wait_for(lambda: call.is_final, timeout=seconds)
    except TimeoutError:
        return False
    return True


async def run_leg(
    original: SimCall,
    leg: SimCall,
    plan: TransferLegPlan,
    *,
    parks: bool,
    event: Event,
    end_call: Callable[[SimCall, str], object],
) -> None:
    """Leg B's life, from the dial to its `call.hangup` (and the original call's, where
    Telnyx ends it). `parks`: the original call stays up once leg B hangs up."""
    await leg.set_status("initiated")
    event(leg, "status", "call.initiated", direction="outgoing", state="bridging")
    await leg.set_status("ringing")
    ring_s = plan.ring_ms / 1000
    timeout_s = leg.config.timeout_s
    if plan.answer != "answer" or ring_s >= timeout_s:
        if await _ends_within(original, min(ring_s, timeout_s)):
            end_call(leg, "canceled")  # the caller gave up while it rang
            return
        # Not completed: leg B's `call.hangup`; the original call stays as it is.
        end_call(leg, plan.answer if plan.answer != "answer" else "no-answer")
        return
    if await _ends_within(original, ring_s):
        end_call(leg, "canceled")
        return
    leg.mark_answered()
    await leg.set_status("in-progress")
    event(leg, "status", "call.answered", state="answered")
    event(original, "status", "call.bridged", state="bridged")
    event(leg, "status", "call.bridged", state="bridged")
    if await _ends_within(original, plan.talk_ms / 1000):
        end_call(leg, "completed")  # the caller hung up first: the bridge ends
        return
    end_call(leg, "completed")
    if not parks:
        end_call(original, "completed")
