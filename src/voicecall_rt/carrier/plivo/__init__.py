"""Plivo: REST (`rest`), webhooks (`webhooks`) and the Audio Streams wire format (`wire`).

Its three parts, exported for `carrier/registry.py`."""

from voicecall_rt.carrier.plivo.rest import PlivoCarrier
from voicecall_rt.carrier.plivo.webhooks import PlivoWebhooks
from voicecall_rt.carrier.plivo.wire import PlivoStreamCodec

__all__ = ["PlivoCarrier", "PlivoStreamCodec", "PlivoWebhooks"]
