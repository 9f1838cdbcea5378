"""The bare relay again, on other server stacks: to pick a stack by numbers.

Each relay here does exactly what `bare_relay.py` does (read that first): connect the model
at `start` (`?model=gpt-realtime`, a Bearer key), read `session.created`, send
`bare_relay.SESSION`, then turn carrier `media` into `input_audio_buffer.append` and model
`response.output_audio.delta` into `media`, payload strings passed through; `stop` ends
the call, and the model socket is closed at the end. No compression, no keep-alive pings.
Each stack is used on both sides where it has a client:

- `bare-aiohttp`: aiohttp's web server, and its `ClientSession.ws_connect` for the model.
- `bare-picows`: picows' server and client, callbacks instead of tasks. picows 2 runs its
  sockets on aiofastnet's transports by default (it is a dependency), on uvloop too, so
  `+uvloop` changes the loop under them, not the transports. Media that arrive while the
  model connects are buffered and sent after `session.update`, as the other relays do by
  not reading the carrier until the model is ready. Frames are taken whole (`fin`); the
  carrier and the model send no fragmented messages.
- `bare-starlette`: a Starlette `WebSocketRoute` served by uvicorn (as Twilio's Python
  sample with FastAPI does), the `websockets` client for the model, as in `bare_relay.py`.
- `bare-aiohttp-picows`: aiohttp's server for the carrier (one port serves webhooks and
  streams, as ours must), picows' client for the model, deltas written to the carrier's
  transport from the callback: what swapping only the model side is worth.

Each `serve_*` is an async context manager like `bare_relay.serve`: it yields the port.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from contextlib import AbstractAsyncContextManager
from functools import partial
from typing import Any

import orjson
import uvicorn
from aiohttp import ClientSession, ClientWebSocketResponse, TCPConnector, WSMsgType, web
from picows import (
    WSCloseCode,
    WSError,
    WSFrame,
    WSListener,
    WSTransport,
    WSUpgradeRequest,
    ws_connect,
    ws_create_server,
)
from picows import WSMsgType as PicoMsgType
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from benchmarks.bare_relay import SESSION, open_model
from voicecall_rt.carrier.link import text_frame

PATH = "/voice/realtime-stream"  # where the load generator opens the media stream
MAX_SIZE = 2**24


def _delta_media(event: dict[str, Any], sid: str) -> bytes | None:
    if event.get("type") == "response.output_audio.delta":
        return orjson.dumps(
            {"event": "media", "streamSid": sid, "media": {"payload": event["delta"]}}
        )
    return None


def _append(message: dict[str, Any]) -> bytes:
    return orjson.dumps({"type": "input_audio_buffer.append", "audio": message["media"]["payload"]})


# ---- aiohttp: web server + ClientSession.ws_connect -----------------------------------


@contextlib.asynccontextmanager
async def _aiohttp_site(
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


async def _aiohttp_model_to_carrier(
    model: ClientWebSocketResponse, carrier: web.WebSocketResponse, sid: str
) -> None:
    async for msg in model:
        if msg.type is WSMsgType.TEXT:
            out = _delta_media(orjson.loads(msg.data), sid)
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
                    await model.send_frame(_append(message), WSMsgType.TEXT)
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
                        _aiohttp_model_to_carrier(model, carrier, message["streamSid"])
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
        async with _aiohttp_site(relay, host, port) as real_port:
            yield real_port
    finally:
        await session.close()


# ---- picows: server + client, callbacks -------------------------------------------------


class _PicowsModel(WSListener):
    """The model side of one call."""

    def __init__(self, call: _PicowsCarrier) -> None:
        super().__init__()
        self.call = call
        self.created = False

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.call.model_connected(transport)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == PicoMsgType.TEXT:
            if not self.created:  # session.created
                self.created = True
                self.call.model_ready(transport)
                return
            out = _delta_media(orjson.loads(frame.get_payload_as_memoryview()), self.call.sid)
            carrier = self.call.transport
            if out is not None and carrier is not None:
                carrier.send(PicoMsgType.TEXT, out)
        elif frame.msg_type == PicoMsgType.CLOSE:
            transport.send_close(WSCloseCode.OK)
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.call.end()  # bare ends the call at its next send to a closed model


class _PicowsCarrier(WSListener):
    """The carrier side of one call; owns its model connection."""

    def __init__(self, model_url: str, headers: dict[str, str]) -> None:
        super().__init__()
        self.model_url = model_url
        self.headers = headers
        self.transport: WSTransport | None = None
        self.sid = ""
        self.model_transport: WSTransport | None = None  # connected
        self.model: WSTransport | None = None  # ready: session.update sent
        self.early: list[bytes] | None = None  # appends that came while the model connected
        self.connecting: asyncio.Task[None] | None = None
        self.ended = False

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == PicoMsgType.TEXT:
            message = orjson.loads(frame.get_payload_as_memoryview())
            event = message.get("event")
            if event == "media":
                if self.model is not None:
                    self.model.send(PicoMsgType.TEXT, _append(message))
                elif self.early is not None:
                    self.early.append(_append(message))
            elif event == "start" and self.connecting is None:
                self.sid = message["streamSid"]
                self.early = []
                self.connecting = asyncio.create_task(self._connect())
            elif event == "stop":
                self.end()
        elif frame.msg_type == PicoMsgType.CLOSE:
            transport.send_close(WSCloseCode.OK)
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.end()

    async def _connect(self) -> None:
        try:
            await ws_connect(
                lambda: _PicowsModel(self),
                self.model_url + "?model=gpt-realtime",
                extra_headers=self.headers,
                max_frame_size=MAX_SIZE,
            )
        except (OSError, TimeoutError, WSError):
            self.end(WSCloseCode.INTERNAL_ERROR)  # bare's handler raises: 1011

    def model_connected(self, transport: WSTransport) -> None:
        self.model_transport = transport
        if self.ended:  # the call ended while the model was connecting
            self._close_model()

    def model_ready(self, transport: WSTransport) -> None:
        if self.ended:
            return
        transport.send(PicoMsgType.TEXT, orjson.dumps(SESSION))
        for append in self.early or ():
            transport.send(PicoMsgType.TEXT, append)
        self.early = None
        self.model = transport

    def _close_model(self) -> None:
        model, self.model_transport, self.model = self.model_transport, None, None
        if model is not None:
            model.send_close(WSCloseCode.OK)
            model.disconnect()

    def end(self, code: WSCloseCode = WSCloseCode.OK) -> None:
        if self.ended:
            return
        self.ended = True
        self.early = None
        self._close_model()
        if self.transport is not None:
            self.transport.send_close(code)
            self.transport.disconnect()


@contextlib.asynccontextmanager
async def serve_picows(host: str, port: int, model_url: str, api_key: str) -> AsyncIterator[int]:
    """picows on both sides (its defaults: aiofastnet transports, auto-pong, no auto-ping)."""
    headers = {"Authorization": f"Bearer {api_key}"}
    path = PATH.encode()

    def route(request: WSUpgradeRequest) -> WSListener | None:
        return _PicowsCarrier(model_url, headers) if request.path == path else None

    server = await ws_create_server(route, host, port, max_frame_size=MAX_SIZE)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


# ---- hybrid: aiohttp's server for the carrier, picows' client for the model ---------------


class _HybridModel(WSListener):
    """Model side: each delta is written to the carrier's transport from the callback."""

    def __init__(self, carrier: asyncio.Transport, sid: str, ready: asyncio.Future[None]):
        super().__init__()
        self.carrier, self.sid, self.ready = carrier, sid, ready

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type != PicoMsgType.TEXT:
            return
        if not self.ready.done():  # session.created
            transport.send(PicoMsgType.TEXT, orjson.dumps(SESSION))
            self.ready.set_result(None)
            return
        out = _delta_media(orjson.loads(frame.get_payload_as_memoryview()), self.sid)
        if out is not None and not self.carrier.is_closing():
            self.carrier.write(text_frame(out))

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionResetError("model closed"))


@contextlib.asynccontextmanager
async def serve_aiohttp_picows(
    host: str, port: int, model_url: str, api_key: str
) -> AsyncIterator[int]:
    """aiohttp's server for the carrier (one port for webhooks and streams, as ours), the
    model on picows' client: what swapping only our model side would be worth."""
    headers = {"Authorization": f"Bearer {api_key}"}

    async def relay(request: web.Request) -> web.StreamResponse:
        carrier = web.WebSocketResponse(compress=False, max_msg_size=MAX_SIZE)
        await carrier.prepare(request)
        out = request.transport
        assert out is not None
        model: WSTransport | None = None
        try:
            async for msg in carrier:
                if msg.type is not WSMsgType.TEXT:
                    break
                message = orjson.loads(msg.data)
                event = message.get("event")
                if event == "media" and model is not None:
                    model.send(PicoMsgType.TEXT, _append(message))
                elif event == "start":
                    ready = asyncio.get_running_loop().create_future()
                    sid = message["streamSid"]
                    model, _ = await ws_connect(
                        partial(_HybridModel, out, sid, ready),
                        model_url + "?model=gpt-realtime",
                        extra_headers=headers,
                        max_frame_size=MAX_SIZE,
                    )
                    await ready
                elif event == "stop":
                    break
        finally:
            if model is not None:
                model.send_close(WSCloseCode.OK)
                model.disconnect()
                await model.wait_disconnected()
            await carrier.close()
        return carrier

    async with _aiohttp_site(relay, host, port) as real_port:
        yield real_port


# ---- Starlette on uvicorn + the websockets client ----------------------------------------


async def _starlette_model_to_carrier(
    model: ClientConnection, carrier: WebSocket, sid: str
) -> None:
    async for text in model:
        out = _delta_media(orjson.loads(text), sid)
        if out is not None:
            await carrier.send_text(out.decode())  # ASGI text frames are str


def _starlette_app(model_url: str, api_key: str) -> Starlette:
    async def relay(carrier: WebSocket) -> None:
        await carrier.accept()
        model: ClientConnection | None = None
        pump: asyncio.Task[None] | None = None
        try:
            async for text in carrier.iter_text():
                message = orjson.loads(text)
                event = message.get("event")
                if event == "media" and model is not None:
                    await model.send(_append(message), text=True)
                elif event == "start":
                    model = await open_model(model_url, api_key)
                    pump = asyncio.create_task(
                        _starlette_model_to_carrier(model, carrier, message["streamSid"])
                    )
                elif event == "stop":
                    break
        except ConnectionClosed:
            pass
        finally:
            if pump is not None:
                pump.cancel()
                with contextlib.suppress(
                    asyncio.CancelledError, ConnectionClosed, WebSocketDisconnect
                ):
                    await pump
            if model is not None:
                await model.close()
            if carrier.client_state is WebSocketState.CONNECTED:
                with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                    await carrier.close()

    return Starlette(routes=[WebSocketRoute(PATH, relay)])


class _Uvicorn(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # SIGTERM/SIGINT belong to target.py, which stops this server itself


@contextlib.asynccontextmanager
async def serve_starlette(host: str, port: int, model_url: str, api_key: str) -> AsyncIterator[int]:
    """Starlette on uvicorn for the carrier, the `websockets` client for the model."""
    # `Server.serve()` runs on the running loop (target.py's: asyncio, or uvloop with
    # `--loop uvloop`); `loop=` is said to match it, since uvicorn's "auto" means uvloop.
    on_uvloop = type(asyncio.get_running_loop()).__module__.startswith("uvloop")
    config = uvicorn.Config(
        _starlette_app(model_url, api_key),
        host=host,
        port=port,
        loop="uvloop" if on_uvloop else "asyncio",
        ws="websockets-sansio",  # what ws="auto" picks when websockets is installed
        ws_max_size=MAX_SIZE,
        ws_ping_interval=None,
        ws_per_message_deflate=False,
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    server = _Uvicorn(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if serving.done():
                serving.result()  # raises what went wrong
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await serving


ServeFn = Callable[[str, int, str, str], AbstractAsyncContextManager[int]]

# `--kind` names (target.py) → the relay
STACKS: dict[str, ServeFn] = {
    "bare-aiohttp": serve_aiohttp,
    "bare-picows": serve_picows,
    "bare-starlette": serve_starlette,
    "bare-aiohttp-picows": serve_aiohttp_picows,
}
