"""What every bare relay stack (`bare_stacks.py`) shares: where the load generator opens
the media stream, the frame size cap, and the two messages a bare relay makes, exactly as
`bare_relay.py` makes them (payload strings passed through)."""

from __future__ import annotations

from typing import Any

import orjson

PATH = "/voice/realtime-stream"  # where the load generator opens the media stream
MAX_SIZE = 2**24


def delta_media(event: dict[str, Any], sid: str) -> bytes | None:
    """A model `response.output_audio.delta` as the carrier's `media`; None for any other."""
    if event.get("type") == "response.output_audio.delta":
        return orjson.dumps(
            {"event": "media", "streamSid": sid, "media": {"payload": event["delta"]}}
        )
    return None


def media_append(message: dict[str, Any]) -> bytes:
    """A carrier `media` as the model's `input_audio_buffer.append`."""
    return orjson.dumps({"type": "input_audio_buffer.append", "audio": message["media"]["payload"]})
