"""The far end of a `<Connect><Stream>`: Twilio's side of a Media Streams WebSocket.

It opens the socket (a signed upgrade through the tunnel), sends `connected` and `start`,
then, driven by the far end's 20 ms clock (`simulator.far_end`), one `media` message per
caller frame, `mark` echoes and `dtmf` messages, and `stop` when the carrier ends the
stream. What our server sends is read as strictly as Twilio uses it: a message with a wrong
or missing `streamSid`, a `media` without a base64 payload, a `mark` without a name or an
unknown event lands in `SimCall.protocol_errors` and is ignored. Every message, both ways,
is built and read by `carrier.twilio.wire`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial
from typing import Any, Literal, Protocol

import aiohttp
import orjson

from voicecall_rt.carrier.base import StreamProtocolError
from voicecall_rt.carrier.twilio.wire import TOKEN_PARAMETER, parse
from voicecall_rt.simulator.far_end import FarEnd
from voicecall_rt.simulator.sim_call import Notification, SimCall, now
from voicecall_rt.simulator.tasks import Spawn
from voicecall_rt.simulator.twilio.dialect import Dialect, MediaFormat
from voicecall_rt.simulator.twilio.webhooks import Webhook, WebhookClient

__all__ = ["ERR_STREAM_HANDSHAKE", "MediaStream", "StreamSettings"]

logger = logging.getLogger(__name__)

ERR_STREAM_HANDSHAKE = 31920  # "Stream - WebSocket - Handshake Error"

EndedBy = Literal["server", "carrier", "failed"]


class StreamSettings(Protocol):
    """The carrier's knobs a stream reads (plain attributes, read when used)."""

    account_sid: str
    dialect: Dialect
    detect_dtmf: bool
    delay_start_ms: int
    start_token_override: str | None


class MediaStream:
    """One `<Connect><Stream>`: the WebSocket, Twilio's messages, the stream callbacks."""

    def __init__(
        self,
        call: SimCall,
        *,
        settings: StreamSettings,
        client: WebhookClient,
        spawn: Spawn,
        hang_up: Callable[[], object],
        url: str,
        parameters: dict[str, str],
        name: str | None,
        status_callback: str | None,
        status_callback_method: str,
        media_format: MediaFormat,
    ) -> None:
        """`hang_up()`: the far party's script hangs up (the call ends `completed`);
        `media_format`: what `start` announces (the `<Stream codec>`'s)."""
        self.call = call
        self._settings = settings
        self._client = client
        self._spawn = spawn
        self.url = url
        self.parameters = parameters
        self._dialect = dialect = settings.dialect
        self.media_format = media_format
        self.sid = dialect.stream_sid()
        self.name = name or self.sid
        self.status_callback = status_callback
        self.status_callback_method = status_callback_method
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.started = False
        self.closed = asyncio.Event()
        self.ended_by: EndedBy = "failed"
        self._closing = False
        self._lock = asyncio.Lock()
        self._seq = 0
        self._chunk = 0
        self._reader: asyncio.Task[None] | None = None
        self.far_end = FarEnd(
            call,
            self,
            spawn=spawn,
            detect_dtmf=settings.detect_dtmf,
            hang_up=hang_up,
            task_prefix="fake-twilio",
        )

    @property
    def stream_ms(self) -> int:
        return self.far_end.stream_ms

    @property
    def queued_bytes(self) -> int:
        return self.far_end.queued_bytes

    # -- lifecycle ------------------------------------------------------------------------

    async def run(self) -> EndedBy:
        """Open, stream until closed by either side; return who ended it."""
        call, settings = self.call, self._settings
        call.stream_url = self.url
        try:
            self.ws = await self._client.ws_connect(self.url)
        except (aiohttp.ClientError, TimeoutError) as exc:
            call.errors.append(f"stream handshake failed: {exc!r}")
            call.notifications.append(Notification(ERR_STREAM_HANDSHAKE, repr(exc)))
            logger.info("fake carrier: stream handshake for %s failed: %r", call.sid, exc)
            self._stream_status("stream-error", f"WebSocket handshake failed: {exc}")
            self._closing = True
            await self._finish("failed")
            return "failed"
        self._reader = self._spawn(self._read(), f"fake-twilio-ws-read-{call.sid}")
        await self._send_raw(self._dialect.connected())
        if settings.delay_start_ms > 0:
            await asyncio.sleep(settings.delay_start_ms / 1000)
        parameters = dict(self.parameters)
        if settings.start_token_override is not None:
            parameters[TOKEN_PARAMETER] = settings.start_token_override
        call.stream_sid = self.sid
        t0 = asyncio.get_running_loop().time()
        start = partial(
            self._dialect.start,
            stream_sid=self.sid,
            account_sid=settings.account_sid,
            call_sid=call.sid,
            parameters=parameters,
            media_format=self.media_format,
        )
        if await self._send_numbered(start, record_start=True):
            self.started = True
            self.far_end.start(t0)
            self._stream_status("stream-started")
            await call.changed()
        await self.closed.wait()
        return self.ended_by

    async def shutdown(self) -> None:
        """The carrier ends the stream (hang-up, redirect, close): `stop`, then close."""
        if self._closing:
            await self.closed.wait()
            return
        self._closing = True
        await self.far_end.stop()
        ws = self.ws
        if ws is not None and not ws.closed:
            if self.started:
                stop = partial(
                    self._dialect.stop,
                    stream_sid=self.sid,
                    account_sid=self._settings.account_sid,
                    call_sid=self.call.sid,
                )
                await self._send_numbered(stop, force=True)
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
        if self.started:
            self._stream_status("stream-stopped")
        await self.call.changed()

    def _stream_status(self, event: str, error: str | None = None) -> None:
        if self.status_callback is None:
            return
        params = {
            "AccountSid": self._settings.account_sid,
            "CallSid": self.call.sid,
            "StreamSid": self.sid,
            "StreamName": self.name,
            "StreamEvent": event,
            "Timestamp": now().isoformat(),
        }
        if error is not None:
            params["StreamError"] = error
        webhook = Webhook(
            "stream-status", self.status_callback, self.status_callback_method, params
        )
        self._client.enqueue(self.call, webhook)

    # -- sending (the far end's `StreamSender`) ---------------------------------------------

    async def _send_raw(self, message: dict[str, Any]) -> bool:
        ws = self.ws
        if ws is None or ws.closed or self._closing:
            return False
        try:
            async with self._lock:
                await ws.send_str(orjson.dumps(message).decode())
        except (ConnectionError, aiohttp.ClientError):
            return False
        return True

    async def _send_numbered(
        self,
        build: Callable[[str], dict[str, Any]],
        *,
        force: bool = False,
        record_start: bool = False,
    ) -> bool:
        """Send a message carrying the next `sequenceNumber` (numbers never skip or swap)."""
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
        build = partial(self._media_message, str(self._chunk), str(stamp_ms), payload)
        return await self._send_numbered(build)

    def _media_message(self, chunk: str, stamp: str, payload: str, seq: str) -> dict[str, Any]:
        return self._dialect.media(seq, self.sid, chunk=chunk, timestamp=stamp, payload=payload)

    async def send_dtmf(self, digit: str) -> None:
        await self._send_numbered(partial(self._dialect.dtmf, stream_sid=self.sid, digit=digit))

    async def send_mark(self, name: str) -> None:
        await self._send_numbered(partial(self._dialect.mark, stream_sid=self.sid, name=name))

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
                    call.protocol_errors.append(
                        f"binary frame ({self._dialect.name} expects JSON text)"
                    )
                elif message.type is aiohttp.WSMsgType.ERROR:
                    call.errors.append(f"stream error: {ws.exception()!r}")
                    break
        except (ConnectionError, aiohttp.ClientError) as exc:
            call.errors.append(f"stream read failed: {exc!r}")
        if self._closing:
            return  # shutdown() is closing it and finishes the stream
        # Our server closed the socket (or it broke): the stream is over.
        self._closing = True
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
        """Act on one message from our server (Twilio ignores what it cannot use)."""
        try:
            ours = self._dialect.read_ours(message, self.sid if self.started else None)
        except StreamProtocolError as exc:
            self.call.protocol_errors.append(str(exc))
            return
        if ours.event == "media":
            if ours.audio:
                self.far_end.play(ours.audio)
        elif ours.event == "mark":
            await self.far_end.mark(ours.name)
        elif ours.event == "dtmf":
            # The carrier presses the key on the call: the far party hears it.
            self.call.heard_digits += ours.digit
        else:
            await self.far_end.clear()
