"""What legitimately differs by carrier in a whole call, in one table, so one test body
proves a feature on every carrier (tests/conftest.py parametrises `carrier`).

Each row is the carrier's documented behaviour as its fake plays it (docs/protocols.md):
how our server presses keys, how a caller's hang-up reaches us, whether a cleared mark is
echoed, and what its machine detection says for each of the plans' verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

KeysVia = Literal["audio", "carrier", "stream"]


@dataclass(frozen=True)
class CarrierFacts:
    # How send_dtmf presses keys (the `dtmf` event's `via`): in-band tones in our audio,
    # the carrier's REST command, or the stream's own keypad message.
    keys_via: KeysVia
    # Our end reason when the far party hangs up: the stream's `stop`, or only its close
    # (Plivo sends no `stop`).
    caller_hang_up: str
    # Whether the carrier answers a mark a `clear` dropped (Plivo never does: our ledger
    # settles those checkpoints itself).
    echoes_cleared_marks: bool
    # The plans' verdicts (Twilio's words) as the carrier reports them: our stored
    # `answered_by` for each; a verdict the carrier cannot tell apart maps to its nearest.
    verdicts: dict[str, str]
    # Whether the carrier says how long detection took (our `amd_duration_ms`).
    amd_duration: bool
    # Whether the carrier's detection can tell a fax from another machine.
    tells_fax: bool
    # Whether the dial takes a time limit (SignalWire's create call has none: our own timer
    # ends the call).
    time_limit: bool = True


_TWILIO_VERDICTS = {
    v: v
    for v in (
        "human",
        "unknown",
        "fax",
        "machine_start",
        "machine_end_beep",
        "machine_end_silence",
        "machine_end_other",
    )
}

FACTS: dict[str, CarrierFacts] = {
    "twilio": CarrierFacts(
        keys_via="audio",
        caller_hang_up="carrier-stop",
        echoes_cleared_marks=True,
        verdicts=_TWILIO_VERDICTS,
        amd_duration=True,
        tells_fax=True,
    ),
    "signalwire": CarrierFacts(
        keys_via="stream",
        caller_hang_up="carrier-stop",
        echoes_cleared_marks=True,
        verdicts=_TWILIO_VERDICTS,
        amd_duration=True,
        tells_fax=True,
        time_limit=False,
    ),
    "telnyx": CarrierFacts(
        keys_via="carrier",
        caller_hang_up="carrier-stop",
        echoes_cleared_marks=True,
        verdicts={
            "human": "human",
            "unknown": "not_sure",
            "fax": "not_sure",
            "machine_start": "machine",
            "machine_end_beep": "beep_detected",
            "machine_end_silence": "beep_detected",
            "machine_end_other": "beep_detected",
        },
        amd_duration=False,
        tells_fax=False,
    ),
    "plivo": CarrierFacts(
        keys_via="carrier",
        caller_hang_up="carrier-closed",
        echoes_cleared_marks=False,
        verdicts={
            "human": "human",
            "unknown": "human",
            "fax": "machine",
            "machine_start": "machine",
            "machine_end_beep": "machine",
            "machine_end_silence": "machine",
            "machine_end_other": "machine",
        },
        amd_duration=False,
        tells_fax=False,
    ),
}


def facts(carrier: str) -> CarrierFacts:
    return FACTS[carrier]
