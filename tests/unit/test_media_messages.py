"""Twilio wire formats: Media Streams (docs/protocols.md §4.5), TwiML, webhook signatures."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from typing import Any

import orjson
import pytest
from twilio.request_validator import RequestValidator

from voicecall_rt.carrier.base import StreamProtocolError
from voicecall_rt.carrier.twilio.rest import mask_sid
from voicecall_rt.carrier.twilio.webhooks import (
    hang_up_twiml,
    reject_twiml,
    say_and_hang_up_twiml,
    signature_valid,
    stream_twiml,
)
from voicecall_rt.carrier.twilio.wire import TwilioStreamWriter as StreamWriter
from voicecall_rt.carrier.twilio.wire import parse
from voicecall_rt.carrier.twilio.wire import read_start as StreamStart

STREAM_SID = "MZ" + "0123456789abcdef" * 2
CALL_SID = "CA" + "fedcba9876543210" * 2
ACCOUNT_SID = "AC" + "00112233445566778899aabbccddeeff"


def start_message(**start_overrides: Any) -> dict[str, Any]:
    """A `start` exactly as PROTOCOLS §4.5 shows it, with realistic SIDs."""
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


# --------------------------------------------------------------------------- TwiML


def test_stream_twiml_structure() -> None:
    url = "wss://voice.example.com/voice/realtime-stream"
    root = ET.fromstring(stream_twiml(url, "tok_ABC-123"))
    assert root.tag == "Response"
    assert [child.tag for child in root] == ["Connect"]
    connect = root[0]
    assert [child.tag for child in connect] == ["Stream"]
    stream = connect[0]
    assert stream.get("url") == url
    params = list(stream)
    assert [p.tag for p in params] == ["Parameter"]
    assert params[0].attrib == {"name": "call_token", "value": "tok_ABC-123"}


def test_stream_twiml_escapes_attribute_values() -> None:
    url = "wss://voice.example.com/voice/realtime-stream?a=1&b=2"
    token = 'x"<y>&z'
    stream = ET.fromstring(stream_twiml(url, token)).find("./Connect/Stream")
    assert stream is not None
    assert stream.get("url") == url
    parameter = stream.find("Parameter")
    assert parameter is not None
    assert parameter.get("value") == token


def test_reject_twiml() -> None:
    root = ET.fromstring(reject_twiml())
    assert root.tag == "Response"
    assert [child.tag for child in root] == ["Reject"]


def test_say_and_hang_up_twiml() -> None:
    root = ET.fromstring(say_and_hang_up_twiml("Sorry, all lines are busy <now> & later."))
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert root[0].text == "Sorry, all lines are busy <now> & later."


def test_hang_up_twiml() -> None:
    root = ET.fromstring(hang_up_twiml())
    assert [child.tag for child in root] == ["Hangup"]


# --------------------------------------------------------------------------- signatures

TOKEN = "12345678901234567890123456789012"
URL = "https://voice.example.com/voice/answer?call=abc123"
PARAMS = {
    "CallSid": CALL_SID,
    "AccountSid": ACCOUNT_SID,
    "From": "+14155551234",
    "To": "+15555550100",
    "CallStatus": "in-progress",
    "Direction": "outbound-api",
}


def sign(token: str, url: str, params: dict[str, str]) -> str:
    return str(RequestValidator(token).compute_signature(url, params))


def test_signature_valid() -> None:
    assert signature_valid(TOKEN, URL, PARAMS, sign(TOKEN, URL, PARAMS))


def test_signature_valid_with_no_params() -> None:
    url = "https://voice.example.com/voice/status"
    assert signature_valid(TOKEN, url, {}, sign(TOKEN, url, {}))


def test_signature_wrong_token() -> None:
    assert not signature_valid(TOKEN, URL, PARAMS, sign("0" * 32, URL, PARAMS))


def test_signature_tampered_param() -> None:
    signature = sign(TOKEN, URL, PARAMS)
    assert not signature_valid(TOKEN, URL, {**PARAMS, "CallStatus": "completed"}, signature)
    assert not signature_valid(TOKEN, URL, {**PARAMS, "Extra": "1"}, signature)
    without = {k: v for k, v in PARAMS.items() if k != "From"}
    assert not signature_valid(TOKEN, URL, without, signature)


@pytest.mark.parametrize("signature", [None, ""])
def test_signature_missing(signature: str | None) -> None:
    assert not signature_valid(TOKEN, URL, PARAMS, signature)


def test_signature_garbage() -> None:
    assert not signature_valid(TOKEN, URL, PARAMS, "not-a-signature")


@pytest.mark.parametrize(
    "other_url",
    [
        "https://voice.example.com/voice/answer?call=abc124",
        "https://voice.example.com/voice/status?call=abc123",
        "https://evil.example.com/voice/answer?call=abc123",
        "https://voice.example.com/voice/answer",
    ],
)
def test_signature_different_url(other_url: str) -> None:
    assert not signature_valid(TOKEN, other_url, PARAMS, sign(TOKEN, URL, PARAMS))


def test_signature_empty_token_never_valid() -> None:
    assert not signature_valid("", URL, PARAMS, sign("", URL, PARAMS))


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
