"""The carrier side of one call: Twilio's media-stream client.

After `connected` and `start` it sends a 160-byte µ-law frame every 20 ms on an absolute
schedule (frame k is due at t0 + k·20 ms, so a late tick never shifts the ones after it),
plays what it receives at real pace, echoes each `mark` once the audio before it has
"played" and drops its queue on `clear`, as Twilio does; then it hangs up in one of the
ways a call can end. Our server's messages are told apart by the prefixes it writes
(`carrier/twilio/wire.py`), so the per-frame path never parses JSON.
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson

from benchmarks import wsraw
from benchmarks.markers import FRAME_S, MARK_B64, clock, frame_payload, read_marker
from benchmarks.recorder import Call, Recorder
from benchmarks.sim_account import ACCOUNT_SID
from voicecall_rt.carrier.twilio import wire

# Only our server writes to the carrier, so its messages are told apart by how it writes them.
_MEDIA = wire.MEDIA_PREFIX.encode()
_MARK_EV = wire.MARK_PREFIX.encode()
_CLEAR = wire.CLEAR_PREFIX.encode()
_PAYLOAD = wire.PAYLOAD_AT.encode()
_NAME = wire.NAME_AT.encode()


class Caller(wsraw.WsConnection):
    """One call's media stream, Twilio's side of it."""

    is_client = True

    def __init__(self, call: Call, rec: Recorder) -> None:
        super().__init__()
        self.call = call
        self.rec = rec
        self.loop = asyncio.get_running_loop()
        # the carrier's per-frame messages, as `bytes % (...)` templates
        self.media_template = wire.carrier_media_template(call.stream_sid)
        self.mark_template = wire.carrier_mark_template(call.stream_sid)
        self.seq = 0  # Twilio's sequenceNumber: every message after `connected`
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
        call = self.call
        self.send_text(orjson.dumps(wire.carrier_connected()))
        start = wire.carrier_start(
            str(self._next()),
            call.stream_sid,
            account_sid=ACCOUNT_SID,
            call_sid=call.call_sid,
            parameters={wire.TOKEN_PARAMETER: call.token} if call.token else {},
        )
        self.send_text(orjson.dumps(start))
        self.t0 = self.loop.time()
        call.start_sent_at = self.t0_clock = clock()
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
            self.media_template % (seq, k + 1, k * 20, frame_payload(self.call.index, k))
        )
        self.k = k + 1
        self._echo_marks(now)
        self.handle = self.loop.call_at(self.t0 + self.k * FRAME_S, self._tick)

    def _echo_marks(self, now: float) -> None:
        marks = self.marks
        i = 0
        while i < len(marks) and marks[i][0] <= now:
            self.send_text(self.mark_template % (self._next(), marks[i][1]))
            i += 1
        if i:
            del marks[:i]

    def on_text(self, data: bytes) -> None:
        now = clock()
        if data.startswith(_MEDIA):
            at = data.find(_PAYLOAD) + len(_PAYLOAD)
            marker = read_marker(data[at : at + MARK_B64])
            if marker is None or marker[0] != self.call.index:
                self.rec.unknown_markers += 1
            else:
                self.rec.down(self.call, marker[1], now)
            # it plays after whatever is queued: 160 bytes = 20 ms
            self.play_end = max(self.play_end, now) + FRAME_S
        elif data.startswith(_MARK_EV):
            at = data.find(_NAME) + len(_NAME)
            self.call.marks_received += 1
            self.marks.append((self.play_end, data[at : data.find(b'"', at)]))
        elif data.startswith(_CLEAR):
            call = self.call
            call.clears += 1
            if call.barge_sent_at is not None:
                if self.rec.window:
                    self.rec.lat_barge.append(now - call.barge_sent_at)
                call.barge_sent_at = None
            # Twilio drops the queue and echoes every pending mark at once
            self.play_end = now
            for i in range(len(self.marks)):
                self.marks[i] = (now, self.marks[i][1])
            self._echo_marks(now)
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
        `stop` (Twilio's stop message, then the server closes), `drop` (the carrier's TCP
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
            stop = wire.carrier_stop(
                str(self._next()), call.stream_sid, account_sid=ACCOUNT_SID, call_sid=call.call_sid
            )
            self.send_text(orjson.dumps(stop))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5.0):
                await asyncio.shield(self.done)  # the server ends the call and closes
        if not self.closed:
            self.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await asyncio.shield(self.done)
            self.abort()
