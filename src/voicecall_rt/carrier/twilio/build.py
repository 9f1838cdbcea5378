"""Twilio's parts from the settings (`twilio` section), for `carrier/registry.py`."""

from __future__ import annotations

from voicecall_rt.carrier.parts import Carrier
from voicecall_rt.carrier.twilio.rest import TwilioCarrier
from voicecall_rt.carrier.twilio.webhooks import TwilioWebhooks
from voicecall_rt.carrier.twilio.wire import TwilioStreamCodec
from voicecall_rt.config import Settings


def shared_key_secrets(settings: Settings) -> list[str]:
    """The SharedKey secrets Twilio webhooks may be signed with (`twilio.webhookSharedKeys`)."""
    return [key.get_secret_value() for key in settings.twilio.webhook_shared_keys]


def build(settings: Settings) -> Carrier:
    """Twilio, from `settings.twilio`. Call inside a running event loop (its REST client)."""
    twilio_settings = settings.twilio
    sid, token = twilio_settings.account_sid, twilio_settings.auth_token
    secret = token.get_secret_value() if token is not None else ""
    api = None
    if sid and token is not None:
        api = TwilioCarrier(sid, secret, twilio_settings.api_base_url)
    return Carrier(
        api=api,
        webhooks=TwilioWebhooks(secret, shared_key_secrets(settings)),
        codec=TwilioStreamCodec(),
    )
