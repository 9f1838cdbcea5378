"""SignalWire as the load generator plays it: Twilio's shape (`sides/twilio.py`) with
SignalWire's deltas. The answer webhook is signed with the project's Signing Key in
`X-SignalWire-Signature`; ids are UUIDs; the token comes back in the cXML's `<Parameter>`;
the stream is `carrier/signalwire/wire.py`'s (`connected` 0.2.0, no top-level `streamSid`
on `start`/`media`, mark echoes without a sequence number, a bare `stop`).
"""

from __future__ import annotations

from typing import Any

from twilio.request_validator import SIGNATURE_HEADER as TWILIO_SIGNATURE_HEADER

from benchmarks.recorder import Call
from benchmarks.sides.common import name_by_uuid, server_section
from benchmarks.sides.twilio import TwilioSide, TwilioStream
from voicecall_rt.carrier.signalwire import wire
from voicecall_rt.carrier.signalwire.webhooks import SIGNATURE_HEADER
from voicecall_rt.simulator.signalwire.fake import API_TOKEN, PROJECT_ID, SIGNING_KEY
from voicecall_rt.simulator.signing import signature_headers


class SignalWireStream(TwilioStream):
    def mark_echo(self, seq: int, name: bytes) -> bytes:
        return self.mark_template % (name,)  # SignalWire's echo has no sequenceNumber


class SignalWireSide(TwilioSide):
    """SignalWire (see `sides.CarrierSide`)."""

    name = "signalwire"
    wire: Any = wire
    account_sid = PROJECT_ID

    def server_section(self, rest_url: str) -> dict[str, Any]:
        keys = {
            "projectId": PROJECT_ID,
            "apiToken": API_TOKEN,
            "signingKey": SIGNING_KEY,
            "apiBaseUrl": rest_url,  # hang-ups land on the stand-in (counted)
        }
        return server_section(self.name, keys)

    def name_call(self, call: Call) -> None:
        name_by_uuid(call)

    def signed(self, url: str, params: dict[str, str]) -> dict[str, str]:
        # Twilio's algorithm keyed with the Signing Key, in SignalWire's own header
        twilio_style = signature_headers(url, params, auth_token=SIGNING_KEY)
        return {SIGNATURE_HEADER: twilio_style[TWILIO_SIGNATURE_HEADER]}

    def stream(self, call: Call) -> SignalWireStream:
        return SignalWireStream(self, call)


SIDE = SignalWireSide()
