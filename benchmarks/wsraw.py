"""The smallest WebSocket (RFC 6455) the load generator needs, straight on asyncio.Protocol.

The load generator plays both outside parties of hundreds of calls on one core: every
caller and every fake-model session moves ~150 messages a second. A general-purpose
WebSocket client would spend that core on itself and blur the numbers, so both ends here
are a handshake plus a frame codec: text frames, ping/pong, close; no extensions.

Frames we send as the client are masked with a zero key (the RFC asks for a random one so
that proxies cannot be confused; there is no proxy on loopback). The server unmasks every
frame whatever the key, so its cost is the same as with a real carrier, and the load
generator skips a per-frame XOR.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from collections.abc import Callable

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_ZERO_KEY = b"\0\0\0\0"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10

_c_mask: Callable[[bytes, bytearray], None] | None
try:  # aiohttp's C helper unmasks in place; the pure-Python fallback is fine at this size
    from aiohttp._websocket.helpers import websocket_mask as _c_mask
except ImportError:  # pragma: no cover - depends on aiohttp's internals
    _c_mask = None


def unmask(key: bytes, data: bytes) -> bytes:
    if key == _ZERO_KEY:
        return data
    if _c_mask is not None:
        out = bytearray(data)
        _c_mask(key, out)
        return bytes(out)
    n = len(data)
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")


def accept_for(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + _GUID).digest())


def _header(opcode: int, n: int, masked: bool) -> bytes:
    bit = 0x80 if masked else 0
    if n < 126:
        head = bytes((0x80 | opcode, bit | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, bit | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, bit | 127)) + n.to_bytes(8, "big")
    return head + _ZERO_KEY if masked else head


class WsConnection(asyncio.Protocol):
    """One WebSocket endpoint. Subclasses override `on_open`, `on_text`, `on_closed`.

    `is_client` decides who masks and who speaks first in the handshake.
    """

    is_client = True

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.is_open = False
        self.closed = False
        self.close_code: int | None = None
        self._close_sent = False
        self._handshaken = False
        self._buf = bytearray()
        self._fragments: list[bytes] = []
        self._key = base64.b64encode(os.urandom(16))
        self.opened = asyncio.get_running_loop().create_future()
        # client handshake target, set by `connect`
        self._host = ""
        self._path = "/"
        self._extra_headers: dict[str, str] = {}
        self._http_head: bytes | None = None  # server side: a plain request awaiting its body

    # ---- hooks ------------------------------------------------------------------------

    def on_open(self) -> None:
        """The handshake is done; messages may flow."""

    def on_text(self, data: bytes) -> None:
        """One complete text message (UTF-8 bytes)."""

    def on_closed(self) -> None:
        """The TCP connection is gone."""

    def on_http(self, head: bytes, body: bytes) -> bool:
        """Server side: a request that is not a WebSocket upgrade (its body read by its
        Content-Length). True if answered."""
        return False

    def accept_request(self, head: bytes) -> bool:
        """Server side: admit this upgrade request (path, headers)?"""
        return True

    # ---- sending ----------------------------------------------------------------------

    def send_text(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or self._close_sent or transport.is_closing():
            return
        transport.write(_header(OP_TEXT, len(data), self.is_client) + data)

    def close(self, code: int = 1000, reason: bytes = b"", linger: bool = False) -> None:
        """Send a close frame. The server side then closes TCP at once, unless `linger`:
        then it keeps reading until the peer's close frame (the closing handshake a real
        server completes), so what the peer sent meanwhile is still seen."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if not self._close_sent:
            self._close_sent = True
            body = code.to_bytes(2, "big") + reason[:123]
            transport.write(_header(OP_CLOSE, len(body), self.is_client) + body)
        if not self.is_client and not linger:
            transport.close()  # the server side closes TCP first (RFC 6455 §7.1.1)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # ---- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        if self.is_client and self.transport is not None:
            headers = "".join(f"{k}: {v}\r\n" for k, v in self._extra_headers.items())
            self.transport.write(
                (
                    f"GET {self._path} HTTP/1.1\r\nHost: {self._host}\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Key: {self._key.decode()}\r\n"
                    f"Sec-WebSocket-Version: 13\r\n{headers}\r\n"
                ).encode()
            )

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.is_open = False
        if not self.opened.done():
            if self.is_client:
                self.opened.set_exception(ConnectionError("closed before the handshake"))
            else:
                self.opened.cancel()
        self.on_closed()

    def data_received(self, data: bytes) -> None:
        if not self._handshaken:
            self._buf += data
            if self._http_head is not None:
                self._http_request()
                return
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self._buf[:end])
            rest = bytes(self._buf[end + 4 :])
            self._buf = bytearray()
            if not self.is_client and not _is_upgrade(head):
                self._http_head, self._buf = head, bytearray(rest)
                self._http_request()
                return
            if not self._handshake(head):
                return
            if not rest:
                return
            data = rest
        if self._buf:
            self._buf += data
            buf: bytes | bytearray = self._buf
        else:
            buf = data
        pos, n = 0, len(buf)
        while n - pos >= 2:
            b0: int = buf[pos]
            b1: int = buf[pos + 1]
            length: int = b1 & 0x7F
            hlen = 2
            if length == 126:
                if n - pos < 4:
                    break
                length, hlen = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if n - pos < 10:
                    break
                length, hlen = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            key = None
            if b1 & 0x80:
                if n - pos < hlen + 4:
                    break
                key = bytes(buf[pos + hlen : pos + hlen + 4])
                hlen += 4
            end = pos + hlen + length
            if end > n:
                break
            payload = bytes(buf[pos + hlen : end])
            pos = end
            if key is not None:
                payload = unmask(key, payload)
            self._frame(b0, payload)
            if self.transport is None or self.transport.is_closing():
                break
        if pos >= n:
            self._buf = bytearray()
        elif buf is not self._buf or pos:
            self._buf = bytearray(buf[pos:])

    # ---- internals --------------------------------------------------------------------

    def _frame(self, b0: int, payload: bytes) -> None:
        opcode, fin = b0 & 0x0F, b0 & 0x80
        if opcode in (OP_TEXT, OP_BINARY):
            if fin:
                self.on_text(payload)
            else:
                self._fragments = [payload]
        elif opcode == OP_CONT:
            self._fragments.append(payload)
            if fin:
                whole, self._fragments = b"".join(self._fragments), []
                self.on_text(whole)
        elif opcode == OP_PING:
            if self.transport is not None and not self.transport.is_closing():
                self.transport.write(_header(OP_PONG, len(payload), self.is_client) + payload)
        elif opcode == OP_CLOSE:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self.close(self.close_code if self.close_code != 1005 else 1000)
            if self.transport is not None:
                self.transport.close()

    def _handshake(self, head: bytes) -> bool:
        assert self.transport is not None
        if self.is_client:
            status = head.split(b"\r\n", 1)[0]
            if b" 101 " not in status + b" ":
                self.transport.close()
                if not self.opened.done():
                    self.opened.set_exception(ConnectionError(status.decode(errors="replace")))
                return False
        else:
            headers = _headers(head)
            if not self.accept_request(head):
                self.transport.write(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
                self.transport.close()
                return False
            accept = accept_for(headers.get(b"sec-websocket-key", b""))
            self.transport.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
        self._handshaken = True
        self.is_open = True
        if not self.opened.done():
            self.opened.set_result(None)
        self.on_open()
        return True

    def _http_request(self) -> None:
        """A plain HTTP request (the carrier REST API's stand-in): once its whole body is
        in, `on_http` answers it, else 400."""
        head = self._http_head
        assert head is not None and self.transport is not None
        try:
            length = int(_headers(head).get(b"content-length", b"0"))
        except ValueError:
            length = -1
        if length >= 0 and len(self._buf) < length:
            return
        body, self._buf = bytes(self._buf[: max(length, 0)]), bytearray()
        self._http_head = None
        if length < 0 or not self.on_http(head, body):
            self.transport.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            self.transport.close()


def _is_upgrade(head: bytes) -> bool:
    return _headers(head).get(b"upgrade", b"").lower() == b"websocket"


def _headers(head: bytes) -> dict[bytes, bytes]:
    out = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        out[name.strip().lower()] = value.strip()
    return out


async def connect(
    factory: Callable[[], WsConnection],
    host: str,
    port: int,
    path: str,
    headers: dict[str, str] | None = None,
    timeout_s: float = 10.0,
) -> WsConnection:
    """Open a client WebSocket made by `factory`; returns once the handshake is done."""
    loop = asyncio.get_running_loop()

    def make() -> WsConnection:
        conn = factory()
        conn._host, conn._path = f"{host}:{port}", path
        conn._extra_headers = dict(headers or {})
        return conn

    _, conn = await loop.create_connection(make, host, port)
    async with asyncio.timeout(timeout_s):
        await conn.opened
    return conn
