"""What most carriers' sides share: a stream whose per-frame and mark-echo messages are
byte templates numbered by the sequence number, and the shapes of ids and settings."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp

from benchmarks.recorder import Call


class TemplateStream:
    """A `sides.CallStream` built on the carrier's byte templates: `media_template` filled
    per frame, `mark_template` with `% (seq, name)`; a `clear` answers the marks it dropped
    (Twilio's behaviour, which SignalWire and Telnyx share); no message after a clear.
    Subclasses name our server's message prefixes and write the opening and the stop."""

    echoes_cleared_marks = True
    stamp0 = 0  # `media.timestamp`: ms since the stream started

    def __init__(self, call: Call, media_template: bytes, mark_template: bytes) -> None:
        self.call = call
        self.media_template = media_template
        self.mark_template = mark_template

    def mark_echo(self, seq: int, name: bytes) -> bytes:
        return self.mark_template % (seq, name)

    def cleared(self, next_seq: Callable[[], int]) -> bytes | None:
        return None


def server_section(carrier: str, keys: dict[str, Any]) -> dict[str, Any]:
    """Our server's settings for `carrier`: the choice and its section."""
    return {"carrier": carrier, carrier: keys}


def name_by_uuid(call: Call) -> None:
    """Ids as UUIDs (Plivo's and SignalWire's calls and streams)."""
    call.call_sid = str(uuid.uuid4())
    call.stream_sid = str(uuid.uuid4())


async def token_from_answer(
    http: aiohttp.ClientSession,
    port: int,
    params: dict[str, str],
    headers: dict[str, str],
    token: re.Pattern[str],
) -> tuple[str, str | None]:
    """Post a signed answer webhook (a form) to our `/voice/answer` and read the stream
    token out of the document it answers with: (the token, None) or ("", what went wrong)."""
    async with http.post(
        f"http://127.0.0.1:{port}/voice/answer", data=params, headers=headers
    ) as response:
        body = await response.text()
    found = token.search(body)
    if response.status != 200 or found is None:
        return "", f"answer webhook: HTTP {response.status} {body[:200]}"
    return found.group(1), None
