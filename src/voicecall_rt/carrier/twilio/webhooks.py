"""Twilio's webhooks: the signature we check, the form fields we read, the TwiML we answer
(docs/protocols.md §4.2-4.4). `TwilioWebhooks` is Twilio's `carrier.base.CarrierWebhooks`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, assert_never
from urllib.parse import urlsplit

from twilio.request_validator import (
    HMAC_SHA1,
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)
from twilio.twiml.voice_response import VoiceResponse

from voicecall_rt.call.records import CallStatus
from voicecall_rt.carrier.base import (
    Answerer,
    Busy,
    CallAnswered,
    Connect,
    Decision,
    Dial,
    HangUp,
    InboundCall,
    MachineVerdict,
    Proceed,
    Reject,
    StatusChanged,
    WebhookRequest,
)
from voicecall_rt.carrier.document_webhooks import DocumentWebhooks
from voicecall_rt.carrier.twilio.wire import TOKEN_PARAMETER

log = logging.getLogger(__name__)

TWIML = "text/xml"


def signature_valid(
    auth_token: str,
    url: str,
    params: Mapping[str, Any],
    signature: str | None,
    *,
    signature_settings: str | None = None,
    shared_key_secrets: Iterable[str] = (),
) -> bool:
    """Check `X-Twilio-Signature` over the public URL Twilio requested (docs/protocols.md §4.3).

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
    stream.parameter(name=TOKEN_PARAMETER, value=token)
    return str(response)


def dial_twiml(number: str, caller_id: str) -> str:
    """Hand the call to `number`, showing `caller_id` (a transfer: replacing the call's
    TwiML ends its `<Connect><Stream>`)."""
    response = VoiceResponse()
    dial = response.dial(caller_id=caller_id)
    dial.number(number)
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


def answerer_of(answered_by: str) -> Answerer:
    """Twilio's `AnsweredBy` (asynchronous AMD with DetectMessageEnd), neutral."""
    if answered_by == "human":
        return Answerer.HUMAN
    if answered_by == "fax":
        return Answerer.FAX
    if answered_by.startswith("machine_end"):  # _beep, _silence, _other: the greeting is over
        return Answerer.MACHINE_DONE
    if answered_by == "machine_start":
        return Answerer.MACHINE_GREETING
    return Answerer.UNKNOWN


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever its case (aiohttp's headers already are case-blind)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


class TwilioWebhooks(DocumentWebhooks):
    """Twilio's webhooks, read and answered (see `carrier.base.CarrierWebhooks`).

    Signed with the Auth Token, or with one of the SharedKey secrets when a Webhook Rule
    matched the URL (`signature_valid`)."""

    __slots__ = ("_auth_token", "_shared_key_secrets")

    document_type = TWIML

    def __init__(self, auth_token: str, shared_key_secrets: Iterable[str] = ()) -> None:
        self._auth_token = auth_token
        self._shared_key_secrets = tuple(shared_key_secrets)

    def verify(self, request: WebhookRequest) -> bool:
        signature_settings = header(request.headers, SIGNATURE_SETTINGS_HEADER)
        if signature_valid(
            self._auth_token,
            request.url,
            request.form,
            header(request.headers, SIGNATURE_HEADER),
            signature_settings=signature_settings,
            shared_key_secrets=self._shared_key_secrets,
        ):
            return True
        path = urlsplit(request.url).path
        if signature_settings:
            # Which key and algorithm were announced (ids, not secrets) says what to configure;
            # the header comes from whoever sent the request, hence repr and a length cap.
            log.warning(
                "refused %s %s: missing or invalid Twilio signature "
                "(SharedKey %r, %r; %d SharedKey secret(s) configured)",
                request.method,
                path,
                (signature_key_id(signature_settings) or "")[:64],
                get_signature_algorithm(signature_settings)[:32],
                len(self._shared_key_secrets),
            )
        else:
            log.warning("refused %s %s: missing or invalid Twilio signature", request.method, path)
        return False

    def answer_event(self, request: WebhookRequest) -> CallAnswered | InboundCall:
        form = request.form
        if form.get("Direction", "") == "inbound":
            return InboundCall(
                call_sid=form.get("CallSid", ""),
                from_number=form.get("From", ""),
                to_number=form.get("To", ""),
            )
        return CallAnswered(call_sid=form.get("CallSid", ""))

    def status_event(self, request: WebhookRequest) -> StatusChanged:
        raw = request.form.get("CallStatus", "")
        try:
            # Twilio's first status callback says `initiated`; its Call resource says `queued`.
            status: CallStatus | None = CallStatus("queued" if raw == "initiated" else raw)
        except ValueError:
            status = None
        return StatusChanged(call_sid=request.form.get("CallSid", ""), status=status, raw=raw)

    def machine_event(self, request: WebhookRequest) -> MachineVerdict:
        form = request.form
        answered_by = form.get("AnsweredBy", "unknown")
        try:
            duration: int | None = int(form.get("MachineDetectionDuration", ""))
        except ValueError:
            duration = None
        return MachineVerdict(
            call_sid=form.get("CallSid", ""),
            answerer=answerer_of(answered_by),
            raw=answered_by,
            duration_ms=duration,
        )

    def render(self, decision: Decision) -> str:
        match decision:
            case Connect():
                return stream_twiml(decision.stream_url, decision.token)
            case Busy():
                return say_and_hang_up_twiml(decision.message)
            case Reject():
                return reject_twiml()
            case Dial():
                return dial_twiml(decision.number, decision.caller_id)
            case HangUp() | Proceed():
                # Twilio streams only from TwiML, so nothing was dialled to proceed with.
                return hang_up_twiml()
        assert_never(decision)
