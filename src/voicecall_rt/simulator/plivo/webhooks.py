"""The fake Plivo's requests to our server: form posts signed with Plivo's V3 scheme.

The signature is the plivo package's own (`signature_v3.get_signature_v3` over
`construct_post_url`): HMAC-SHA256 of the URL, its sorted query, the sorted form fields and
a fresh nonce, keyed with the Auth Token. Requests go through the tunnel
(`simulator.tunnel`); the call's fire-and-forget callbacks (ring, hangup, machine
detection) leave in order from one outbox per call, the answer XML is fetched directly.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field
from typing import Protocol

import aiohttp
from plivo.utils.signature_v3 import construct_post_url, get_signature_v3
from yarl import URL

from voicecall_rt.carrier.plivo.webhooks import NONCE_HEADER, SIGNATURE_HEADER
from voicecall_rt.simulator.sim_call import SentWebhook, SimCall, WebhookKind
from voicecall_rt.simulator.tasks import Spawn
from voicecall_rt.simulator.tunnel import Tunnel

__all__ = ["WebhookClient", "sign"]

logger = logging.getLogger(__name__)

USER_AGENT = "PlivoHTTP/1.0"
_WRONG = "-wrong"  # what a forger signs with instead of the Auth Token


def sign(url: str, params: dict[str, str], auth_token: str) -> dict[str, str]:
    """The V3 signature headers Plivo sends with a POST of `params` to `url`."""
    nonce = str(secrets.randbelow(10**20))
    base = construct_post_url(url, dict(params)).decode()
    signature = get_signature_v3(auth_token.encode(), base, nonce.encode())
    return {SIGNATURE_HEADER: signature.decode(), NONCE_HEADER: nonce}


class WebhookSettings(Protocol):
    bad_signature: bool
    webhooks: list[SentWebhook]


@dataclass
class _Outbox:
    queue: asyncio.Queue[tuple[WebhookKind, str, dict[str, str]] | None] = field(
        default_factory=asyncio.Queue
    )
    sender: asyncio.Task[None] | None = None
    closed: bool = False


class WebhookClient:
    """Signed form posts to our server, through the tunnel, recorded on the call."""

    def __init__(
        self, *, auth_token: str, settings: WebhookSettings, tunnel: Tunnel, spawn: Spawn
    ) -> None:
        self._auth_token = auth_token
        self._settings = settings
        self.tunnel = tunnel
        self._spawn = spawn
        self._session: aiohttp.ClientSession | None = None
        self._outboxes: dict[str, _Outbox] = {}

    @property
    def started(self) -> bool:
        return self._session is not None

    def open(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=15.0, sock_connect=5.0),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("FakePlivo is not started")
        return self._session

    async def post(
        self, call: SimCall, kind: WebhookKind, url: str, params: dict[str, str]
    ) -> tuple[SentWebhook, str | None]:
        """One signed POST; returns its record and the response body."""
        secret = self._auth_token + (_WRONG if self._settings.bad_signature else "")
        headers = {**sign(url, params, secret), "User-Agent": USER_AGENT}
        headers.update(self.tunnel.headers(url))
        status: int | None = None
        body: str | None = None
        error: str | None = None
        try:
            async with self.http.post(
                URL(self.tunnel.local_url(url), encoded=True),
                data=params,
                headers=headers,
                allow_redirects=False,
            ) as response:
                status = response.status
                body = await response.text(errors="replace")
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = repr(exc)
            logger.info("fake Plivo: %s webhook to %s failed: %r", kind, url, exc)
        record = SentWebhook(
            kind, call.sid, url, "POST", dict(params), headers[SIGNATURE_HEADER], status, error
        )
        self._settings.webhooks.append(record)
        call.webhooks.append(record)
        await call.changed()
        return record, body

    async def ws_connect(self, url: str) -> aiohttp.ClientWebSocketResponse:
        """Open a media stream to the public `url`, through the tunnel."""
        headers = {"User-Agent": USER_AGENT, **self.tunnel.headers(url)}
        return await self.http.ws_connect(
            URL(self.tunnel.local_url(url), encoded=True),
            headers=headers,
            autoping=True,
            timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
        )

    # -- the outbox ---------------------------------------------------------------------

    def open_outbox(self, call: SimCall) -> None:
        outbox = self._outboxes[call.sid] = _Outbox()
        outbox.sender = self._spawn(self._deliver(call, outbox), f"fake-plivo-hooks-{call.sid}")

    def enqueue(self, call: SimCall, kind: WebhookKind, url: str, params: dict[str, str]) -> None:
        outbox = self._outboxes[call.sid]
        if outbox.closed:
            logger.warning("fake Plivo: %s webhook after %s ended, dropped", kind, call.sid)
            return
        outbox.queue.put_nowait((kind, url, params))

    async def close_outbox(self, call: SimCall) -> None:
        """No more callbacks for the call; returns once those queued are delivered."""
        outbox = self._outboxes[call.sid]
        outbox.closed = True
        outbox.queue.put_nowait(None)
        if outbox.sender is not None:
            await asyncio.wait([outbox.sender])

    async def _deliver(self, call: SimCall, outbox: _Outbox) -> None:
        while (item := await outbox.queue.get()) is not None:
            await self.post(call, *item)
