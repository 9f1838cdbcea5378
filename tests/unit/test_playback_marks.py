"""Playback accounting by mark echoes alone (the clock stands still): base64 payload lengths,
each item's generated and heard bytes from its marks, odd echoes ignored, and what a
barge-in cuts and clears.
"""

from __future__ import annotations

import base64

import pytest

from tests.helpers.playback_clock import Clock, b64
from voicecall_rt.call.playback import BYTES_PER_MS, Playback, b64_decoded_len


def frozen() -> Playback:
    """Time stands still: only echoes move the heard position (the pre-clock behaviour)."""
    return Playback(clock=Clock())


# --------------------------------------------------------------------------- base64 length


@pytest.mark.parametrize("n", range(51))
def test_b64_decoded_len_padded(n: int) -> None:
    payload = b64(n)
    assert len(base64.b64decode(payload)) == n
    assert b64_decoded_len(payload) == n


@pytest.mark.parametrize("n", range(51))
def test_b64_decoded_len_unpadded(n: int) -> None:
    payload = b64(n).rstrip("=")
    assert b64_decoded_len(payload) == n


@pytest.mark.parametrize("n", [160, 320, 4800, 24000, 65536 + 7])
def test_b64_decoded_len_real_frame_sizes(n: int) -> None:
    assert b64_decoded_len(b64(n)) == n
    assert b64_decoded_len(b64(n).rstrip("=")) == n


def test_bytes_per_ms() -> None:
    assert BYTES_PER_MS == 8  # 8 kHz µ-law


# --------------------------------------------------------------------------- marks


def test_on_delta_marks_are_cumulative_end_bytes() -> None:
    p = frozen()
    assert p.on_delta("item_A", b64(160)) == "item_A:160"
    assert p.on_delta("item_A", b64(800)) == "item_A:960"
    assert p.on_delta("item_A", b64(1)) == "item_A:961"
    assert p.current_item == "item_A"
    assert p.generated_ms("item_A") == 961 // 8
    assert p.pending_for("item_A") == 3
    assert p.pending_marks == 3
    assert p.audio_queued


def test_items_counted_separately() -> None:
    p = frozen()
    assert p.on_delta("item_A", b64(80)) == "item_A:80"
    assert p.on_delta("item_B", b64(40)) == "item_B:40"
    assert p.on_delta("item_A", b64(8)) == "item_A:88"
    assert p.current_item == "item_A"
    assert p.pending_for("item_A") == 2
    assert p.pending_for("item_B") == 1
    assert p.pending_marks == 3


def test_item_id_with_colons() -> None:
    p = frozen()
    name = p.on_delta("a:b:c", b64(16))
    assert name == "a:b:c:16"
    assert p.on_mark(name) == ("a:b:c", 16)
    assert p.played_ms("a:b:c") == 2


def test_on_mark_advances_played() -> None:
    p = frozen()
    names = [p.on_delta("item_A", b64(800)) for _ in range(3)]
    assert p.played_ms("item_A") == 0
    assert p.on_mark(names[0]) == ("item_A", 800)
    assert p.played_ms("item_A") == 100
    assert p.pending_for("item_A") == 2
    p.on_mark(names[1])
    assert p.played_ms("item_A") == 200
    p.on_mark(names[2])
    assert p.played_ms("item_A") == 300
    assert p.pending_for("item_A") == 0
    assert p.pending_marks == 0
    assert not p.audio_queued


def test_played_never_goes_backwards() -> None:
    p = frozen()
    first = p.on_delta("item_A", b64(80))
    second = p.on_delta("item_A", b64(80))
    p.on_mark(second)
    p.on_mark(first)
    assert p.played_ms("item_A") == 20


def test_played_ms_is_bytes_div_8() -> None:
    p = frozen()
    for size in (7, 9, 3):  # 19 bytes in all
        p.on_mark(p.on_delta("item_A", b64(size)))
    assert p.played_ms("item_A") == 19 // 8
    assert p.generated_ms("item_A") == 19 // 8


def test_played_capped_at_generated() -> None:
    p = frozen()
    p.on_delta("item_A", b64(160))
    p.on_mark("item_A:999999")  # a forged / mistaken echo beyond what was generated
    assert p.played_ms("item_A") == p.generated_ms("item_A") == 20


@pytest.mark.parametrize("name", ["", "item_A", "item_A:", "item_A:abc", "item_A:-5", "other:80"])
def test_malformed_or_unknown_marks_ignored(name: str) -> None:
    p = frozen()
    p.on_delta("item_A", b64(80))
    audio = p.on_mark(name)
    assert audio is None or audio[0] != "item_A"  # not this item's audio mark
    assert p.played_ms("item_A") == 0
    assert p.pending_for("item_A") == 1
    assert p.pending_marks == 1


def test_extra_echo_beyond_pending_ignored() -> None:
    p = frozen()
    name = p.on_delta("item_A", b64(80))
    p.on_mark(name)
    p.on_mark(name)  # duplicate echo
    assert p.pending_for("item_A") == 0
    assert p.pending_marks == 0


def test_unknown_item_defaults() -> None:
    p = frozen()
    assert p.pending_for("nope") == 0
    assert p.played_ms("nope") == 0
    assert p.generated_ms("nope") == 0
    assert not p.is_cut("nope")
    assert not p.audio_queued
    assert p.current_item is None
    assert p.cut_queued() == []


# --------------------------------------------------------------------------- cut / clear


def test_cut_queued_reports_each_item_with_pending_marks() -> None:
    p = frozen()
    done = p.on_delta("item_C", b64(80))
    a1 = p.on_delta("item_A", b64(800))
    p.on_delta("item_A", b64(800))
    p.on_delta("item_B", b64(400))
    p.on_mark(done)  # item_C fully played: nothing queued, not cut
    p.on_mark(a1)
    assert sorted(p.cut_queued()) == [("item_A", 100), ("item_B", 0)]
    assert p.is_cut("item_A")
    assert p.is_cut("item_B")
    assert not p.is_cut("item_C")
    assert p.pending_marks == 0
    assert not p.audio_queued
    assert p.pending_for("item_A") == 0
    assert p.pending_for("item_B") == 0


def test_late_echoes_after_clear_change_nothing() -> None:
    """Twilio echoes every pending mark after a `clear` although none of it was heard."""
    p = frozen()
    names = [p.on_delta("item_A", b64(800)) for _ in range(5)]
    p.on_mark(names[0])
    p.on_mark(names[1])
    assert p.cut_queued() == [("item_A", 200)]
    for name in names[2:]:
        p.on_mark(name)
    assert p.played_ms("item_A") == 200
    assert p.pending_for("item_A") == 0
    assert p.pending_marks == 0
    assert not p.audio_queued


def test_second_cut_reports_nothing_new() -> None:
    p = frozen()
    p.on_delta("item_A", b64(80))
    assert p.cut_queued() == [("item_A", 0)]
    assert p.cut_queued() == []


def test_new_item_after_cut_tracked_independently() -> None:
    p = frozen()
    old = [p.on_delta("item_A", b64(800)) for _ in range(3)]
    p.on_mark(old[0])
    assert p.cut_queued() == [("item_A", 100)]

    first = p.on_delta("item_B", b64(160))
    second = p.on_delta("item_B", b64(160))
    assert (first, second) == ("item_B:160", "item_B:320")
    assert p.current_item == "item_B"
    assert p.pending_for("item_B") == 2
    assert p.pending_marks == 2
    assert p.audio_queued

    # The old item's late echoes interleave with the new item's: only the new ones count.
    p.on_mark(old[1])
    p.on_mark(first)
    p.on_mark(old[2])
    assert p.played_ms("item_A") == 100
    assert p.played_ms("item_B") == 20
    assert p.pending_for("item_B") == 1
    assert p.pending_marks == 1
    p.on_mark(second)
    assert p.played_ms("item_B") == 40
    assert not p.audio_queued
    assert not p.is_cut("item_B")
    # A later barge-in cuts only what is queued now.
    p.on_delta("item_C", b64(80))
    assert p.cut_queued() == [("item_C", 0)]
