"""SignalWire's parts from the settings (`signalwire` section), for `carrier/registry.py`."""

from __future__ import annotations

from voicecall_rt.carrier.parts import Carrier
from voicecall_rt.carrier.signalwire.rest import SignalWireCarrier
from voicecall_rt.carrier.signalwire.webhooks import SignalWireWebhooks
from voicecall_rt.carrier.signalwire.wire import SignalWireStreamCodec
from voicecall_rt.config import Settings


def build(settings: Settings) -> Carrier:
    """SignalWire, from `settings.signalwire`. Call inside a running event loop (its REST
    client). Without a Signing Key no webhook verifies, so every one is refused."""
    section = settings.signalwire
    base_url = section.base_url
    api = None
    if section.project_id and section.api_token is not None and base_url is not None:
        api = SignalWireCarrier(section.project_id, section.api_token.get_secret_value(), base_url)
    signing_key = section.signing_key.get_secret_value() if section.signing_key else ""
    return Carrier(api=api, webhooks=SignalWireWebhooks(signing_key), codec=SignalWireStreamCodec())
