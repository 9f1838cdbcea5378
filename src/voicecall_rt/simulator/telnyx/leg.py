"""What the fake Telnyx keeps of a call beside its `SimCall`, and how it words the call in
its events: the ids, the `hangup_cause`, the answering-machine verdict."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Final

from voicecall_rt.simulator.sim_call import SimCall
from voicecall_rt.simulator.telnyx.media_stream import StreamRequest

# Our (Twilio-worded) final statuses as Telnyx's `hangup_cause`.
HANGUP_CAUSE: Final = {
    "completed": "normal_clearing",
    "busy": "user_busy",
    "no-answer": "timeout",
    "failed": "call_rejected",
    "canceled": "originator_cancel",
}


@dataclass
class Leg:
    """What Telnyx keeps of a call beside the SimCall: where its events go, the latest
    command's `client_state`, the stream asked for, the detection mode."""

    webhook_url: str
    client_state: str | None
    stream: StreamRequest | None
    amd: str | None
    hangup_cause: str | None = None


def new_call_control_id() -> str:
    return "v3:" + secrets.token_urlsafe(24)


def event_payload(call: SimCall, leg: Leg, connection_id: str, **extra: Any) -> dict[str, Any]:
    """An event's `payload`: the call's ids and numbers, the leg's latest `client_state`,
    then what this event adds."""
    payload: dict[str, Any] = {
        "call_control_id": call.sid,
        "call_leg_id": "leg-" + call.sid[3:],
        "call_session_id": "sess-" + call.sid[3:],
        "connection_id": connection_id,
        "from": call.from_,
        "to": call.to,
    }
    if leg.client_state is not None:
        payload["client_state"] = leg.client_state
    payload.update(extra)
    return payload


def amd_result(verdict: str) -> str:
    """A plan's verdict (Twilio's words: human, machine_end_beep, …) as Telnyx's `result`."""
    if verdict == "human":
        return "human"
    return "machine" if verdict.startswith("machine") else "not_sure"


def greeting_ended(verdict: str, amd: str | None) -> bool:
    """Whether Telnyx follows the verdict with `call.machine.greeting.ended` (a beep):
    only a machine whose greeting ended, under a detection mode that waits for it."""
    return verdict.startswith("machine_end") and amd in ("greeting_end", "detect_words")
