"""SignalWire's webhooks (Compatibility API): Twilio's form fields and TwiML-compatible cXML,
with SignalWire's own signature and its deltas.

* Signature: Twilio's algorithm (base64 HMAC-SHA1 over the URL and the sorted form
  parameters, the twilio package's `RequestValidator`), keyed with the project's Signing Key,
  never the API token, in `X-SignalWire-Signature` (SignalWire's "Webhook security" guide).
  SignalWire's own SDK also takes the signature from `X-Twilio-Signature`, the header its
  Compatibility API used before; we accept it as well, checked with the same Signing Key.
* Status: SignalWire reports `answered` besides `in-progress` to a subscriber of `answered`.
* AMD: with `DetectMessageEnd`, `AnsweredBy` takes Twilio's values (`human`,
  `machine_end_beep`, `machine_end_silence`, `machine_end_other`; SignalWire's AMD guide);
  its Call resource documents a bare `machine`, read as a machine whose greeting is over
  since we ask for the verdict at the message's end.
* cXML: `<Stream codec="PCMU@8000h">` stated (it is the default) and the stream token as a
  `<Parameter>`: SignalWire's `<Stream url>` takes no query string.
"""

from __future__ import annotations

import dataclasses
import logging
from urllib.parse import urlsplit

from twilio.request_validator import SIGNATURE_HEADER as TWILIO_SIGNATURE_HEADER
from twilio.twiml.voice_response import VoiceResponse

from voicecall_rt.call.records import CallStatus
from voicecall_rt.carrier.base import (
    Answerer,
    Connect,
    Decision,
    MachineVerdict,
    StatusChanged,
    WebhookRequest,
)
from voicecall_rt.carrier.twilio.webhooks import (
    TwilioWebhooks,
    answerer_of,
    header,
    signature_valid,
)
from voicecall_rt.carrier.twilio.wire import TOKEN_PARAMETER

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-SignalWire-Signature"
STREAM_CODEC = "PCMU@8000h"


def signalwire_answerer(answered_by: str) -> Answerer:
    """SignalWire's `AnsweredBy`, neutral (see the module's docstring)."""
    if answered_by == "machine":
        return Answerer.MACHINE_DONE
    return answerer_of(answered_by)


def stream_cxml(stream_url: str, token: str) -> str:
    """Bridge the call to our media WebSocket: µ-law 8 kHz both ways, the token a
    `<Parameter>` (it arrives in `start.customParameters`)."""
    if urlsplit(stream_url).query:
        raise ValueError("SignalWire's <Stream url> takes no query string")
    response = VoiceResponse()
    stream = response.connect().stream(url=stream_url, codec=STREAM_CODEC)
    stream.parameter(name=TOKEN_PARAMETER, value=token)
    return str(response)


class SignalWireWebhooks(TwilioWebhooks):
    """SignalWire's webhooks, read and answered (see `carrier.base.CarrierWebhooks`): Twilio's
    reading and documents, SignalWire's signature and deltas."""

    __slots__ = ()

    def __init__(self, signing_key: str) -> None:
        # The Signing Key stands where Twilio's Auth Token does; SharedKeys are Twilio's.
        super().__init__(signing_key)

    def verify(self, request: WebhookRequest) -> bool:
        signature = header(request.headers, SIGNATURE_HEADER) or header(
            request.headers, TWILIO_SIGNATURE_HEADER
        )
        if signature_valid(self._auth_token, request.url, request.form, signature):
            return True
        log.warning(
            "refused %s %s: missing or invalid SignalWire signature",
            request.method,
            urlsplit(request.url).path,
        )
        return False

    def status_event(self, request: WebhookRequest) -> StatusChanged:
        event = super().status_event(request)
        if event.raw == "answered":
            return dataclasses.replace(event, status=CallStatus.IN_PROGRESS)
        return event

    def machine_event(self, request: WebhookRequest) -> MachineVerdict:
        event = super().machine_event(request)
        return dataclasses.replace(event, answerer=signalwire_answerer(event.raw))

    def render(self, decision: Decision) -> str:
        if isinstance(decision, Connect):
            return stream_cxml(decision.stream_url, decision.token)
        # Busy, Reject, HangUp (and Proceed, which cXML cannot have: nothing was dialled
        # to go on with) render as Twilio's verbs, which cXML shares.
        return super().render(decision)
