"""The load generator's carriers (`benchmarks/sides/`) against our server's own codecs: what
each side sends on the stream is what our server reads for that carrier, and what our
server writes is told apart by the side's prefixes (the caller never parses JSON, so a
wrong prefix would silently count nothing). And the REST stand-in reads a request's body
however it arrives, which Telnyx's admission depends on (our server's answer action)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from benchmarks.fake_model import FakeModel
from benchmarks.markers import frame_payload
from benchmarks.recorder import Call, Recorder
from benchmarks.sides import side
from benchmarks.sim_account import FROM_NUMBER, PUBLIC_URL

from voicecall_rt.carrier.base import Frame, StreamCodec
from voicecall_rt.carrier.registry import build_carrier
from voicecall_rt.config import Settings


async def codec_of(carrier: str) -> StreamCodec:
    """Our server's codec for `carrier`, built from the settings the side gives it."""
    raw: dict[str, Any] = {
        **side(carrier).server_section("http://127.0.0.1:9"),
        "fromNumber": FROM_NUMBER,
        "openai": {"apiKey": "sk-test-offline"},
        "publicUrl": PUBLIC_URL,
    }
    parts = build_carrier(Settings.model_validate(raw))
    await parts.close()  # its REST client: not used here
    return parts.codec


async def test_the_callers_messages_are_what_our_server_reads_for_its_carrier(
    carrier: str,
) -> None:
    codec = await codec_of(carrier)
    call = Call(3)
    side(carrier).name_call(call)
    stream = side(carrier).stream(call)
    seq = iter(range(1, 100))

    opening = stream.opening(lambda: next(seq))
    starts = [s for s in (codec.read_start(m) for m in opening) if s is not None]
    assert len(starts) == 1 and codec.read_start(opening[-1]) is not None  # start comes last
    start = starts[0]
    assert (start.stream_id, start.call_sid) == (call.stream_sid, call.call_sid)

    payload = frame_payload(call.index, 7)
    media = stream.media_template % (next(seq), 8, stream.stamp0 + 140, payload)
    assert codec.read(media) == (Frame.MEDIA, payload.decode())
    assert codec.read(stream.mark_echo(next(seq), b"m-12")) == (Frame.MARK, "m-12")

    stop = stream.stop(next(seq))
    cleared = stream.cleared(lambda: next(seq))
    if carrier == "plivo":  # no `stop` (the socket closes); `clearedAudio` said, not read
        assert stop is None
        assert cleared is not None and codec.read(cleared)[0] is Frame.SKIP
        assert not stream.echoes_cleared_marks
    else:
        assert stop is not None and codec.read(stop)[0] is Frame.STOP
        assert cleared is None and stream.echoes_cleared_marks


async def test_our_servers_messages_are_told_apart_by_the_sides_prefixes(carrier: str) -> None:
    codec = await codec_of(carrier)
    call = Call(0)
    side(carrier).name_call(call)
    stream = side(carrier).stream(call)
    start = next(s for s in map(codec.read_start, stream.opening(lambda: 1)) if s is not None)
    writer = codec.writer(start)
    payload = frame_payload(0, 5).decode()

    media = writer.media(payload).encode()
    mark = writer.mark("mark-9").encode()
    clear = writer.clear.encode()

    kinds = (stream.media_prefix, stream.mark_prefix, stream.clear_prefix)
    assert [[m.startswith(k) for k in kinds] for m in (media, mark, clear)] == [
        [True, False, False],
        [False, True, False],
        [False, False, True],
    ]
    at = media.find(stream.payload_at) + len(stream.payload_at)
    assert media[at : at + len(payload)].decode() == payload
    at = mark.find(stream.name_at) + len(stream.name_at)
    assert mark[at : mark.find(b'"', at)] == b"mark-9"


async def test_the_rest_stand_in_keeps_telnyxs_answer_whatever_the_packets() -> None:
    rec = Recorder()
    fake = FakeModel(rec, carrier=side("telnyx"))
    await fake.start()
    body = orjson.dumps({"client_state": "c3RhdGU=", "stream_url": "wss://x/voice/s"})
    head = (
        b"POST /calls/v3%%3Aabc_DEF-1/actions/answer HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
        writer.write(head + body[:10])  # the body arrives in two pieces
        await writer.drain()
        writer.write(body[10:])
        response = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        # and a hang-up: counted, not kept
        reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
        writer.write(b"POST /calls/v3%3Aabc_DEF-1/actions/hangup HTTP/1.1\r\nHost: x\r\n\r\n")
        hangup = await asyncio.wait_for(reader.read(), 5)
        writer.close()
    finally:
        await fake.close()

    assert response.startswith(b"HTTP/1.1 200 ") and response.endswith(b'{"data":{"result":"ok"}}')
    assert hangup.startswith(b"HTTP/1.1 200 ")
    assert rec.rest.answers == {"v3:abc_DEF-1": body}
    assert fake.rest_requests == 1


async def test_the_rest_stand_in_refuses_a_request_with_a_bad_length() -> None:
    fake = FakeModel(Recorder())
    await fake.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
        writer.write(b"POST /x HTTP/1.1\r\nContent-Length: nope\r\n\r\n")
        response = await asyncio.wait_for(reader.read(), 5)
        writer.close()
    finally:
        await fake.close()

    assert response.startswith(b"HTTP/1.1 400 ")
    assert fake.rest_requests == 0
