"""Telnyx media-streaming messages, both ways, written once (docs/protocols.md §6).

Our server reads the carrier's messages with `TelnyxStreamCodec` and writes with
`TelnyxStreamWriter`; the fake Telnyx, the tests and the load generator build the carrier's
side with the `carrier_*` functions (or their byte templates, in a hot loop) and read ours
with `parse` and `read_ours`.

Telnyx's messages are snake_case with `stream_id` at the top level (not inside `start`).
Ours carry no stream id: the socket names the stream. Outgoing messages are assembled by
string concatenation around the payload (the model's base64, forwarded as is), no dict, no
encoder, no decode per frame.

The stream's single-use token rides in the dial's (or the answer action's) `client_state`,
which Telnyx hands back in `start.client_state` and in every webhook of the call: the
codec reads it from the start message alone (`stream_auth_token` would arrive in the
upgrade header and `connected`, before the start, where a message-by-message codec cannot
keep it). The state also says which way the call goes, which `call.answered` does not.
A transfer's legs carry a state of their own, which names our call (`transfer_state`).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

import orjson

from voicecall_rt.carrier.base import Frame, StreamProtocolError, StreamStart
from voicecall_rt.carrier.twilio.wire import TwilioStreamCodec
from voicecall_rt.carrier.twilio.wire import parse as parse  # one JSON object: Twilio's parser

# Telnyx's stream ids are UUIDs and its call control ids `v3:` plus URL-safe characters;
# what we accept is a little wider but can hold neither a quote nor a `%`.
STREAM_ID: Final = re.compile(r"^[0-9A-Za-z._:-]{1,128}$")
ENCODINGS: Final = frozenset({"PCMU", "audio/x-mulaw"})  # current spec, older pages
SAMPLE_RATE: Final = 8000
CODEC: Final = "PCMU"
# 20 ms to 30 s of audio per `media` message we send (Telnyx's WebSocket doc).
MIN_MEDIA_BYTES: Final = 160
MAX_MEDIA_BYTES: Final = 30 * SAMPLE_RATE

Direction = Literal["out", "in"]
_STATE_PREFIX: Final = "vcrt1:"
_TRANSFER: Final = "xfer:"
# Our call ids (`call_…`) and nothing wider: what a transfer's state may name.
_CALL_ID: Final = re.compile(r"^[0-9A-Za-z_-]{1,64}$")

MEDIA_PREFIX: Final = '{"event":"media"'
MARK_PREFIX: Final = '{"event":"mark"'
CLEAR: Final = '{"event":"clear"}'
PAYLOAD_AT: Final = '"payload":"'
NAME_AT: Final = '"name":"'

_FRAMES = TwilioStreamCodec()


def client_state(direction: Direction, token: str) -> str:
    """The `client_state` of a dial (`out`) or an answer (`in`): base64, as Telnyx requires."""
    return base64.b64encode(f"{_STATE_PREFIX}{direction}:{token}".encode()).decode()


def _ours(value: object) -> str | None:
    """A `client_state` of ours, decoded, without its prefix; None for anything else."""
    if not isinstance(value, str) or not value:
        return None
    try:
        text = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, ValueError):
        return None
    return text[len(_STATE_PREFIX) :] if text.startswith(_STATE_PREFIX) else None


def read_client_state(value: object) -> tuple[Direction, str] | None:
    """A `client_state` we wrote, read back; None for anything else."""
    text = _ours(value)
    if text is None:
        return None
    direction, _, token = text.partition(":")
    if direction == "out":
        return "out", token
    if direction == "in":
        return "in", token
    return None


def transfer_state(call_id: str) -> str:
    """The `client_state` of a transfer of our call `call_id`: every webhook of the
    transfer's legs carries it back, so that they name the call (base64, as Telnyx
    requires)."""
    return base64.b64encode(f"{_STATE_PREFIX}{_TRANSFER}{call_id}".encode()).decode()


def read_transfer_state(value: object) -> str | None:
    """The call id a transfer's `client_state` names; None for anything else (the state of
    a dial or an answer included)."""
    text = _ours(value)
    if text is None or not text.startswith(_TRANSFER):
        return None
    call_id = text[len(_TRANSFER) :]
    return call_id if _CALL_ID.fullmatch(call_id) else None


def read_start(message: dict[str, Any]) -> StreamStart:
    """The parts of a `start` we use; StreamProtocolError if it is not one we take."""
    start = message.get("start")
    if not isinstance(start, dict):
        raise StreamProtocolError("start message without a start object")
    stream_id = message.get("stream_id")
    if not isinstance(stream_id, str) or not STREAM_ID.fullmatch(stream_id):
        raise StreamProtocolError("start message without a valid stream_id")
    fmt = start.get("media_format")
    if not isinstance(fmt, dict):
        raise StreamProtocolError("start message without a media_format")
    # Anything but µ-law (PCMA, L16: the PSTN leg's codec when stream_codec is not set)
    # would reach the model as noise.
    if fmt.get("encoding") not in ENCODINGS or fmt.get("sample_rate", SAMPLE_RATE) != 8000:
        raise StreamProtocolError("the stream must carry PCMU at 8000 Hz")
    custom = start.get("custom_parameters") or {}
    if not isinstance(custom, dict):
        raise StreamProtocolError("custom_parameters must be an object")
    call_control_id = start.get("call_control_id", "")
    if not isinstance(call_control_id, str) or (
        call_control_id and not STREAM_ID.fullmatch(call_control_id)
    ):
        raise StreamProtocolError("start message with an invalid call_control_id")
    state = read_client_state(start.get("client_state"))
    return StreamStart(
        stream_id=stream_id,
        call_sid=call_control_id,
        token=state[1] if state is not None else "",
        custom={str(k): str(v) for k, v in custom.items()},
    )


class TelnyxStreamWriter:
    """Builds the messages we send on one stream (Telnyx needs no stream id in them)."""

    __slots__ = ()

    clear: str = CLEAR

    def media(self, payload: str) -> str:
        return MEDIA_PREFIX + ',"media":{' + PAYLOAD_AT + payload + '"}}'

    def mark(self, name: str) -> str:
        return MARK_PREFIX + ',"mark":{' + NAME_AT + name + '"}}'

    def keypad(self, digits: str) -> None:
        """Telnyx's stream has no message for keypad tones: `send_dtmf` (REST) plays them."""
        return None


class TelnyxStreamCodec:
    """Telnyx's wire format, server side (see `carrier.base.StreamCodec`).

    Its caller frames have Twilio's shape field for field (`event`, `media.payload` and
    `media.timestamp`, `mark.name`, `dtmf.digit`, `stop`), so Twilio's reader reads them,
    bound once (no extra call on the hot path). An `error` (Telnyx could not use something
    we sent) reads as a bad frame, so the call's numbers show it."""

    read: Callable[[str | bytes], tuple[Frame, str]]
    frame_ms: Callable[[str | bytes], int | None]

    def __init__(self) -> None:
        self.read = _FRAMES.read
        self.frame_ms = _FRAMES.frame_ms

    def read_start(self, data: str | bytes) -> StreamStart | None:
        try:
            message = parse(data)
        except orjson.JSONDecodeError:
            raise StreamProtocolError("a stream message must be JSON") from None
        event = message.get("event")
        if event == "connected":
            return None
        if event == "start":
            return read_start(message)
        raise StreamProtocolError(f"expected start, got {str(event)[:32]!r}")

    def writer(self, start: StreamStart) -> TelnyxStreamWriter:
        return TelnyxStreamWriter()


# ---- the carrier's side (the fake carrier, tests, the load generator) ------------------------


def carrier_connected() -> dict[str, Any]:
    return {"event": "connected", "version": "1.0.0"}


def carrier_start(
    seq: str,
    stream_id: str,
    *,
    call_control_id: str,
    client_state: str | None,
    from_: str = "",
    to: str = "",
    encoding: str = CODEC,
) -> dict[str, Any]:
    start: dict[str, Any] = {
        "user_id": "3e6f995f-85f7-4705-9741-53b116d28237",
        "call_control_id": call_control_id,
        "call_session_id": "sess-" + call_control_id.removeprefix("v3:")[:32],
        "from": from_,
        "to": to,
        "custom_parameters": {},
        "media_format": {"encoding": encoding, "sample_rate": SAMPLE_RATE, "channels": 1},
    }
    if client_state is not None:
        start["client_state"] = client_state
    return {"event": "start", "sequence_number": seq, "stream_id": stream_id, "start": start}


def carrier_media(
    seq: str, stream_id: str, *, chunk: str, timestamp: str, payload: str
) -> dict[str, Any]:
    return {
        "event": "media",
        "sequence_number": seq,
        "stream_id": stream_id,
        "media": {"track": "inbound", "chunk": chunk, "timestamp": timestamp, "payload": payload},
    }


def carrier_mark(seq: str, stream_id: str, name: str) -> dict[str, Any]:
    return {"event": "mark", "sequence_number": seq, "stream_id": stream_id, "mark": {"name": name}}


def carrier_dtmf(seq: str, stream_id: str, digit: str) -> dict[str, Any]:
    return {
        "event": "dtmf",
        "sequence_number": seq,
        "stream_id": stream_id,
        "dtmf": {"digit": digit},
    }


def carrier_stop(seq: str, stream_id: str, *, call_control_id: str) -> dict[str, Any]:
    return {
        "event": "stop",
        "sequence_number": seq,
        "stream_id": stream_id,
        "stop": {"call_control_id": call_control_id},
    }


def carrier_error(
    seq: str, stream_id: str, *, code: int, title: str, detail: str
) -> dict[str, Any]:
    return {
        "event": "error",
        "sequence_number": seq,
        "stream_id": stream_id,
        "payload": {"code": code, "title": title, "detail": detail},
    }


def carrier_media_template(stream_id: str) -> bytes:
    """`carrier_media` as bytes to fill in with `% (seq, chunk, timestamp, payload)` (numbers,
    numbers, numbers, base64 bytes): for a sender that cannot afford a dict and an encoder
    per frame (the load generator)."""
    return orjson.dumps(
        carrier_media("%d", _id(stream_id), chunk="%d", timestamp="%d", payload="%s")
    )


def carrier_mark_template(stream_id: str) -> bytes:
    """`carrier_mark` as bytes to fill in with `% (seq, name)`."""
    return orjson.dumps(carrier_mark("%d", _id(stream_id), "%s"))


def _id(stream_id: str) -> str:
    if not STREAM_ID.fullmatch(stream_id):
        raise StreamProtocolError("invalid stream_id")
    return stream_id


@dataclass(frozen=True)
class Ours:
    """One message our server sent on the stream, as the carrier uses it."""

    event: Literal["media", "mark", "clear"]
    audio: bytes = b""  # media: the decoded payload
    name: str = ""  # mark: its name


def read_ours(message: dict[str, Any]) -> Ours:
    """Read one message our server sent as strictly as Telnyx uses it: a `media` must carry
    a base64 payload of 20 ms to 30 s of audio, a `mark` a name. Raises StreamProtocolError
    saying what is wrong (Telnyx answers those with an `error` message)."""
    event = message.get("event")
    if event == "media":
        media = message.get("media")
        payload = media.get("payload") if isinstance(media, dict) else None
        if not isinstance(payload, str):
            raise StreamProtocolError("media without a payload")
        try:
            audio = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise StreamProtocolError("media payload is not base64") from None
        if not MIN_MEDIA_BYTES <= len(audio) <= MAX_MEDIA_BYTES:
            raise StreamProtocolError(f"media of {len(audio)} bytes: not 20 ms to 30 s of PCMU")
        return Ours("media", audio=audio)
    if event == "mark":
        mark = message.get("mark")
        name = mark.get("name") if isinstance(mark, dict) else None
        if not isinstance(name, str):
            raise StreamProtocolError("mark without a name")
        return Ours("mark", name=name)
    if event == "clear":
        return Ours("clear")
    raise StreamProtocolError(f"unknown event {str(event)[:32]!r}")
