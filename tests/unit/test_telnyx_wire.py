"""Telnyx's media-streaming messages, both ways (docs/protocols.md §6; carrier.telnyx.wire)."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from voicecall_rt.carrier.base import Frame, StreamCodec, StreamProtocolError
from voicecall_rt.carrier.telnyx.wire import (
    TelnyxStreamCodec,
    carrier_connected,
    carrier_dtmf,
    carrier_error,
    carrier_mark,
    carrier_mark_template,
    carrier_media,
    carrier_media_template,
    carrier_start,
    carrier_stop,
    client_state,
    read_client_state,
    read_ours,
    read_transfer_state,
    transfer_state,
)

STREAM_ID = "32de0dea-53cb-4b21-89a4-9610a8a8ba4a"
CALL = "v3:Gw8lsJcLz0kVhYqPZ1c1ZZyXbD0Rc2E5"
CODEC: StreamCodec = TelnyxStreamCodec()  # seen as our server sees it


def _json(message: dict[str, Any]) -> str:
    return orjson.dumps(message).decode()


def _start(**overrides: Any) -> dict[str, Any]:
    message = carrier_start(
        "1", STREAM_ID, call_control_id=CALL, client_state=client_state("out", "tok-1")
    )
    message["start"].update(overrides)
    return message


def test_client_state_carries_the_token_and_the_direction() -> None:
    state = client_state("in", "abc_DEF-123")
    base64.b64decode(state, validate=True)  # Telnyx requires base64
    assert read_client_state(state) == ("in", "abc_DEF-123")
    assert read_client_state(client_state("out", "x")) == ("out", "x")
    for foreign in (None, "", "not base64!", base64.b64encode(b"someone:else").decode(), 42):
        assert read_client_state(foreign) is None
    assert read_client_state(base64.b64encode(b"vcrt1:sideways:t").decode()) is None


def test_a_transfers_state_names_our_call_and_is_no_stream_token() -> None:
    state = transfer_state("call_0123456789abcdef")
    base64.b64decode(state, validate=True)
    assert read_transfer_state(state) == "call_0123456789abcdef"
    assert read_client_state(state) is None  # never read as a dial's or an answer's
    assert read_transfer_state(client_state("out", "call_x")) is None
    wrong = (b"vcrt1:xfer:", b"vcrt1:xfer:../etc", b"vcrt1:xfer:" + b"a" * 65, b"xfer:call_1")
    for foreign in (None, "", "not base64!", 42, *(base64.b64encode(w).decode() for w in wrong)):
        assert read_transfer_state(foreign) is None


def test_connected_is_skipped_and_start_is_read() -> None:
    assert CODEC.read_start(_json(carrier_connected())) is None
    start = CODEC.read_start(_json(_start()))
    assert start is not None
    assert (start.stream_id, start.call_sid, start.token) == (STREAM_ID, CALL, "tok-1")


def test_start_accepts_both_spellings_of_mulaw() -> None:
    fmt = {"encoding": "audio/x-mulaw", "sample_rate": 8000, "channels": 1}
    start = CODEC.read_start(_json(_start(media_format=fmt)))
    assert start is not None and start.token == "tok-1"


@pytest.mark.parametrize(
    "overrides",
    [
        {"media_format": {"encoding": "PCMA", "sample_rate": 8000, "channels": 1}},
        {"media_format": {"encoding": "L16", "sample_rate": 16000, "channels": 1}},
        {"media_format": {"encoding": "PCMU", "sample_rate": 16000, "channels": 1}},
        {"media_format": None},
        {"custom_parameters": ["not", "an", "object"]},
        {"call_control_id": 'v3:"quoted"'},
    ],
)
def test_start_refuses_what_we_cannot_use(overrides: dict[str, Any]) -> None:
    with pytest.raises(StreamProtocolError):
        CODEC.read_start(_json(_start(**overrides)))


@pytest.mark.parametrize(
    "message",
    [
        {"event": "start", "stream_id": STREAM_ID},  # no start object
        {**_start(), "stream_id": 'a"b'},
        {key: value for key, value in _start().items() if key != "stream_id"},
        {"event": "media", "stream_id": STREAM_ID, "media": {"payload": "AA=="}},
    ],
)
def test_a_bad_or_missing_start_is_refused(message: dict[str, Any]) -> None:
    with pytest.raises(StreamProtocolError):
        CODEC.read_start(_json(message))


def test_start_without_our_client_state_has_no_token() -> None:
    message = carrier_start("1", STREAM_ID, call_control_id=CALL, client_state=None)
    start = CODEC.read_start(_json(message))
    assert start is not None and start.token == ""


def test_non_json_before_start_is_refused() -> None:
    with pytest.raises(StreamProtocolError):
        CODEC.read_start("not json")


def test_caller_frames() -> None:
    media = carrier_media("4", STREAM_ID, chunk="2", timestamp="40", payload="//79/Q==")
    assert CODEC.read(_json(media)) == (Frame.MEDIA, "//79/Q==")
    assert CODEC.frame_ms(_json(media)) == 40
    assert CODEC.read(_json(carrier_mark("5", STREAM_ID, "m-1"))) == (Frame.MARK, "m-1")
    assert CODEC.read(_json(carrier_dtmf("6", STREAM_ID, "#"))) == (Frame.KEYPAD, "#")
    assert CODEC.read(_json(carrier_stop("7", STREAM_ID, call_control_id=CALL))) == (Frame.STOP, "")
    assert CODEC.read(_json(carrier_connected()))[0] is Frame.BAD  # only before the start
    error = carrier_error("8", STREAM_ID, code=100002, title="malformed_frame", detail="x")
    assert CODEC.read(_json(error))[0] is Frame.BAD


@pytest.mark.parametrize(
    "text",
    [
        "nope",
        '{"event":"media","media":{}}',
        '{"event":"media","media":{"payload":5}}',
        '{"event":"mark","mark":{}}',
        '{"event":"dtmf","dtmf":{"digit":"x"}}',
        '{"event":"dtmf","dtmf":{"digit":"12"}}',
        '{"no_event":1}',
        "[]",
    ],
)
def test_malformed_caller_frames_are_bad(text: str) -> None:
    assert CODEC.read(text)[0] is Frame.BAD


def test_frame_ms_without_a_timestamp() -> None:
    assert CODEC.frame_ms('{"event":"media","media":{"payload":"AA=="}}') is None
    assert CODEC.frame_ms('{"event":"media","media":{"timestamp":"-5"}}') is None


def test_our_messages_are_what_telnyx_reads() -> None:
    start = CODEC.read_start(_json(_start()))
    assert start is not None
    writer = CODEC.writer(start)
    audio = bytes(range(160))
    payload = base64.b64encode(audio).decode()
    media = orjson.loads(writer.media(payload))
    assert media == {"event": "media", "media": {"payload": payload}}
    assert read_ours(media).audio == audio
    assert orjson.loads(writer.mark("item-7")) == {"event": "mark", "mark": {"name": "item-7"}}
    assert read_ours(orjson.loads(writer.mark("item-7"))).name == "item-7"
    assert orjson.loads(writer.clear) == {"event": "clear"}
    assert read_ours(orjson.loads(writer.clear)).event == "clear"
    assert writer.keypad("1") is None  # send_dtmf (REST) presses keys


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"event": "media", "media": {}}, "without a payload"),
        ({"event": "media", "media": {"payload": "@@@"}}, "not base64"),
        (
            {"event": "media", "media": {"payload": base64.b64encode(b"\xff" * 80).decode()}},
            "80 bytes",
        ),
        (
            {"event": "media", "media": {"payload": base64.b64encode(b"\xff" * 240_008).decode()}},
            "240008",
        ),
        ({"event": "mark", "mark": {}}, "without a name"),
        ({"event": "dtmf", "dtmf": {"digit": "1"}}, "unknown event"),
    ],
)
def test_telnyx_refuses_what_it_cannot_use(message: dict[str, Any], reason: str) -> None:
    with pytest.raises(StreamProtocolError, match=reason):
        read_ours(message)


def test_templates_fill_in_to_the_builders_messages() -> None:
    media = carrier_media_template(STREAM_ID) % (3, 2, 40, b"AAAA")
    assert orjson.loads(media) == carrier_media(
        "3", STREAM_ID, chunk="2", timestamp="40", payload="AAAA"
    )
    mark = carrier_mark_template(STREAM_ID) % (9, b"m-1")
    assert orjson.loads(mark) == carrier_mark("9", STREAM_ID, "m-1")
    with pytest.raises(StreamProtocolError):
        carrier_media_template("bad%id")
