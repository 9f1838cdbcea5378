"""The HTTP face: carrier webhooks and media streams under /voice/, the local API under /api/."""
