"""Plivo's parts from the settings (`plivo` section), for `carrier/registry.py`."""

from __future__ import annotations

from voicecall_rt.carrier.parts import Carrier
from voicecall_rt.carrier.plivo.rest import PlivoCarrier
from voicecall_rt.carrier.plivo.webhooks import PlivoWebhooks
from voicecall_rt.carrier.plivo.wire import PlivoStreamCodec
from voicecall_rt.config import Settings


def build(settings: Settings) -> Carrier:
    """Plivo, from `settings.plivo` (no REST client while its credentials are not set)."""
    section = settings.plivo
    auth_id, token = section.auth_id, section.auth_token
    secret = token.get_secret_value() if token is not None else ""
    api = PlivoCarrier(auth_id, secret, section.api_base_url) if auth_id and secret else None
    return Carrier(api=api, webhooks=PlivoWebhooks(secret), codec=PlivoStreamCodec())
