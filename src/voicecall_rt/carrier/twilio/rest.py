"""Twilio's REST API: place a call, hang it up, check the account (docs/protocols.md §4.1).

REST goes through the official `twilio` SDK's async client; its base URL is configurable
(`twilio.apiBaseUrl`) so the offline simulator can stand in for api.twilio.com.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from voicecall_rt.carrier.base import CarrierError, OutboundRequest, Transfer
from voicecall_rt.carrier.twilio.webhooks import dial_twiml

log = logging.getLogger(__name__)

STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]


def _carrier_error(
    exc: TwilioRestException | aiohttp.ClientError | TimeoutError,
    account_sid: str,
    carrier: str = "Twilio",
) -> CarrierError:
    if isinstance(exc, TwilioRestException):
        detail = str(exc.msg).splitlines()[0] if exc.msg else "request refused"
        # Twilio's messages can quote the request path, which holds the full Account SID.
        detail = detail.replace(account_sid, mask_sid(account_sid))
        return CarrierError(
            f"{carrier} refused the request ({exc.status}, code {exc.code}): {detail}",
            status=exc.status,
            code=exc.code,
        )
    return CarrierError(f"cannot reach {carrier}: {type(exc).__name__}")


class TwilioCarrier:
    """REST client for one account. Create inside a running event loop; `close()` when done."""

    # The stream is set up by the answer's TwiML, never in the dial.
    streams_at_dial = False
    # Who refused, in error messages (a Twilio-compatible carrier reuses this client).
    carrier_name = "Twilio"

    def __init__(self, account_sid: str, auth_token: str, api_base_url: str) -> None:
        self.account_sid = account_sid
        self._http = AsyncTwilioHttpClient(timeout=15)
        self._client = Client(account_sid, auth_token, http_client=self._http)
        self._client.api.base_url = api_base_url.rstrip("/")

    async def close(self) -> None:
        await self._http.close()

    def dial_params(self, request: OutboundRequest) -> dict[str, Any]:
        """The SDK's `calls.create` arguments for `request`."""
        params: dict[str, Any] = {
            "to": request.to,
            "from_": request.from_,
            "url": request.answer_url,
            "method": "POST",
            "status_callback": request.status_url,
            "status_callback_method": "POST",
            "status_callback_event": STATUS_EVENTS,
            "timeout": request.ring_timeout_s,
            "time_limit": request.time_limit_s,
        }
        if request.amd_url is not None:
            # Async AMD: the callee is bridged at once; the verdict arrives on its own webhook.
            params.update(
                machine_detection="DetectMessageEnd",
                async_amd="true",
                async_amd_status_callback=request.amd_url,
                async_amd_status_callback_method="POST",
            )
        return params

    async def create_call(self, request: OutboundRequest) -> str:
        """Dial; returns the CallSid."""
        try:
            call = await self._client.calls.create_async(**self.dial_params(request))
        except (TwilioRestException, aiohttp.ClientError, TimeoutError) as exc:
            raise self.error(exc) from None
        return str(call.sid)

    def error(self, exc: TwilioRestException | aiohttp.ClientError | TimeoutError) -> CarrierError:
        """`exc` as a CarrierError whose message is safe to show."""
        return _carrier_error(exc, self.account_sid, self.carrier_name)

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
            raise self.error(exc) from None

    async def send_digits(self, call_sid: str, digits: str) -> bool:
        """Twilio has no command that presses keys and keeps the stream: its `<Play digits>`
        would replace the TwiML that holds the stream (tones go in-band instead)."""
        return False

    async def transfer(self, call_sid: str, transfer: Transfer) -> None:
        """Update the live call with `<Dial callerId><Number>` TwiML: Twilio stops the
        running TwiML, so our `<Connect><Stream>` ends (its `stop`), and dials."""
        twiml = dial_twiml(transfer.number, transfer.caller_id)
        try:
            await self._client.calls(call_sid).update_async(twiml=twiml)
        except (TwilioRestException, aiohttp.ClientError, TimeoutError) as exc:
            raise self.error(exc) from None

    async def fetch_account_status(self) -> str:
        try:
            account = await self._client.api.v2010.accounts(self.account_sid).fetch_async()
        except (TwilioRestException, aiohttp.ClientError, TimeoutError) as exc:
            raise self.error(exc) from None
        return str(account.status)

    async def owns_number(self, number: str) -> bool:
        try:
            numbers = await self._client.incoming_phone_numbers.list_async(
                phone_number=number, limit=1
            )
        except (TwilioRestException, aiohttp.ClientError, TimeoutError) as exc:
            raise self.error(exc) from None
        return any(str(n.phone_number) == number for n in numbers)


def mask_sid(sid: str) -> str:
    """First 4 and last 4 characters only (how SIDs appear in our output)."""
    return sid[:4] + "…" + sid[-4:] if len(sid) > 8 else "…"
