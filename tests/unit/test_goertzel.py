"""Streaming DTMF detector: finds every key once, ignores speech and silence, is chunk-proof."""

from __future__ import annotations

import math
import random

import pytest

from voicecall_rt.audio import dtmf, g711
from voicecall_rt.audio.goertzel import DtmfDetector

ALL_KEYS = "1234567890*#ABCD"
RATE = 8000


def _detect(audio: bytes, detector: DtmfDetector | None = None) -> str:
    return "".join((detector or DtmfDetector()).feed(audio))


def _random_chunks(audio: bytes, rng: random.Random) -> list[bytes]:
    chunks: list[bytes] = []
    pos = 0
    while pos < len(audio):
        size = rng.randint(1, 400)
        chunks.append(audio[pos : pos + size])
        pos += size
    return chunks


def _synth(seconds: float, partials: list[tuple[float, float]], noise: float, seed: int) -> bytes:
    """µ-law of a sum of (frequency, amplitude) partials plus Gaussian noise, with a 4 Hz
    syllable-rate envelope so the level keeps moving as speech does."""
    rng = random.Random(seed)
    out = []
    for n in range(int(seconds * RATE)):
        envelope = 0.6 + 0.4 * math.sin(2 * math.pi * 4 * n / RATE)
        tone = sum(a * math.sin(2 * math.pi * f * n / RATE) for f, a in partials)
        out.append(round(envelope * tone + rng.gauss(0.0, noise)))
    return g711.encode(out)


# --- detection -------------------------------------------------------------------------------


def test_detects_every_key_once_in_order() -> None:
    assert _detect(dtmf.tone_audio(ALL_KEYS)) == ALL_KEYS


def test_pauses_do_not_produce_keys() -> None:
    assert _detect(dtmf.tone_audio("1w2,3#")) == "123#"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_chunking_does_not_change_the_result(seed: int) -> None:
    audio = dtmf.tone_audio(ALL_KEYS)
    detector = DtmfDetector()
    found: list[str] = []
    for chunk in _random_chunks(audio, random.Random(seed)):
        found += detector.feed(chunk)
    assert "".join(found) == ALL_KEYS


def test_one_byte_at_a_time() -> None:
    detector = DtmfDetector()
    audio = dtmf.tone_audio("9#")
    assert "".join(k for i in range(len(audio)) for k in detector.feed(audio[i : i + 1])) == "9#"


@pytest.mark.parametrize("attenuation_db", [10, 20])
def test_detects_reduced_level(attenuation_db: int) -> None:
    level = 0.35 * 10 ** (-attenuation_db / 20)
    assert _detect(dtmf.tone_audio(ALL_KEYS, level=level)) == ALL_KEYS


def test_detects_tones_in_moderate_noise() -> None:
    rng = random.Random(7)
    clean = g711.decode(dtmf.tone_audio(ALL_KEYS))
    noisy = g711.encode(round(x + rng.gauss(0.0, 600.0)) for x in clean)  # ~20 dB SNR
    assert _detect(noisy) == ALL_KEYS


# --- timing rules ----------------------------------------------------------------------------


def test_minimum_timing_is_accepted() -> None:
    # 40 ms tones with 30 ms gaps: the shortest the detector promises to accept.
    audio = dtmf.tone_audio(ALL_KEYS, on_ms=40, off_ms=30, ramp_ms=4)
    assert _detect(audio) == ALL_KEYS


def test_too_short_tones_are_ignored() -> None:
    assert _detect(dtmf.tone_audio(ALL_KEYS, on_ms=20, off_ms=60, ramp_ms=4)) == ""


def test_long_press_is_one_key() -> None:
    assert _detect(dtmf.tone_audio("5", on_ms=2000)) == "5"


@pytest.mark.parametrize("ramp_ms", [0, 4])
def test_repeated_key_needs_a_real_gap(ramp_ms: int) -> None:
    # A 10 ms gap is a dropout inside one press (Q.24: bridge it); 30 ms of silence separates
    # two presses. Abrupt edges (no ramp) are the harder case for the gap measurement.
    assert _detect(dtmf.tone_audio("55", off_ms=10, ramp_ms=ramp_ms)) == "5"
    assert _detect(dtmf.tone_audio("55", off_ms=30, ramp_ms=ramp_ms)) == "55"


def test_key_change_without_gap_is_not_a_second_press() -> None:
    assert _detect(dtmf.tone_audio("1", off_ms=0) + dtmf.tone_audio("2")) == "1"


# --- rejection -------------------------------------------------------------------------------


def test_silence_is_ignored() -> None:
    assert _detect(bytes([g711.SILENCE]) * RATE * 2) == ""


def test_low_noise_is_ignored() -> None:
    assert _detect(_synth(2.0, [], noise=300.0, seed=3)) == ""


def test_speech_like_partials_are_ignored() -> None:
    audio = _synth(2.0, [(220, 6000), (330, 5000), (450, 4000)], noise=800.0, seed=1)
    assert _detect(audio) == ""


def test_voiced_harmonics_near_a_key_are_ignored() -> None:
    # f0 = 100 Hz puts harmonics at 700 and 1200 Hz, inside the tolerance of key '1'
    # (697 + 1209 Hz); they carry too small a share of the energy to count as a tone.
    harmonics = [(100.0 * k, 9000.0 / k) for k in range(1, 31)]
    assert _detect(_synth(2.0, harmonics, noise=400.0, seed=2)) == ""


def test_vowel_with_formants_on_a_key_is_ignored() -> None:
    # The hard case ("talk-off"): an /a/-like vowel, f0 = 175 Hz, whose 4th and 7th harmonics
    # (700 and 1225 Hz, within tolerance of key '1') sit on formant peaks, so they pass the
    # level, dominance and twist checks. Only the energy-share rule rejects it: the two
    # partials carry ~70 % of the energy, a real key over 85 %.
    def amplitude(f: float, k: int) -> float:
        peaks = 3 * math.exp(-(((f - 700) / 90) ** 2)) + 3 * math.exp(-(((f - 1225) / 110) ** 2))
        return 2500 / math.sqrt(k) * (1 + peaks)

    partials = [(175.0 * k, amplitude(175.0 * k, k)) for k in range(1, 20)]
    assert _detect(_synth(2.0, partials, noise=300.0, seed=2)) == ""


def test_single_frequency_is_not_a_key() -> None:
    assert _detect(_synth(1.0, [(697, 8000)], noise=0.0, seed=0)) == ""
    assert _detect(_synth(1.0, [(1336, 8000)], noise=0.0, seed=0)) == ""


@pytest.mark.parametrize(("twist_db", "level"), [(-10.0, 0.1), (6.0, 0.35)])
def test_excessive_twist_is_rejected(twist_db: float, level: float) -> None:
    # -10: low group 10 dB above high (normal-twist limit 8 dB); +6: high group 6 dB above
    # low (reverse-twist limit 4 dB).
    assert _detect(dtmf.tone_audio("5", twist_db=twist_db, level=level)) == ""


def test_three_row_frequencies_are_not_a_key() -> None:
    # Two rows at once fails "one tone dominant in its group".
    audio = _synth(1.0, [(697, 5000), (770, 5000), (1209, 6000)], noise=0.0, seed=0)
    assert _detect(audio) == ""


# --- API -------------------------------------------------------------------------------------


def test_reset_drops_partial_tone() -> None:
    detector = DtmfDetector()
    tone = dtmf.tone_audio("7", off_ms=0)
    assert detector.feed(tone[:200]) == []
    detector.reset()
    assert detector.feed(tone[200:400]) == []  # 25 ms after reset: too short to count
    assert detector.feed(tone[400:] + bytes([g711.SILENCE]) * 400) == ["7"]


def test_rejects_timing_below_window_resolution() -> None:
    with pytest.raises(ValueError, match="min_on_ms"):
        DtmfDetector(min_on_ms=5)
