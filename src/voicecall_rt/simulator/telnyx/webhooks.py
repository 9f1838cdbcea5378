"""The fake Telnyx's requests to our server: JSON webhooks signed with Ed25519, and the
media stream's upgrade, through the tunnel (`simulator.tunnel`).

Telnyx signs `"{telnyx-timestamp}|{raw body}"` with the account's Ed25519 key; the fake
signs with a test key (`SigningKey`, PyNaCl) whose public half our server is given. Every
webhook of a call goes through that call's outbox, delivered in order, as Telnyx posts a
call's events one after the other.
"""

from __future__ import annotations

import base64
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any, Final, Protocol

import aiohttp
import orjson
from nacl.signing import SigningKey
from yarl import URL

from voicecall_rt.simulator.sim_call import SentWebhook, SimCall, WebhookKind, now
from voicecall_rt.simulator.tasks import Spawn
from voicecall_rt.simulator.tunnel import Tunnel
from voicecall_rt.simulator.tunnel_client import TunnelClient

__all__ = ["TEST_KEY", "TelnyxWebhookClient", "WebhookSettings", "event_body", "sign"]

logger = logging.getLogger(__name__)

# The simulator's own Ed25519 key: fixed, so a world's settings can name its public half.
TEST_KEY: Final = SigningKey(b"voicecall-rt telnyx sim key 0001")
_FORGER: Final = SigningKey(b"voicecall-rt telnyx forged key 1")
SIGNATURE_HEADER: Final = "telnyx-signature-ed25519"
TIMESTAMP_HEADER: Final = "telnyx-timestamp"
USER_AGENT: Final = "telnyx-webhooks"


def public_key_b64(key: SigningKey = TEST_KEY) -> str:
    return base64.b64encode(bytes(key.verify_key)).decode()


def sign(body: bytes, timestamp: int, key: SigningKey = TEST_KEY) -> dict[str, str]:
    """The signature headers Telnyx sends with `body` (also what tests sign by hand)."""
    signed = key.sign(f"{timestamp}|".encode() + body).signature
    return {
        SIGNATURE_HEADER: base64.b64encode(signed).decode(),
        TIMESTAMP_HEADER: str(timestamp),
    }


def event_body(event_type: str, payload: dict[str, Any], delivered_to: str = "") -> bytes:
    """A webhook's JSON body, as Telnyx posts it."""
    return orjson.dumps(
        {
            "data": {
                "event_type": event_type,
                "id": str(uuid.uuid4()),
                "occurred_at": now().isoformat(),
                "payload": payload,
                "record_type": "event",
            },
            "meta": {"attempt": 1, "delivered_to": delivered_to},
        }
    )


class WebhookSettings(Protocol):
    """The carrier's knobs the client reads at each request (plain attributes)."""

    bad_signature: bool
    clock_skew_s: int
    webhook_timeout_s: float
    webhooks: list[SentWebhook]


@dataclass(frozen=True)
class Webhook:
    kind: WebhookKind
    url: str
    event_type: str
    payload: dict[str, Any]


class TelnyxWebhookClient(TunnelClient[Webhook]):
    """Signed JSON posts to our server, through the tunnel, recorded on the call."""

    carrier = "fake Telnyx"
    user_agent = USER_AGENT

    def __init__(self, *, settings: WebhookSettings, tunnel: Tunnel, spawn: Spawn) -> None:
        super().__init__(tunnel=tunnel, spawn=spawn)
        self._settings = settings

    async def send(self, call: SimCall, item: Webhook) -> SentWebhook:
        """Post one signed webhook; returns its record."""
        settings = self._settings
        body = event_body(item.event_type, item.payload, item.url)
        key = _FORGER if settings.bad_signature else TEST_KEY
        signed = sign(body, int(time.time()) + settings.clock_skew_s, key)
        headers = {
            **signed,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **self.tunnel.headers(item.url),
        }
        status: int | None = None
        error: str | None = None
        try:
            async with self.http.post(
                URL(self.tunnel.local_url(item.url), encoded=True),
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=settings.webhook_timeout_s),
            ) as response:
                status = response.status
                await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = repr(exc)
            logger.info("fake Telnyx: %s to %s failed: %r", item.event_type, item.url, exc)
        record = SentWebhook(
            item.kind,
            call.sid,
            item.url,
            "POST",
            {"event_type": item.event_type},
            signed[SIGNATURE_HEADER],
            status,
            error,
        )
        settings.webhooks.append(record)
        call.webhooks.append(record)
        await call.changed()
        return record

    async def deliver(self, call: SimCall, item: Webhook) -> None:
        await self.send(call, item)
