"""The fake Plivo is as strict as Plivo (simulator/plivo/): `<Stream>` without µ-law fails
loudly, the elements it refuses, what it does with what we send on the stream."""

from __future__ import annotations

import asyncio
import base64

import orjson
import pytest

from tests.helpers.plivo_server import FROM, STREAM_URL, outbound_request, plivo_and_stand_in
from voicecall_rt.carrier.base import StreamProtocolError
from voicecall_rt.carrier.plivo.rest import PlivoCarrier
from voicecall_rt.carrier.plivo.webhooks import stream_xml
from voicecall_rt.carrier.plivo.wire import PlivoStreamCodec, PlivoStreamWriter
from voicecall_rt.simulator.plivo.fake import AUTH_ID, AUTH_TOKEN
from voicecall_rt.simulator.plivo.media_stream import PlivoStream
from voicecall_rt.simulator.scenario import CallPlan, Pause
from voicecall_rt.simulator.sim_call import SimCall

TOKEN = "call_0123456789abcdef.secret"
QUIET = CallPlan(ring_ms=50, answered_by=None, callee=(Pause(30_000),))


async def _dial(base_url: str, amd: bool = False) -> None:
    carrier = PlivoCarrier(AUTH_ID, AUTH_TOKEN, base_url)
    try:
        await carrier.create_call(outbound_request(amd=amd))
    finally:
        await carrier.close()


async def _ended(call: SimCall) -> None:
    async with asyncio.timeout(10):
        await call.ended.wait()


async def test_a_stream_without_a_content_type_is_l16_and_our_server_refuses_it() -> None:
    xml = stream_xml(STREAM_URL, TOKEN).replace(' contentType="audio/x-mulaw;rate=8000"', "")
    async with plivo_and_stand_in(xml, QUIET) as (fake, stand_in):
        await _dial(fake.api_base_url)
        sim = await fake.wait_call()
        [start] = await stand_in.wait_messages(1)
    assert start["event"] == "start"
    assert start["start"]["mediaFormat"] == {"encoding": "audio/x-l16", "sampleRate": 8000}
    assert any("no contentType" in error for error in sim.errors)
    with pytest.raises(StreamProtocolError, match="mulaw"):
        PlivoStreamCodec().read_start(orjson.dumps(start))


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (("wss://", "ws://"), "wss://"),
        (('audioTrack="inbound"', 'audioTrack="both"'), "audioTrack"),
        (('contentType="audio/x-mulaw;rate=8000"', 'contentType="audio/pcmu"'), "contentType"),
        (('extraHeaders="callToken=', 'extraHeaders="call-token='), "extraHeaders"),
    ],
)
async def test_streams_plivo_refuses(change: tuple[str, str], why: str) -> None:
    xml = stream_xml(STREAM_URL, TOKEN).replace(*change)
    async with plivo_and_stand_in(xml, QUIET) as (fake, stand_in):
        await _dial(fake.api_base_url)
        sim = await fake.wait_call()
        await _ended(sim)  # the document ran out: Plivo hangs up
    assert any("<Stream> refused" in e and why in e for e in sim.errors), sim.errors
    assert stand_in.ws is None and sim.stream is None
    assert sim.status == "completed"


async def test_without_keep_call_alive_the_call_ends_at_once() -> None:
    xml = stream_xml(STREAM_URL, TOKEN).replace(' keepCallAlive="true"', "")
    async with plivo_and_stand_in(xml, QUIET) as (fake, _):
        await _dial(fake.api_base_url)
        sim = await fake.wait_call()
        await _ended(sim)
    assert sim.status == "completed" and sim.stream_url == STREAM_URL
    assert sim.talk_time_s is not None and sim.talk_time_s < 5


async def test_what_we_send_on_the_stream_is_used_as_plivo_uses_it() -> None:
    async with plivo_and_stand_in(stream_xml(STREAM_URL, TOKEN), QUIET) as (fake, stand_in):
        await _dial(fake.api_base_url)
        sim = await fake.wait_call()
        [start] = await stand_in.wait_messages(1)
        started = PlivoStreamCodec().read_start(orjson.dumps(start))
        assert started is not None and started.token == TOKEN and started.call_sid == sim.sid
        writer = PlivoStreamWriter(started.stream_id)
        audio = base64.b64encode(b"\x55" * 1600).decode()  # 200 ms
        # L16 on a µ-law stream is not played.
        await stand_in.send({**_parse(writer.media(audio)), "media": {
            "contentType": "audio/x-l16", "sampleRate": 8000, "payload": audio}})  # fmt: skip
        await stand_in.send(_parse(writer.media(audio)))
        await stand_in.send(_parse(writer.mark("played")))
        await sim.wait_for(lambda: "played" in sim.marks_echoed)
        await stand_in.send(_parse(writer.media(audio)))
        await stand_in.send(_parse(writer.mark("dropped")))
        await stand_in.send(_parse(writer.clear))
        messages = await stand_in.wait_messages(0)
        async with asyncio.timeout(5):
            while not any(m["event"] == "clearedAudio" for m in messages):
                await stand_in.wait_messages(len(messages) + 1)
        stream = sim.stream
        await fake.close()
    assert isinstance(stream, PlivoStream)
    assert sim.protocol_errors == ["playAudio as audio/x-l16@8000 on a audio/x-mulaw@8000 stream"]
    played = [m["name"] for m in messages if m["event"] == "playedStream"]
    assert played == ["played"] and stream.dropped_checkpoints == ["dropped"]
    assert sim.played_bytes >= 1600 and sim.clears
    # No `connected` first, no `stop` last: the socket's close ends the stream.
    assert messages[0]["event"] == "start"
    assert {m["event"] for m in messages} <= {"start", "media", "playedStream", "clearedAudio"}


async def test_machine_detection_and_hangup_callbacks() -> None:
    plan = CallPlan(ring_ms=50, answered_by="human", amd_delay_ms=50, callee=(Pause(30_000),))
    hold = '<Response><Wait length="60"/></Response>'
    async with plivo_and_stand_in(hold, plan) as (fake, stand_in):
        await _dial(fake.api_base_url, amd=True)
        sim = await fake.wait_call()
        await sim.wait_for(lambda: any(w.kind == "amd" for w in sim.webhooks))
        await sim.hang_up()  # the callee hangs up
    hooks = {params.get("Event"): params for path, params in stand_in.posts}
    assert set(hooks) == {"Ring", "StartApp", "MachineDetection", "Hangup"}
    assert hooks["MachineDetection"]["Machine"] == "false"
    assert hooks["Hangup"]["CallStatus"] == "completed"
    assert hooks["Hangup"]["HangupCause"] == "NORMAL_CLEARING"
    request = fake.request_uuid(sim)
    assert all(p["CallUUID"] == sim.sid and p["RequestUUID"] == request for p in hooks.values())
    assert all(p["From"] == FROM.lstrip("+") for p in hooks.values())


def _parse(text: str) -> dict[str, object]:
    parsed: dict[str, object] = orjson.loads(text)
    return parsed
