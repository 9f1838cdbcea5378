"""Twilio Media Streams messages, both ways, written once (docs/protocols.md §4.5).

Our server reads the carrier's messages with `TwilioStreamCodec` and writes with
`TwilioStreamWriter`; the fake carrier, the tests and the load generator build the carrier's
side with the `carrier_*` functions (or their byte templates, in a hot loop) and read ours
with `parse` and `read_ours` (or, knowing only our server writes to them, by the prefixes
`MEDIA_PREFIX`, `MARK_PREFIX`, `CLEAR_PREFIX`). Whatever the format says is said here and
nowhere else.

Outgoing messages are assembled by string concatenation around the payload: the payload is
the model's base64 string, forwarded as is (base64 never needs JSON escaping), and the
stream SID is ours to trust (`MZ` + hex, checked once at `start`). No dict, no encoder, no
decode per frame.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Literal

import orjson

from voicecall_rt.carrier.base import Frame, StreamProtocolError, StreamStart

STREAM_SID: Final = re.compile(r"^MZ[0-9a-fA-F]{32}$")
TOKEN_PARAMETER: Final = "call_token"  # noqa: S105 - the `<Parameter>` that carries the stream token
ENCODING: Final = "audio/x-mulaw"
SAMPLE_RATE: Final = 8000
KEYS: Final = frozenset("0123456789*#ABCD")

# How each message we write begins, and where a media payload and a mark name start in it:
# a reader that only ever sees our messages can classify them without parsing.
MEDIA_PREFIX: Final = '{"event":"media"'
MARK_PREFIX: Final = '{"event":"mark"'
CLEAR_PREFIX: Final = '{"event":"clear"'
PAYLOAD_AT: Final = '"payload":"'
NAME_AT: Final = '"name":"'

_SKIP = (Frame.SKIP, "")
_BAD = (Frame.BAD, "")
_STOP = (Frame.STOP, "")


def parse(text: str | bytes) -> dict[str, Any]:
    """Parse one message; raises orjson.JSONDecodeError or StreamProtocolError."""
    message = orjson.loads(text)
    if not isinstance(message, dict):
        raise StreamProtocolError("a stream message must be a JSON object")
    return message


def read_start(message: dict[str, Any], sid_shape: re.Pattern[str] = STREAM_SID) -> StreamStart:
    """The parts of a `start` message we use; StreamProtocolError if it is not one we take.

    `sid_shape`: what a stream id looks like (Twilio's `MZ…`; a Twilio-compatible carrier
    passes its own)."""
    start = message.get("start")
    if not isinstance(start, dict):
        raise StreamProtocolError("start message without a start object")
    stream_sid = start.get("streamSid") or message.get("streamSid")
    if not isinstance(stream_sid, str) or not sid_shape.fullmatch(stream_sid):
        raise StreamProtocolError("start message without a valid streamSid")
    fmt = start.get("mediaFormat") or {}
    custom = start.get("customParameters") or {}
    if not isinstance(fmt, dict) or not isinstance(custom, dict):
        raise StreamProtocolError("mediaFormat and customParameters must be objects")
    if fmt.get("encoding", ENCODING) != ENCODING or fmt.get("sampleRate", SAMPLE_RATE) != 8000:
        raise StreamProtocolError("the stream must carry audio/x-mulaw at 8000 Hz")
    parameters = {str(k): str(v) for k, v in custom.items()}
    return StreamStart(
        stream_id=stream_sid,
        call_sid=str(start.get("callSid", "")),
        token=parameters.get(TOKEN_PARAMETER, ""),
        custom=parameters,
    )


class TwilioStreamWriter:
    """Builds the messages we send on one stream (its `streamSid` baked in once)."""

    __slots__ = ("_mark_prefix", "_media_prefix", "clear")

    # What a stream id must look like before it is baked into messages unescaped.
    SID_SHAPE: ClassVar[re.Pattern[str]] = STREAM_SID

    def __init__(self, stream_sid: str) -> None:
        stream_sid = checked_sid(stream_sid, self.SID_SHAPE)
        self._media_prefix = (
            MEDIA_PREFIX + ',"streamSid":"' + stream_sid + '","media":{' + PAYLOAD_AT
        )
        self._mark_prefix = MARK_PREFIX + ',"streamSid":"' + stream_sid + '","mark":{' + NAME_AT
        self.clear: str = CLEAR_PREFIX + ',"streamSid":"' + stream_sid + '"}'

    def media(self, payload: str) -> str:
        return self._media_prefix + payload + '"}}'

    def mark(self, name: str) -> str:
        return self._mark_prefix + name + '"}}'

    def keypad(self, digits: str) -> str | None:
        """Twilio's stream has no message for keypad tones (they go in-band)."""
        return None


class TwilioStreamCodec:
    """Twilio's wire format, server side (see `carrier.base.StreamCodec`)."""

    # What a stream id in `start` must look like (a compatible carrier's may differ).
    SID_SHAPE: ClassVar[re.Pattern[str]] = STREAM_SID

    def read_start(self, data: str | bytes) -> StreamStart | None:
        try:
            message = parse(data)
        except orjson.JSONDecodeError:
            raise StreamProtocolError("a stream message must be JSON") from None
        event = message.get("event")
        if event == "connected":
            return None
        if event == "start":
            return read_start(message, self.SID_SHAPE)
        raise StreamProtocolError(f"expected start, got {str(event)[:32]!r}")

    def read(self, data: str | bytes) -> tuple[Frame, str]:
        try:
            frame = orjson.loads(data)
            event = frame["event"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return _BAD
        if event == "media":
            try:
                payload = frame["media"]["payload"]
            except (KeyError, TypeError):
                return _BAD
            if not isinstance(payload, str):
                return _BAD
            return Frame.MEDIA, payload
        if event == "mark":
            mark = frame.get("mark")
            name = mark.get("name") if isinstance(mark, dict) else None
            return (Frame.MARK, name) if isinstance(name, str) else _BAD
        if event == "stop":
            return _STOP
        if event == "dtmf":
            dtmf = frame.get("dtmf")
            digit = dtmf.get("digit") if isinstance(dtmf, dict) else None
            if isinstance(digit, str) and len(digit) == 1 and digit in KEYS:
                return Frame.KEYPAD, digit
            return _BAD
        return _BAD

    def frame_ms(self, data: str | bytes) -> int | None:
        try:
            ms = int(str(orjson.loads(data)["media"]["timestamp"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None
        return ms if ms >= 0 else None

    def writer(self, start: StreamStart) -> TwilioStreamWriter:
        return TwilioStreamWriter(start.stream_id)


# ---- the carrier's side (the fake carrier, tests, the load generator) ------------------------


def carrier_connected() -> dict[str, Any]:
    return {"event": "connected", "protocol": "Call", "version": "1.0.0"}


def carrier_start(
    seq: str,
    stream_sid: str,
    *,
    account_sid: str,
    call_sid: str,
    parameters: dict[str, str],
    encoding: str = ENCODING,
    sample_rate: int = SAMPLE_RATE,
) -> dict[str, Any]:
    """`encoding`/`sample_rate`: Twilio's are always µ-law 8 kHz; a compatible carrier's
    stream may announce another codec it was asked for."""
    return {
        "event": "start",
        "sequenceNumber": seq,
        "streamSid": stream_sid,
        "start": {
            "streamSid": stream_sid,
            "accountSid": account_sid,
            "callSid": call_sid,
            "tracks": ["inbound"],
            "customParameters": parameters,
            "mediaFormat": {"encoding": encoding, "sampleRate": sample_rate, "channels": 1},
        },
    }


def carrier_media(
    seq: str, stream_sid: str, *, chunk: str, timestamp: str, payload: str
) -> dict[str, Any]:
    return {
        "event": "media",
        "sequenceNumber": seq,
        "streamSid": stream_sid,
        "media": {"track": "inbound", "chunk": chunk, "timestamp": timestamp, "payload": payload},
    }


def carrier_mark(seq: str, stream_sid: str, name: str) -> dict[str, Any]:
    return {"event": "mark", "sequenceNumber": seq, "streamSid": stream_sid, "mark": {"name": name}}


def carrier_dtmf(seq: str, stream_sid: str, digit: str) -> dict[str, Any]:
    return {
        "event": "dtmf",
        "sequenceNumber": seq,
        "streamSid": stream_sid,
        "dtmf": {"track": "inbound_track", "digit": digit},
    }


def carrier_stop(seq: str, stream_sid: str, *, account_sid: str, call_sid: str) -> dict[str, Any]:
    return {
        "event": "stop",
        "sequenceNumber": seq,
        "streamSid": stream_sid,
        "stop": {"accountSid": account_sid, "callSid": call_sid},
    }


def carrier_media_template(stream_sid: str) -> bytes:
    """`carrier_media` as bytes to fill in with `% (seq, chunk, timestamp, payload)` (numbers,
    numbers, numbers, base64 bytes): for a sender that cannot afford a dict and an encoder
    per frame (the load generator)."""
    return orjson.dumps(
        carrier_media("%d", checked_sid(stream_sid), chunk="%d", timestamp="%d", payload="%s")
    )


def carrier_mark_template(stream_sid: str) -> bytes:
    """`carrier_mark` as bytes to fill in with `% (seq, name)`, the name as it stood
    (JSON-escaped) in our server's `mark`."""
    return orjson.dumps(carrier_mark("%d", checked_sid(stream_sid), "%s"))


def checked_sid(stream_sid: str, shape: re.Pattern[str] = STREAM_SID) -> str:
    """`stream_sid` if it has `shape` (then it needs no JSON escaping, nor can it hold a
    `%`); StreamProtocolError otherwise."""
    if not shape.fullmatch(stream_sid):
        raise StreamProtocolError("invalid streamSid")
    return stream_sid


@dataclass(frozen=True)
class Ours:
    """One message our server sent on the stream, as the carrier uses it."""

    event: Literal["media", "mark", "clear", "dtmf"]  # dtmf: a carrier that takes one
    audio: bytes = b""  # media: the decoded payload
    name: str = ""  # mark: its name
    digit: str = ""  # dtmf: the key to press


def read_ours(message: dict[str, Any], stream_sid: str | None) -> Ours:
    """Read one message our server sent as strictly as Twilio uses it: it must name the
    stream (`stream_sid`; None before `start`, when no name is right), a `media` must carry
    a base64 payload and a `mark` a name. Raises StreamProtocolError saying what is wrong
    (Twilio ignores what it cannot use)."""
    event = message.get("event")
    if stream_sid is None or message.get("streamSid") != stream_sid:
        raise StreamProtocolError(f"{event}: wrong or missing streamSid")
    if event == "media":
        media = message.get("media")
        payload = media.get("payload") if isinstance(media, dict) else None
        if not isinstance(payload, str):
            raise StreamProtocolError("media without a payload")
        try:
            return Ours("media", audio=base64.b64decode(payload, validate=True))
        except (binascii.Error, ValueError):
            raise StreamProtocolError("media payload is not base64") from None
    if event == "mark":
        mark = message.get("mark")
        name = mark.get("name") if isinstance(mark, dict) else None
        if not isinstance(name, str):
            raise StreamProtocolError("mark without a name")
        return Ours("mark", name=name)
    if event == "clear":
        return Ours("clear")
    raise StreamProtocolError(f"unknown event {event!r}")
