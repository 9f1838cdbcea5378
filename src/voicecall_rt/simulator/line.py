"""A bad line for the fake carrier: jitter and loss on the caller's 20 ms media grid.

A real call reaches Twilio as RTP over UDP and then our server over one TCP WebSocket. So
what our server sees is packets that arrive late and in bursts (jitter), never out of
order (TCP keeps the order), and packets that never arrive at all (loss on the RTP leg).
Each media message still carries the stream time it was captured at (`timestamp`), so a
lost frame shows as a 20 ms gap in timestamps; `chunk` counts the messages actually sent.
(How Twilio numbers `chunk` around a lost packet is not documented; counting sent
messages is what the fake did before, for frames it chose not to send.)

Everything is drawn from one seeded generator per call, so a seed replays the same line.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Impairment:
    """What happens to one frame: dropped, or sent `delay_s` after its grid time."""

    lost: bool
    delay_s: float


class Line:
    """The per-call impairment schedule: one `next()` per caller frame, in grid order."""

    def __init__(self, *, jitter_ms: int = 0, loss_rate: float = 0.0, seed: int = 0) -> None:
        if jitter_ms < 0:
            raise ValueError(f"jitter_ms must be >= 0, got {jitter_ms}")
        if not 0.0 <= loss_rate < 1.0:
            raise ValueError(f"loss_rate must be in [0, 1), got {loss_rate}")
        self.jitter_ms = jitter_ms
        self.loss_rate = loss_rate
        # Not for security: a reproducible schedule is the point.
        self._rng = random.Random(seed)  # noqa: S311
        self._last_due = float("-inf")

    @property
    def clean(self) -> bool:
        return self.jitter_ms == 0 and self.loss_rate == 0.0

    def next(self, grid_s: float) -> Impairment:
        """The fate of the frame captured at `grid_s` (loop time). A delayed frame holds back
        every frame behind it, as one TCP stream does, so send times never go backwards."""
        # Both draws happen for every frame, so changing one knob keeps the other's schedule.
        lost = self._rng.random() < self.loss_rate
        jitter_s = self._rng.uniform(0.0, self.jitter_ms / 1000) if self.jitter_ms else 0.0
        if lost:
            return Impairment(lost=True, delay_s=0.0)
        due = max(grid_s + jitter_s, self._last_due)
        self._last_due = due
        return Impairment(lost=False, delay_s=due - grid_s)
