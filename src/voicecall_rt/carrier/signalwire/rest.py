"""SignalWire's Compatibility REST API: place a call, hang it up, check the project.

SignalWire's Compatibility API is Twilio's 2010-04-01 REST API under
`https://<space>/api/laml`, with Basic auth `ProjectID:APIToken` (the Project ID stands for
Twilio's Account SID). SignalWire's own SDKs for it are the Twilio SDK pointed there
(signalwire-ruby sets twilio-ruby's base URL to `https://<space>/api/laml`; the legacy
Python `signalwire` package subclasses twilio-python's Client and pins twilio 6.54), so we
use the official `twilio` SDK's async client the same way, through `TwilioCarrier`.

The deltas from Twilio's REST API, from SignalWire's spec (`CreateCallRequest`):

* no `TimeLimit`: the create call has no such field, so none is sent (our bridge ends a call
  at `calls.maxDurationSeconds` itself, and hangs up);
* hanging up is an update with `Status=completed`, as on Twilio; what SignalWire answers for
  a call already over is not documented, so a refusal is checked against the call's own
  status: a call that has ended counts as hung up.
"""

from __future__ import annotations

from typing import Any, Final

import aiohttp
from twilio.base.exceptions import TwilioRestException

from voicecall_rt.carrier.base import CarrierError, OutboundRequest
from voicecall_rt.carrier.twilio.rest import TwilioCarrier

COMPATIBILITY_PATH: Final = "/api/laml"
FINAL_STATUSES: Final = frozenset({"completed", "canceled", "busy", "failed", "no-answer"})


class SignalWireCarrier(TwilioCarrier):
    """REST client for one project. Create inside a running event loop; `close()` when done.

    `space_base_url`: the Space's origin (`https://example.signalwire.com`), or the fake's."""

    streams_at_dial = False
    carrier_name = "SignalWire"

    def __init__(self, project_id: str, api_token: str, space_base_url: str) -> None:
        super().__init__(project_id, api_token, space_base_url.rstrip("/") + COMPATIBILITY_PATH)

    def dial_params(self, request: OutboundRequest) -> dict[str, Any]:
        params = super().dial_params(request)
        del params["time_limit"]  # not a field of SignalWire's create call
        return params

    async def hang_up(self, call_sid: str) -> None:
        """`Status=completed` ends the call whatever its state; a refused update of a call
        that has already ended is success."""
        try:
            await super().hang_up(call_sid)
        except CarrierError as refused:
            if await self._call_status(call_sid) not in FINAL_STATUSES:
                raise refused from None

    async def send_digits(self, call_sid: str, digits: str) -> bool:
        """SignalWire presses keys through the stream's own `dtmf` message
        (`StreamWriter.keypad`); a REST `<Play digits>` would replace the cXML that holds
        the stream."""
        return False

    async def _call_status(self, call_sid: str) -> str | None:
        try:
            call = await self._client.calls(call_sid).fetch_async()
        except (TwilioRestException, aiohttp.ClientError, TimeoutError):
            return None  # the update's refusal is the error worth reporting
        return str(call.status)
