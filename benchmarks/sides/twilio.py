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
from benchmarks.sim_account import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, PUBLIC_URL
from voicecall_rt.carrier.twilio import wire
from voicecall_rt.simulator.signing import signature_headers
from voicecall_rt.simulator.twilio.webhooks import call_params

CALLER_NUMBER = "+14155550177"
_TOKEN = re.compile(f'name="{wire.TOKEN_PARAMETER}" value="([^"]+)"')


class TwilioStream:
    """One call's Media Streams messages (see `sides.CallStream`)."""

    media_prefix = wire.MEDIA_PREFIX.encode()
    mark_prefix = wire.MARK_PREFIX.encode()
    clear_prefix = wire.CLEAR_PREFIX.encode()
    payload_at = wire.PAYLOAD_AT.encode()
    name_at = wire.NAME_AT.encode()
    echoes_cleared_marks = True  # Twilio answers every pending mark at a `clear`
    stamp0 = 0  # `media.timestamp`: ms since the stream started

    def __init__(self, side: TwilioSide, call: Call) -> None:
        self.side, self.call = side, call
        self.media_template: bytes = side.wire.carrier_media_template(call.stream_sid)
        self.mark_template: bytes = side.wire.carrier_mark_template(call.stream_sid)

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

    def mark_echo(self, seq: int, name: bytes) -> bytes:
        return self.mark_template % (seq, name)

    def cleared(self, next_seq: Callable[[], int]) -> None:
        return None

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
        return {
            "carrier": self.name,
            "twilio": {
                "accountSid": ACCOUNT_SID,
                "authToken": AUTH_TOKEN,
                "apiBaseUrl": rest_url,  # hang-ups land on the stand-in (counted)
            },
        }

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
        async with http.post(
            f"http://127.0.0.1:{port}/voice/answer",
            data=params,
            headers=self.signed(PUBLIC_URL + "/voice/answer", params),
        ) as response:
            body = await response.text()
        found = _TOKEN.search(body)
        if response.status != 200 or found is None:
            return f"answer webhook: HTTP {response.status} {body[:200]}"
        call.token = found.group(1)
        return None

    def stream(self, call: Call) -> TwilioStream:
        return TwilioStream(self, call)

    def rest_reply(self, method: bytes, path: bytes, body: bytes, log: RestLog) -> bytes:
        log.requests += 1  # a hang-up (`Status=completed`): the call resource, abridged
        return http_response(200, b"{}")


SIDE = TwilioSide()
