"""CarrierLink: messages sent together leave in one write and arrive as the same frames.

Real aiohttp server and client on 127.0.0.1; the client's own frame parser is the judge.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from voicecall_rt.carrier.link import CarrierLink, text_frame

Scenario = Callable[[CarrierLink, asyncio.Transport | None], Awaitable[None]]


@asynccontextmanager
async def _served(
    scenario: Scenario, *, server_compress: bool = False, client_compress: int = 0
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """A server whose one WebSocket runs `scenario` on a link; yields the client's socket."""
    finished = asyncio.get_running_loop().create_future()

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=server_compress, max_msg_size=0)
        await ws.prepare(request)
        try:
            await scenario(CarrierLink(ws, request.transport), request.transport)
            finished.set_result(None)
        except BaseException as exc:  # handed to the test, which re-raises it
            finished.set_exception(exc)
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(
                f"http://127.0.0.1:{port}/ws", compress=client_compress, max_msg_size=0
            ) as client,
        ):
            yield client
            await finished
    finally:
        await runner.cleanup()


async def _texts(client: aiohttp.ClientWebSocketResponse) -> list[str]:
    out = []
    async for message in client:
        assert message.type is aiohttp.WSMsgType.TEXT
        out.append(message.data)
    return out


class _CountingTransport:
    """Counts writes on the real transport (delegates everything else)."""

    def __init__(self, real: asyncio.WriteTransport) -> None:
        self.real = real
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        self.real.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


# Header forms: 7-bit length, 16-bit length (126), 64-bit length (127).
SIZES = [0, 1, 125, 126, 127, 300, 65535, 65536, 200_000]


@pytest.mark.parametrize("size", SIZES)
def test_text_frame_header_forms(size: int) -> None:
    frame = text_frame(b"x" * size)
    assert frame[0] == 0x81
    assert frame[1] & 0x80 == 0  # server frames are never masked
    if size < 126:
        assert frame[1] == size and len(frame) == size + 2
    elif size < 65536:
        assert frame[1] == 126 and int.from_bytes(frame[2:4]) == size
    else:
        assert frame[1] == 127 and int.from_bytes(frame[2:10]) == size


async def test_messages_sent_together_take_one_write_and_arrive_in_order() -> None:
    messages = ["x" * n for n in SIZES] + ['{"event":"mark","mark":{"name":"é:1"}}']
    counted: list[_CountingTransport] = []

    async def scenario(link: CarrierLink, transport: asyncio.Transport | None) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        spy = _CountingTransport(transport)
        counted.append(spy)
        link = CarrierLink(link.ws, spy)  # type: ignore[arg-type]  # duck-typed spy
        await link.send("media-1", "mark-1")
        await link.send(*messages)
        await link.send("clear")

    async with _served(scenario) as client:
        received = await _texts(client)
    assert received == ["media-1", "mark-1", *messages, "clear"]
    assert counted[0].writes == 3  # one write per send(), however many messages


async def test_compressed_stream_goes_through_aiohttp() -> None:
    async def scenario(link: CarrierLink, transport: asyncio.Transport | None) -> None:
        assert link.ws.compress  # negotiated: frames carry deflate state
        await link.send("media-1", "mark-1")
        await link.send("y" * 70_000)

    async with _served(scenario, server_compress=True, client_compress=15) as client:
        assert await _texts(client) == ["media-1", "mark-1", "y" * 70_000]


async def test_order_is_kept_when_the_peer_reads_slowly() -> None:
    """Once bytes wait in the transport, sends queue behind them through aiohttp."""
    big = "z" * 1_000_000
    sent = 0
    backed_up = asyncio.Event()

    async def scenario(link: CarrierLink, transport: asyncio.Transport | None) -> None:
        nonlocal sent
        assert isinstance(transport, asyncio.WriteTransport)
        # The client is not reading yet: its queue, then the kernel's buffers fill up.
        while not transport.get_write_buffer_size():
            await link.send(big)
            sent += 1
        backed_up.set()
        await link.send("media-1", "mark-1")  # waits for the reader, then drains in order

    async with _served(scenario) as client:
        await backed_up.wait()
        received = await _texts(client)
    assert received == [big] * sent + ["media-1", "mark-1"]


async def test_send_after_close_raises_connection_error() -> None:
    async def scenario(link: CarrierLink, transport: asyncio.Transport | None) -> None:
        await link.close()
        assert link.closed
        with pytest.raises(ConnectionError):
            await link.send("media-1", "mark-1")

    async with _served(scenario) as client:
        assert await _texts(client) == []
