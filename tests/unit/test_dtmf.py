"""Keypad tone synthesis: table, timing, levels, ramps, validation, and multimon-ng as judge."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.helpers.outside_judges import multimon_digits, multimon_keys, require_tool
from voicecall_rt.audio import dtmf, g711, wav

ALL_KEYS = "1234567890*#ABCD"
SAMPLES_PER_MS = 8


def _power(samples: Sequence[int], freq: float, rate: int = 8000) -> float:
    """Goertzel power at an arbitrary (non-bin) frequency."""
    coeff = 2.0 * math.cos(2.0 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


# --- the table -------------------------------------------------------------------------------


def test_frequency_table_is_q23() -> None:
    expected = {
        "1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "A": (697, 1633),
        "4": (770, 1209), "5": (770, 1336), "6": (770, 1477), "B": (770, 1633),
        "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "C": (852, 1633),
        "*": (941, 1209), "0": (941, 1336), "#": (941, 1477), "D": (941, 1633),
    }  # fmt: skip
    assert expected == dtmf.FREQUENCIES


@pytest.mark.parametrize("key", list(ALL_KEYS))
def test_tone_peaks_exactly_at_its_pair(key: str) -> None:
    # A 500 ms tone has 2 Hz resolution; being stronger than ±0.5 Hz either side pins each
    # component to within 0.25 Hz of nominal (Q.23 receivers allow 1.5 %, ~10 Hz).
    samples = g711.decode(dtmf.tone_audio(key, on_ms=500, off_ms=0))
    low, high = dtmf.FREQUENCIES[key]
    for f in (low, high):
        centre = _power(samples, f)
        assert centre > _power(samples, f - 0.5)
        assert centre > _power(samples, f + 0.5)
    # And the pair is the two strongest of the eight keypad frequencies.
    eight = dtmf.LOW_GROUP_HZ + dtmf.HIGH_GROUP_HZ
    strongest = sorted(eight, key=lambda f: _power(samples, f), reverse=True)[:2]
    assert sorted(strongest) == [low, high]


def test_high_tone_is_twist_db_above_low_tone() -> None:
    samples = dtmf.tone_samples("5", on_ms=500, ramp_ms=0, twist_db=2.0)
    ratio_db = 10 * math.log10(_power(samples, 1336) / _power(samples, 770))
    assert ratio_db == pytest.approx(2.0, abs=0.2)


# --- timing ----------------------------------------------------------------------------------


def test_single_key_duration_and_layout() -> None:
    audio = dtmf.tone_audio("1", on_ms=100, off_ms=80)
    assert len(audio) == 180 * SAMPLES_PER_MS
    assert audio[800:] == b"\xff" * 640
    assert audio[:800].count(0xFF) < 10  # the tone really is sound, not silence


def test_pauses_and_gaps_are_exact() -> None:
    audio = dtmf.tone_audio("1w2,3", on_ms=100, off_ms=80, pause_ms=500)
    tone, gap, pause = 800, 640, 4000
    assert len(audio) == 3 * (tone + gap) + 2 * pause
    second = tone + gap + pause
    assert audio[tone:second] == b"\xff" * (gap + pause)
    assert audio[second : second + tone] == dtmf.tone_audio("2", off_ms=0)
    assert audio[-gap:] == b"\xff" * gap


def test_custom_timing() -> None:
    audio = dtmf.tone_audio("12", on_ms=50, off_ms=45)
    assert len(audio) == 2 * 95 * SAMPLES_PER_MS


def test_pause_only_string_is_silence() -> None:
    assert dtmf.tone_audio("w,", pause_ms=500) == b"\xff" * 8000


def test_frames_split_and_pad() -> None:
    audio = dtmf.tone_audio("1")  # 1440 bytes = 9 frames exactly
    chunks = dtmf.frames(audio)
    assert len(chunks) == 9
    assert b"".join(chunks) == audio
    odd = dtmf.frames(b"\x01" * 170)
    assert [len(c) for c in odd] == [160, 160]
    assert odd[1] == b"\x01" * 10 + b"\xff" * 150
    assert dtmf.frames(b"") == []
    with pytest.raises(ValueError, match="frame_bytes"):
        dtmf.frames(b"\x00", 0)


# --- levels and ramps ------------------------------------------------------------------------


@pytest.mark.parametrize("key", list(ALL_KEYS))
def test_no_clipping(key: str) -> None:
    linear = dtmf.tone_samples(key)
    assert max(abs(x) for x in linear) < 32767
    decoded = g711.decode(dtmf.tone_audio(key))
    assert max(abs(x) for x in decoded) < 32124  # 32124 = µ-law's largest code


def test_level_that_would_clip_is_refused() -> None:
    with pytest.raises(ValueError, match="clip"):
        dtmf.tone_audio("1", level=0.6)


def test_ramps_start_and_end_at_zero() -> None:
    samples = dtmf.tone_samples("D", on_ms=100, ramp_ms=4)
    peak = max(abs(x) for x in samples)
    assert samples[0] == 0
    assert samples[-1] == 0
    assert max(abs(x) for x in samples[:4]) < 0.05 * peak
    assert max(abs(x) for x in samples[-4:]) < 0.05 * peak
    # Without a ramp the end of the tone is an abrupt step (the click the ramp prevents).
    abrupt = dtmf.tone_samples("D", on_ms=100, ramp_ms=0)
    assert max(abs(x) for x in abrupt[-4:]) > 0.2 * peak


def test_ramp_longer_than_half_the_tone_is_refused() -> None:
    with pytest.raises(ValueError, match="ramp_ms"):
        dtmf.tone_audio("1", on_ms=20, ramp_ms=11)


def test_repeated_keys_reuse_cached_tones() -> None:
    dtmf._tone_bytes.cache_clear()
    dtmf.tone_audio("5555")
    info = dtmf._tone_bytes.cache_info()
    assert (info.misses, info.hits) == (1, 3)


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [("123", "123"), ("*#", "*#"), ("abcd", "ABCD"), ("1w2,3", "1w2,3"), ("9" * 64, "9" * 64)],
)
def test_validate_accepts(raw: str, normalised: str) -> None:
    assert dtmf.validate_digits(raw) == normalised
    assert dtmf.validate_digits(normalised) == normalised  # idempotent


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("12x", "invalid 'x'"),
        ("", "empty"),
        ("1" * 65, "too long"),
        ("12\n", "invalid"),
        ("1 2", "invalid"),
        ("W", "invalid"),
        ("e", "invalid"),
        ("١٢", "invalid"),  # Arabic-Indic digits: \d would accept them, the pattern must not
    ],
)
def test_validate_rejects(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dtmf.validate_digits(raw)
    with pytest.raises(ValueError):
        dtmf.tone_audio(raw)


# --- outside judges --------------------------------------------------------------------------


@pytest.mark.parametrize(("digits", "expected"), [(ALL_KEYS, ALL_KEYS), ("1w2,3#", "123#")])
def test_multimon_ng_decodes_tones(digits: str, expected: str, tmp_path: Path) -> None:
    exe = require_tool("multimon-ng")
    assert multimon_digits(exe, dtmf.tone_audio(digits), tmp_path) == expected


def test_multimon_ng_decodes_minimum_timing(tmp_path: Path) -> None:
    exe = require_tool("multimon-ng")
    audio = dtmf.tone_audio(ALL_KEYS, on_ms=50, off_ms=50)
    assert multimon_digits(exe, audio, tmp_path) == ALL_KEYS


def test_multimon_ng_reads_our_ulaw_wav(tmp_path: Path) -> None:
    # Exercises the µ-law container too: multimon-ng hands `-t wav` to sox for decoding.
    exe = require_tool("multimon-ng")
    require_tool("sox")
    path = tmp_path / "keys.wav"
    path.write_bytes(wav.ulaw_wav_bytes(dtmf.tone_audio("1w2,3#")))
    assert multimon_keys(exe, "wav", path) == "123#"
