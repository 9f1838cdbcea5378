"""What one benchmark run records, and the summary every report gives of it.

Per call and direction, when each frame was sent and what arrived in what order (`Flow`,
`Call`); run-wide, the latencies taken only inside the steady window (`Recorder`); and
the p50 / p99 / max summary of such a series (`ms_summary`). It stands apart from both
fake parties because both write into the same records: the fake model the caller→model
frames, the caller the model→caller ones.
"""

from __future__ import annotations

import secrets
from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from benchmarks.sides import RestLog

if TYPE_CHECKING:
    from benchmarks.caller import Caller
    from benchmarks.fake_model import ModelSession


@dataclass
class Flow:
    """One direction of one call: when each frame was sent, what arrived, in what order."""

    sent: array[float] = field(default_factory=lambda: array("d"))
    next: int = 0
    received: int = 0
    reordered: int = 0
    duplicates: int = 0
    missing: set[int] = field(default_factory=set)

    def arrive(self, seq: int) -> None:
        self.received += 1
        if seq == self.next:
            self.next += 1
        elif seq > self.next:
            self.missing.update(range(self.next, seq))
            self.next = seq + 1
        elif seq in self.missing:
            self.missing.discard(seq)
            self.reordered += 1
        else:
            self.duplicates += 1

    @property
    def lost(self) -> int:
        return len(self.missing) + max(0, len(self.sent) - self.next)


@dataclass
class Call:
    index: int
    # Twilio's shapes until the carrier played names the call (`CarrierSide.name_call`)
    call_sid: str = field(default_factory=lambda: "CA" + secrets.token_hex(16))
    stream_sid: str = field(default_factory=lambda: "MZ" + secrets.token_hex(16))
    up: Flow = field(default_factory=Flow)  # caller → model
    down: Flow = field(default_factory=Flow)  # model → caller
    token: str = ""  # what the carrier puts in the stream's `start` for our server's token
    error: str | None = None
    start_sent_at: float | None = None
    first_up_at: float | None = None  # the first caller frame reached the model
    barge_sent_at: float | None = None
    barges_sent: int = 0
    clears: int = 0
    marks_received: int = 0
    close_code: int | None = None
    model: ModelSession | None = None
    caller: Caller | None = None
    # renewal probe only (FakeModel(track=True)): every model session that received this
    # call's audio, in order, and when each caller frame first reached a live session
    sessions: list[ModelSession] = field(default_factory=list)
    up_at: dict[int, float] = field(default_factory=dict)
    after_end: int = 0  # caller frames that reached a session the model had already ended
    # caller frames a renewed session got again: our server resends what the ended session
    # had not committed (it is lost with it); the first copy was counted when it arrived
    resent: int = 0


class Recorder:
    """Everything measured during one run; latencies only inside the steady window."""

    def __init__(self) -> None:
        self.calls: dict[int, Call] = {}
        self.window = False
        self.lat_up = array("d")
        self.lat_down = array("d")
        self.lat_barge = array("d")
        self.lag = array("d")  # load generator: how late each frame was sent
        self.frames_up_window = 0
        self.frames_down_window = 0
        self.unknown_markers = 0
        self.rest = RestLog()  # what our server asked of the carrier's REST API

    def up(self, call: Call, seq: int, now: float) -> None:
        call.up.arrive(seq)
        if self.window:
            self.frames_up_window += 1
            sent = call.up.sent
            if seq < len(sent):
                self.lat_up.append(now - sent[seq])

    def down(self, call: Call, seq: int, now: float) -> None:
        call.down.arrive(seq)
        if self.window:
            self.frames_down_window += 1
            sent = call.down.sent
            if seq < len(sent):
                self.lat_down.append(now - sent[seq])


def _pct(values: array[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    i = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return float(ordered[i]) * 1000.0


def ms_summary(values: array[float]) -> dict[str, float | None]:
    return {
        "p50": _pct(values, 50),
        "p99": _pct(values, 99),
        "max": max(values) * 1000.0 if values else None,
        "n": len(values),
    }
