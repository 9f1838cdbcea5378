"""Plivo's Audio Streams messages both ways (carrier/plivo/wire.py): what we read of
Plivo's, what we write, and what the fake refuses of ours."""

from __future__ import annotations

import base64
import re
from typing import Any

import orjson
import pytest

from voicecall_rt.carrier.base import Frame, StreamCodec, StreamProtocolError
from voicecall_rt.carrier.plivo.wire import (
    ENCODING,
    SAMPLE_RATE,
    PlivoStreamCodec,
    PlivoStreamWriter,
    carrier_cleared,
    carrier_dtmf,
    carrier_media,
    carrier_media_template,
    carrier_played,
    carrier_played_template,
    carrier_start,
    decode_token,
    extra_headers,
    parse,
    read_extra_headers,
    read_ours,
)

STREAM = "2f6c1a0e-7b1d-4c55-9a43-0d2b9e51c001"
CALL = "9834029e-58b6-11e1-b8b7-a5bd0e4e126f"
OTHER = "2f6c1a0e-7b1d-4c55-9a43-0d2b9e51c002"
TOKEN = "call_0123456789abcdef.Ab-_xyz0123456789ABCDEFGHIJKLMNOPQRST"
CODEC: StreamCodec = PlivoStreamCodec()  # seen as our server sees it


def _dumps(message: dict[str, object]) -> str:
    return orjson.dumps(message).decode()


def _start(*, encoding: str = ENCODING, sample_rate: int = SAMPLE_RATE) -> dict[str, Any]:
    return carrier_start(
        1,
        STREAM,
        account_id="MA" + "A" * 18,
        call_id=CALL,
        extra=extra_headers(TOKEN),
        encoding=encoding,
        sample_rate=sample_rate,
    )


def test_start_gives_stream_call_and_token() -> None:
    start = CODEC.read_start(_dumps(_start()))
    assert start is not None
    assert (start.stream_id, start.call_sid, start.token) == (STREAM, CALL, TOKEN)
    assert set(start.custom) == {"callToken"}


def test_token_travels_in_the_documented_alphabet() -> None:
    value = extra_headers(TOKEN)
    key, _, encoded = value.partition("=")
    assert key == "callToken" and re.fullmatch(r"[A-Za-z0-9]+", encoded)
    assert len(value.encode()) <= 512
    assert decode_token(read_extra_headers(value)) == TOKEN


@pytest.mark.parametrize(
    "raw",
    [
        f"userId=12345;{extra_headers(TOKEN)}",
        f"{extra_headers(TOKEN)},sessionId=abc",
        f"X-PH-{extra_headers(TOKEN)}",
        {"callToken": extra_headers(TOKEN).partition("=")[2]},
    ],
)
def test_extra_headers_in_each_shape_plivo_shows(raw: object) -> None:
    assert decode_token(read_extra_headers(raw)) == TOKEN


@pytest.mark.parametrize("raw", [None, "", "callToken=zz", "callToken=ff", "other=1", 5])
def test_no_token_reads_as_empty(raw: object) -> None:
    assert decode_token(read_extra_headers(raw)) == ""


@pytest.mark.parametrize(
    "message",
    [
        _start(encoding="audio/x-l16"),  # Plivo's default: not our µ-law
        _start(sample_rate=16000),
        {**_start(), "start": {"streamId": STREAM, "callId": CALL}},  # no mediaFormat
        {**_start(), "streamId": "MZ1", "start": {**_start()["start"], "streamId": "../x"}},
        {"event": "media", "streamId": STREAM},
        {"event": "connected"},  # Plivo has no greeting to skip
        ["start"],
    ],
)
def test_start_refusals(message: object) -> None:
    with pytest.raises(StreamProtocolError):
        CODEC.read_start(orjson.dumps(message))


def test_start_that_is_not_json_is_refused() -> None:
    with pytest.raises(StreamProtocolError):
        CODEC.read_start("{not json")


def test_every_message_plivo_sends_is_read() -> None:
    payload = base64.b64encode(b"\xff" * 160).decode()
    media = carrier_media(2, STREAM, chunk=1, timestamp="1702371231946", payload=payload)
    assert CODEC.read(_dumps(media)) == (Frame.MEDIA, payload)
    assert CODEC.read(_dumps(carrier_played(3, STREAM, "item_1:1600"))) == (
        Frame.MARK,
        "item_1:1600",
    )
    assert CODEC.read(_dumps(carrier_cleared(4, STREAM))) == (Frame.SKIP, "")
    assert CODEC.read(_dumps(carrier_dtmf(5, STREAM, "#"))) == (Frame.KEYPAD, "#")
    # Plivo's stream SDKs know a `stop`: it would end the stream.
    assert CODEC.read(_dumps({"event": "stop", "streamId": STREAM})) == (Frame.STOP, "")
    # Wall-clock stamps are no stream clock: frames are placed by arrival.
    assert CODEC.frame_ms(_dumps(media)) is None


@pytest.mark.parametrize(
    "data",
    [
        "{",
        "[]",
        '{"no":"event"}',
        '{"event":"media"}',
        '{"event":"media","media":{"payload":5}}',
        '{"event":"playedStream"}',
        '{"event":"dtmf","dtmf":{"digit":"55"}}',
        '{"event":"dtmf","dtmf":{"digit":"x"}}',
        '{"event":"mark","mark":{"name":"a"}}',  # Twilio's word, not Plivo's
    ],
)
def test_malformed_frames_are_bad(data: str) -> None:
    assert CODEC.read(data) == (Frame.BAD, "")


def test_what_we_write_is_what_plivo_takes() -> None:
    start = CODEC.read_start(_dumps(_start()))
    assert start is not None
    writer = CODEC.writer(start)
    payload = base64.b64encode(bytes(range(160))).decode()
    media = parse(writer.media(payload))
    assert media == {
        "event": "playAudio",
        "streamId": STREAM,
        "media": {"contentType": "audio/x-mulaw", "sampleRate": 8000, "payload": payload},
    }
    assert read_ours(media, STREAM).audio == bytes(range(160))
    mark = parse(writer.mark("item_1:1600"))
    assert mark == {"event": "checkpoint", "streamId": STREAM, "name": "item_1:1600"}
    assert read_ours(mark, STREAM).name == "item_1:1600"
    assert parse(writer.clear) == {"event": "clearAudio", "streamId": STREAM}
    assert read_ours(parse(writer.clear), STREAM).event == "clearAudio"
    assert writer.keypad("123") is None  # keys go by REST


def test_writer_refuses_a_stream_id_it_could_not_embed() -> None:
    with pytest.raises(StreamProtocolError):
        PlivoStreamWriter('x","event":"clearAudio')


@pytest.mark.parametrize(
    ("message", "stream", "why"),
    [
        ({"event": "clearAudio"}, None, "before start"),
        ({"event": "clearAudio", "streamId": OTHER}, STREAM, "wrong streamId"),
        ({"event": "playAudio", "streamId": STREAM}, STREAM, "media object"),
        (
            {"event": "playAudio", "media": {"payload": "AAAA", "sampleRate": 8000}},
            STREAM,
            "contentType",
        ),
        (
            {"event": "playAudio", "media": {"payload": "!!", "contentType": "x", "sampleRate": 1}},
            STREAM,
            "base64",
        ),
        ({"event": "checkpoint", "name": ""}, STREAM, "name"),
        ({"event": "media", "media": {"payload": "AAAA"}}, STREAM, "unknown event"),
    ],
)
def test_the_fake_refuses_what_plivo_cannot_use(
    message: dict[str, object], stream: str | None, why: str
) -> None:
    with pytest.raises(StreamProtocolError, match=why):
        read_ours(message, stream)


def test_templates_fill_in_to_the_messages() -> None:
    payload = base64.b64encode(b"\x7f" * 160).decode()
    filled = carrier_media_template(STREAM) % (7, 3, 60, payload.encode())
    assert orjson.loads(filled) == carrier_media(
        7, STREAM, chunk=3, timestamp="60", payload=payload
    )
    played = carrier_played_template(STREAM) % (9, b"item_1:800")
    assert orjson.loads(played) == carrier_played(9, STREAM, "item_1:800")
    with pytest.raises(StreamProtocolError):
        carrier_media_template("not-a-uuid")
