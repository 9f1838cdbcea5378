"""Playing our server's audio at the far end, and the marks that ride along with it.

Playback model: a 160-byte frame of our server's audio starts at a 20 ms grid tick at or
after its arrival and counts as played (`SimCall.played_audio`, mark echoes) when that
tick's 20 ms are over, so a mark is never echoed before its audio could have been heard.
A mark queued behind audio is echoed once the audio before it has played; with nothing
queued or playing, at once. `clear` keeps the part of the frame in flight that had already
played and drops the rest, and every pending mark is echoed then. The grid is the carrier's
clock, not the tick task's: a clear that finds the task late on a loaded event loop first
plays the ticks already due (`FarEnd.drop_queued`), as a real carrier would have.

The far party "hears" what plays: keypad tones in it are decoded into
`SimCall.heard_digits` (`audio.goertzel`). Carrier-neutral: the carrier's stream client
feeds it and sends the echoes.
"""

from __future__ import annotations

from collections import deque
from typing import Final

from voicecall_rt.audio.goertzel import DtmfDetector
from voicecall_rt.simulator.caller_audio import FRAME_BYTES, FRAME_MS, SILENCE_FRAME
from voicecall_rt.simulator.sim_call import MarkEcho, SimCall

__all__ = ["Playout"]

# After model audio stops, the DTMF detector keeps hearing line silence this long, so a
# tone that ends a burst is closed properly and the next burst starts from a clean state.
_DETECTOR_TAIL_TICKS: Final = 10
_RATE: Final = 8000


class Playout:
    """Our server's audio and marks, in arrival order, played on the 20 ms grid."""

    def __init__(self, call: SimCall, *, detect_dtmf: bool) -> None:
        self.call = call
        # Our server's audio (arrival time, bytes) and mark names, in order.
        self._queue: deque[tuple[float, bytes] | str] = deque()
        self._playing = b""  # the 20 ms frame being played now
        self._playing_since = 0.0
        self._playing_marks: list[str] = []  # marks right behind the frame being played
        self.queued_bytes = 0  # not yet played, including the frame being played
        self.last_audio_tick = 0
        self.ticks = 0  # the last tick played: the tick task's, or a clear's catching up
        self._detector = DtmfDetector() if detect_dtmf else None
        self._detector_tail = 0
        # Keys the carrier itself plays on the line (a REST DTMF command): heard by the far
        # party as they play, but none of our server's audio (not played_audio, and a clear
        # of the stream does not drop them). A detector of their own: they sound alongside.
        self._line_tones = bytearray()
        self._line_detector = DtmfDetector() if detect_dtmf else None

    def add_audio(self, arrived: float, audio: bytes) -> None:
        self._queue.append((arrived, audio))
        self.queued_bytes += len(audio)

    def add_line_tones(self, audio: bytes) -> None:
        """Keypad tones the carrier plays to the far party itself, heard 20 ms a tick."""
        self.call.line_audio += audio
        self._line_tones += audio + SILENCE_FRAME * _DETECTOR_TAIL_TICKS

    def add_mark(self, name: str) -> bool:
        """Queue a mark behind the audio before it; True: nothing is, echo it now."""
        if self._queue:
            self._queue.append(name)
        elif self._playing:
            self._playing_marks.append(name)
        else:
            return True
        return False

    def tick(self, tick: int, grid: float) -> list[str]:
        """Playback at grid time g_n = t0 + n·20 ms (`tick` n, `grid` g_n). The frame that
        started at g_(n-1) has now finished playing: it counts as played and the marks right
        behind it are due (returned, to echo). Then the next 160 bytes start playing, taken
        only from audio that had arrived by g_n, so nothing is ever reported played before
        it arrived plus its own duration. A tick already played (caught up) does nothing."""
        if tick <= self.ticks:
            return []
        self.ticks = tick
        call = self.call
        due: list[str] = []
        if self._line_tones:
            frame = bytes(self._line_tones[:FRAME_BYTES])
            del self._line_tones[:FRAME_BYTES]
            self._hear(frame + SILENCE_FRAME[len(frame) :], self._line_detector)
        if self._playing:
            played = self._playing
            self._playing = b""
            self.queued_bytes -= len(played)
            call.played_audio += played
            self.last_audio_tick = tick
            self._detector_tail = _DETECTOR_TAIL_TICKS
            self._hear(played + SILENCE_FRAME[len(played) :])
            due, self._playing_marks = self._playing_marks, []
        elif self._detector_tail > 0:
            self._detector_tail -= 1
            self._hear(SILENCE_FRAME)
        queue = self._queue
        need = FRAME_BYTES
        parts: list[bytes] = []
        while queue:
            head = queue[0]
            if isinstance(head, str):
                # Everything before this mark has played (nothing taken) or is playing now.
                (self._playing_marks if parts else due).append(head)
                queue.popleft()
                continue
            arrived, audio = head
            if need == 0 or arrived > grid:
                break
            take = audio[:need]
            parts.append(take)
            need -= len(take)
            if len(take) == len(audio):
                queue.popleft()
            else:
                queue[0] = (arrived, audio[len(take) :])
        if parts:
            self._playing = b"".join(parts)
            self._playing_since = grid
        return due

    def clear(self, now: float, tick: int) -> list[str]:
        """Drop everything not yet heard; the frame in flight is cut where it is (at loop
        time `now`). Returns the marks pending, to echo."""
        call = self.call
        if self._playing:
            elapsed = now - self._playing_since
            heard = self._playing[: max(0, min(len(self._playing), int(elapsed * _RATE)))]
            call.played_audio += heard
            self.queued_bytes -= len(heard)
            if heard:
                self.last_audio_tick = tick
                self._hear(heard + SILENCE_FRAME[len(heard) :])
        pending = self._playing_marks + [item for item in self._queue if isinstance(item, str)]
        call.clears.append(self.queued_bytes)
        call.cleared_marks.extend(
            MarkEcho(name, call.played_bytes, tick * FRAME_MS, cleared=True) for name in pending
        )
        self._playing = b""
        self._playing_marks = []
        self._queue.clear()
        self.queued_bytes = 0
        return pending

    def _hear(self, frame: bytes, detector: DtmfDetector | None = None) -> None:
        detector = detector or self._detector
        if detector is None:
            return
        digits = detector.feed(frame)
        if digits:
            self.call.heard_digits += "".join(digits)
