"""The Realtime WebSocket, on picows: each message is handed over by a callback.

Why not aiohttp's client, like the rest of the server: picows parses and masks frames in C
and calls `on_ws_frame` from the socket's `data_received`, so a model audio delta reaches
the carrier without waking a task; aiohttp hands every message to a waiting task. The
benchmark (benchmarks/README.md, "Server stack") measured the bare relay 4–20 % cheaper
per frame with picows' client than with aiohttp's, and our server's ratio to the bare
relay at 200 calls went from 0.86× to 0.75–0.81× with it. The carrier side stays on
aiohttp: it shares one port with the webhooks, which picows does not serve.

The link knows nothing of the Realtime protocol: whole text messages go to `on_text`,
the end of the connection to `on_closed`, both called on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from urllib.parse import urlencode

from picows import (
    WSCloseCode,
    WSError,
    WSFrame,
    WSHandshakeError,
    WSListener,
    WSMsgType,
    WSTransport,
    ws_connect,
)

from voicecall_rt.model.base import ModelConnectError

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
CLOSE_TIMEOUT_S = 5.0


class ModelLink(WSListener):
    """One Realtime connection. Create with `await ModelLink.connect(...)`."""

    def __init__(self, on_text: Callable[[bytes], None], on_closed: Callable[[], None]) -> None:
        super().__init__()
        self._on_text = on_text
        self._on_closed = on_closed
        self._transport: WSTransport | None = None
        self._parts: list[bytes] | None = None  # a fragmented text message, so far
        self._size = 0
        self.closed = False

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        model: str,
        api_key: str,
        on_text: Callable[[bytes], None],
        on_closed: Callable[[], None],
        timeout_s: float,
        ssl_context: ssl.SSLContext | None = None,
    ) -> ModelLink:
        """Open the WebSocket; raises ModelConnectError. `wss://` verifies the server's
        certificate and name against the system's CAs unless `ssl_context` says otherwise."""
        sep = "&" if "?" in url else "?"
        try:
            async with asyncio.timeout(timeout_s):
                _, link = await ws_connect(
                    lambda: cls(on_text, on_closed),
                    url + sep + urlencode({"model": model}),
                    extra_headers={"Authorization": "Bearer " + api_key},
                    websocket_handshake_timeout=timeout_s,
                    max_frame_size=MAX_MESSAGE_BYTES,
                    enable_auto_pong=True,
                    ssl_context=ssl_context,
                )
        except WSHandshakeError as exc:
            detail = f"HTTP {int(exc.response.status)}" if exc.response else type(exc).__name__
            raise ModelConnectError(f"OpenAI Realtime refused the connection ({detail})") from None
        except WSError as exc:
            raise ModelConnectError(f"OpenAI Realtime: {type(exc).__name__}") from None
        except (TimeoutError, OSError, ValueError) as exc:
            raise ModelConnectError(f"cannot reach OpenAI Realtime: {type(exc).__name__}") from None
        assert isinstance(link, cls)
        return link

    # ---- sending ----------------------------------------------------------------------

    def send(self, text: str) -> None:
        """Send one text message now (it is queued in the transport if the socket is full);
        raises ConnectionResetError once the link is closed or closing."""
        transport = self._transport
        if self.closed or transport is None or transport.is_close_frame_sent:
            raise ConnectionResetError("the model connection is closed")
        transport.send(WSMsgType.TEXT, text.encode())

    def attach(self, on_text: Callable[[bytes], None], on_closed: Callable[[], None]) -> None:
        """Hand the link's messages to a new owner from now on (a session opened by one
        reader is used by another); on a link already closed, `on_closed` runs at once."""
        if self.closed:
            on_closed()
            return
        self._on_text = on_text
        self._on_closed = on_closed

    def detach(self) -> None:
        """Nothing more reaches the owner, not even the close (a replaced session)."""
        self._on_text = _ignore_text
        self._on_closed = _ignore_close

    def pause_reading(self) -> None:
        """Stop reading the socket (TCP pushes back on the model) until `resume_reading`."""
        if self._transport is not None:
            self._transport.underlying_transport.pause_reading()

    def resume_reading(self) -> None:
        if self._transport is not None:
            self._transport.underlying_transport.resume_reading()

    async def close(self) -> None:
        """Close the connection (a close frame, then the socket); idempotent."""
        transport = self._transport
        if transport is None:
            return
        if not transport.is_disconnected:
            if not transport.is_close_frame_sent:
                transport.send_close(WSCloseCode.OK)
            transport.disconnect()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await transport.wait_disconnected()

    # ---- picows callbacks -------------------------------------------------------------

    def on_ws_connected(self, transport: WSTransport) -> None:
        self._transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind is WSMsgType.TEXT:
            if frame.fin:
                self._on_text(frame.get_payload_as_bytes())
            else:
                self._parts, self._size = [frame.get_payload_as_bytes()], frame.payload_size
        elif kind is WSMsgType.CONTINUATION and self._parts is not None:
            self._size += frame.payload_size
            if self._size > MAX_MESSAGE_BYTES:
                self._fail(WSCloseCode.MESSAGE_TOO_BIG)
                return
            self._parts.append(frame.get_payload_as_bytes())
            if frame.fin:
                message, self._parts = b"".join(self._parts), None
                self._on_text(message)
        elif kind is WSMsgType.CLOSE:
            if not transport.is_close_frame_sent:
                transport.send_close(WSCloseCode.OK)
            # The owner hears of it now, not when the socket is down a loop turn later:
            # whatever it would send meanwhile is refused, and it can keep that instead.
            self._ended()
            transport.disconnect()
        # PING is answered by picows (auto-pong); PONG and BINARY mean nothing here.

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._transport = None
        self._ended()

    def _ended(self) -> None:
        """The connection is over (a close frame came, or the socket went): tell the owner,
        once."""
        if self.closed:
            return
        self.closed = True
        on_closed = self._on_closed
        # Break the cycles (bridge → link → bridge, link ↔ picows transport) now: left to
        # the cyclic GC, which runs rarely in a large heap, each closed connection's
        # buffers stayed allocated (the benchmark's leak check: ~12 KB of RSS per call).
        self._on_text = _ignore_text
        self._on_closed = _ignore_close
        self._parts = None
        on_closed()

    def _fail(self, code: WSCloseCode) -> None:
        transport = self._transport
        self._parts = None
        if transport is not None and not transport.is_disconnected:
            if not transport.is_close_frame_sent:
                transport.send_close(code)
            transport.disconnect()


def _ignore_text(data: bytes) -> None:
    pass


def _ignore_close() -> None:
    pass
