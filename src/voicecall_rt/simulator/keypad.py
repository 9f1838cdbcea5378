"""The far party's keypad: key presses as they reach a bidirectional Twilio stream.

A phone's key press travels as an ITU-T Q.23 tone pair in the audio (in-band) and, on a
`<Connect><Stream>`, Twilio also reports it as a `dtmf` message
(`{"event": "dtmf", "dtmf": {"track": "inbound_track", "digit": "5"}}`, bidirectional
streams only; twilio.com/docs/voice/media-streams/websocket-messages#dtmf-message). The
tones come from `voicecall_rt.audio.dtmf`, the generator our server sends keys with.

When in the tone Twilio sends the message is not documented; the fake sends it right after
the frame that ends the tone, which is when a receiver has heard the whole key (and when an
RFC 4733 end-of-event packet would arrive). Whether Twilio leaves the tone in the media it
forwards is not documented either; the fake does, as a plain G.711 line would.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from voicecall_rt.audio import dtmf, g711

FRAME_BYTES = 160  # 20 ms of 8 kHz µ-law


@dataclass(frozen=True)
class KeyFrame:
    """One 20 ms caller frame; `digit` is set on the last frame of that key's tone."""

    payload: str  # base64 µ-law, as a `media` message carries it
    digit: str | None = None


def _encoded(audio: bytes) -> list[str]:
    return [base64.b64encode(f).decode("ascii") for f in dtmf.frames(audio, FRAME_BYTES)]


def key_frames(keys: str, *, tone_ms: int = 100, gap_ms: int = 100) -> list[KeyFrame]:
    """The caller frames for pressing `keys` (`0-9 * # A-D`, `w`/`,` = a 0.5 s pause): each
    key's tone (padded to whole frames with silence) and then `gap_ms` of silence."""
    frames: list[KeyFrame] = []
    for key in dtmf.validate_digits(keys):
        if key in dtmf.PAUSE_CHARS:
            frames += [KeyFrame(p) for p in _encoded(dtmf.tone_audio(key))]
            continue
        tone = _encoded(dtmf.tone_audio(key, on_ms=tone_ms, off_ms=0))
        frames += [KeyFrame(p) for p in tone[:-1]]
        frames.append(KeyFrame(tone[-1], digit=key))
        if gap_ms > 0:
            gap = bytes([g711.SILENCE]) * (gap_ms * 8)
            frames += [KeyFrame(p) for p in _encoded(gap)]
    return frames
