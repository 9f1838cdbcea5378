"""The HTTP face: Twilio webhooks and media streams under /voice/, the local API under /api/."""
