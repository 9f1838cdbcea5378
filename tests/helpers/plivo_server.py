"""A stand-in for our server that the fake Plivo calls in unit tests: it answers the
answer URL with a given Plivo XML document, every callback with 204, and accepts the
media WebSocket, keeping what arrives (real sockets on 127.0.0.1)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from voicecall_rt.carrier.base import OutboundRequest
from voicecall_rt.simulator.plivo.carrier import FakePlivo
from voicecall_rt.simulator.plivo.fake import AUTH_ID, AUTH_TOKEN
from voicecall_rt.simulator.scenario import CallPlan

PUBLIC = "https://voice.plivo-unit.test"
FROM = "+14155550100"
TO = "+14155550123"
STREAM_URL = "wss://voice.plivo-unit.test/voice/realtime-stream"


def outbound_request(*, amd: bool = True, query: str = "") -> OutboundRequest:
    """A dial whose webhooks all lead to the stand-in (`query`: e.g. `?call=call_1`)."""
    return OutboundRequest(
        to=TO,
        from_=FROM,
        answer_url=f"{PUBLIC}/voice/answer{query}",
        status_url=f"{PUBLIC}/voice/status{query}",
        ring_timeout_s=30,
        time_limit_s=600,
        amd_url=f"{PUBLIC}/voice/amd{query}" if amd else None,
    )


class StandIn:
    """What the fake Plivo reached, and the XML it gets back."""

    def __init__(self, answer_xml: str) -> None:
        self.answer_xml = answer_xml
        self.posts: list[tuple[str, dict[str, str]]] = []
        self.stream_messages: list[dict[str, Any]] = []
        self.ws: web.WebSocketResponse | None = None
        self.got_message = asyncio.Condition()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/voice/answer", self._answer)
        app.router.add_post("/voice/{other}", self._callback)
        app.router.add_get("/voice/realtime-stream", self._stream)
        return app

    async def _answer(self, request: web.Request) -> web.Response:
        self.posts.append((request.path, dict((await request.post()).items())))  # type: ignore[arg-type]
        return web.Response(text=self.answer_xml, content_type="application/xml")

    async def _callback(self, request: web.Request) -> web.Response:
        self.posts.append((request.path, dict((await request.post()).items())))  # type: ignore[arg-type]
        return web.Response(status=204)

    async def _stream(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.ws = ws
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                async with self.got_message:
                    self.stream_messages.append(orjson.loads(message.data))
                    self.got_message.notify_all()
        return ws

    async def wait_messages(self, count: int, timeout_s: float = 5.0) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout_s), self.got_message:
            await self.got_message.wait_for(lambda: len(self.stream_messages) >= count)
        return self.stream_messages

    async def send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send_str(orjson.dumps(message).decode())


@asynccontextmanager
async def plivo_and_stand_in(
    answer_xml: str, plan: CallPlan | None = None
) -> AsyncIterator[tuple[FakePlivo, StandIn]]:
    """A started fake Plivo whose tunnel leads to a started stand-in."""
    stand_in = StandIn(answer_xml)
    runner = web.AppRunner(stand_in.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake = FakePlivo(
        auth_id=AUTH_ID,
        auth_token=AUTH_TOKEN,
        plans=plan or CallPlan(ring_ms=50, answered_by=None),
        owned_numbers=(FROM,),
        answer_url=f"{PUBLIC}/voice/answer",
    )
    try:
        async with fake:
            fake.route(PUBLIC, f"http://127.0.0.1:{runner.addresses[0][1]}")
            yield fake, stand_in
    finally:
        await runner.cleanup()
