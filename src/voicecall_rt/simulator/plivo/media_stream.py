"""The far end of a `<Stream>`: Plivo's side of an Audio Streams WebSocket.

It opens the socket through the tunnel and sends `start` (no `connected` first), then,
driven by the far end's 20 ms clock (`simulator.far_end`), one `media` message per caller
frame and `dtmf` messages; a `checkpoint` is answered by `playedStream` only once the audio
before it has played, and `clearAudio` by `clearedAudio`, the checkpoints it dropped never
answered. The carrier ends the stream by closing the socket (no `stop`). What our server
sends is read as strictly as Plivo uses it (`carrier.plivo.wire.read_ours`); a `playAudio`
whose contentType or sampleRate is not the stream's, or on a stream that is not
bidirectional, is not played and lands in `SimCall.protocol_errors`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, Literal

import aiohttp
import orjson

from voicecall_rt.carrier.base import StreamProtocolError
from voicecall_rt.carrier.plivo.wire import (
    carrier_cleared,
    carrier_dtmf,
    carrier_media,
    carrier_played,
    carrier_start,
    parse,
    read_ours,
)
from voicecall_rt.simulator.far_end import FarEnd
from voicecall_rt.simulator.plivo.webhooks import WebhookClient
from voicecall_rt.simulator.sim_call import SimCall
from voicecall_rt.simulator.tasks import Spawn

__all__ = ["EndedBy", "PlivoStream"]

logger = logging.getLogger(__name__)

EndedBy = Literal["server", "carrier", "failed"]


class PlivoStream:
    """One `<Stream>`: the WebSocket and Plivo's messages (the call's `MediaLeg`)."""

    def __init__(
        self,
        call: SimCall,
        *,
        client: WebhookClient,
        spawn: Spawn,
        hang_up: Callable[[], object],
        account_id: str,
        url: str,
        extra: str,
        encoding: str,
        sample_rate: int,
        bidirectional: bool,
        detect_dtmf: bool,
    ) -> None:
        self.call = call
        self._client = client
        self._spawn = spawn
        self.account_id = account_id
        self.url = url
        self.extra = extra
        self.encoding = encoding
        self.sample_rate = sample_rate
        self.bidirectional = bidirectional
        self.sid = str(uuid.uuid4())
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.started = False
        # Checkpoints a `clearAudio` dropped: never answered, as Plivo does.
        self.dropped_checkpoints: list[str] = []
        self.closed = asyncio.Event()
        self.ended_by: EndedBy = "failed"
        self._closing = False
        self._lock = asyncio.Lock()
        self._seq = 0
        self._chunk = 0
        self._reader: asyncio.Task[None] | None = None
        self.far_end = FarEnd(
            call, self, spawn=spawn, detect_dtmf=detect_dtmf, hang_up=hang_up,
            task_prefix="fake-plivo",
        )  # fmt: skip

    @property
    def stream_ms(self) -> int:
        return self.far_end.stream_ms

    @property
    def queued_bytes(self) -> int:
        return self.far_end.queued_bytes

    async def run(self) -> EndedBy:
        """Open, stream until either side closes; return who ended it."""
        call = self.call
        call.stream_url = self.url
        try:
            self.ws = await self._client.ws_connect(self.url)
        except (aiohttp.ClientError, TimeoutError) as exc:
            call.errors.append(f"stream handshake failed: {exc!r}")
            self._closing = True
            await self._finish("failed")
            return "failed"
        self._reader = self._spawn(self._read(), f"fake-plivo-ws-read-{call.sid}")
        call.stream_sid = self.sid
        t0 = asyncio.get_running_loop().time()
        start = carrier_start(
            self._next_seq(),
            self.sid,
            account_id=self.account_id,
            call_id=call.sid,
            extra=self.extra,
            encoding=self.encoding,
            sample_rate=self.sample_rate,
        )
        call.start_message = start
        if await self._send(start):
            self.started = True
            self.far_end.start(t0)
            await call.changed()
        await self.closed.wait()
        return self.ended_by

    async def shutdown(self) -> None:
        """The carrier ends the stream (hang-up): the socket closes, no `stop` first."""
        if self._closing:
            await self.closed.wait()
            return
        self._closing = True
        await self.far_end.stop()
        ws = self.ws
        if ws is not None and not ws.closed:
            await ws.close()
        if self._reader is not None:
            await asyncio.wait([self._reader])
        if ws is not None:
            self.call.ws_close_code = ws.close_code
            self.call.ws_closed_by = "carrier"
        await self._finish("carrier")

    async def _finish(self, ended_by: EndedBy) -> None:
        if self.closed.is_set():
            return
        self.ended_by = ended_by
        self.closed.set()
        await self.call.changed()

    # -- sending (the far end's `StreamSender`) ---------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    async def _send(self, message: dict[str, Any]) -> bool:
        ws = self.ws
        if ws is None or ws.closed or self._closing:
            return False
        try:
            async with self._lock:
                await ws.send_str(orjson.dumps(message).decode())
        except (ConnectionError, aiohttp.ClientError):
            return False
        return True

    async def send_media(self, stamp_ms: int, payload: str) -> bool:
        self._chunk += 1
        wall = str(int(time.time() * 1000))  # Plivo stamps frames with wall-clock ms
        message = carrier_media(
            self._next_seq(), self.sid, chunk=self._chunk, timestamp=wall, payload=payload
        )
        return await self._send(message)

    async def send_dtmf(self, digit: str) -> None:
        await self._send(carrier_dtmf(self._next_seq(), self.sid, digit))

    async def send_mark(self, name: str) -> None:
        """A checkpoint whose audio has played (the far end calls this for no other)."""
        await self._send(carrier_played(self._next_seq(), self.sid, name))

    # -- reading what our server sends --------------------------------------------------------

    async def _read(self) -> None:
        ws = self.ws
        assert ws is not None
        call = self.call
        try:
            async for message in ws:
                if message.type is aiohttp.WSMsgType.TEXT:
                    await self._on_text(message.data)
                elif message.type is aiohttp.WSMsgType.BINARY:
                    call.protocol_errors.append("binary frame (Plivo expects JSON text)")
                elif message.type is aiohttp.WSMsgType.ERROR:
                    call.errors.append(f"stream error: {ws.exception()!r}")
                    break
        except (ConnectionError, aiohttp.ClientError) as exc:
            call.errors.append(f"stream read failed: {exc!r}")
        if self._closing:
            return
        self._closing = True  # our server closed the socket: the stream is over
        await self.far_end.stop()
        await ws.close()
        call.ws_close_code = ws.close_code
        call.ws_closed_by = "server"
        await self._finish("server")

    async def _on_text(self, text: str) -> None:
        call = self.call
        try:
            message = parse(text)
        except (orjson.JSONDecodeError, StreamProtocolError):
            call.protocol_errors.append(f"not a JSON object: {text[:80]!r}")
        else:
            call.received.append(message)
            await self._handle(message)
        await call.changed()

    async def _handle(self, message: dict[str, Any]) -> None:
        call = self.call
        try:
            ours = read_ours(message, self.sid if self.started else None)
        except StreamProtocolError as exc:
            call.protocol_errors.append(str(exc))
            return
        if ours.event == "playAudio":
            if not self.bidirectional:
                call.protocol_errors.append("playAudio on a stream that is not bidirectional")
            elif (ours.content_type, ours.sample_rate) != (self.encoding, self.sample_rate):
                call.protocol_errors.append(
                    f"playAudio as {ours.content_type}@{ours.sample_rate} on a "
                    f"{self.encoding}@{self.sample_rate} stream"
                )
            elif ours.audio:
                self.far_end.play(ours.audio)
        elif ours.event == "checkpoint":
            await self.far_end.mark(ours.name)
        else:
            # Plivo drops the queue and says so; the checkpoints in it are never answered.
            self.dropped_checkpoints.extend(await self.far_end.drop_queued())
            await self._send(carrier_cleared(self._next_seq(), self.sid))
