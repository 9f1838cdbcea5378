"""Telnyx's parts from the settings (`telnyx` section), for `carrier/registry.py`."""

from __future__ import annotations

from voicecall_rt.carrier.parts import Carrier
from voicecall_rt.carrier.telnyx.rest import TelnyxCarrier
from voicecall_rt.carrier.telnyx.webhooks import TelnyxWebhooks
from voicecall_rt.carrier.telnyx.wire import TelnyxStreamCodec
from voicecall_rt.config import Settings


def build(settings: Settings) -> Carrier:
    """Telnyx, from `settings.telnyx`. Call inside a running event loop (its REST client)."""
    section = settings.telnyx
    api = None
    if section.api_key is not None and section.api_key.get_secret_value() and section.connection_id:
        api = TelnyxCarrier(
            section.api_key.get_secret_value(), section.connection_id, section.api_base_url
        )
    return Carrier(
        api=api,
        webhooks=TelnyxWebhooks(section.public_key, api),
        codec=TelnyxStreamCodec(),
    )
