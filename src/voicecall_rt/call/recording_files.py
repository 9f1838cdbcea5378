"""A debug recording's files, and what keeps secrets and audio out of them (call/recording.py).

At the end of the call, under `<data_dir>/recordings/<call_id>/` (0700, files 0600):
`caller.wav` and `model.wav` (µ-law, format 7, same length), `call.wav` (16-bit PCM stereo:
left caller, right model), `events.jsonl` and `transcript.json`. Written in a worker
thread, never on the event loop.

What is recorded of a message is scrubbed the same way whoever sent it: keys that carry
base64 audio become its byte count (`payload` → `payload_bytes`), keys that name a
credential (the stream's `call_token`, …) are redacted; and at the end any occurrence of a
known secret (the configured ones, the local API token, the stream token) is too.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import orjson

from voicecall_rt.call.playback import b64_decoded_len
from voicecall_rt.call.recording_tracks import BYTES_PER_MS, render
from voicecall_rt.logs import REDACTED
from voicecall_rt.private_files import ensure_private_dir, read_api_token, write_private

RECORDINGS_DIR: Final = "recordings"
CALLER_WAV: Final = "caller.wav"
MODEL_WAV: Final = "model.wav"
CALL_WAV: Final = "call.wav"
EVENTS_FILE: Final = "events.jsonl"
TRANSCRIPT_FILE: Final = "transcript.json"
FILES: Final = (CALLER_WAV, MODEL_WAV, CALL_WAV, EVENTS_FILE, TRANSCRIPT_FILE)

# Keys whose value is a credential wherever they appear (compared lower-cased). Usage
# counters such as `input_tokens` are not credentials and are not listed.
_SECRET_KEYS: Final = frozenset(
    {
        "call_token",
        "token",
        "api_key",
        "apikey",
        "auth_token",
        "authtoken",
        "authorization",
        "client_secret",
        "secret",
        "password",
        # The stream token encoded where a carrier carries it, so no text match finds it:
        # Telnyx's client_state (base64), Plivo's extra_headers (callToken, hex).
        "client_state",
        "extra_headers",
        "extraheaders",
    }
)
# Keys that carry base64 audio: kept out of the log, replaced by `<key>_bytes`.
_AUDIO_KEYS: Final = frozenset({"audio", "payload"})


def scrub(value: Any) -> Any:
    """A copy of a JSON value with credentials redacted and base64 audio replaced by its
    byte count (the value itself is left untouched)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = str(key)
            if name.lower() in _SECRET_KEYS:
                out[name] = REDACTED
            elif name in _AUDIO_KEYS and isinstance(item, str):
                out[name + "_bytes"] = b64_decoded_len(item)
            else:
                out[name] = scrub(item)
        return out
    if isinstance(value, list):
        return [scrub(item) for item in value]
    return value


def redact_text(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return text


def write_recording(
    data_dir: Path,
    call_id: str,
    tracks: tuple[bytearray, bytearray],
    events: list[bytes],
    transcript: dict[str, Any],
    secrets: set[str],
) -> int:
    """In a worker thread: the five files, owner-only. Returns the tracks' length in ms."""
    ensure_private_dir(data_dir / RECORDINGS_DIR)
    directory = ensure_private_dir(data_dir / RECORDINGS_DIR / call_id)
    length = max(len(tracks[0]), len(tracks[1]))
    for name, wav in zip((CALLER_WAV, MODEL_WAV, CALL_WAV), render(*tracks), strict=True):
        write_private(directory / name, wav)

    secrets = set(secrets)
    api_token = read_api_token(data_dir)
    if api_token:
        secrets.add(api_token)
    text = b"\n".join(events) + b"\n" if events else b""
    for secret in secrets:
        if secret:
            text = text.replace(secret.encode(), REDACTED.encode())
    write_private(directory / EVENTS_FILE, text)
    raw = redact_text(orjson.dumps(transcript, option=orjson.OPT_INDENT_2).decode(), secrets)
    write_private(directory / TRANSCRIPT_FILE, raw.encode() + b"\n")
    return length // BYTES_PER_MS
