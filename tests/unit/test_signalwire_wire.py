"""SignalWire's media-stream messages both ways (`carrier.signalwire.wire`): what SignalWire
sends, read by our codec; what our writer sends, read back as SignalWire uses it; and the
deltas from Twilio's format (UUID stream ids, no top-level `streamSid` on `start` and
`media`, a bare `stop`, the `dtmf` message that presses a key)."""

from __future__ import annotations

import base64

import orjson
import pytest

from voicecall_rt.carrier.base import Frame, StreamProtocolError
from voicecall_rt.carrier.signalwire.wire import (
    SignalWireStreamCodec,
    SignalWireStreamWriter,
    carrier_connected,
    carrier_dtmf,
    carrier_mark,
    carrier_mark_template,
    carrier_media,
    carrier_media_template,
    carrier_start,
    carrier_stop,
    read_ours,
)
from voicecall_rt.carrier.twilio import wire as twilio_wire
from voicecall_rt.carrier.twilio.wire import TOKEN_PARAMETER

STREAM = "7d56cc11-536d-4a45-b4fb-ed3d55be843b"
PROJECT = "b08dacad-2f6c-4de1-93d6-cc732e0c69c5"
CALL = "76ac3c36-56da-4a3e-a0d6-b5f8df6da9ad"
CODEC = SignalWireStreamCodec()


def dumps(message: dict[str, object]) -> str:
    return orjson.dumps(message).decode()


def start_message(**fmt: object) -> dict[str, object]:
    message = carrier_start(
        "1",
        STREAM,
        account_sid=PROJECT,
        call_sid=CALL,
        parameters={TOKEN_PARAMETER: "tok-1", "campaign": "spring"},
    )
    if fmt:
        start = message["start"]
        assert isinstance(start, dict)
        start["mediaFormat"] = fmt
    return message


# ---- what SignalWire sends, as SignalWire documents it ----------------------------------------


def test_signalwire_messages_have_its_documented_shapes() -> None:
    assert carrier_connected() == {"event": "connected", "protocol": "Call", "version": "0.2.0"}
    start = start_message()
    assert "streamSid" not in start  # only inside `start`
    assert start["start"] == {
        "streamSid": STREAM,
        "accountSid": PROJECT,
        "callSid": CALL,
        "tracks": ["inbound"],
        "customParameters": {TOKEN_PARAMETER: "tok-1", "campaign": "spring"},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    }
    media = carrier_media("2", STREAM, chunk="1", timestamp="20", payload="//8=")
    assert media == {
        "event": "media",
        "sequenceNumber": "2",
        "media": {"track": "inbound", "chunk": "1", "timestamp": "20", "payload": "//8="},
    }
    assert carrier_mark("3", STREAM, "m1") == {
        "event": "mark",
        "streamSid": STREAM,
        "mark": {"name": "m1"},
    }
    assert carrier_dtmf("4", STREAM, "5") == {
        "event": "dtmf",
        "sequenceNumber": "4",
        "streamSid": STREAM,
        "dtmf": {"digit": "5", "duration": 100},
    }
    assert carrier_stop("5", STREAM, account_sid=PROJECT, call_sid=CALL) == {
        "event": "stop",
        "sequenceNumber": "5",
    }


def test_codec_reads_every_signalwire_message() -> None:
    assert CODEC.read_start(dumps(carrier_connected())) is None
    start = CODEC.read_start(dumps(start_message()))
    assert start is not None
    assert (start.stream_id, start.call_sid, start.token) == (STREAM, CALL, "tok-1")
    assert start.custom == {TOKEN_PARAMETER: "tok-1", "campaign": "spring"}
    media = dumps(carrier_media("2", STREAM, chunk="1", timestamp="40", payload="//8="))
    assert CODEC.read(media) == (Frame.MEDIA, "//8=")
    assert CODEC.frame_ms(media) == 40
    assert CODEC.read(dumps(carrier_mark("3", STREAM, "m1"))) == (Frame.MARK, "m1")
    assert CODEC.read(dumps(carrier_dtmf("4", STREAM, "#"))) == (Frame.KEYPAD, "#")
    stop = dumps(carrier_stop("5", STREAM, account_sid=PROJECT, call_sid=CALL))
    assert CODEC.read(stop) == (Frame.STOP, "")
    assert CODEC.read("not json")[0] is Frame.BAD
    assert CODEC.read(dumps({"event": "media", "media": {}}))[0] is Frame.BAD
    assert CODEC.read(dumps({"event": "dtmf", "dtmf": {"digit": "55"}}))[0] is Frame.BAD


@pytest.mark.parametrize(
    "bad",
    [
        {"event": "media"},  # not a start
        {"event": "start"},  # no start object
        {"event": "start", "start": {"streamSid": "MZ" + "0" * 32}},  # Twilio's id, not a UUID
        {"event": "start", "start": {"streamSid": STREAM + '"'}},
        [1, 2],
    ],
)
def test_codec_refuses_a_bad_start(bad: object) -> None:
    with pytest.raises(StreamProtocolError):
        CODEC.read_start(orjson.dumps(bad))


@pytest.mark.parametrize("rate", [16000, 24000])
def test_an_l16_stream_is_refused_we_forward_mulaw_only(rate: int) -> None:
    message = start_message(encoding="audio/x-L16", sampleRate=rate, channels=1)
    with pytest.raises(StreamProtocolError, match="mulaw"):
        CODEC.read_start(dumps(message))


# ---- what we send, as SignalWire reads it ----------------------------------------------------


def test_writer_messages_are_signalwires_and_read_back() -> None:
    start = CODEC.read_start(dumps(start_message()))
    assert start is not None
    writer = CODEC.writer(start)
    assert isinstance(writer, SignalWireStreamWriter)
    payload = base64.b64encode(b"\x7f" * 160).decode()
    media = orjson.loads(writer.media(payload))
    assert media == {"event": "media", "streamSid": STREAM, "media": {"payload": payload}}
    assert read_ours(media, STREAM).audio == b"\x7f" * 160
    mark = orjson.loads(writer.mark("m-7"))
    assert mark == {"event": "mark", "streamSid": STREAM, "mark": {"name": "m-7"}}
    assert read_ours(mark, STREAM).name == "m-7"
    clear = orjson.loads(writer.clear)
    assert clear == {"event": "clear", "streamSid": STREAM}
    assert read_ours(clear, STREAM).event == "clear"
    keypad = writer.keypad("5")
    assert keypad is not None
    dtmf = orjson.loads(keypad)
    assert dtmf == {"event": "dtmf", "streamSid": STREAM, "dtmf": {"digit": "5"}}
    ours = read_ours(dtmf, STREAM)
    assert (ours.event, ours.digit) == ("dtmf", "5")


@pytest.mark.parametrize("digits", ["", "12", "x", "w", '"'])
def test_keypad_is_one_key_per_message(digits: str) -> None:
    assert SignalWireStreamWriter(STREAM).keypad(digits) is None


def test_every_key_has_a_message() -> None:
    writer = SignalWireStreamWriter(STREAM)
    for key in "0123456789*#ABCD":
        message = writer.keypad(key)
        assert message is not None and orjson.loads(message)["dtmf"]["digit"] == key


def test_writer_refuses_an_id_it_could_not_bake_in_safely() -> None:
    with pytest.raises(StreamProtocolError):
        SignalWireStreamWriter('7d56cc11-536d-4a45-b4fb-ed3d55be843"')
    with pytest.raises(StreamProtocolError):
        SignalWireStreamWriter("MZ" + "0" * 32)


@pytest.mark.parametrize(
    "message",
    [
        {"event": "dtmf", "streamSid": "other", "dtmf": {"digit": "5"}},
        {"event": "dtmf", "dtmf": {"digit": "5"}},
        {"event": "dtmf", "streamSid": STREAM, "dtmf": {"digit": "55"}},
        {"event": "dtmf", "streamSid": STREAM, "dtmf": {"digit": "x"}},
        {"event": "dtmf", "streamSid": STREAM},
        {"event": "media", "media": {"payload": "//8="}},  # no streamSid
        {"event": "play", "streamSid": STREAM},
    ],
)
def test_read_ours_refuses_what_signalwire_cannot_use(message: dict[str, object]) -> None:
    with pytest.raises(StreamProtocolError):
        read_ours(message, STREAM)


def test_twilio_keeps_its_own_start_and_writer() -> None:
    # The shared reader and writer keep Twilio's id shape by default.
    with pytest.raises(StreamProtocolError):
        twilio_wire.TwilioStreamWriter(STREAM)
    twilio_start = twilio_wire.carrier_start(
        "1", "MZ" + "a" * 32, account_sid="AC" + "0" * 32, call_sid="CA" + "0" * 32, parameters={}
    )
    with pytest.raises(StreamProtocolError):
        CODEC.read_start(dumps(twilio_start))
    assert twilio_wire.TwilioStreamCodec().read_start(dumps(twilio_start)) is not None


def test_templates_fill_in_like_the_builders() -> None:
    media = carrier_media_template(STREAM) % (9, 3, 60, b"//8=")
    assert orjson.loads(media) == carrier_media(
        "9", STREAM, chunk="3", timestamp="60", payload="//8="
    )
    mark = carrier_mark_template(STREAM) % (b"m-1",)
    assert orjson.loads(mark) == carrier_mark("", STREAM, "m-1")
    with pytest.raises(StreamProtocolError):
        carrier_mark_template("%s")
