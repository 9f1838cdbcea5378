"""The carrier's media WebSocket as the bridge writes to it: messages sent together leave
in one write.

Every model audio delta goes to the carrier as two messages, its `media` and the `mark`
that tells us when it has played (call/playback.py). Sending is most of what the bridge
costs, one `send()` syscall per message (benchmarks/README.md, "Where the time goes"), so
the messages of one `send(...)` are framed here and handed to the transport in one write:
the carrier reads the same WebSocket frames; the kernel sees one syscall instead of two.

The shortcut is taken only where it writes exactly what aiohttp would: a server socket
(RFC 6455 §5.1: server frames are never masked), no compression negotiated, the socket
open, and nothing already queued in the transport (so no flow-control pause is pending
and the order of bytes on the wire is the order of calls). Otherwise each message goes
through aiohttp's `send_str`, with its flow control and its errors.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable

import aiohttp
from aiohttp import web

_FIN_TEXT = 0x81  # FIN + opcode 1 (text): every message is one whole frame
_HEADER_7 = struct.Struct("!BB").pack
_HEADER_16 = struct.Struct("!BBH").pack
_HEADER_64 = struct.Struct("!BBQ").pack
_TEXT = aiohttp.WSMsgType.TEXT
# What ends a read of an aiohttp WebSocket.
_SOCKET_ENDED = frozenset(
    (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED)
)


def text_frame(data: bytes) -> bytes:
    """One unmasked, uncompressed WebSocket text frame carrying `data` (UTF-8)."""
    size = len(data)
    if size < 126:
        return _HEADER_7(_FIN_TEXT, size) + data
    if size < 65536:
        return _HEADER_16(_FIN_TEXT, 126, size) + data
    return _HEADER_64(_FIN_TEXT, 127, size) + data


class CarrierLink:
    """One media stream: its read loop and its batched writes."""

    __slots__ = ("_transport", "ws")

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.WriteTransport | None):
        self.ws = ws
        # Compressed frames depend on state aiohttp's writer keeps: those go its way.
        self._transport = None if ws.compress else transport

    @property
    def closed(self) -> bool:
        return self.ws.closed

    @property
    def can_write_now(self) -> bool:
        """Whether `write_now` may be used: nothing queued, socket open, frames ours."""
        transport = self._transport
        return (
            transport is not None
            and not self.ws.closed
            and not transport.is_closing()
            and not transport.get_write_buffer_size()
        )

    def write_now(self, *messages: str) -> None:
        """Frame the messages and write them in one go; only when `can_write_now`."""
        transport = self._transport
        assert transport is not None
        if len(messages) == 2:  # the hot path: a delta's media and its mark
            first, second = messages
            transport.write(text_frame(first.encode()) + text_frame(second.encode()))
        else:
            transport.write(b"".join([text_frame(m.encode()) for m in messages]))

    async def send(self, *messages: str) -> None:
        """Send text messages in order; raises ConnectionError once the stream is gone."""
        if self.can_write_now:
            self.write_now(*messages)
            return
        for message in messages:
            await self.ws.send_str(message)

    async def read(self, on_text: Callable[[str], bool], on_other: Callable[[], None]) -> bool:
        """Hand each text message to `on_text` until it returns False (then True is
        returned: the carrier ended the stream) or the socket ends (False). Anything else
        that arrives goes to `on_other`."""
        receive = self.ws.receive  # not `async for`: one coroutine less per message
        while True:
            message = await receive()
            if message.type is _TEXT:
                if not on_text(message.data):
                    return True
            elif message.type in _SOCKET_ENDED:
                return False
            else:
                on_other()

    async def close(self) -> None:
        await self.ws.close()
