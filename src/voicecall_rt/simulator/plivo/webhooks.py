"""The fake Plivo's requests to our server: form posts signed with Plivo's V3 scheme.

The signature is the plivo package's own (`signature_v3.get_signature_v3` over
`construct_post_url`): HMAC-SHA256 of the URL, its sorted query, the sorted form fields and
a fresh nonce, keyed with the Auth Token. Requests go through the tunnel
(`simulator.tunnel`); the call's fire-and-forget callbacks (ring, hangup, machine
detection) leave in order from one outbox per call, the answer XML is fetched directly.
"""

from __future__ import annotations

import logging
import secrets
from typing import Protocol

import aiohttp
from plivo.utils.signature_v3 import construct_post_url, get_signature_v3
from yarl import URL

from voicecall_rt.carrier.plivo.webhooks import NONCE_HEADER, SIGNATURE_HEADER
from voicecall_rt.simulator.sim_call import SentWebhook, SimCall, WebhookKind
from voicecall_rt.simulator.tasks import Spawn
from voicecall_rt.simulator.tunnel import Tunnel
from voicecall_rt.simulator.tunnel_client import TunnelClient

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


# A fire-and-forget callback waiting in a call's outbox: which, where, its form.
Callback = tuple[WebhookKind, str, dict[str, str]]


class WebhookClient(TunnelClient[Callback]):
    """Signed form posts to our server, through the tunnel, recorded on the call."""

    carrier = "fake Plivo"
    user_agent = USER_AGENT
    request_timeout_s = 15.0

    def __init__(
        self, *, auth_token: str, settings: WebhookSettings, tunnel: Tunnel, spawn: Spawn
    ) -> None:
        super().__init__(tunnel=tunnel, spawn=spawn)
        self._auth_token = auth_token
        self._settings = settings

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

    async def deliver(self, call: SimCall, item: Callback) -> None:
        await self.post(call, *item)
