"""Twilio as the load generator plays it: a signed `/voice/answer` form post for an inbound
call (`X-Twilio-Signature` over the public URL, as the tunnel delivers it), the token read
from the TwiML's `<Parameter>`, then Media Streams (`carrier/twilio/wire.py`: `connected`,
`start`, `media`, mark echoes, `stop`). SignalWire's Compatibility API is the same shape
and reuses this with its own values (`sides/signalwire.py`).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from benchmarks.recorder import Call
from benchmarks.sides import RestLog, http_response
from benchmarks.sides.common import TemplateStream, server_section, token_from_answer
from benchmarks.sim_account import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, PUBLIC_URL
from voicecall_rt.carrier.twilio import wire
from voicecall_rt.simulator.signing import signature_headers
from voicecall_rt.simulator.twilio.webhooks import call_params

CALLER_NUMBER = "+14155550177"
_TOKEN = re.compile(f'name="{wire.TOKEN_PARAMETER}" value="([^"]+)"')


class TwilioStream(TemplateStream):
    """One call's Media Streams messages (see `sides.CallStream`)."""

    media_prefix = wire.MEDIA_PREFIX.encode()
    mark_prefix = wire.MARK_PREFIX.encode()
    clear_prefix = wire.CLEAR_PREFIX.encode()
    payload_at = wire.PAYLOAD_AT.encode()
    name_at = wire.NAME_AT.encode()

    def __init__(self, side: TwilioSide, call: Call) -> None:
        super().__init__(
            call,
            side.wire.carrier_media_template(call.stream_sid),
            side.wire.carrier_mark_template(call.stream_sid),
        )
        self.side = side

    def opening(self, next_seq: Callable[[], int]) -> list[bytes]:
        call, wire_ = self.call, self.side.wire
        start = wire_.carrier_start(
            str(next_seq()),
            call.stream_sid,
            account_sid=self.side.account_sid,
            call_sid=call.call_sid,
            parameters={wire.TOKEN_PARAMETER: call.token} if call.token else {},
        )
        return [orjson.dumps(wire_.carrier_connected()), orjson.dumps(start)]

    def stop(self, seq: int) -> bytes:
        call = self.call
        return orjson.dumps(
            self.side.wire.carrier_stop(
                str(seq), call.stream_sid, account_sid=self.side.account_sid, call_sid=call.call_sid
            )
        )


class TwilioSide:
    """Twilio (see `sides.CarrierSide`)."""

    name = "twilio"
    wire: Any = wire  # the carrier's wire module: the same builders' shapes as Twilio's
    account_sid = ACCOUNT_SID

    def server_section(self, rest_url: str) -> dict[str, Any]:
        # hang-ups land on the stand-in REST API (counted)
        keys = {"accountSid": ACCOUNT_SID, "authToken": AUTH_TOKEN, "apiBaseUrl": rest_url}
        return server_section(self.name, keys)

    def name_call(self, call: Call) -> None:
        call.call_sid = "CA" + secrets.token_hex(16)
        call.stream_sid = "MZ" + secrets.token_hex(16)

    def signed(self, url: str, params: dict[str, str]) -> dict[str, str]:
        return signature_headers(url, params, auth_token=AUTH_TOKEN)

    async def admit(
        self, http: aiohttp.ClientSession, port: int, call: Call, rest: RestLog
    ) -> str | None:
        params = call_params(
            account_sid=self.account_sid,
            call_sid=call.call_sid,
            status="ringing",
            from_=CALLER_NUMBER,
            to=FROM_NUMBER,
            direction="inbound",
        )
        headers = self.signed(PUBLIC_URL + "/voice/answer", params)
        call.token, error = await token_from_answer(http, port, params, headers, _TOKEN)
        return error

    def stream(self, call: Call) -> TwilioStream:
        return TwilioStream(self, call)

    def rest_reply(self, method: bytes, path: bytes, body: bytes, log: RestLog) -> bytes:
        log.requests += 1  # a hang-up (`Status=completed`): the call resource, abridged
        return http_response(200, b"{}")


SIDE = TwilioSide()
