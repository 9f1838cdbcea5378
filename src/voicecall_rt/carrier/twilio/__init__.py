"""Twilio: REST (`rest`), webhooks (`webhooks`) and the Media Streams wire format (`wire`)."""
