"""Plivo Audio Streams messages, both ways, written once (docs/protocols.md §7).

Our server reads Plivo's messages with `PlivoStreamCodec` and writes with
`PlivoStreamWriter`; the fake Plivo, the tests and the load generator build Plivo's side
with the `carrier_*` functions (or their byte templates, in a hot loop) and read ours with
`parse` and `read_ours`.

Plivo's dialect, as its docs and its own stream SDKs (plivo-stream-sdk-java's events and
messages) give it:

* from Plivo: `start` (top-level `streamId` and `extra_headers`, the string the `<Stream
  extraHeaders>` attribute set; `start.{streamId, callId, accountId, tracks, mediaFormat}`),
  `media{track, timestamp, chunk, payload}`, `dtmf{digit, track}`, `playedStream{name}` (a
  checkpoint whose audio has played) and `clearedAudio`. No `connected`, no `stop`: the
  stream ends when the socket closes. Plivo's stream SDKs still know a `stop`, so one that
  came would end the stream as it does on Twilio.
* to Plivo: `playAudio{media{contentType, sampleRate, payload}}`, `checkpoint{name}` and
  `clearAudio`, each naming the stream. A checkpoint whose audio is cleared is never
  answered (our ledger settles those itself at the clear: call/playback.py `cut_queued`).

The token: the `<Stream>` text is the URL and Plivo documents `[A-Za-z0-9]` as the alphabet
of `extraHeaders`, so the single-use token travels there hex-encoded as `callToken=<hex>`
(lossless, and inside the documented alphabet whatever the token holds).

Outgoing messages are assembled by string concatenation around the payload, as for Twilio:
the stream id is checked once at `start` (a UUID), the payload is base64 forwarded as is.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any, Final, Literal

import orjson

from voicecall_rt.carrier.base import Frame, StreamProtocolError, StreamStart

STREAM_ID: Final = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
ENCODING: Final = "audio/x-mulaw"
SAMPLE_RATE: Final = 8000
# The `<Stream contentType>` we ask for: Plivo's default is L16, which our µ-law is not.
STREAM_CONTENT_TYPE: Final = f"{ENCODING};rate={SAMPLE_RATE}"
TOKEN_HEADER: Final = "callToken"  # noqa: S105 - the extraHeaders key carrying the stream token
KEYS: Final = frozenset("0123456789*#ABCD")

# How each message we write begins, and where a media payload and a checkpoint name start
# in it: a reader that only ever sees our messages (the load generator) can classify them
# without parsing.
MEDIA_PREFIX: Final = '{"event":"playAudio"'
MARK_PREFIX: Final = '{"event":"checkpoint"'
CLEAR_PREFIX: Final = '{"event":"clearAudio"'
PAYLOAD_AT: Final = '"payload":"'
NAME_AT: Final = '"name":"'

_SKIP = (Frame.SKIP, "")
_BAD = (Frame.BAD, "")
_STOP = (Frame.STOP, "")
_EXTRA_SPLIT: Final = re.compile(r"[;,]")


def encode_token(token: str) -> str:
    """The stream token as it goes in `extraHeaders` (hex: inside `[A-Za-z0-9]`)."""
    return token.encode().hex()


def extra_headers(token: str) -> str:
    """The `<Stream extraHeaders>` value that carries `token`."""
    return f"{TOKEN_HEADER}={encode_token(token)}"


def read_extra_headers(raw: object) -> dict[str, str]:
    """Plivo's `extra_headers`: `key=value` pairs split by `;` or `,` (its docs show both),
    or an object. Keys are kept as sent, less an `X-PH-` prefix Plivo puts on custom SIP
    headers (so a relayed one still matches)."""
    pairs: dict[str, str] = {}
    if isinstance(raw, dict):
        items = [(str(k), str(v)) for k, v in raw.items()]
    elif isinstance(raw, str):
        items = [part.partition("=")[::2] for part in _EXTRA_SPLIT.split(raw) if "=" in part]
    else:
        items = []
    for key, value in items:
        key = key.strip()
        if key.lower().startswith("x-ph-"):
            key = key[5:]
        pairs[key] = value.strip()
    return pairs


def decode_token(headers: dict[str, str]) -> str:
    """The stream token from the extra headers; "" if absent or not hex of UTF-8."""
    value = next((v for k, v in headers.items() if k.lower() == TOKEN_HEADER.lower()), "")
    try:
        return bytes.fromhex(value).decode()
    except (ValueError, UnicodeDecodeError):
        return ""


def parse(text: str | bytes) -> dict[str, Any]:
    """Parse one message; raises orjson.JSONDecodeError or StreamProtocolError."""
    message = orjson.loads(text)
    if not isinstance(message, dict):
        raise StreamProtocolError("a stream message must be a JSON object")
    return message


def read_start(message: dict[str, Any]) -> StreamStart:
    """The parts of a `start` we use; StreamProtocolError if it is not one we take."""
    start = message.get("start")
    if not isinstance(start, dict):
        raise StreamProtocolError("start message without a start object")
    stream_id = start.get("streamId") or message.get("streamId")
    if not isinstance(stream_id, str) or not STREAM_ID.fullmatch(stream_id):
        raise StreamProtocolError("start message without a valid streamId")
    fmt = start.get("mediaFormat")
    if not isinstance(fmt, dict):
        raise StreamProtocolError("start message without a mediaFormat")
    if fmt.get("encoding") != ENCODING or str(fmt.get("sampleRate")) != str(SAMPLE_RATE):
        # Plivo's default is L16: µ-law read as L16 (or the reverse) is noise both ways.
        raise StreamProtocolError("the stream must carry audio/x-mulaw at 8000 Hz")
    headers = read_extra_headers(message.get("extra_headers", start.get("extra_headers")))
    return StreamStart(
        stream_id=stream_id,
        call_sid=str(start.get("callId", "")),
        token=decode_token(headers),
        custom=headers,
    )


class PlivoStreamWriter:
    """Builds the messages we send on one stream (its `streamId` baked in once)."""

    __slots__ = ("_mark_prefix", "_media_prefix", "clear")

    def __init__(self, stream_id: str) -> None:
        stream_id = _stream_id(stream_id)
        self._media_prefix = (
            MEDIA_PREFIX
            + ',"streamId":"'
            + stream_id
            + '","media":{"contentType":"'
            + ENCODING
            + '","sampleRate":'
            + str(SAMPLE_RATE)
            + ","
            + PAYLOAD_AT
        )
        self._mark_prefix = MARK_PREFIX + ',"streamId":"' + stream_id + '",' + NAME_AT
        self.clear: str = CLEAR_PREFIX + ',"streamId":"' + stream_id + '"}'

    def media(self, payload: str) -> str:
        return self._media_prefix + payload + '"}}'

    def mark(self, name: str) -> str:
        return self._mark_prefix + name + '"}'

    def keypad(self, digits: str) -> None:
        """None: keys go by REST (`PlivoCarrier.send_digits`, Plivo's documented DTMF API,
        which keeps the stream up); the stream's `sendDTMF` is not in Plivo's stream SDKs."""
        return None


class PlivoStreamCodec:
    """Plivo's wire format, server side (see `carrier.base.StreamCodec`)."""

    def read_start(self, data: str | bytes) -> StreamStart | None:
        try:
            message = parse(data)
        except orjson.JSONDecodeError:
            raise StreamProtocolError("a stream message must be JSON") from None
        event = message.get("event")
        if event == "start":
            return read_start(message)
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
            return (Frame.MEDIA, payload) if isinstance(payload, str) else _BAD
        if event == "playedStream":
            name = frame.get("name")
            return (Frame.MARK, name) if isinstance(name, str) else _BAD
        if event == "clearedAudio":
            return _SKIP  # the checkpoints it dropped are never answered: see module doc
        if event == "dtmf":
            dtmf = frame.get("dtmf")
            digit = dtmf.get("digit") if isinstance(dtmf, dict) else None
            if isinstance(digit, str) and len(digit) == 1 and digit in KEYS:
                return Frame.KEYPAD, digit
            return _BAD
        if event == "stop":
            return _STOP
        return _BAD

    def frame_ms(self, data: str | bytes) -> None:
        """None: Plivo's `media.timestamp` is wall-clock (epoch ms in its examples), not the
        stream's clock, so frames are placed by arrival."""
        return None

    def writer(self, start: StreamStart) -> PlivoStreamWriter:
        return PlivoStreamWriter(start.stream_id)


# ---- Plivo's side (the fake carrier, tests, the load generator) ------------------------------


def carrier_start(
    seq: int,
    stream_id: str,
    *,
    account_id: str,
    call_id: str,
    extra: str,
    encoding: str = ENCODING,
    sample_rate: int = SAMPLE_RATE,
) -> dict[str, Any]:
    return {
        "event": "start",
        "sequenceNumber": seq,
        "streamId": stream_id,
        "extra_headers": extra,
        "start": {
            "streamId": stream_id,
            "callId": call_id,
            "accountId": account_id,
            "tracks": ["inbound"],
            "mediaFormat": {"encoding": encoding, "sampleRate": sample_rate},
        },
    }


def carrier_media(
    seq: int, stream_id: str, *, chunk: int, timestamp: str, payload: str
) -> dict[str, Any]:
    return {
        "event": "media",
        "sequenceNumber": seq,
        "streamId": stream_id,
        "media": {"track": "inbound", "chunk": chunk, "timestamp": timestamp, "payload": payload},
    }


def carrier_dtmf(seq: int, stream_id: str, digit: str) -> dict[str, Any]:
    return {
        "event": "dtmf",
        "sequenceNumber": seq,
        "streamId": stream_id,
        "dtmf": {"digit": digit, "track": "inbound"},
    }


def carrier_played(seq: int, stream_id: str, name: str) -> dict[str, Any]:
    return {"event": "playedStream", "sequenceNumber": seq, "streamId": stream_id, "name": name}


def carrier_cleared(seq: int, stream_id: str) -> dict[str, Any]:
    return {"event": "clearedAudio", "sequenceNumber": seq, "streamId": stream_id}


def carrier_media_template(stream_id: str) -> bytes:
    """`carrier_media` as bytes to fill in with `% (seq, chunk, timestamp, payload)`
    (numbers, numbers, numbers, base64 bytes), for the load generator's hot loop."""
    template = orjson.dumps(
        carrier_media(0, _stream_id(stream_id), chunk=0, timestamp="%d", payload="%s")
    )
    return template.replace(b'"sequenceNumber":0', b'"sequenceNumber":%d').replace(
        b'"chunk":0', b'"chunk":%d'
    )


def carrier_played_template(stream_id: str) -> bytes:
    """`carrier_played` as bytes to fill in with `% (seq, name)`, the name as it stood
    (JSON-escaped) in our server's `checkpoint`."""
    template = orjson.dumps(carrier_played(0, _stream_id(stream_id), "%s"))
    return template.replace(b'"sequenceNumber":0', b'"sequenceNumber":%d')


def _stream_id(stream_id: str) -> str:
    if not STREAM_ID.fullmatch(stream_id):  # nor can it hold a `%` or a quote
        raise StreamProtocolError("invalid streamId")
    return stream_id


@dataclass(frozen=True)
class Ours:
    """One message our server sent on the stream, as Plivo uses it."""

    event: Literal["playAudio", "checkpoint", "clearAudio"]
    audio: bytes = b""  # playAudio: the decoded payload
    name: str = ""  # checkpoint: its name
    content_type: str = ""  # playAudio: its media.contentType
    sample_rate: int = 0  # playAudio: its media.sampleRate


def read_ours(message: dict[str, Any], stream_id: str | None) -> Ours:
    """Read one message our server sent as strictly as Plivo uses it: before `start` none
    is right; a `streamId`, if given, must be the stream's; a `playAudio` needs a media
    object with a contentType, a sampleRate and a base64 payload; a `checkpoint` a name.
    Raises StreamProtocolError saying what is wrong (Plivo ignores what it cannot use)."""
    event = message.get("event")
    if stream_id is None:
        raise StreamProtocolError(f"{event}: sent before start")
    if "streamId" in message and message["streamId"] != stream_id:
        raise StreamProtocolError(f"{event}: wrong streamId")
    if event == "playAudio":
        media = message.get("media")
        if not isinstance(media, dict):
            raise StreamProtocolError("playAudio without a media object")
        payload, content_type, rate = (
            media.get("payload"),
            media.get("contentType"),
            media.get("sampleRate"),
        )
        if not isinstance(payload, str):
            raise StreamProtocolError("playAudio without a payload")
        if not isinstance(content_type, str) or not isinstance(rate, int):
            raise StreamProtocolError("playAudio without contentType and sampleRate")
        try:
            audio = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise StreamProtocolError("playAudio payload is not base64") from None
        return Ours("playAudio", audio=audio, content_type=content_type, sample_rate=rate)
    if event == "checkpoint":
        name = message.get("name")
        if not isinstance(name, str) or not name:
            raise StreamProtocolError("checkpoint without a name")
        return Ours("checkpoint", name=name)
    if event == "clearAudio":
        return Ours("clearAudio")
    raise StreamProtocolError(f"unknown event {str(event)[:32]!r}")
