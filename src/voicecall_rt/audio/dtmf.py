"""In-band keypad tones (docs/protocols.md §5.1-5.2), as 8 kHz µ-law ready for `media` frames.

Twilio's Media Streams carry audio only, so keys pressed "by the agent" have to be synthesised
into the outbound audio. Every choice below aims at being decoded first time by whatever
receiver sits at the far end: exact Q.23 frequencies, generous timing, a little reverse twist
(high group louder, which compensates the usual line roll-off), click-free ramps and headroom so
the µ-law encoder never clips (clipping would add harmonics that some receivers reject).
"""

from __future__ import annotations

import math
import re
from array import array
from functools import cache
from typing import Final

from voicecall_rt.audio import g711

SAMPLE_RATE: Final = 8000
_SAMPLES_PER_MS: Final = SAMPLE_RATE // 1000

DIGITS_PATTERN: Final = r"^[0-9*#A-Da-d,w]+$"
_DIGITS_RE: Final = re.compile(DIGITS_PATTERN)
MAX_DIGITS: Final = 64
PAUSE_CHARS: Final = frozenset(",w")
PAUSE_MS: Final = 500  # what one pause character waits (Twilio's sendDigits 'w')

# ITU-T Q.23: rows are the low group, columns the high group.
LOW_GROUP_HZ: Final = (697, 770, 852, 941)
HIGH_GROUP_HZ: Final = (1209, 1336, 1477, 1633)
_KEYPAD: Final = ("123A", "456B", "789C", "*0#D")

FREQUENCIES: Final[dict[str, tuple[int, int]]] = {
    key: (low, high)
    for row, low in zip(_KEYPAD, LOW_GROUP_HZ, strict=True)
    for key, high in zip(row, HIGH_GROUP_HZ, strict=True)
}

# The µ-law encoder saturates above this magnitude (docs/protocols.md §5.3), so it is the real
# ceiling for "not clipping", a little below int16's.
_ULAW_CLIP: Final = 32635
_FULL_SCALE: Final = 32767
# Bounds that keep a hostile or mistaken request from allocating unbounded audio.
_MAX_TONE_MS: Final = 2000
_MAX_PAUSE_MS: Final = 5000


def validate_digits(digits: str) -> str:
    """Return `digits` normalised (A-D upper-cased) or raise ValueError saying what is wrong.

    'w' stays lower-case: it is Twilio's spelling of a 0.5 s pause and the pattern does not
    admit 'W', so upper-casing it would make the result fail its own validation.
    """
    if not digits:
        raise ValueError("DTMF digits must not be empty")
    if len(digits) > MAX_DIGITS:
        raise ValueError(f"DTMF digits too long: {len(digits)} characters (max {MAX_DIGITS})")
    # fullmatch, because `$` alone would also accept a trailing newline.
    if _DIGITS_RE.fullmatch(digits) is None:
        bad = sorted({c for c in digits if _DIGITS_RE.fullmatch(c) is None})
        raise ValueError(
            f"DTMF digits may only contain 0-9 * # A-D , w; got invalid {''.join(bad)!r}"
        )
    return "".join(c if c == "w" else c.upper() for c in digits)


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ValueError(f"{name} must be within {low}..{high}, got {value}")


def _amplitudes(level: float, twist_db: float) -> tuple[float, float]:
    """(low, high) peak amplitudes; raises if their sum could reach the µ-law clip point."""
    _check_range("level", level, 0.0, 1.0)
    _check_range("twist_db", twist_db, -10.0, 10.0)
    high = level * _FULL_SCALE
    low = high * 10.0 ** (-twist_db / 20.0)
    if low + high >= _ULAW_CLIP:
        raise ValueError(
            f"level {level} with twist {twist_db} dB would clip "
            f"(peak {low + high:.0f} >= {_ULAW_CLIP})"
        )
    return low, high


def _ramp(n: int, ramp_len: int) -> float:
    """Raised-cosine gain at sample n of a ramp; starts at exactly 0 so the tone starts silent."""
    if n >= ramp_len:
        return 1.0
    return 0.5 * (1.0 - math.cos(math.pi * n / ramp_len))


def tone_samples(
    key: str, *, on_ms: int = 100, ramp_ms: int = 4, level: float = 0.35, twist_db: float = 2.0
) -> array[int]:
    """Linear int16 samples of one key's tone (no trailing gap), before µ-law encoding."""
    if key not in FREQUENCIES:
        raise ValueError(f"not a DTMF key: {key!r}")
    _check_range("on_ms", on_ms, 1, _MAX_TONE_MS)
    _check_range("ramp_ms", ramp_ms, 0, on_ms // 2)
    amp_low, amp_high = _amplitudes(level, twist_db)
    f_low, f_high = FREQUENCIES[key]
    w_low = 2.0 * math.pi * f_low / SAMPLE_RATE
    w_high = 2.0 * math.pi * f_high / SAMPLE_RATE
    count = on_ms * _SAMPLES_PER_MS
    ramp_len = ramp_ms * _SAMPLES_PER_MS
    out = array("h", bytes(2 * count))
    for n in range(count):
        gain = _ramp(min(n, count - 1 - n), ramp_len)
        value = gain * (amp_low * math.sin(w_low * n) + amp_high * math.sin(w_high * n))
        out[n] = round(value)
    # Defence in depth behind _amplitudes: a clipped tone is a silently wrong tone.
    assert max(out) < _ULAW_CLIP and -min(out) < _ULAW_CLIP, "DTMF tone would clip"
    return out


@cache
def _tone_bytes(key: str, on_ms: int, ramp_ms: int, level: float, twist_db: float) -> bytes:
    # Cached: an IVR menu path repeats the same few keys, and synthesis is pure Python.
    samples = tone_samples(key, on_ms=on_ms, ramp_ms=ramp_ms, level=level, twist_db=twist_db)
    return g711.encode(samples)


def _silence(ms: int) -> bytes:
    return bytes([g711.SILENCE]) * (ms * _SAMPLES_PER_MS)


def tone_audio(
    digits: str,
    *,
    on_ms: int = 100,
    off_ms: int = 80,
    pause_ms: int = PAUSE_MS,
    ramp_ms: int = 4,
    level: float = 0.35,
    twist_db: float = 2.0,
) -> bytes:
    """8 kHz µ-law audio for `digits`: each key is a tone then off_ms of silence; ',' and 'w'
    add pause_ms of silence (Twilio's sendDigits meaning of 'w')."""
    keys = validate_digits(digits)
    _check_range("off_ms", off_ms, 0, _MAX_TONE_MS)
    _check_range("pause_ms", pause_ms, 0, _MAX_PAUSE_MS)
    gap = _silence(off_ms)
    pause = _silence(pause_ms)
    parts: list[bytes] = []
    for key in keys:
        if key in PAUSE_CHARS:
            parts.append(pause)
        else:
            parts.append(_tone_bytes(key, on_ms, ramp_ms, level, twist_db))
            parts.append(gap)
    return b"".join(parts)


def frames(audio: bytes, frame_bytes: int = 160) -> list[bytes]:
    """Split into fixed-size frames (160 bytes = 20 ms, Twilio's media frame), padding the last
    with µ-law silence so every frame has the duration the receiver expects."""
    if frame_bytes <= 0:
        raise ValueError(f"frame_bytes must be positive, got {frame_bytes}")
    out = [audio[i : i + frame_bytes] for i in range(0, len(audio), frame_bytes)]
    if out and len(out[-1]) < frame_bytes:
        out[-1] = out[-1] + bytes([g711.SILENCE]) * (frame_bytes - len(out[-1]))
    return out
