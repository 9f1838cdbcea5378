"""SignalWire's media-stream messages (cXML `<Connect><Stream>`), both ways, written once.

SignalWire's stream is Twilio's Media Streams with deltas (its `<Stream>` page, "WebSocket
connection" and "Sending WebSocket messages"), so what is the same is Twilio's code
(`carrier.twilio.wire`) and only the deltas are here:

* ids are UUIDs (the stream's, the call's, the project's), not `MZ…`/`CA…`;
* `connected` says version `0.2.0`;
* `start` and `media` carry no top-level `streamSid` (it is only inside `start`); `mark`
  echoes and `dtmf` carry one (bidirectional streams); `stop` is bare
  (`{"event":"stop","sequenceNumber":…}`);
* what we send is Twilio's `media`/`mark`/`clear` (with `streamSid`), plus `dtmf`, which
  has SignalWire press a key on the call: `{"event":"dtmf","streamSid":…,"dtmf":{"digit":"5"}}`.

Our server reads with `SignalWireStreamCodec` and writes with `SignalWireStreamWriter`; the
fake carrier, the tests and the load generator build SignalWire's side with the `carrier_*`
functions and read ours with `read_ours`. Outgoing messages are built by string
concatenation around the payload, as Twilio's are.
"""

from __future__ import annotations

import re
from typing import Any, Final

import orjson

from voicecall_rt.carrier.base import StreamProtocolError, StreamStart
from voicecall_rt.carrier.twilio import wire as twilio_wire
from voicecall_rt.carrier.twilio.wire import (
    ENCODING,
    KEYS,
    SAMPLE_RATE,
    Ours,
    TwilioStreamCodec,
    TwilioStreamWriter,
    checked_sid,
)

__all__ = [
    "DTMF_PREFIX",
    "STREAM_SID",
    "SignalWireStreamCodec",
    "SignalWireStreamWriter",
    "carrier_connected",
    "carrier_dtmf",
    "carrier_mark",
    "carrier_mark_template",
    "carrier_media",
    "carrier_media_template",
    "carrier_start",
    "carrier_stop",
    "read_ours",
]

STREAM_SID: Final = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
PROTOCOL_VERSION: Final = "0.2.0"
DTMF_PREFIX: Final = '{"event":"dtmf"'
# SignalWire's `dtmf` example says 2000 ms; the fake's presses are its keypad's tones.
KEY_PRESS_MS: Final = 100


class SignalWireStreamWriter(TwilioStreamWriter):
    """Twilio's writer with SignalWire's stream ids, and keypad tones as `dtmf` messages."""

    __slots__ = ("_dtmf_prefix",)

    SID_SHAPE = STREAM_SID

    def __init__(self, stream_sid: str) -> None:
        super().__init__(stream_sid)
        self._dtmf_prefix = DTMF_PREFIX + ',"streamSid":"' + stream_sid + '","dtmf":{"digit":"'

    def keypad(self, digits: str) -> str | None:
        """One key (`0-9 * # A-D`) as SignalWire's `dtmf` message; None for anything else
        (the message carries one digit: the caller sends one message per key)."""
        if len(digits) != 1 or digits not in KEYS:
            return None
        return self._dtmf_prefix + digits + '"}}'


class SignalWireStreamCodec(TwilioStreamCodec):
    """SignalWire's wire format, server side: Twilio's reading (`start` with the id inside
    it, and `media`, `mark`, `dtmf`, `stop` are read the same), UUID stream ids, its writer."""

    SID_SHAPE = STREAM_SID

    def writer(self, start: StreamStart) -> SignalWireStreamWriter:
        return SignalWireStreamWriter(start.stream_id)


# ---- SignalWire's side (the fake carrier, tests, the load generator) --------------------------


def carrier_connected() -> dict[str, Any]:
    return {"event": "connected", "protocol": "Call", "version": PROTOCOL_VERSION}


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
    """Twilio's `start` without the top-level `streamSid`. `encoding`/`sample_rate`: what the
    `<Stream codec>` asked for (`audio/x-L16` at 16000 or 24000 for the L16 codecs)."""
    message = twilio_wire.carrier_start(
        seq,
        stream_sid,
        account_sid=account_sid,
        call_sid=call_sid,
        parameters=parameters,
        encoding=encoding,
        sample_rate=sample_rate,
    )
    del message["streamSid"]
    return message


def carrier_media(
    seq: str, stream_sid: str, *, chunk: str, timestamp: str, payload: str
) -> dict[str, Any]:
    """No `streamSid` (SignalWire's media message has none); the argument keeps the
    builders' shape the same as Twilio's."""
    return {
        "event": "media",
        "sequenceNumber": seq,
        "media": {"track": "inbound", "chunk": chunk, "timestamp": timestamp, "payload": payload},
    }


def carrier_mark(seq: str, stream_sid: str, name: str) -> dict[str, Any]:
    """A mark's echo: SignalWire's example has no `sequenceNumber`."""
    return {"event": "mark", "streamSid": stream_sid, "mark": {"name": name}}


def carrier_dtmf(
    seq: str, stream_sid: str, digit: str, duration_ms: int = KEY_PRESS_MS
) -> dict[str, Any]:
    return {
        "event": "dtmf",
        "sequenceNumber": seq,
        "streamSid": stream_sid,
        "dtmf": {"digit": digit, "duration": duration_ms},
    }


def carrier_stop(seq: str, stream_sid: str, *, account_sid: str, call_sid: str) -> dict[str, Any]:
    """Bare: SignalWire's stop names neither the stream nor the call."""
    return {"event": "stop", "sequenceNumber": seq}


def carrier_media_template(stream_sid: str) -> bytes:
    """`carrier_media` as bytes to fill in with `% (seq, chunk, timestamp, payload)`."""
    return orjson.dumps(carrier_media("%d", stream_sid, chunk="%d", timestamp="%d", payload="%s"))


def carrier_mark_template(stream_sid: str) -> bytes:
    """`carrier_mark` as bytes to fill in with `% (name,)`, the name as it stood in ours."""
    return orjson.dumps(carrier_mark("", checked_sid(stream_sid, STREAM_SID), "%s"))


def read_ours(message: dict[str, Any], stream_sid: str | None) -> Ours:
    """Read one message our server sent as strictly as SignalWire uses it: Twilio's rules
    for `media`, `mark` and `clear`, and a `dtmf` must name the stream and carry one key."""
    if message.get("event") != "dtmf":
        return twilio_wire.read_ours(message, stream_sid)
    if stream_sid is None or message.get("streamSid") != stream_sid:
        raise StreamProtocolError("dtmf: wrong or missing streamSid")
    dtmf = message.get("dtmf")
    digit = dtmf.get("digit") if isinstance(dtmf, dict) else None
    if not isinstance(digit, str) or len(digit) != 1 or digit not in KEYS:
        raise StreamProtocolError("dtmf without one key (0-9 * # A-D)")
    return Ours("dtmf", digit=digit)
