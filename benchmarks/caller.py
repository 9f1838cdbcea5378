"""The carrier side of one call: the carrier's media-stream client.

After the carrier's opening (`connected` and `start` on Twilio) it sends a 160-byte µ-law
frame every 20 ms on an absolute schedule (frame k is due at t0 + k·20 ms, so a late tick
never shifts the ones after it), plays what it receives at real pace, echoes each mark once
the audio before it has "played" and drops its queue on `clear`, the way the carrier does
(`sides.CallStream`: whether the dropped marks are answered); then it hangs up in one of
the ways a call can end. Our server's messages are told apart by the prefixes it writes
(the carrier's `wire.py`), so the per-frame path never parses JSON.
"""

from __future__ import annotations

import asyncio
import contextlib

from benchmarks import wsraw
from benchmarks.markers import FRAME_S, MARK_B64, clock, frame_payload, read_marker
from benchmarks.recorder import Call, Recorder
from benchmarks.sides import CallStream


class Caller(wsraw.WsConnection):
    """One call's media stream, the carrier's side of it."""

    is_client = True

    def __init__(self, call: Call, rec: Recorder, stream: CallStream) -> None:
        super().__init__()
        self.call = call
        self.rec = rec
        self.loop = asyncio.get_running_loop()
        self.stream = stream
        # the carrier's per-frame message, as a `bytes % (...)` template
        self.media_template = stream.media_template
        self.stamp0 = stream.stamp0
        # only our server writes to the carrier: its messages are told apart by their start
        self.media_prefix, self.mark_prefix = stream.media_prefix, stream.mark_prefix
        self.clear_prefix = stream.clear_prefix
        self.payload_at, self.name_at = stream.payload_at, stream.name_at
        self.seq = 0  # the carrier's sequence number: every numbered message takes the next
        self.k = 0  # media frames sent
        self.t0 = 0.0  # loop clock: the schedule
        self.t0_clock = 0.0  # measuring clock: the same instant
        self.play_end = 0.0
        self.marks: list[tuple[float, bytes]] = []
        self.handle: asyncio.TimerHandle | None = None
        self.stopping = False
        self.done = self.loop.create_future()
        self.other = 0

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def on_open(self) -> None:
        for message in self.stream.opening(self._next):
            self.send_text(message)
        self.t0 = self.loop.time()
        self.call.start_sent_at = self.t0_clock = clock()
        self._tick()

    def _tick(self) -> None:
        if self.stopping or self.closed:
            return
        k = self.k
        now = clock()
        if self.rec.window:
            self.rec.lag.append(now - (self.t0_clock + k * FRAME_S))
        seq = self._next()
        self.call.up.sent.append(now)
        self.send_text(
            self.media_template
            % (seq, k + 1, self.stamp0 + k * 20, frame_payload(self.call.index, k))
        )
        self.k = k + 1
        self._echo_marks(now)
        self.handle = self.loop.call_at(self.t0 + self.k * FRAME_S, self._tick)

    def _echo_marks(self, now: float) -> None:
        marks = self.marks
        i = 0
        while i < len(marks) and marks[i][0] <= now:
            self.send_text(self.stream.mark_echo(self._next(), marks[i][1]))
            i += 1
        if i:
            del marks[:i]

    def on_text(self, data: bytes) -> None:
        now = clock()
        if data.startswith(self.media_prefix):
            at = data.find(self.payload_at) + len(self.payload_at)
            marker = read_marker(data[at : at + MARK_B64])
            if marker is None or marker[0] != self.call.index:
                self.rec.unknown_markers += 1
            else:
                self.rec.down(self.call, marker[1], now)
            # it plays after whatever is queued: 160 bytes = 20 ms
            self.play_end = max(self.play_end, now) + FRAME_S
        elif data.startswith(self.mark_prefix):
            at = data.find(self.name_at) + len(self.name_at)
            self.call.marks_received += 1
            self.marks.append((self.play_end, data[at : data.find(b'"', at)]))
        elif data.startswith(self.clear_prefix):
            call = self.call
            call.clears += 1
            if call.barge_sent_at is not None:
                if self.rec.window:
                    self.rec.lat_barge.append(now - call.barge_sent_at)
                call.barge_sent_at = None
            # the carrier drops its queue; Twilio echoes every pending mark at once, Plivo
            # says `clearedAudio` and never answers the checkpoints it dropped
            self.play_end = now
            if self.stream.echoes_cleared_marks:
                for i in range(len(self.marks)):
                    self.marks[i] = (now, self.marks[i][1])
                self._echo_marks(now)
            else:
                self.marks.clear()
            cleared = self.stream.cleared(self._next)
            if cleared is not None:
                self.send_text(cleared)
        else:
            self.other += 1

    def on_closed(self) -> None:
        self.call.close_code = self.close_code
        if self.handle is not None:
            self.handle.cancel()
        if not self.done.done():
            self.done.set_result(None)

    async def hang_up(self, drain_s: float = 2.0, how: str = "stop") -> None:
        """Stop talking, let the audio in flight arrive, then end the call `how`:
        `stop` (the carrier's stop message, then the server closes; a carrier without one,
        Plivo, closes the WebSocket), `drop` (the carrier's TCP
        connection just goes away) or `model` (the model side ends it with an account
        error and closes its WebSocket — a session that merely closes is renewed; the
        server must hang up through the carrier REST API and close the stream)."""
        self.stopping = True
        if self.handle is not None:
            self.handle.cancel()
        call = self.call
        deadline = self.loop.time() + drain_s
        while self.loop.time() < deadline and not self.closed:
            if call.up.next >= len(call.up.sent) and call.down.next >= len(call.down.sent):
                break
            await asyncio.sleep(0.02)
        self._echo_marks(float("inf"))
        if how == "drop":
            self.abort()
            await asyncio.shield(self.done)
            return
        if how == "model" and call.model is not None:
            call.model.end_call()
        else:
            stop = self.stream.stop(self._next())
            if stop is None:
                self.close()
            else:
                self.send_text(stop)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5.0):
                await asyncio.shield(self.done)  # the server ends the call and closes
        if not self.closed:
            self.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await asyncio.shield(self.done)
            self.abort()
