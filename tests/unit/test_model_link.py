"""ModelLink: the model's WebSocket on picows, against real servers on 127.0.0.1.

aiohttp's server judges the handshake (URL, headers, refusals); picows' server sends what
aiohttp cannot be made to send (fragmented messages, pings).
"""

from __future__ import annotations

import asyncio
import gc
import ssl
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
import trustme
from aiohttp import WSMsgType, web
from picows import WSCloseCode, WSFrame, WSListener, WSTransport, WSUpgradeRequest, ws_create_server
from picows import WSMsgType as PicoType

from voicecall_rt.model.base import ModelConnectError
from voicecall_rt.model.link import ModelLink

KEY = "sk-test-link-0123456789"


class Inbox:
    def __init__(self) -> None:
        self.texts: list[bytes] = []
        self.closed = 0
        self.changed = asyncio.Event()

    def on_text(self, data: bytes) -> None:
        self.texts.append(data)
        self.changed.set()

    def on_closed(self) -> None:
        self.closed += 1
        self.changed.set()

    async def until(self, done: Callable[[], bool]) -> None:
        while not done():
            self.changed.clear()
            await self.changed.wait()


async def connect(url: str, inbox: Inbox, timeout_s: float = 5.0) -> ModelLink:
    return await ModelLink.connect(
        url,
        model="gpt-realtime",
        api_key=KEY,
        on_text=inbox.on_text,
        on_closed=inbox.on_closed,
        timeout_s=timeout_s,
    )


@asynccontextmanager
async def aiohttp_server(handler: Callable[..., object]) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/v1/realtime", handler)  # type: ignore[arg-type]
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"ws://127.0.0.1:{runner.addresses[0][1]}/v1/realtime"
    finally:
        await runner.cleanup()


async def test_handshake_carries_model_and_key_and_messages_flow_both_ways() -> None:
    seen: dict[str, str] = {}
    received: list[str] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        seen["model"] = request.query.get("model", "")
        seen["auth"] = request.headers.get("Authorization", "")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str('{"type":"session.created"}')
        async for message in ws:
            assert message.type is WSMsgType.TEXT
            received.append(message.data)
            await ws.send_str('{"echo":' + message.data + "}")
        return ws

    inbox = Inbox()
    async with aiohttp_server(handler) as url:
        link = await connect(url, inbox)
        await inbox.until(lambda: len(inbox.texts) == 1)
        link.send('{"type":"session.update"}')
        link.send('{"type":"input_audio_buffer.append","audio":"AAAA"}')
        await inbox.until(lambda: len(inbox.texts) == 3)
        await link.close()
        await link.close()  # idempotent
    assert seen == {"model": "gpt-realtime", "auth": f"Bearer {KEY}"}
    assert received == [
        '{"type":"session.update"}',
        '{"type":"input_audio_buffer.append","audio":"AAAA"}',
    ]
    assert inbox.texts[0] == b'{"type":"session.created"}'
    assert inbox.texts[2] == b'{"echo":{"type":"input_audio_buffer.append","audio":"AAAA"}}'
    assert inbox.closed == 1
    with pytest.raises(ConnectionError):
        link.send("{}")


async def test_refused_handshake_names_the_status_not_the_key() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=401, text="bad key " + KEY)

    async with aiohttp_server(handler) as url:
        with pytest.raises(ModelConnectError, match="HTTP 401") as caught:
            await connect(url, Inbox())
    assert KEY not in str(caught.value)


@pytest.mark.slow  # waits out the connect timeout
async def test_unreachable_and_silent_servers_fail_within_the_timeout() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    with pytest.raises(ModelConnectError, match="cannot reach"):
        await connect(f"ws://127.0.0.1:{port}/v1/realtime", Inbox())

    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)  # accepts, reads nothing, never answers the upgrade

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(ModelConnectError):
            await connect(f"ws://127.0.0.1:{port}/v1/realtime", Inbox(), timeout_s=0.3)
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_server_close_ends_the_link_once() -> None:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str('{"type":"session.created"}')
        await ws.close(code=1011, message=b"going")
        return ws

    inbox = Inbox()
    async with aiohttp_server(handler) as url:
        link = await connect(url, inbox)
        await inbox.until(lambda: inbox.closed > 0)
        assert link.closed
        with pytest.raises(ConnectionError):
            link.send("{}")
        await link.close()
    assert inbox.texts == [b'{"type":"session.created"}']
    assert inbox.closed == 1


async def test_the_owner_hears_of_a_close_frame_before_the_socket_is_down() -> None:
    """Between the close frame and the socket's end, a send would be refused: the owner
    must know by then (it keeps caller audio for the next session instead of losing it)."""

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()  # the client is set up
        await ws.close(code=1001, message=b"session expired")
        return ws

    links: list[ModelLink] = []
    socket_up_when_told: list[bool] = []
    told = asyncio.Event()

    def on_closed() -> None:
        socket_up_when_told.append(links[0]._transport is not None)
        told.set()

    async with aiohttp_server(handler) as url:
        link = await ModelLink.connect(
            url,
            model="gpt-realtime-2.1",
            api_key=KEY,
            on_text=lambda data: None,
            on_closed=on_closed,
            timeout_s=5,
        )
        links.append(link)
        link.send("{}")
        await told.wait()
        await link.close()
    assert socket_up_when_told == [True]


class _Fragmenting(WSListener):
    """Sends one message in three fragments with a ping in between; records pongs."""

    pongs: list[bytes]

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.pongs = []
        transport.send(PicoType.TEXT, b'{"type":"response.', fin=False)
        transport.send_ping(b"are-you-there")  # control frames may come between fragments
        transport.send(PicoType.CONTINUATION, b'output_audio.delta","delta":', fin=False)
        transport.send(PicoType.CONTINUATION, b'"AAAA"}', fin=True)
        transport.send(PicoType.TEXT, b'{"type":"after"}')

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == PicoType.PONG:
            self.pongs.append(frame.get_payload_as_bytes())
            transport.send(PicoType.TEXT, b'{"type":"ponged"}')
        elif frame.msg_type == PicoType.CLOSE:
            transport.send_close(WSCloseCode.OK)
            transport.disconnect()


async def test_fragmented_messages_are_joined_and_pings_answered() -> None:
    listeners: list[_Fragmenting] = []

    def route(request: WSUpgradeRequest) -> WSListener:
        listeners.append(_Fragmenting())
        return listeners[-1]

    server = await ws_create_server(route, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    inbox = Inbox()
    try:
        link = await connect(f"ws://127.0.0.1:{port}/v1/realtime", inbox)
        await inbox.until(lambda: len(inbox.texts) == 3)
        await link.close()
    finally:
        server.close()
        await server.wait_closed()
    assert inbox.texts[0] == b'{"type":"response.output_audio.delta","delta":"AAAA"}'
    assert sorted(inbox.texts[1:]) == [b'{"type":"after"}', b'{"type":"ponged"}']
    assert listeners[0].pongs == [b"are-you-there"]


@pytest.mark.slow  # 150 real links at once
async def test_no_cap_on_concurrent_links() -> None:
    # Each live call holds one; the server's old pooled client stalled call 101.
    open_now = 0
    peak = 0
    all_in = asyncio.Event()
    count = 150

    async def handler(request: web.Request) -> web.WebSocketResponse:
        nonlocal open_now, peak
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        open_now += 1
        peak = max(peak, open_now)
        if open_now == count:
            all_in.set()
        async for _ in ws:
            pass
        open_now -= 1
        return ws

    async with aiohttp_server(handler) as url:
        links = await asyncio.gather(*(connect(url, Inbox()) for _ in range(count)))
        await all_in.wait()
        await asyncio.gather(*(link.close() for link in links))
    assert peak == count


async def test_a_closed_link_and_its_owner_are_freed_without_the_cyclic_gc() -> None:
    # The owner (a call's bridge) holds the link, the link holds the owner's callbacks:
    # left to the cyclic GC, closed connections kept their buffers for a long time.
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str('{"type":"session.created"}')
        async for _ in ws:
            pass
        return ws

    class Owner(Inbox):
        link: ModelLink | None = None

    async def call(url: str) -> tuple[weakref.ref[Owner], weakref.ref[ModelLink]]:
        owner = Owner()
        link = owner.link = await connect(url, owner)
        await owner.until(lambda: bool(owner.texts))
        await link.close()
        await owner.until(lambda: owner.closed > 0)
        return weakref.ref(owner), weakref.ref(link)

    async with aiohttp_server(handler) as url:
        gc.disable()
        try:
            owner_ref, link_ref = await call(url)
            for _ in range(100):  # the transports let go within a few loop iterations
                if owner_ref() is None and link_ref() is None:
                    break
                await asyncio.sleep(0)
            assert owner_ref() is None and link_ref() is None
        finally:
            gc.enable()


@asynccontextmanager
async def tls_server(ca: trustme.CA) -> AsyncIterator[str]:
    """A wss:// Realtime stand-in on 127.0.0.1 with a certificate for `localhost`."""

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str('{"type":"session.created"}')
        async for _ in ws:
            pass
        return ws

    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    app = web.Application()
    app.router.add_get("/v1/realtime", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context)
    await site.start()
    try:
        yield f"wss://localhost:{runner.addresses[0][1]}/v1/realtime"
    finally:
        await runner.cleanup()


async def test_wss_verifies_the_certificate_by_default() -> None:
    async with tls_server(trustme.CA()) as url:  # a CA the system does not trust
        with pytest.raises(ModelConnectError):
            await connect(url, Inbox())


async def test_wss_with_a_trusted_certificate_works() -> None:
    ca = trustme.CA()
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    inbox = Inbox()
    async with tls_server(ca) as url:
        link = await ModelLink.connect(
            url,
            model="gpt-realtime",
            api_key=KEY,
            on_text=inbox.on_text,
            on_closed=inbox.on_closed,
            timeout_s=5.0,
            ssl_context=client_context,
        )
        await inbox.until(lambda: bool(inbox.texts))
        await link.close()
    assert inbox.texts == [b'{"type":"session.created"}']
