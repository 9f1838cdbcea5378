"""What legitimately differs by carrier in a whole call, in one table, so one test body
proves a feature on every carrier (tests/conftest.py parametrises `carrier`).

Each row is the carrier's documented behaviour as its fake plays it (docs/protocols.md):
how our server presses keys, how a caller's hang-up reaches us, whether a cleared mark is
echoed, what its machine detection says for each of the plans' verdicts, its stream's words,
its credentials, and how it was told to answer an inbound call.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from typing import Any, Literal

from voicecall_rt.simulator.sim_call import SimCall
from voicecall_rt.simulator.telnyx.carrier import FakeTelnyx
from voicecall_rt.simulator.world import SimWorld

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
    # Whether the dial takes a time limit (SignalWire's create call has none: our own timer
    # ends the call).
    time_limit: bool = True
    # Whether a caller frame carries its place on the stream clock (Plivo's timestamp is
    # wall-clock: our recording places its frames one after another, by arrival).
    stamps_caller_frames: bool = True
    # Whether the keys our server presses reach the far party as tones (in our audio, or
    # played on the line by the carrier's command: Telnyx) rather than as signalling only.
    keys_as_tones: bool = True
    # Whether a caller turned away at capacity hears our busy message (Telnyx's reject
    # with USER_BUSY plays none: a message would need answer, speak, hang up).
    says_busy: bool = True


_MACHINE_ENDS = ("machine_end_beep", "machine_end_silence", "machine_end_other")
# Twilio's own words (the plans use them): each as it is.
_TWILIO_VERDICTS = {v: v for v in ("human", "unknown", "fax", "machine_start", *_MACHINE_ENDS)}

FACTS: dict[str, CarrierFacts] = {
    "twilio": CarrierFacts(
        keys_via="audio",
        caller_hang_up="carrier-stop",
        echoes_cleared_marks=True,
        verdicts=_TWILIO_VERDICTS,
        amd_duration=True,
    ),
    "telnyx": CarrierFacts(
        keys_via="carrier",
        caller_hang_up="carrier-stop",
        echoes_cleared_marks=True,
        verdicts={
            "human": "human",
            "unknown": "not_sure",
            "fax": "not_sure",  # no fax detection: neither a person nor a machine
            "machine_start": "machine",
            **dict.fromkeys(_MACHINE_ENDS, "beep_detected"),  # the greeting's end
        },
        amd_duration=False,
        says_busy=False,
    ),
    "plivo": CarrierFacts(
        keys_via="carrier",
        caller_hang_up="carrier-closed",
        echoes_cleared_marks=False,
        # Machine true or false only: a fax is a machine, an undecided detection none.
        verdicts={
            "human": "human",
            "unknown": "human",
            **dict.fromkeys(("fax", "machine_start", *_MACHINE_ENDS), "machine"),
        },
        amd_duration=False,
        stamps_caller_frames=False,
        keys_as_tones=False,
    ),
}


# SignalWire is Twilio's dialect: its keys go as the stream's own message, its dial takes
# no time limit.
FACTS["signalwire"] = replace(
    FACTS["twilio"], keys_via="stream", time_limit=False, keys_as_tones=False
)


def facts(carrier: str) -> CarrierFacts:
    return FACTS[carrier]


# ---- the stream's wire, and the secrets a record must not hold ---------------------------


@dataclass(frozen=True)
class StreamWords:
    """The `event` names on the carrier's media stream, as our debug log records them."""

    start: str = "start"
    caller_media: str = "media"
    our_media: str = "media"
    our_mark: str = "mark"
    mark_played: str = "mark"
    our_clear: str = "clear"


STREAM_WORDS: dict[str, StreamWords] = {
    "twilio": StreamWords(),
    "signalwire": StreamWords(),
    "telnyx": StreamWords(),
    "plivo": StreamWords(
        our_media="playAudio",
        our_mark="checkpoint",
        mark_played="playedStream",
        our_clear="clearAudio",
    ),
}


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def carrier_secrets(carrier: str) -> dict[str, str]:
    """The fake carrier's credentials our server was configured with, by name."""
    if carrier == "twilio":
        from voicecall_rt.simulator.twilio import fake as twilio

        return {
            "Twilio auth token": twilio.AUTH_TOKEN,
            "Twilio Basic credentials": _basic(twilio.ACCOUNT_SID, twilio.AUTH_TOKEN),
        }
    if carrier == "signalwire":
        from voicecall_rt.simulator.signalwire import fake as signalwire

        return {
            "SignalWire API token": signalwire.API_TOKEN,
            "SignalWire signing key": signalwire.SIGNING_KEY,
            "SignalWire Basic credentials": _basic(signalwire.PROJECT_ID, signalwire.API_TOKEN),
        }
    if carrier == "plivo":
        from voicecall_rt.simulator.plivo import fake as plivo

        return {
            "Plivo auth token": plivo.AUTH_TOKEN,
            "Plivo Basic credentials": _basic(plivo.AUTH_ID, plivo.AUTH_TOKEN),
        }
    from voicecall_rt.simulator.telnyx import fake as telnyx

    return {"Telnyx API key": telnyx.API_KEY}


def stream_token(carrier: str, start: dict[str, Any]) -> str:
    """The stream token our server handed the carrier, read from the stream's `start` by
    that carrier's own reader (Twilio's `<Parameter>`, Plivo's extraHeaders, Telnyx's
    client_state)."""
    if carrier == "plivo":
        from voicecall_rt.carrier.plivo import wire as plivo_wire

        return plivo_wire.read_start(start).token
    if carrier == "telnyx":
        from voicecall_rt.carrier.telnyx import wire as telnyx_wire

        return telnyx_wire.read_start(start).token
    from voicecall_rt.carrier.signalwire.wire import STREAM_SID
    from voicecall_rt.carrier.twilio import wire as twilio_wire

    shape = STREAM_SID if carrier == "signalwire" else twilio_wire.STREAM_SID
    return twilio_wire.read_start(start, shape).token


# ---- how our server answered an inbound call ---------------------------------------------

# The answer documents' verbs (Twilio's TwiML and SignalWire's cXML, Plivo's XML).
_DOCUMENT_ANSWERS: dict[tuple[str, ...], str] = {
    ("Connect",): "stream",
    ("Stream",): "stream",
    ("Reject",): "reject",
    ("Say", "Hangup"): "busy",
    ("Speak", "Hangup"): "busy",
}


def how_answered(world: SimWorld, call: SimCall) -> str:
    """`stream`, `reject` or `busy`: what our server told the carrier to do with an inbound
    call, read from the carrier's own record (an answer document, or Telnyx's REST action:
    `answer`, `reject` with CALL_REJECTED or USER_BUSY)."""
    fake = world.carrier
    if isinstance(fake, FakeTelnyx):
        [(action, body)] = [
            (action, body)
            for action, body in fake.requests
            if body.get("call_control_id") == call.sid and action in ("answer", "reject")
        ]
        if action == "answer":
            return "stream"
        return "busy" if body.get("cause") == "USER_BUSY" else "reject"
    [document] = call.twiml
    root = ET.fromstring(document)
    verbs = tuple(child.tag for child in root)
    if verbs == ("Hangup",) and root[0].get("reason") == "rejected":
        return "reject"  # Plivo's refusal
    return _DOCUMENT_ANSWERS[verbs]
