"""The bare relay (`bare_stacks.py`) with picows' client for the model, callbacks instead
of tasks:

- `bare-picows`: picows' server for the carrier too. picows 2 runs its sockets on
  aiofastnet's transports by default (it is a dependency), on uvloop too, so `+uvloop`
  changes the loop under them, not the transports. Media that arrive while the model
  connects are buffered and sent after `session.update`, as the other relays do by not
  reading the carrier until the model is ready. Frames are taken whole (`fin`); the
  carrier and the model send no fragmented messages.
- `bare-aiohttp-picows`: aiohttp's server for the carrier (one port serves webhooks and
  streams, as ours must), deltas written to the carrier's transport from the callback:
  what swapping only the model side is worth.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from functools import partial

import orjson
from aiohttp import WSMsgType, web
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

from benchmarks.bare_aiohttp import aiohttp_site
from benchmarks.bare_messages import MAX_SIZE, PATH, delta_media, media_append
from benchmarks.bare_relay import SESSION
from voicecall_rt.carrier.link import text_frame

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
            out = delta_media(orjson.loads(frame.get_payload_as_memoryview()), self.call.sid)
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
                    self.model.send(PicoMsgType.TEXT, media_append(message))
                elif self.early is not None:
                    self.early.append(media_append(message))
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
        out = delta_media(orjson.loads(frame.get_payload_as_memoryview()), self.sid)
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
                    model.send(PicoMsgType.TEXT, media_append(message))
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

    async with aiohttp_site(relay, host, port) as real_port:
        yield real_port
