"""The far end of a Telnyx media stream: Telnyx's side of the WebSocket.

It opens the socket (through the tunnel), sends `connected` and `start`, then, driven by
the far end's 20 ms clock (`simulator.far_end`), one `media` message per caller frame,
`mark` echoes and `dtmf` messages, and `stop` when the call ends. What our server sends is
read as strictly as Telnyx uses it (`carrier.telnyx.wire.read_ours`): what it cannot use
lands in `SimCall.protocol_errors` and is answered with an `error` message.

As on the real service, what the dial asked for decides what is heard:

* without `stream_bidirectional_mode=rtp` our audio and marks are dropped without a word
  (`ignored`), and so they are when we send in a codec other than the one announced
  (`stream_bidirectional_codec`, PCMU by default);
* without `stream_codec`, the stream carries the PSTN leg's codec (`leg_codec`, PCMA as in
  much of Europe), which `start.media_format.encoding` says.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import aiohttp
import orjson

from voicecall_rt.carrier.base import StreamProtocolError
from voicecall_rt.carrier.telnyx.wire import (
    CODEC,
    carrier_connected,
    carrier_dtmf,
    carrier_error,
    carrier_mark,
    carrier_media,
    carrier_start,
    carrier_stop,
    parse,
    read_ours,
)
from voicecall_rt.simulator.far_end import FarEnd
from voicecall_rt.simulator.sim_call import SimCall
from voicecall_rt.simulator.tasks import Spawn
from voicecall_rt.simulator.telnyx.webhooks import TelnyxWebhookClient

__all__ = ["StreamRequest", "TelnyxMediaStream"]

logger = logging.getLogger(__name__)

# Telnyx's `error` codes for what it cannot use (its WebSocket doc lists 100002-100005).
ERR_MALFORMED = 100002


@dataclass(frozen=True)
class StreamRequest:
    """The stream fields of a dial or an answer action, as our server sent them."""

    url: str
    track: str
    bidirectional_mode: str | None
    codec: str | None
    bidirectional_codec: str | None
    client_state: str | None

    @classmethod
    def of(cls, body: dict[str, Any]) -> StreamRequest | None:
        url = body.get("stream_url")
        if not isinstance(url, str) or not url:
            return None
        return cls(
            url=url,
            track=str(body.get("stream_track") or "inbound_track"),
            bidirectional_mode=_opt(body.get("stream_bidirectional_mode")),
            codec=_opt(body.get("stream_codec")),
            bidirectional_codec=_opt(body.get("stream_bidirectional_codec")),
            client_state=_opt(body.get("client_state")),
        )

    @property
    def plays_ours(self) -> bool:
        """Whether Telnyx plays what we send: RTP mode, in the codec we send (PCMU)."""
        return self.bidirectional_mode == "rtp" and (self.bidirectional_codec or CODEC) == CODEC


def _opt(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


class TelnyxMediaStream:
    """One media stream of a call: the WebSocket, Telnyx's messages (a `StreamSender`)."""

    def __init__(
        self,
        call: SimCall,
        request: StreamRequest,
        *,
        client: TelnyxWebhookClient,
        spawn: Spawn,
        hang_up: Callable[[], object],
        leg_codec: str,
        detect_dtmf: bool,
    ) -> None:
        self.call = call
        self.request = request
        self._client = client
        self._spawn = spawn
        self.stream_id = str(uuid.uuid4())
        self.encoding = request.codec or leg_codec
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.started = False
        self.closed = asyncio.Event()
        self.ignored = 0  # messages of ours dropped without a word (see the module doc)
        self._closing = False
        self._lock = asyncio.Lock()
        self._seq = 0
        self._chunk = 0
        self._reader: asyncio.Task[None] | None = None
        self.far_end = FarEnd(
            call,
            self,
            spawn=spawn,
            detect_dtmf=detect_dtmf,
            hang_up=hang_up,
            task_prefix="fake-telnyx",
        )

    @property
    def stream_ms(self) -> int:
        return self.far_end.stream_ms

    @property
    def queued_bytes(self) -> int:
        return self.far_end.queued_bytes

    async def run(self) -> None:
        """Open and stream until either side closes."""
        call = self.call
        call.stream_url = self.request.url
        try:
            self.ws = await self._client.ws_connect(self.request.url)
        except (aiohttp.ClientError, TimeoutError) as exc:
            call.errors.append(f"stream handshake failed: {exc!r}")
            self._closing = True
            self.closed.set()
            await call.changed()
            return
        if self._closing:  # the call ended while the socket was opening
            await self.ws.close()
            return
        self._reader = self._spawn(self._read(), f"fake-telnyx-ws-read-{call.sid}")
        await self._send(lambda seq: carrier_connected())
        call.stream_sid = self.stream_id
        t0 = asyncio.get_running_loop().time()
        start = partial(
            carrier_start,
            stream_id=self.stream_id,
            call_control_id=call.sid,
            client_state=self.request.client_state,
            from_=call.from_,
            to=call.to,
            encoding=self.encoding,
        )
        if await self._send(start, record_start=True):
            self.started = True
            self.far_end.start(t0)
            await call.changed()
        await self.closed.wait()

    async def shutdown(self) -> None:
        """The call ends: `stop`, then close."""
        if self._closing:
            await self.closed.wait()
            return
        self._closing = True
        await self.far_end.stop()
        ws = self.ws
        if ws is not None and not ws.closed:
            if self.started:
                stop = partial(
                    carrier_stop, stream_id=self.stream_id, call_control_id=self.call.sid
                )
                await self._send(stop, force=True)
            await ws.close()
        if self._reader is not None:
            await asyncio.wait([self._reader])
        if ws is not None:
            self.call.ws_close_code = ws.close_code
            self.call.ws_closed_by = "carrier"
        self.closed.set()
        await self.call.changed()

    # -- sending (the far end's `StreamSender`) ---------------------------------------------

    async def _send(
        self,
        build: Callable[[str], dict[str, Any]],
        *,
        force: bool = False,
        record_start: bool = False,
    ) -> bool:
        """Send a message carrying the next `sequence_number`."""
        ws = self.ws
        if ws is None or ws.closed or (self._closing and not force):
            return False
        async with self._lock:
            self._seq += 1
            message = build(str(self._seq))
            if record_start:
                self.call.start_message = message
            try:
                await ws.send_str(orjson.dumps(message).decode())
            except (ConnectionError, aiohttp.ClientError):
                return False
        return True

    async def send_media(self, stamp_ms: int, payload: str) -> bool:
        self._chunk += 1
        chunk = str(self._chunk)
        return await self._send(
            lambda seq: carrier_media(
                seq, self.stream_id, chunk=chunk, timestamp=str(stamp_ms), payload=payload
            )
        )

    async def send_dtmf(self, digit: str) -> None:
        await self._send(partial(carrier_dtmf, stream_id=self.stream_id, digit=digit))

    async def send_mark(self, name: str) -> None:
        await self._send(partial(carrier_mark, stream_id=self.stream_id, name=name))

    def play_tones(self, audio: bytes) -> None:
        """`send_dtmf`: Telnyx plays the tones on the call to the far party, beside the
        stream's audio (not queued behind it, nor dropped by a `clear`)."""
        self.far_end.playout.add_line_tones(audio)

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
                    await self._refuse("binary frame (Telnyx expects JSON text)")
                elif message.type is aiohttp.WSMsgType.ERROR:
                    call.errors.append(f"stream error: {ws.exception()!r}")
                    break
        except (ConnectionError, aiohttp.ClientError) as exc:
            call.errors.append(f"stream read failed: {exc!r}")
        if self._closing:
            return
        # Our server closed the socket: the stream is over (the call goes on, as on Telnyx,
        # until someone hangs up).
        self._closing = True
        await self.far_end.stop()
        await ws.close()
        call.ws_close_code = ws.close_code
        call.ws_closed_by = "server"
        self.closed.set()
        await call.changed()

    async def _on_text(self, text: str) -> None:
        call = self.call
        try:
            message = parse(text)
        except (orjson.JSONDecodeError, StreamProtocolError):
            await self._refuse(f"not a JSON object: {text[:80]!r}")
        else:
            call.received.append(message)
            await self._handle(message)
        await call.changed()

    async def _refuse(self, reason: str) -> None:
        self.call.protocol_errors.append(reason)
        error = partial(
            carrier_error,
            stream_id=self.stream_id,
            code=ERR_MALFORMED,
            title="malformed_frame",
            detail=reason[:120],
        )
        await self._send(error)

    async def _handle(self, message: dict[str, Any]) -> None:
        try:
            ours = read_ours(message)
        except StreamProtocolError as exc:
            await self._refuse(str(exc))
            return
        if ours.event != "clear" and not self.request.plays_ours:
            self.ignored += 1
            return
        if ours.event == "media":
            self.far_end.play(ours.audio)
        elif ours.event == "mark":
            await self.far_end.mark(ours.name)
        else:
            await self.far_end.clear()
