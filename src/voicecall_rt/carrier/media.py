"""Twilio Media Streams messages (PROTOCOLS §4.5), built for the relay path.

Outgoing messages are assembled by string concatenation around the payload: the payload
is the model's base64 string, forwarded as-is (base64 never needs JSON escaping), and the
stream SID is ours to trust (`MZ` + hex, checked once at `start`). No dict, no encoder,
no decode per frame.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

_SID = re.compile(r"^MZ[0-9a-fA-F]{32}$")
_MARK_NAME = re.compile(r"^[A-Za-z0-9:._-]{1,64}$")


class StreamProtocolError(ValueError):
    """A stream message we cannot accept (bad `start`, bad SID)."""


def parse(text: str | bytes) -> dict[str, Any]:
    """Parse one frame; raises orjson.JSONDecodeError or StreamProtocolError."""
    message = orjson.loads(text)
    if not isinstance(message, dict):
        raise StreamProtocolError("a stream frame must be a JSON object")
    return message


class StreamStart:
    """The parts of a `start` message the bridge needs."""

    __slots__ = ("call_sid", "custom", "stream_sid")

    def __init__(self, message: dict[str, Any]) -> None:
        start = message.get("start")
        if not isinstance(start, dict):
            raise StreamProtocolError("start message without a start object")
        stream_sid = start.get("streamSid") or message.get("streamSid")
        if not isinstance(stream_sid, str) or not _SID.fullmatch(stream_sid):
            raise StreamProtocolError("start message without a valid streamSid")
        fmt = start.get("mediaFormat") or {}
        custom = start.get("customParameters") or {}
        if not isinstance(fmt, dict) or not isinstance(custom, dict):
            raise StreamProtocolError("mediaFormat and customParameters must be objects")
        if (
            fmt.get("encoding", "audio/x-mulaw") != "audio/x-mulaw"
            or fmt.get("sampleRate", 8000) != 8000
        ):
            raise StreamProtocolError("the stream must carry audio/x-mulaw at 8000 Hz")
        self.stream_sid: str = stream_sid
        self.call_sid: str = str(start.get("callSid", ""))
        self.custom: dict[str, str] = {str(k): str(v) for k, v in custom.items()}


class StreamWriter:
    """Builds the messages we send on one stream (its `streamSid` baked in once)."""

    __slots__ = ("_mark_prefix", "_media_prefix", "clear")

    def __init__(self, stream_sid: str) -> None:
        if not _SID.fullmatch(stream_sid):
            raise StreamProtocolError("invalid streamSid")
        self._media_prefix = (
            '{"event":"media","streamSid":"' + stream_sid + '","media":{"payload":"'
        )
        self._mark_prefix = '{"event":"mark","streamSid":"' + stream_sid + '","mark":{"name":"'
        self.clear: str = '{"event":"clear","streamSid":"' + stream_sid + '"}'

    def media(self, payload: str) -> str:
        return self._media_prefix + payload + '"}}'

    def mark(self, name: str) -> str:
        return self._mark_prefix + name + '"}}'


def valid_mark_name(name: str) -> bool:
    return bool(_MARK_NAME.fullmatch(name))
