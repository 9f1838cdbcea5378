"""Low-latency AI phone calls: Twilio Media Streams bridged to the OpenAI Realtime API."""

__version__ = "0.1.0"
