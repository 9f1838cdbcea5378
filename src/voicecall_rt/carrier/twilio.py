"""Twilio: the REST calls we make, the webhook signatures we check, the TwiML we answer.

REST goes through the official `twilio` SDK's async client; its base URL is configurable
(`twilio.apiBaseUrl`) so the offline simulator can stand in for api.twilio.com.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import HMAC_SHA1, RequestValidator, get_signature_algorithm
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

log = logging.getLogger(__name__)

HEALTH_HEADER = "X-Voicecall-Rt"
STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]


class CarrierError(Exception):
    """The carrier refused or could not be reached; the message is safe to show."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class OutboundRequest:
    to: str
    from_: str
    answer_url: str
    status_url: str
    ring_timeout_s: int
    time_limit_s: int
    amd_url: str | None  # None: no answering-machine detection


def _carrier_error(
    exc: TwilioRestException | aiohttp.ClientError | TimeoutError, account_sid: str
) -> CarrierError:
    if isinstance(exc, TwilioRestException):
        detail = str(exc.msg).splitlines()[0] if exc.msg else "request refused"
        # Twilio's messages can quote the request path, which holds the full Account SID.
        detail = detail.replace(account_sid, mask_sid(account_sid))
        return CarrierError(
            f"Twilio refused the request ({exc.status}, code {exc.code}): {detail}",
            status=exc.status,
            code=exc.code,
        )
    return CarrierError(f"cannot reach Twilio: {type(exc).__name__}")


class TwilioCarrier:
    """REST client for one account. Create inside a running event loop; `close()` when done."""

    def __init__(self, account_sid: str, auth_token: str, api_base_url: str) -> None:
        self.account_sid = account_sid
        self._http = AsyncTwilioHttpClient(timeout=15)
        self._client = Client(account_sid, auth_token, http_client=self._http)
        self._client.api.base_url = api_base_url.rstrip("/")

    async def close(self) -> None:
        await self._http.close()

    async def create_call(self, request: OutboundRequest) -> str:
        """Dial; returns the CallSid."""
        extra: dict[str, Any] = {}
        if request.amd_url is not None:
            # Async AMD: the callee is bridged at once; the verdict arrives on its own webhook.
            extra = {
                "machine_detection": "DetectMessageEnd",
                "async_amd": "true",
                "async_amd_status_callback": request.amd_url,
                "async_amd_status_callback_method": "POST",
            }
        try:
            call = await self._client.calls.create_async(
                to=request.to,
                from_=request.from_,
                url=request.answer_url,
                method="POST",
                status_callback=request.status_url,
                status_callback_method="POST",
                status_callback_event=STATUS_EVENTS,
                timeout=request.ring_timeout_s,
                time_limit=request.time_limit_s,
                **extra,
            )
        except (TwilioRestException, aiohttp.ClientError, TimeoutError) as exc:
            raise _carrier_error(exc, self.account_sid) from None
        return str(call.sid)

    async def hang_up(self, call_sid: str) -> None:
        """End the call, whatever state it is in.

        Always `Status=completed`. Twilio's Call resource (update, `Status`): "Specifying
        `canceled` will attempt to hang up calls that are queued or ringing; however, it will
        not affect calls already in progress. Specifying `completed` will attempt to hang up a
        call even if it's already in progress." So `completed` also ends a queued or ringing
        call, while `canceled` sent just as the callee picks up would leave the call running.
        Its status table says a call "hung up while it was queued or ringing" ends `canceled`,
        so that is the final status we expect back for a call still ringing (inferred from
        the table; the update section does not say it in so many words).
        """
        try:
            await self._client.calls(call_sid).update_async(status="completed")
        except (TwilioRestException, aiohttp.ClientError, TimeoutError) as exc:
            raise _carrier_error(exc, self.account_sid) from None

    async def fetch_account_status(self) -> str:
        try:
            account = await self._client.api.v2010.accounts(self.account_sid).fetch_async()
        except (TwilioRestException, aiohttp.ClientError, TimeoutError) as exc:
            raise _carrier_error(exc, self.account_sid) from None
        return str(account.status)

    async def owns_number(self, number: str) -> bool:
        try:
            numbers = await self._client.incoming_phone_numbers.list_async(
                phone_number=number, limit=1
            )
        except (TwilioRestException, aiohttp.ClientError, TimeoutError) as exc:
            raise _carrier_error(exc, self.account_sid) from None
        return any(str(n.phone_number) == number for n in numbers)


def signature_valid(
    auth_token: str,
    url: str,
    params: Mapping[str, Any],
    signature: str | None,
    *,
    signature_settings: str | None = None,
    shared_key_secrets: Iterable[str] = (),
) -> bool:
    """Check `X-Twilio-Signature` over the public URL Twilio requested (PROTOCOLS §4.3).

    Without `X-Twilio-Webhooks-Signature-Settings` (passed as `signature_settings`) Twilio
    signed with the Auth Token and HMAC-SHA1. With it, a Webhook Rule matched the URL and
    Twilio signed with that Setting's SharedKey secret and the header's algorithm
    (`key=<sharedKeyId>,algorithm=HMAC_SHA256`); the Auth Token is then not the key, so it is
    never tried. Any configured SharedKey secret may match, so a key can be rotated by
    listing the old and the new one for a while. Validation is the twilio package's own.
    """
    if not signature:
        return False
    if not signature_settings:
        secrets: list[str] = [auth_token] if auth_token else []
        algorithm = HMAC_SHA1
    else:
        secrets = [secret for secret in shared_key_secrets if secret]
        algorithm = get_signature_algorithm(signature_settings)
    return any(
        RequestValidator(secret).validate(url, params, signature, algorithm=algorithm)
        for secret in secrets
    )


def signature_key_id(signature_settings: str | None) -> str | None:
    """The SharedKey named by `X-Twilio-Webhooks-Signature-Settings` (an id, not a secret)."""
    for part in (signature_settings or "").split(","):
        name, separator, value = part.partition("=")
        if separator and name.strip() == "key" and value.strip():
            return value.strip()
    return None


def stream_twiml(stream_url: str, token: str) -> str:
    """Bridge the call to our media WebSocket; the token travels as a `<Parameter>`."""
    response = VoiceResponse()
    connect = response.connect()
    stream = connect.stream(url=stream_url)
    stream.parameter(name="call_token", value=token)
    return str(response)


def reject_twiml() -> str:
    response = VoiceResponse()
    response.reject(reason="rejected")
    return str(response)


def say_and_hang_up_twiml(text: str) -> str:
    response = VoiceResponse()
    response.say(text)
    response.hangup()
    return str(response)


def hang_up_twiml() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


def mask_sid(sid: str) -> str:
    """First 4 and last 4 characters only (how SIDs appear in our output)."""
    return sid[:4] + "…" + sid[-4:] if len(sid) > 8 else "…"
