"""The fake Telnyx's media stream is as strict as Telnyx: what the dial asked for decides
the codec announced and whether our audio is heard; what it cannot use gets an `error`;
`send_dtmf` reaches the far party as tones."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from tests.helpers.telnyx_fake import OUR_NUMBER, fake_telnyx, local_server
from voicecall_rt.carrier.telnyx.rest import TelnyxCarrier
from voicecall_rt.simulator.scenario import CallPlan
from voicecall_rt.simulator.sim_call import SimCall
from voicecall_rt.simulator.telnyx.carrier import FakeTelnyx
from voicecall_rt.simulator.telnyx.fake import API_KEY, CONNECTION_ID
from voicecall_rt.simulator.telnyx.media_stream import TelnyxMediaStream

STREAM_ORIGIN = "wss://stream.telnyx-test.example"
AUDIO = bytes([0x55]) * 320  # 40 ms of µ-law
PLAN = CallPlan(ring_ms=20, answered_by=None)


class OurSide:
    """Our server's end of the socket: greets nothing, sends what a test queues."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.outbox: asyncio.Queue[str] = asyncio.Queue()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)

        async def send() -> None:
            while True:
                await ws.send_str(await self.outbox.get())

        sender = asyncio.create_task(send())
        try:
            async for message in ws:
                self.received.append(orjson.loads(message.data))
        finally:
            sender.cancel()
        return ws


@asynccontextmanager
async def stream_world() -> AsyncIterator[tuple[FakeTelnyx, OurSide]]:
    ours = OurSide()
    app = web.Application()
    app.router.add_get("/ws", ours.handle)
    async with local_server(app) as base, fake_telnyx(PLAN) as (fake, _, _):
        fake.route(STREAM_ORIGIN, base)
        yield fake, ours


async def _dial(fake: FakeTelnyx, **stream: str) -> SimCall:
    body = {
        "connection_id": CONNECTION_ID,
        "to": "+14155550142",
        "from": OUR_NUMBER,
        "stream_url": f"{STREAM_ORIGIN}/ws",
        **stream,
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{fake.api_base_url}/calls",
            json=body,
            headers={"Authorization": f"Bearer {API_KEY}"},
        ) as response,
    ):
        assert response.status == 200, await response.text()
        sid: str = (await response.json())["data"]["call_control_id"]
    call = fake.calls[sid]
    await call.wait_for(lambda: call.streaming)
    return call


def _stream(call: SimCall) -> TelnyxMediaStream:
    assert isinstance(call.stream, TelnyxMediaStream)
    return call.stream


def _media(audio: bytes) -> str:
    return orjson.dumps(
        {"event": "media", "media": {"payload": base64.b64encode(audio).decode()}}
    ).decode()


async def test_asked_for_pcmu_and_rtp_our_audio_and_marks_are_heard() -> None:
    async with stream_world() as (fake, ours):
        call = await _dial(
            fake,
            stream_codec="PCMU",
            stream_bidirectional_mode="rtp",
            stream_bidirectional_codec="PCMU",
        )
        assert call.start_message is not None
        assert call.start_message["start"]["media_format"]["encoding"] == "PCMU"
        ours.outbox.put_nowait(_media(AUDIO))
        ours.outbox.put_nowait('{"event":"mark","mark":{"name":"m1"}}')
        await call.wait_for(lambda: call.marks_echoed == ["m1"])
        assert call.played_bytes >= len(AUDIO) and _stream(call).ignored == 0
        assert [m["event"] for m in ours.received][:2] == ["connected", "start"]


async def test_without_rtp_mode_our_audio_is_dropped_without_a_word() -> None:
    async with stream_world() as (fake, ours):
        call = await _dial(fake, stream_codec="PCMU")
        ours.outbox.put_nowait(_media(AUDIO))
        ours.outbox.put_nowait('{"event":"mark","mark":{"name":"m1"}}')
        await call.wait_for(lambda: _stream(call).ignored == 2)
        assert call.played_bytes == 0 and call.marks_echoed == []
        assert call.protocol_errors == []
        assert not any(m["event"] == "error" for m in ours.received)


async def test_without_stream_codec_the_leg_codec_is_announced() -> None:
    async with stream_world() as (fake, _):
        call = await _dial(fake, stream_bidirectional_mode="rtp")
        assert call.start_message is not None
        assert call.start_message["start"]["media_format"]["encoding"] == "PCMA"


async def test_what_telnyx_cannot_use_gets_an_error_message() -> None:
    async with stream_world() as (fake, ours):
        call = await _dial(fake, stream_codec="PCMU", stream_bidirectional_mode="rtp")
        ours.outbox.put_nowait(_media(AUDIO[:80]))  # 10 ms: below Telnyx's minimum
        ours.outbox.put_nowait('{"event":"dance"}')
        await call.wait_for(lambda: len(call.protocol_errors) == 2)
        await call.wait_for(lambda: sum(m["event"] == "error" for m in ours.received) == 2)
        assert call.played_bytes == 0


async def test_send_dtmf_reaches_the_far_party_as_tones() -> None:
    async with stream_world() as (fake, _):
        call = await _dial(fake, stream_codec="PCMU", stream_bidirectional_mode="rtp")
        api = TelnyxCarrier(API_KEY, CONNECTION_ID, fake.api_base_url)
        try:
            assert await api.send_digits(call.sid, "4,2") is True
        finally:
            await api.close()
        assert fake.requests[-1][1]["digits"] == "4w2"
        await call.wait_for(lambda: call.heard_digits == "42")
