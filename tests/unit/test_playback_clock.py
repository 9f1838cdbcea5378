"""Playback accounting in real time: between echoes a controlled clock moves the heard
position (back to back, after gaps, across items, keypad tones and clears), and random
sends and echoes match a reference carrier that plays its queue at 8 bytes a millisecond.
Audio that finds the carrier idle begins half a frame (10 ms) after it was sent: the
carrier's mean wait for its next 20 ms frame.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field

import pytest

from tests.helpers.playback_clock import Clock, b64
from voicecall_rt.call.playback import BYTES_PER_MS, Playback


def delta_ms(ms: int) -> str:
    return b64(ms * BYTES_PER_MS)


def test_back_to_back_counts_from_the_first_send_then_from_each_echo() -> None:
    clock = Clock()
    p = Playback(clock=clock)
    names = [p.on_delta("item_A", delta_ms(100)) for _ in range(3)]  # all queued at 0
    # No echo yet: the carrier had nothing queued, so the first delta began on its next
    # frame after it was sent: half a frame later on average.
    assert p.played_ms("item_A") == 0
    clock.at(10)
    assert p.played_ms("item_A") == 0
    clock.at(40)
    assert p.played_ms("item_A") == 30
    # Never beyond a mark not yet echoed: the carrier would have echoed it.
    clock.at(130)
    assert p.played_ms("item_A") == 100
    # The echo came late (say the first frame began on the carrier's next tick): the rest,
    # already queued, follows on from the echo, not from the send.
    p.on_mark(names[0])
    assert p.played_ms("item_A") == 100
    clock.at(175)
    assert p.played_ms("item_A") == 145
    clock.at(400)
    assert p.played_ms("item_A") == 200
    p.on_mark(names[1])
    assert p.played_ms("item_A") == 200
    clock.at(450)
    assert p.played_ms("item_A") == 250
    clock.at(600)
    p.on_mark(names[2])
    assert p.played_ms("item_A") == 300
    clock.at(2000)
    assert p.played_ms("item_A") == p.generated_ms("item_A") == 300


def test_gap_next_delta_starts_at_its_arrival_not_at_the_echo() -> None:
    clock = Clock()
    p = Playback(clock=clock)
    first = p.on_delta("item_A", delta_ms(100))
    clock.at(100)
    p.on_mark(first)  # the carrier ran dry here
    clock.at(180)
    assert p.played_ms("item_A") == 100  # nothing more to play yet
    p.on_delta("item_A", delta_ms(100))
    assert p.played_ms("item_A") == 100
    clock.at(200)
    assert p.played_ms("item_A") == 110  # 20 ms since it was sent less half a frame, not 100
    clock.at(289)
    assert p.played_ms("item_A") == 199
    clock.at(500)
    assert p.played_ms("item_A") == 200


def test_delta_sent_exactly_at_the_echo() -> None:
    clock = Clock()
    p = Playback(clock=clock)
    first = p.on_delta("item_A", delta_ms(100))
    clock.at(100)
    p.on_mark(first)
    p.on_delta("item_A", delta_ms(100))  # the carrier has just run dry: it waits for a frame
    clock.at(160)
    assert p.played_ms("item_A") == 150


def test_capped_by_generated_for_a_short_last_delta() -> None:
    clock = Clock()
    p = Playback(clock=clock)
    p.on_delta("item_A", b64(85))  # 10.6 ms
    clock.at(1000)
    assert p.played_ms("item_A") == p.generated_ms("item_A") == 10
    assert p.cut_queued() == [("item_A", 10)]


def test_new_item_into_an_empty_queue_starts_at_its_first_delta() -> None:
    clock = Clock()
    p = Playback(clock=clock)
    a = p.on_delta("item_A", delta_ms(100))
    clock.at(100)
    p.on_mark(a)
    clock.at(700)  # the callee talked, the model answered
    p.on_delta("item_B", delta_ms(100))
    p.on_delta("item_B", delta_ms(100))
    assert p.played_ms("item_B") == 0
    clock.at(760)
    assert p.played_ms("item_B") == 50
    assert p.played_ms("item_A") == 100
    clock.at(900)
    assert p.played_ms("item_B") == 100  # its first mark is not back yet


def test_new_item_queued_behind_the_previous_one_waits_for_its_last_echo() -> None:
    clock = Clock()
    p = Playback(clock=clock)
    a1 = p.on_delta("item_A", delta_ms(100))
    a2 = p.on_delta("item_A", delta_ms(100))
    clock.at(50)
    b1 = p.on_delta("item_B", delta_ms(100))
    p.on_delta("item_B", delta_ms(100))
    clock.at(150)
    # item_A's last mark is still out: nothing of item_B can have been heard.
    assert p.played_ms("item_A") == 100
    assert p.played_ms("item_B") == 0
    p.on_mark(a1)
    clock.at(170)
    assert p.played_ms("item_A") == 120
    assert p.played_ms("item_B") == 0
    clock.at(260)
    p.on_mark(a2)
    assert p.played_ms("item_A") == 200
    assert p.played_ms("item_B") == 0
    # item_B was queued long before: it follows item_A's end, i.e. the echo.
    clock.at(290)
    assert p.played_ms("item_B") == 30
    assert p.cut_queued() == [("item_B", 30)]
    p.on_mark(b1)  # flushed by the clear
    clock.at(1000)
    assert p.played_ms("item_B") == 30
    assert p.played_ms("item_A") == 200


def test_cut_at_the_estimate_and_frozen_there() -> None:
    clock = Clock()
    p = Playback(clock=clock)
    names = [p.on_delta("item_A", delta_ms(100)) for _ in range(5)]
    clock.at(100)
    p.on_mark(names[0])
    clock.at(200)
    p.on_mark(names[1])
    clock.at(237)
    assert p.cut_queued() == [("item_A", 237)]
    assert p.is_cut("item_A")
    for name in names[2:]:  # the clear flushes the rest: none of it was heard
        p.on_mark(name)
    clock.at(5000)
    assert p.played_ms("item_A") == 237
    assert not p.audio_queued


def test_cut_before_any_echo() -> None:
    clock = Clock().at(1000)
    p = Playback(clock=clock)
    p.on_delta("item_A", delta_ms(100))
    p.on_delta("item_A", delta_ms(100))
    clock.at(1064)
    assert p.cut_queued() == [("item_A", 54)]


def test_cut_reports_every_queued_item_with_its_own_position() -> None:
    clock = Clock()
    p = Playback(clock=clock)
    a = p.on_delta("item_A", delta_ms(100))
    p.on_delta("item_A", delta_ms(100))
    p.on_delta("item_B", delta_ms(100))
    clock.at(100)
    p.on_mark(a)
    clock.at(142)
    assert p.cut_queued() == [("item_A", 142), ("item_B", 0)]


def test_after_a_clear_the_next_item_starts_at_its_arrival() -> None:
    clock = Clock()
    p = Playback(clock=clock)
    old = [p.on_delta("item_A", delta_ms(100)) for _ in range(3)]
    clock.at(50)
    assert p.cut_queued() == [("item_A", 40)]
    clock.at(400)
    first = p.on_delta("item_B", delta_ms(100))
    p.on_delta("item_B", delta_ms(100))
    for name in old:  # the flushed echoes arrive late, among the new item's audio
        p.on_mark(name)
    clock.at(430)
    assert p.played_ms("item_B") == 20
    clock.at(510)
    p.on_mark(first)
    clock.at(530)
    assert p.played_ms("item_B") == 120
    assert p.played_ms("item_A") == 40


def test_clear_right_after_sending_counts_from_the_next_send() -> None:
    """Audio sent before a clear but after its last echo: the carrier dropped it, so what
    comes next finds the carrier idle."""
    clock = Clock()
    p = Playback(clock=clock)
    p.on_delta("item_A", delta_ms(100))
    clock.at(20)
    p.cut_queued()
    clock.at(20)
    p.on_delta("item_B", delta_ms(100))
    clock.at(45)
    assert p.played_ms("item_B") == 15


def test_an_echo_confirms_every_mark_before_it() -> None:
    clock = Clock()
    p = Playback(clock=clock)
    names = [p.on_delta("item_A", delta_ms(100)) for _ in range(3)]
    clock.at(210)
    p.on_mark(names[1])  # the first echo was lost
    assert p.pending_for("item_A") == 1
    assert p.pending_marks == 1
    clock.at(230)
    assert p.played_ms("item_A") == 220
    p.on_mark(names[0])  # arrives late: no effect
    assert p.pending_for("item_A") == 1
    assert p.played_ms("item_A") == 220


def test_an_echo_of_the_next_item_confirms_the_previous_one() -> None:
    clock = Clock()
    p = Playback(clock=clock)
    p.on_delta("item_A", delta_ms(100))
    b = p.on_delta("item_B", delta_ms(100))
    p.on_delta("item_B", delta_ms(100))
    clock.at(200)
    p.on_mark(b)
    assert p.pending_for("item_A") == 0
    assert p.played_ms("item_A") == 100
    clock.at(250)
    assert p.played_ms("item_B") == 150


def test_empty_delta_marks_count_once_each() -> None:
    clock = Clock()
    p = Playback(clock=clock)
    first = p.on_delta("item_A", delta_ms(100))
    same = p.on_delta("item_A", "")
    assert first == same == "item_A:800"
    p.on_delta("item_A", delta_ms(100))
    clock.at(100)
    p.on_mark(first)
    assert p.pending_for("item_A") == 2
    p.on_mark(same)
    assert p.pending_for("item_A") == 1
    clock.at(150)
    assert p.played_ms("item_A") == 150


def test_other_audio_holds_back_what_follows_until_its_mark() -> None:
    """Keypad tones between two answers: the next answer starts when the tones' mark is back."""
    clock = Clock()
    p = Playback(clock=clock)
    a = p.on_delta("item_A", delta_ms(100))
    p.on_other_audio("dtmf-1")
    clock.at(10)
    p.on_delta("item_B", delta_ms(100))
    clock.at(100)
    p.on_mark(a)
    clock.at(300)
    assert p.played_ms("item_B") == 0  # the tones are still playing
    assert p.pending_marks == 1  # tones are not model audio
    assert p.on_mark("dtmf-1") is None
    clock.at(340)
    assert p.played_ms("item_B") == 40
    assert p.on_mark("dtmf-1") is None  # a second echo changes nothing
    assert p.played_ms("item_B") == 40


def test_other_audio_dropped_by_a_clear() -> None:
    clock = Clock()
    p = Playback(clock=clock)
    p.on_other_audio("dtmf-1")
    p.on_delta("item_A", delta_ms(100))
    clock.at(50)
    assert p.cut_queued() == [("item_A", 0)]
    assert p.on_mark("dtmf-1") is None  # flushed
    p.on_delta("item_B", delta_ms(100))
    clock.at(80)
    assert p.played_ms("item_B") == 20


def test_hot_path_reads_the_clock_once() -> None:
    clock = Clock()
    p = Playback(clock=clock)
    names = [p.on_delta("item_A", delta_ms(20)) for _ in range(10)]
    assert clock.reads == 10
    for name in names:
        p.on_mark(name)
    assert clock.reads == 20
    assert p.on_mark("item_A:999") == ("item_A", 999)  # nothing pending: no clock
    assert clock.reads == 20


# --------------------------------------------------------------------------- against a carrier


@dataclass
class _Segment:
    item: str
    size: int
    sent: float
    start: float = 0.0
    end: float = 0.0
    mark: str = ""


# The carrier's mean wait for its next 20 ms frame, for audio that finds it idle.
_FRAME_WAIT_S = 0.010


@dataclass
class _Carrier:
    """Reference carrier: plays its queue back to back at 8 bytes/ms; audio that finds it
    idle begins after the mean frame wait."""

    segments: list[_Segment] = field(default_factory=list)

    def send(self, segment: _Segment) -> None:
        free = self.segments[-1].end if self.segments else 0.0
        segment.start = max(free, segment.sent + _FRAME_WAIT_S)
        segment.end = segment.start + segment.size / (BYTES_PER_MS * 1000)
        self.segments.append(segment)

    def heard(self, item: str, now: float) -> float:
        """Bytes of `item` played by `now`."""
        return sum(
            min(s.size, max(0.0, (now - s.start) * BYTES_PER_MS * 1000))
            for s in self.segments
            if s.item == item
        )


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("echo_ms", [0, 7])
def test_matches_a_reference_carrier(seed: int, echo_ms: int) -> None:
    """Random sizes, gaps and items: exact when echoes are instant, and behind by at most
    the echo delay (never ahead) when they are not."""
    rng = random.Random(seed)
    carrier = _Carrier()
    clock = Clock()
    p = Playback(clock=clock)
    # Deltas, echoes and probes in time order; at one instant echoes go first, then deltas.
    events: list[tuple[float, int, int, str, _Segment | str]] = []
    n = 0
    t = 0.0
    items = [f"item_{i}" for i in range(4)]
    for item in items:
        t += rng.choice([0.0, 0.0, rng.uniform(0.0, 0.5)])  # the next answer, maybe at once
        for _ in range(rng.randint(1, 12)):
            size = rng.choice([800, 800, 480, 160, rng.randint(1, 1600)])
            events.append((t, 1, n := n + 1, "delta", _Segment(item, size, t)))
            # Faster than real time, about real time, or slower (gaps).
            t += size / 8000 * rng.choice([0.0, 0.2, 1.0, 1.3, 2.0])
    for _ in range(300):
        events.append((rng.uniform(0.0, t + 1.0), 2, n := n + 1, "probe", rng.choice(items)))
    heapq.heapify(events)
    while events:
        when, _, _, kind, what = heapq.heappop(events)
        clock.now = when
        if isinstance(what, _Segment):
            what.mark = p.on_delta(what.item, b64(what.size))
            carrier.send(what)
            echo = (what.end + echo_ms / 1000, 0, n := n + 1, "echo", what.mark)
            heapq.heappush(events, echo)
        elif kind == "echo":
            p.on_mark(what)
        else:
            truth = carrier.heard(what, when) / BYTES_PER_MS
            estimate = p.played_ms(what)
            assert estimate <= p.generated_ms(what)
            assert -1 <= truth - estimate <= echo_ms + 1, (what, when, truth, estimate)
