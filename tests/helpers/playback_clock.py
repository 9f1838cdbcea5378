"""For the playback-accounting tests: a clock the test moves, and base64 audio of a given size."""

from __future__ import annotations

import base64


def b64(n: int) -> str:
    return base64.b64encode(bytes(range(256)) * (n // 256) + bytes(range(n % 256))).decode()


class Clock:
    """A controlled monotonic clock in seconds; `at(ms)` moves it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now

    def at(self, ms: float) -> Clock:
        self.now = ms / 1000
        return self
