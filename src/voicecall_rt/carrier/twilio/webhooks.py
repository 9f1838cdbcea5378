"""Twilio's webhooks: the signature we check, the TwiML we answer (docs/protocols.md §4.2-4.4)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from twilio.request_validator import HMAC_SHA1, RequestValidator, get_signature_algorithm
from twilio.twiml.voice_response import VoiceResponse

from voicecall_rt.carrier.base import Answerer

# Marks our answer to the health probe `status` sends through the tunnel.
HEALTH_HEADER = "X-Voicecall-Rt"


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
