"""G.711 µ-law against the stdlib reference (`audioop`) and the docs/protocols.md §5.3 anchors."""

from __future__ import annotations

import importlib
import warnings
from array import array
from types import ModuleType

import pytest

from voicecall_rt.audio import g711

ALL_INT16 = array("h", range(-32768, 32768))


def _audioop() -> ModuleType:
    # Deprecated on 3.11/3.12 (warns on import), gone on 3.13 unless audioop-lts is installed.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return importlib.import_module("audioop")
        except ImportError:
            pytest.skip("audioop not available (Python >= 3.13 without audioop-lts)")


def _signed_level(code: int) -> int:
    """Position of a code on the quantiser's scale, so '±1 code' means one step (and the two
    zero codes, 0xFF and 0x7F, count as the same level)."""
    u = ~code & 0xFF
    return -(u & 0x7F) if u & 0x80 else u & 0x7F


def test_decode_matches_audioop_for_every_code() -> None:
    audioop = _audioop()
    codes = bytes(range(256))
    reference = array("h", audioop.ulaw2lin(codes, 2))
    assert g711.decode(codes) == reference


def test_encode_within_one_step_of_audioop_everywhere() -> None:
    audioop = _audioop()
    reference = audioop.lin2ulaw(ALL_INT16.tobytes(), 2)
    ours = g711.encode(ALL_INT16)
    worst = max(
        abs(_signed_level(a) - _signed_level(b)) for a, b in zip(ours, reference, strict=True)
    )
    assert worst <= 1


@pytest.mark.parametrize(
    ("sample", "code"), [(0, 0xFF), (32767, 0x80), (-32768, 0x00), (32635, 0x80), (-1, 0x7F)]
)
def test_encode_reference_points(sample: int, code: int) -> None:
    assert g711.encode_sample(sample) == code
    assert g711.encode([sample]) == bytes([code])


def test_table_encoder_agrees_with_reference_encoder() -> None:
    assert g711.encode(ALL_INT16) == bytes(g711.encode_sample(s) for s in ALL_INT16)


def test_encode_clamps_out_of_range_input() -> None:
    assert g711.encode([40000, -40000]) == g711.encode([32767, -32768])


def test_round_trip_error_is_half_a_step() -> None:
    decoded = g711.decode(g711.encode(ALL_INT16))
    for x, y in zip(ALL_INT16, decoded, strict=True):
        # Step size in a segment is 1/16 of the segment's lower edge (|x| + bias), and decoding
        # returns the middle of the step; the extra 1 absorbs rounding at the segment edges.
        # Above the clip point (32635) the error grows to at most 32767 - 32124 = 643,
        # still inside this bound.
        assert abs(x - y) <= (abs(x) + 132) / 32 + 1, (x, y)


def test_silence_constant_decodes_to_zero() -> None:
    assert g711.decode(bytes([g711.SILENCE])) == array("h", [0])
    assert g711.decode_sample(g711.SILENCE) == 0
