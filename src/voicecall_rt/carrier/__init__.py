"""The phone carrier side: REST calls, webhook signatures, TwiML and media-stream messages."""
