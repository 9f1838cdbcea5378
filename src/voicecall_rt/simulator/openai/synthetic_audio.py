"""Audio the fake Realtime server makes and hears: a synthetic voice and the GA audio formats."""

from __future__ import annotations

import math
import sys
from array import array
from dataclasses import dataclass
from typing import Any, Final

from voicecall_rt.audio import g711

__all__ = ["AudioFormat", "format_of", "voice_like_pcm", "voice_like_ulaw"]

# ---- synthetic voice ----------------------------------------------------------------------

# A buzzy vowel: fundamental ~125 Hz with a slight vibrato and four decaying harmonics, its
# loudness swinging at a syllable rate. Harmonics stay below 650 Hz, clear of every DTMF
# frequency (697 Hz and up), so a keypad-tone detector on the line never fires on it, and the
# envelope never drops to silence, so an energy VAD sees one continuous utterance.
_HARMONICS: Final = (1.0, 0.6, 0.4, 0.25, 0.15)
_PEAK: Final = 9000.0


def voice_like_pcm(
    ms: int, *, rate: int = 8000, f0: float = 125.0, start_ms: int = 0
) -> array[int]:
    """`ms` milliseconds of non-silent, voice-like 16-bit samples at `rate` Hz.

    The signal is a pure function of time, so consecutive pieces (`start_ms` = where the
    previous piece ended) join without clicks and a long utterance can be made piecewise.
    """
    first = start_ms * rate // 1000
    count = (start_ms + ms) * rate // 1000 - first
    out = array("h", bytes(2 * count))
    scale = _PEAK / sum(_HARMONICS)
    two_pi = 2.0 * math.pi
    vibrato = 0.03 * f0 / 5.0  # phase of f0·(1 + 0.03·sin(2π·5t)), integrated in closed form
    for i in range(count):
        t = (first + i) / rate
        phase = two_pi * f0 * t + vibrato * (1.0 - math.cos(two_pi * 5.0 * t))
        envelope = 0.35 + 0.65 * math.sin(math.pi * 3.5 * t) ** 2
        value = sum(a * math.sin((k + 1) * phase) for k, a in enumerate(_HARMONICS))
        out[i] = int(scale * envelope * value)
    return out


def voice_like_ulaw(ms: int, *, f0: float = 125.0, start_ms: int = 0) -> bytes:
    """`voice_like_pcm` at 8 kHz, G.711 µ-law encoded (what a phone leg carries)."""
    return g711.encode(voice_like_pcm(ms, rate=8000, f0=f0, start_ms=start_ms))


# ---- audio formats ----------------------------------------------------------------------


@dataclass(frozen=True)
class AudioFormat:
    """One Realtime audio format (`audio.*.format`), as the fake decodes and makes it."""

    kind: str  # audio/pcmu | audio/pcma | audio/pcm
    rate: int

    @property
    def bytes_per_ms(self) -> int:
        return self.rate // 1000 * (2 if self.kind == "audio/pcm" else 1)

    def decode(self, data: bytes) -> array[int] | None:
        """Linear samples, or None when this fake cannot decode the format (A-law)."""
        if self.kind == "audio/pcmu":
            return g711.decode(data)
        if self.kind == "audio/pcm":
            samples = array("h")
            samples.frombytes(data[: len(data) - len(data) % 2])
            if sys.byteorder == "big":  # the wire format is little-endian
                samples.byteswap()
            return samples
        return None

    def synthesize(self, start_ms: int, end_ms: int) -> bytes:
        """Audio for [start_ms, end_ms) of an utterance, made per delta so that a long,
        soon-cancelled answer costs nothing up front."""
        if self.kind == "audio/pcm":
            samples = voice_like_pcm(end_ms - start_ms, rate=self.rate, start_ms=start_ms)
            if sys.byteorder == "big":
                samples.byteswap()
            return samples.tobytes()
        # pcma is answered in µ-law too (see the package docstring).
        return voice_like_ulaw(end_ms - start_ms, start_ms=start_ms)


def format_of(fmt: dict[str, Any] | None) -> AudioFormat:
    """The format a session or response config names (the API default: PCM 24 kHz)."""
    if not fmt:
        return AudioFormat("audio/pcm", 24000)
    kind = str(fmt.get("type", "audio/pcm"))
    return AudioFormat(kind, int(fmt.get("rate") or 24000) if kind == "audio/pcm" else 8000)
