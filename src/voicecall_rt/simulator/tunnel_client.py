"""A fake carrier's HTTP side towards our server, whatever the carrier: one connection
pool through the tunnel, the media stream's WebSocket upgrade, and one outbox per call
that delivers its fire-and-forget webhooks in order (as a carrier's callbacks for one call
arrive one after another). Each fake's webhook client adds how it signs and sends."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Generic, TypeVar

import aiohttp
from yarl import URL

from voicecall_rt.simulator.sim_call import SimCall
from voicecall_rt.simulator.tasks import Spawn
from voicecall_rt.simulator.tunnel import Tunnel

logger = logging.getLogger(__name__)

Item = TypeVar("Item")


@dataclass
class Outbox(Generic[Item]):
    queue: asyncio.Queue[Item | None] = field(default_factory=asyncio.Queue)
    closed: bool = False
    sender: asyncio.Task[None] | None = None
    callback_seq: int = 0  # for carriers that number a call's callbacks (Twilio)


class TunnelClient(ABC, Generic[Item]):
    carrier: ClassVar[str]  # for messages: "fake Twilio"
    user_agent: ClassVar[str]
    request_timeout_s: ClassVar[float | None] = None  # a whole request, None: no limit

    def __init__(self, *, tunnel: Tunnel, spawn: Spawn) -> None:
        self.tunnel = tunnel
        self._spawn = spawn
        self._session: aiohttp.ClientSession | None = None
        self._outboxes: dict[str, Outbox[Item]] = {}

    # -- the connection pool --------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._session is not None

    def open(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=self.request_timeout_s, sock_connect=5.0),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError(f"{self.carrier} is not started")
        return self._session

    async def ws_connect(
        self, url: str, headers: Mapping[str, str] | None = None
    ) -> aiohttp.ClientWebSocketResponse:
        """Open a media stream to the public `url`, through the tunnel."""
        sent = {**(headers or {}), "User-Agent": self.user_agent, **self.tunnel.headers(url)}
        return await self.http.ws_connect(
            URL(self.tunnel.local_url(url), encoded=True),
            headers=sent,
            autoping=True,
            timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
        )

    # -- the outbox -----------------------------------------------------------------------

    def open_outbox(self, call: SimCall) -> None:
        outbox: Outbox[Item] = Outbox()
        self._outboxes[call.sid] = outbox
        name = f"{self.carrier.replace(' ', '-')}-webhooks-{call.sid}"
        outbox.sender = self._spawn(self._deliver_all(call, outbox), name)

    def outbox(self, call: SimCall) -> Outbox[Item]:
        return self._outboxes[call.sid]

    def enqueue(self, call: SimCall, item: Item) -> None:
        """Queue a fire-and-forget webhook; the call's sender delivers them in order."""
        outbox = self._outboxes[call.sid]
        if outbox.closed:
            logger.warning("%s: %r after %s ended, dropped", self.carrier, item, call.sid)
            return
        outbox.queue.put_nowait(item)

    async def close_outbox(self, call: SimCall) -> None:
        """No more webhooks for the call; returns once those queued are delivered."""
        outbox = self._outboxes[call.sid]
        outbox.closed = True
        outbox.queue.put_nowait(None)
        if outbox.sender is not None:
            await asyncio.wait([outbox.sender])

    async def _deliver_all(self, call: SimCall, outbox: Outbox[Item]) -> None:
        while (item := await outbox.queue.get()) is not None:
            await self.deliver(call, item)

    @abstractmethod
    async def deliver(self, call: SimCall, item: Item) -> None:
        """Send one queued webhook."""
