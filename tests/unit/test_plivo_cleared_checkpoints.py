"""Plivo never answers a checkpoint its `clearAudio` dropped: our ledger (call/playback.py)
must settle those at the clear by itself, and what comes after must count as usual."""

from __future__ import annotations

from tests.helpers.playback_clock import Clock, b64
from voicecall_rt.call.playback import Playback


def test_a_clear_settles_every_pending_checkpoint_without_an_answer() -> None:
    clock = Clock()
    playback = Playback(clock=clock)
    first = playback.on_delta("item_a", b64(1600))
    playback.on_delta("item_a", b64(1600))
    playback.on_delta("item_a", b64(1600))
    clock.at(200)
    assert playback.on_mark(first) == ("item_a", 1600)  # the first 200 ms played
    clock.at(250)
    cut = playback.cut_queued()  # Plivo answers `clearedAudio`, never the other two
    assert cut == [("item_a", 250)]
    assert not playback.audio_queued and playback.pending_marks == 0
    assert playback.pending_for("item_a") == 0
    # The next answer is counted from its own checkpoints, as on any carrier.
    mark = playback.on_delta("item_b", b64(800))
    assert playback.audio_queued
    assert playback.on_mark(mark) == ("item_b", 800)
    assert not playback.audio_queued and playback.played_ms("item_b") == 100
    # A late answer for a dropped checkpoint (Plivo sends none) would change nothing.
    playback.on_mark("item_a:4800")
    assert playback.played_ms("item_a") == 250
