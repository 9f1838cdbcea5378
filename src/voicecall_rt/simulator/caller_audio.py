"""What the far party puts on the line, one 20 ms µ-law frame at a time: silence, a synthetic
voice (`Speak`) or keypad tones (`PressKeys`, `simulator.keypad`). Carrier-neutral."""

from __future__ import annotations

import base64
import math
from collections import deque
from functools import cache
from typing import Final

from voicecall_rt.audio import g711
from voicecall_rt.simulator.keypad import KeyFrame, key_frames

__all__ = ["FRAME_BYTES", "FRAME_MS", "FRAME_S", "CallerAudio", "voice_audio"]

FRAME_BYTES: Final = 160  # 20 ms of 8 kHz µ-law
FRAME_MS: Final = 20
FRAME_S: Final = FRAME_MS / 1000
SILENCE_FRAME: Final = bytes([g711.SILENCE]) * FRAME_BYTES
SILENCE_PAYLOAD: Final = base64.b64encode(SILENCE_FRAME).decode("ascii")
_VOICE_LOOP_FRAMES: Final = 50  # 1 s of synthetic voice, looped


@cache
def _voice_payloads() -> tuple[str, ...]:
    """1 s of voice-like audio as base64 frames: 180 Hz and its 2nd/3rd harmonics, amplitude
    modulated at 4 "syllables" a second. Nothing near the DTMF groups (697 Hz and up), RMS
    in the thousands (clearly speech to an energy VAD)."""
    samples: list[int] = []
    for n in range(_VOICE_LOOP_FRAMES * FRAME_BYTES):
        t = n / 8000
        envelope = 0.3 + 0.7 * abs(math.sin(math.pi * 4 * t))
        tone = (
            0.5 * math.sin(2 * math.pi * 180 * t)
            + 0.3 * math.sin(2 * math.pi * 360 * t + 0.5)
            + 0.2 * math.sin(2 * math.pi * 540 * t + 1.0)
        )
        samples.append(round(14000 * envelope * tone))
    audio = g711.encode(samples)
    return tuple(
        base64.b64encode(audio[i : i + FRAME_BYTES]).decode("ascii")
        for i in range(0, len(audio), FRAME_BYTES)
    )


def voice_audio(ms: int) -> bytes:
    """The synthetic far-party voice, `ms` long (for tests that want to compare)."""
    frames = [base64.b64decode(p) for p in _voice_payloads()]
    count = math.ceil(ms / FRAME_MS)
    return b"".join(frames[i % len(frames)] for i in range(count))


class CallerAudio:
    """The far party's next frames: keys being pressed first, then voice, else silence."""

    def __init__(self) -> None:
        self.voice_frames_left = 0
        self._voice_pos = 0
        self.key_frames: deque[KeyFrame] = deque()  # keys being pressed (PressKeys)
        self.key_events = True  # whether a pressed key is also reported as a message

    def speak(self, ms: int) -> None:
        self.voice_frames_left = max(1, math.ceil(ms / FRAME_MS))

    def press(self, keys: str, *, tone_ms: int, gap_ms: int, send_event: bool) -> None:
        self.key_events = send_event
        self.key_frames.extend(key_frames(keys, tone_ms=tone_ms, gap_ms=gap_ms))

    def next_frame(self) -> tuple[str, str | None, bool]:
        """The next frame's base64 payload, the key whose tone it ends (if any) and whether
        it carries voice."""
        if self.key_frames:
            key_frame = self.key_frames.popleft()
            return key_frame.payload, key_frame.digit, False
        if self.voice_frames_left > 0:
            voice = _voice_payloads()
            payload = voice[self._voice_pos % len(voice)]
            self._voice_pos += 1
            self.voice_frames_left -= 1
            return payload, None, True
        return SILENCE_PAYLOAD, None, False
