"""The fake Twilio's requests to our server: signed webhooks and the stream's upgrade.

Every request is signed over the public URL as Twilio signs it (`simulator.signing`, the
twilio package's own `RequestValidator`), then delivered through the tunnel
(`simulator.tunnel`). Fire-and-forget webhooks (status, AMD and stream-status callbacks)
go through one outbox per call, delivered in order; answer and action URLs are fetched
directly, their TwiML returned.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Protocol
from urllib.parse import urlencode, urlsplit

import aiohttp
from twilio.request_validator import SIGNATURE_HEADER, SIGNATURE_SETTINGS_HEADER
from yarl import URL

from voicecall_rt.simulator.signing import SharedKey, signature_headers
from voicecall_rt.simulator.sim_call import SentWebhook, SimCall, WebhookKind, now
from voicecall_rt.simulator.tasks import Spawn
from voicecall_rt.simulator.tunnel import Tunnel
from voicecall_rt.simulator.tunnel_client import TunnelClient
from voicecall_rt.simulator.twilio.dialect import TWILIO, Dialect

__all__ = ["API_VERSION", "Webhook", "WebhookClient", "WebhookSettings", "call_params"]

logger = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
USER_AGENT = "TwilioProxy/1.1"


def rfc2822(moment: datetime) -> str:
    return format_datetime(moment)


def call_params(
    *,
    account_sid: str,
    call_sid: str,
    status: str,
    from_: str,
    to: str,
    direction: str,
    answered_by: str | None = None,
) -> dict[str, str]:
    """What Twilio posts about a call to the voice URL and the status callback (also what
    the tests and the load generator post by hand)."""
    params = {
        "AccountSid": account_sid,
        "ApiVersion": API_VERSION,
        "CallSid": call_sid,
        "CallStatus": status,
        "Called": to,
        "Caller": from_,
        "Direction": direction,
        "From": from_,
        "To": to,
    }
    if answered_by is not None:
        params["AnsweredBy"] = answered_by
    return params


@dataclass(frozen=True)
class Webhook:
    """A fire-and-forget request, waiting in a call's outbox."""

    kind: WebhookKind
    url: str
    method: str
    params: dict[str, str]


class WebhookSettings(Protocol):
    """The carrier's knobs the client reads at each request (plain attributes)."""

    shared_key: SharedKey | None
    bad_signature: bool
    webhook_timeout_s: float
    webhooks: list[SentWebhook]  # every request sent, recorded here too


class WebhookClient(TunnelClient[Webhook]):
    """Signed requests to our server, through the tunnel, recorded on the call."""

    carrier = "fake Twilio"
    user_agent = USER_AGENT

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        settings: WebhookSettings,
        tunnel: Tunnel,
        spawn: Spawn,
        dialect: Dialect = TWILIO,
    ) -> None:
        """`auth_token`: the secret webhooks are signed with (Twilio's Auth Token; a
        compatible carrier's signing key), in `dialect`'s signature header."""
        super().__init__(tunnel=tunnel, spawn=spawn)
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._dialect = dialect
        self._settings = settings

    # -- signing --------------------------------------------------------------------------

    def sign(self, url: str, params: dict[str, str]) -> dict[str, str]:
        """The signature headers for `params` sent to the public `url`."""
        settings = self._settings
        signed = signature_headers(
            url,
            params,
            auth_token=self._auth_token,
            shared_key=settings.shared_key,
            forge=settings.bad_signature,
        )
        header = self._dialect.signature_header
        if header != SIGNATURE_HEADER:
            signed[header] = signed.pop(SIGNATURE_HEADER)
        return signed

    async def ws_connect(
        self, url: str, headers: Mapping[str, str] | None = None
    ) -> aiohttp.ClientWebSocketResponse:
        """Open a media stream to the public `url` (a signed upgrade, through the tunnel)."""
        signed = self.sign(url, {}) if self._dialect.signs_stream_upgrade else {}
        return await super().ws_connect(url, {**signed, **(headers or {})})

    # -- sending --------------------------------------------------------------------------

    async def send(
        self, call: SimCall, kind: WebhookKind, url: str, method: str, params: dict[str, str]
    ) -> tuple[SentWebhook, str | None]:
        """Send one signed request; returns the record and the response body."""
        method = method.upper()
        if method == "GET":
            query = urlencode(params)
            signed_url = url + ("&" if urlsplit(url).query else "?") + query if query else url
            signed = self.sign(signed_url, {})
            data: dict[str, str] | None = None
        else:
            signed_url, signed, data = url, self.sign(url, params), params
        headers = {
            **signed,
            "User-Agent": USER_AGENT,
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
        }
        headers.update(self.tunnel.headers(signed_url))
        status: int | None = None
        body: str | None = None
        error: str | None = None
        try:
            async with self.http.request(
                method,
                URL(self.tunnel.local_url(signed_url), encoded=True),
                data=data,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self._settings.webhook_timeout_s),
            ) as response:
                status = response.status
                body = await response.text(errors="replace")
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = repr(exc)
            logger.info("fake carrier: %s webhook to %s failed: %r", kind, url, exc)
        record = SentWebhook(
            kind,
            call.sid,
            url,
            method,
            dict(params),
            signed[self._dialect.signature_header],
            status,
            error,
            signed.get(SIGNATURE_SETTINGS_HEADER),
        )
        self._settings.webhooks.append(record)
        call.webhooks.append(record)
        await call.changed()
        return record, body

    async def fetch_twiml(
        self, call: SimCall, kind: WebhookKind, url: str, method: str
    ) -> str | None:
        """Request a voice or action URL; its TwiML, or None (recorded as an error)."""
        record, body = await self.send(call, kind, url, method, self.call_params(call))
        if record.status is None or not 200 <= record.status < 300 or body is None:
            call.errors.append(f"{kind} URL {url} answered {record.status or record.error}")
            return None
        call.twiml.append(body)
        return body

    def call_params(self, call: SimCall, status: str | None = None) -> dict[str, str]:
        return call_params(
            account_sid=self._account_sid,
            call_sid=call.sid,
            status=status or call.status,
            from_=call.from_,
            to=call.to,
            direction=call.direction,
            answered_by=call.answered_by,
        )

    # -- the outbox -------------------------------------------------------------------------

    async def deliver(self, call: SimCall, item: Webhook) -> None:
        await self.send(call, item.kind, item.url, item.method, item.params)

    def status_event(self, call: SimCall, event: str, status: str) -> None:
        """A status callback for `event`, if our server asked for it (docs/protocols.md §4.2)."""
        config = call.config
        if config.status_callback is None or event not in config.events:
            return
        outbox = self.outbox(call)
        params = self.call_params(call, status)
        params.update(
            {
                "Timestamp": rfc2822(now()),
                "CallbackSource": "call-progress-events",
                "SequenceNumber": str(outbox.callback_seq),
            }
        )
        outbox.callback_seq += 1
        if event == "completed":
            params["CallDuration"] = str(call.duration_s)
        self.enqueue(
            call, Webhook("status", config.status_callback, config.status_callback_method, params)
        )
