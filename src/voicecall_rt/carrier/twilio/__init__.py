"""Twilio: REST (`rest`), webhooks (`webhooks`) and the Media Streams wire format (`wire`).

Its three parts, exported for `carrier/registry.py`."""

from voicecall_rt.carrier.twilio.rest import TwilioCarrier
from voicecall_rt.carrier.twilio.webhooks import TwilioWebhooks
from voicecall_rt.carrier.twilio.wire import TwilioStreamCodec

__all__ = ["TwilioCarrier", "TwilioStreamCodec", "TwilioWebhooks"]
