"""Streaming DTMF receiver for the fake carrier, so simulated IVRs can react to keys.

Analysis runs Goertzel filters on the eight Q.23 frequencies over 105-sample windows (13.1 ms,
76 Hz resolution: enough to separate the closest rows, 697/770 Hz) that advance by 35
samples. The overlap is what lets the timing rules be stated in milliseconds rather than in
whole blocks; this code is off the relay path, so the extra arithmetic is affordable.

Window positions are absolute sample offsets, so the result does not depend on how the
caller chunks the stream.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from typing import Final

from voicecall_rt.audio import g711
from voicecall_rt.audio.dtmf import FREQUENCIES, HIGH_GROUP_HZ, LOW_GROUP_HZ, SAMPLE_RATE

WINDOW: Final = 105
HOP: Final = 35

_KEY_AT: Final[dict[tuple[int, int], str]] = {pair: key for key, pair in FREQUENCIES.items()}
_LOW_COEFFS: Final = tuple(2.0 * math.cos(2.0 * math.pi * f / SAMPLE_RATE) for f in LOW_GROUP_HZ)
_HIGH_COEFFS: Final = tuple(2.0 * math.cos(2.0 * math.pi * f / SAMPLE_RATE) for f in HIGH_GROUP_HZ)


def _db_to_power(db: float) -> float:
    return float(10.0 ** (db / 10.0))


@dataclass(frozen=True, slots=True)
class DetectorLimits:
    """Acceptance rules for one window; defaults follow common receiver practice.

    min_tone_amplitude: quieter tones (~-35 dBm0) are line noise, not a key.
    group_margin_db: the winning row/column must beat its neighbours by this much; the
        leakage of a genuine tone into the next row is ~17 dB down.
    normal_twist_db / reverse_twist_db: how much the low group may exceed the high group and
        vice versa (Bellcore-style 8 / 4 dB).
    min_tone_fraction: the two tones must carry this share of the window's energy. A real key
        gives over 0.85 even at ~15 dB SNR; speech spreads its energy over many harmonics, and
        this is the check that rejects a vowel whose formants sit on a row and a column.
    """

    min_tone_amplitude: float = 400.0
    group_margin_db: float = 8.0
    normal_twist_db: float = 8.0
    reverse_twist_db: float = 4.0
    min_tone_fraction: float = 0.75


def _goertzel_power(samples: array[int], start: int, coeff: float) -> float:
    """Squared magnitude of the DFT term at the filter's frequency over one window."""
    s1 = 0.0
    s2 = 0.0
    for x in samples[start : start + WINDOW]:
        s1, s2 = x + coeff * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


def _strongest(powers: list[float]) -> tuple[int, float, float]:
    """(index, power, next best power) of a frequency group."""
    order = sorted(range(len(powers)), key=powers.__getitem__, reverse=True)
    return order[0], powers[order[0]], powers[order[1]]


def _classify(samples: array[int], start: int, limits: DetectorLimits) -> str | None:
    """The key present throughout this window, or None."""
    energy = float(sum(x * x for x in samples[start : start + WINDOW]))
    # A pure tone of amplitude A puts A²·N/2 into `energy` and (A·N/2)² into Goertzel power,
    # so scaling Goertzel power by 2/N makes both comparable energies.
    min_tone_energy = limits.min_tone_amplitude**2 * WINDOW / 2.0
    if energy < 2.0 * min_tone_energy:
        return None  # cheap exit for silence and quiet noise
    scale = 2.0 / WINDOW
    lows = [scale * _goertzel_power(samples, start, c) for c in _LOW_COEFFS]
    highs = [scale * _goertzel_power(samples, start, c) for c in _HIGH_COEFFS]
    row, low, low_next = _strongest(lows)
    col, high, high_next = _strongest(highs)
    margin = _db_to_power(limits.group_margin_db)
    checks = (
        low >= min_tone_energy and high >= min_tone_energy,
        low >= margin * low_next and high >= margin * high_next,
        low <= _db_to_power(limits.normal_twist_db) * high,
        high <= _db_to_power(limits.reverse_twist_db) * low,
        low + high >= limits.min_tone_fraction * energy,
    )
    if not all(checks):
        return None
    return _KEY_AT[(LOW_GROUP_HZ[row], HIGH_GROUP_HZ[col])]


def _windows_within(ms: int) -> int:
    """How many consecutive windows are sure to lie wholly inside an interval of `ms`, whatever
    its alignment to the window grid; requiring exactly that many never rejects such an
    interval."""
    length = ms * SAMPLE_RATE // 1000
    return max(1, (length - WINDOW - (HOP - 1)) // HOP + 1)


class DtmfDetector:
    """Feed µ-law audio, get each key once per burst.

    A key is reported once it has been seen in enough consecutive windows that any burst of
    min_on_ms or more is caught (a run spanning 35 ms at the 40 ms default; 20 ms bursts are
    never reported). After a report the detector is disarmed until a gap of min_off_ms without
    any key, so one long press is one digit.

    The gap is measured between the end of the last window that saw a key and the start of
    the next one, not by counting failed windows: windows that merely straddle a short dropout
    fail too, and counting them would turn a 10 ms interruption (which Q.24 says must be
    bridged) into a second press.
    """

    def __init__(
        self,
        *,
        min_on_ms: int = 40,
        min_off_ms: int = 30,
        limits: DetectorLimits | None = None,
    ) -> None:
        min_ms = 1000 * (WINDOW + HOP - 1) // SAMPLE_RATE + 1
        for name, value in (("min_on_ms", min_on_ms), ("min_off_ms", min_off_ms)):
            if not min_ms <= value <= 10_000:
                raise ValueError(f"{name} must be within {min_ms}..10000 ms, got {value}")
        self._on_windows = _windows_within(min_on_ms)
        # Windows straddling an abrupt tone edge can still classify, so the measured gap can
        # read up to ~2 hops short; 3 hops of slack keeps every gap >= min_off_ms recognised
        # while 10 ms dropouts stay well below the threshold.
        self._off_samples = min_off_ms * SAMPLE_RATE // 1000 - 3 * HOP
        self._limits = limits or DetectorLimits()
        self.reset()

    def reset(self) -> None:
        """Forget buffered audio and state, e.g. at the start of a new call leg."""
        self._buffer = array("h")
        self._offset = 0  # absolute sample index of self._buffer[0]
        self._candidate: str | None = None
        self._run = 0
        self._last_key_end: int | None = None
        self._armed = True

    def feed(self, ulaw: bytes) -> list[str]:
        """Consume µ-law bytes; return the keys whose detection completed inside them."""
        self._buffer.extend(g711.decode(ulaw))
        found: list[str] = []
        start = 0
        while start + WINDOW <= len(self._buffer):
            key = self._step(_classify(self._buffer, start, self._limits), self._offset + start)
            if key is not None:
                found.append(key)
            start += HOP
        del self._buffer[:start]
        self._offset += start
        return found

    def _step(self, key: str | None, position: int) -> str | None:
        """Advance the state machine by one window; return `key` when it is to be reported."""
        if key is None:
            self._candidate, self._run = None, 0
            return None
        if self._last_key_end is not None and position - self._last_key_end >= self._off_samples:
            self._armed = True
        self._last_key_end = position + WINDOW
        if key == self._candidate:
            self._run += 1
        else:
            self._candidate, self._run = key, 1
        if self._armed and self._run >= self._on_windows:
            self._armed = False
            return key
        return None
