"""Telnyx Call Control v2: REST (`rest`), webhooks (`webhooks`) and the media-streaming wire
format (`wire`).

Its three parts, exported for `carrier/registry.py`."""

from voicecall_rt.carrier.telnyx.rest import TelnyxCarrier
from voicecall_rt.carrier.telnyx.webhooks import TelnyxWebhooks
from voicecall_rt.carrier.telnyx.wire import TelnyxStreamCodec

__all__ = ["TelnyxCarrier", "TelnyxStreamCodec", "TelnyxWebhooks"]
