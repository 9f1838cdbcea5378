"""SignalWire (Compatibility API and cXML): REST (`rest`), webhooks (`webhooks`) and the
media stream's wire format (`wire`), each Twilio's with SignalWire's deltas.

Its three parts, exported for `carrier/registry.py`."""

from voicecall_rt.carrier.signalwire.rest import SignalWireCarrier
from voicecall_rt.carrier.signalwire.webhooks import SignalWireWebhooks
from voicecall_rt.carrier.signalwire.wire import SignalWireStreamCodec

__all__ = ["SignalWireCarrier", "SignalWireStreamCodec", "SignalWireWebhooks"]
