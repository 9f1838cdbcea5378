"""`bare-aiohttp`: the bare relay (`bare_stacks.py`) on aiohttp's web server, with its
`ClientSession.ws_connect` for the model. `aiohttp_site` is also the carrier side of
`bare-aiohttp-picows` (`bare_picows.py`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
from aiohttp import ClientSession, ClientWebSocketResponse, TCPConnector, WSMsgType, web

from benchmarks.bare_messages import MAX_SIZE, PATH, delta_media, media_append
from benchmarks.bare_relay import SESSION


@contextlib.asynccontextmanager
async def aiohttp_site(
    relay: Callable[[web.Request], Awaitable[web.StreamResponse]], host: str, port: int
) -> AsyncIterator[int]:
    """aiohttp's server with the stream route; yields the real port."""
    app = web.Application()
    app.router.add_get(PATH, relay)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


async def _model_to_carrier(
    model: ClientWebSocketResponse, carrier: web.WebSocketResponse, sid: str
) -> None:
    async for msg in model:
        if msg.type is WSMsgType.TEXT:
            out = delta_media(orjson.loads(msg.data), sid)
            if out is not None:
                await carrier.send_frame(out, WSMsgType.TEXT)
        elif msg.type is WSMsgType.ERROR:
            break


@contextlib.asynccontextmanager
async def serve_aiohttp(host: str, port: int, model_url: str, api_key: str) -> AsyncIterator[int]:
    """aiohttp on both sides; one ClientSession without a connection limit."""
    session = ClientSession(connector=TCPConnector(limit=0))
    headers = {"Authorization": f"Bearer {api_key}"}

    async def relay(request: web.Request) -> web.StreamResponse:
        carrier = web.WebSocketResponse(compress=False, max_msg_size=MAX_SIZE)
        await carrier.prepare(request)
        model: ClientWebSocketResponse | None = None
        pump: asyncio.Task[None] | None = None
        try:
            async for msg in carrier:
                if msg.type is not WSMsgType.TEXT:
                    break  # ERROR: the carrier only ever sends text
                message = orjson.loads(msg.data)
                event = message.get("event")
                if event == "media" and model is not None:
                    await model.send_frame(media_append(message), WSMsgType.TEXT)
                elif event == "start":
                    model = await session.ws_connect(
                        model_url + "?model=gpt-realtime",
                        headers=headers,
                        compress=0,
                        autoping=False,
                        heartbeat=None,
                        max_msg_size=MAX_SIZE,
                    )
                    await model.receive()  # session.created
                    await model.send_frame(orjson.dumps(SESSION), WSMsgType.TEXT)
                    pump = asyncio.create_task(
                        _model_to_carrier(model, carrier, message["streamSid"])
                    )
                elif event == "stop":
                    break
        except ConnectionResetError:  # a send to a closed side, as ConnectionClosed in bare
            pass
        finally:
            if pump is not None:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionResetError):
                    await pump
            if model is not None:
                await model.close()
            await carrier.close()
        return carrier

    try:
        async with aiohttp_site(relay, host, port) as real_port:
            yield real_port
    finally:
        await session.close()
