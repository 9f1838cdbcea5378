"""Twilio wire formats: Media Streams (docs/protocols.md §4.5) and SID masking.

TwiML and webhook signatures: test_twilio_webhooks.py.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from voicecall_rt.carrier.base import StreamProtocolError
from voicecall_rt.carrier.twilio.rest import mask_sid
from voicecall_rt.carrier.twilio.wire import TwilioStreamWriter as StreamWriter
from voicecall_rt.carrier.twilio.wire import parse
from voicecall_rt.carrier.twilio.wire import read_start as StreamStart

STREAM_SID = "MZ" + "0123456789abcdef" * 2
CALL_SID = "CA" + "fedcba9876543210" * 2
ACCOUNT_SID = "AC" + "00112233445566778899aabbccddeeff"


def start_message(**start_overrides: Any) -> dict[str, Any]:
    """A `start` exactly as docs/protocols.md §4.5 shows it, with realistic SIDs."""
    start: dict[str, Any] = {
        "streamSid": STREAM_SID,
        "accountSid": ACCOUNT_SID,
        "callSid": CALL_SID,
        "tracks": ["inbound"],
        "customParameters": {"call_token": "c0ffee"},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    }
    start.update(start_overrides)
    return {"event": "start", "sequenceNumber": "1", "streamSid": STREAM_SID, "start": start}


# --------------------------------------------------------------------------- parse / start


def test_parse_object_frames() -> None:
    frame = parse('{"event":"connected","protocol":"Call","version":"1.0.0"}')
    assert frame == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    assert parse(b'{"event":"stop"}') == {"event": "stop"}


@pytest.mark.parametrize("text", ["[]", '"start"', "42", "null"])
def test_parse_rejects_non_objects(text: str) -> None:
    with pytest.raises(StreamProtocolError):
        parse(text)


@pytest.mark.parametrize("text", ["", "{", "{'event': 'start'}", "not json"])
def test_parse_rejects_malformed_json(text: str) -> None:
    with pytest.raises(orjson.JSONDecodeError):
        parse(text)


def test_start_valid() -> None:
    start = StreamStart(start_message())
    assert start.stream_id == STREAM_SID
    assert start.call_sid == CALL_SID
    assert start.custom == {"call_token": "c0ffee"}
    assert start.token == "c0ffee"


def test_start_round_trips_from_wire_text() -> None:
    start = StreamStart(parse(orjson.dumps(start_message())))
    assert start.stream_id == STREAM_SID


def test_start_custom_parameters() -> None:
    start = StreamStart(start_message(customParameters={"call_token": "tok", "other": "x", "n": 5}))
    assert start.custom == {"call_token": "tok", "other": "x", "n": "5"}


@pytest.mark.parametrize("custom", [None, {}])
def test_start_without_custom_parameters(custom: Any) -> None:
    message = start_message(customParameters=custom)
    assert StreamStart(message).custom == {}
    del message["start"]["customParameters"]
    assert StreamStart(message).custom == {}


def test_start_stream_sid_from_top_level_when_missing_inside() -> None:
    message = start_message()
    del message["start"]["streamSid"]
    assert StreamStart(message).stream_id == STREAM_SID


def test_start_media_format_defaults_when_absent() -> None:
    message = start_message()
    del message["start"]["mediaFormat"]
    assert StreamStart(message).stream_id == STREAM_SID


@pytest.mark.parametrize(
    "stream_sid",
    [
        None,
        "",
        "MZ11",  # the shortened example SID in the docs is not a real one
        "MZ" + "0" * 31,
        "MZ" + "0" * 33,
        "XX" + "0" * 32,
        "MZ" + "g" * 32,
        "MZ" + "0" * 31 + '"',  # would break out of the JSON we build around it
        "MZ" + "0" * 32 + "\n",
        12345,
        ["MZ" + "0" * 32],
    ],
)
def test_start_invalid_stream_sid(stream_sid: Any) -> None:
    message = start_message(streamSid=stream_sid)
    message["streamSid"] = stream_sid
    with pytest.raises(StreamProtocolError, match="streamSid"):
        StreamStart(message)


def test_start_missing_stream_sid_everywhere() -> None:
    message = start_message()
    del message["start"]["streamSid"]
    del message["streamSid"]
    with pytest.raises(StreamProtocolError, match="streamSid"):
        StreamStart(message)


@pytest.mark.parametrize("start", [None, "start", [], 1])
def test_start_without_start_object(start: Any) -> None:
    with pytest.raises(StreamProtocolError, match="start"):
        StreamStart({"event": "start", "streamSid": STREAM_SID, "start": start})


@pytest.mark.parametrize(
    "media_format",
    [
        {"encoding": "audio/l16", "sampleRate": 8000, "channels": 1},
        {"encoding": "audio/x-alaw", "sampleRate": 8000, "channels": 1},
        {"encoding": "audio/x-mulaw", "sampleRate": 16000, "channels": 1},
        {"encoding": "audio/x-mulaw", "sampleRate": "8000", "channels": 1},
    ],
)
def test_start_wrong_audio_format_rejected(media_format: dict[str, Any]) -> None:
    with pytest.raises(StreamProtocolError, match="mulaw"):
        StreamStart(start_message(mediaFormat=media_format))


@pytest.mark.parametrize("media_format", ["audio/x-mulaw", ["audio/x-mulaw"], 8000])
def test_start_media_format_not_an_object_rejected(media_format: Any) -> None:
    with pytest.raises(StreamProtocolError):
        StreamStart(start_message(mediaFormat=media_format))


@pytest.mark.parametrize("custom", ["call_token=x", ["call_token", "x"], 7])
def test_start_custom_parameters_not_an_object_rejected(custom: Any) -> None:
    with pytest.raises(StreamProtocolError):
        StreamStart(start_message(customParameters=custom))


# --------------------------------------------------------------------------- writer


def test_writer_media_shape() -> None:
    writer = StreamWriter(STREAM_SID)
    payload = base64.b64encode(b"\xff" * 160).decode()
    assert orjson.loads(writer.media(payload)) == {
        "event": "media",
        "streamSid": STREAM_SID,
        "media": {"payload": payload},
    }


@pytest.mark.parametrize("size", [0, 1, 2, 3, 160, 4800])
def test_writer_media_any_base64_payload(size: int) -> None:
    payload = base64.b64encode(bytes(range(256)) * 20)[: (size + 2) // 3 * 4].decode()
    message = orjson.loads(StreamWriter(STREAM_SID).media(payload))
    assert message["media"]["payload"] == payload
    assert list(message) == ["event", "streamSid", "media"]


def test_writer_mark_shape() -> None:
    message = orjson.loads(StreamWriter(STREAM_SID).mark("item_abc:4800"))
    assert message == {
        "event": "mark",
        "streamSid": STREAM_SID,
        "mark": {"name": "item_abc:4800"},
    }


def test_writer_clear_shape() -> None:
    assert orjson.loads(StreamWriter(STREAM_SID).clear) == {
        "event": "clear",
        "streamSid": STREAM_SID,
    }


def test_writer_messages_are_text() -> None:
    writer = StreamWriter(STREAM_SID)
    assert isinstance(writer.media("AAAA"), str)
    assert isinstance(writer.mark("m"), str)
    assert isinstance(writer.clear, str)


@pytest.mark.parametrize(
    "sid", ["", "MZ11", 'MZ","event":"x', "MZ" + "0" * 31 + '"', "MZ" + "0" * 32 + "\n"]
)
def test_writer_refuses_invalid_sid(sid: str) -> None:
    with pytest.raises(StreamProtocolError):
        StreamWriter(sid)


# --------------------------------------------------------------------------- masking


def test_mask_sid_first_and_last_four_only() -> None:
    masked = mask_sid(ACCOUNT_SID)
    assert masked.startswith(ACCOUNT_SID[:4])
    assert masked.endswith(ACCOUNT_SID[-4:])
    assert masked == ACCOUNT_SID[:4] + "…" + ACCOUNT_SID[-4:]
    assert ACCOUNT_SID[4:-4] not in masked
    visible = masked.replace("…", "")
    assert len(visible) == 8


@pytest.mark.parametrize("sid", ["", "AC", "AC123456"])
def test_mask_sid_short_values_fully_hidden(sid: str) -> None:
    masked = mask_sid(sid)
    assert all(ch not in masked for ch in sid)
