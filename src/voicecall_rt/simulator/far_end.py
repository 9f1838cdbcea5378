"""The far party's end of a media stream, whatever the carrier: the 20 ms clock.

Every 20 ms, on absolute deadlines (t0 + n·20 ms, so a late tick never shifts the ones
after it), the far end plays 160 bytes of our server's audio (`simulator.playout`) and puts
one caller frame on the line (`simulator.caller_audio`), through the call's impairments
(`simulator.line`: a frame late or lost; nothing overtakes, as on one TCP connection). The
callee's script (`simulator.callee`) runs beside it.

The carrier's stream client owns the socket and the wire format: it hands our server's
audio, marks and `clear` in here and sends what comes out through its `StreamSender`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Protocol

from voicecall_rt.simulator.callee import run_script
from voicecall_rt.simulator.caller_audio import FRAME_MS, FRAME_S, CallerAudio
from voicecall_rt.simulator.line import Line
from voicecall_rt.simulator.playout import Playout
from voicecall_rt.simulator.sim_call import MarkEcho, SimCall
from voicecall_rt.simulator.tasks import Spawn, cancel_and_wait

__all__ = ["FarEnd", "StreamSender"]


class StreamSender(Protocol):
    """How the far end's messages reach our server on one carrier's stream."""

    async def send_media(self, stamp_ms: int, payload: str) -> bool:
        """One caller frame (base64 µ-law) captured at `stamp_ms`; False if not sent."""
        ...

    async def send_dtmf(self, digit: str) -> None:
        """A key press, as the carrier reports one."""
        ...

    async def send_mark(self, name: str) -> None:
        """A mark's echo."""
        ...


class FarEnd:
    """The clock, playout and caller audio of one stream, and the callee's script."""

    def __init__(
        self,
        call: SimCall,
        sender: StreamSender,
        *,
        spawn: Spawn,
        detect_dtmf: bool,
        hang_up: Callable[[], object],
        task_prefix: str,
    ) -> None:
        """`hang_up()`: the script's `HangUp` (the carrier ends the call `completed`)."""
        self.call = call
        self._sender = sender
        self._spawn = spawn
        self.hang_up = hang_up
        self._prefix = f"{task_prefix}-{call.sid}"
        self.playout = Playout(call, detect_dtmf=detect_dtmf)
        self.mouth = CallerAudio()
        self.tick = 0
        self._t0 = 0.0
        plan = call.plan
        self._line = Line(jitter_ms=plan.jitter_ms, loss_rate=plan.loss_rate, seed=plan.line_seed)
        # Caller messages held back by the line, sent in order by `_send_late` when due.
        self._late: asyncio.Queue[tuple[float, Callable[[], Awaitable[None]]]] = asyncio.Queue()
        self._late_pending = 0
        self._late_sender: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._script: asyncio.Task[None] | None = None

    @property
    def stream_ms(self) -> int:
        return self.tick * FRAME_MS

    @property
    def queued_bytes(self) -> int:
        return self.playout.queued_bytes

    def start(self, t0: float) -> None:
        """Run the clock from `t0` (loop time of the stream's start) and the script."""
        self._t0 = t0
        self._ticker = self._spawn(self._tick_loop(), f"{self._prefix}-media")
        self._script = self._spawn(run_script(self), f"{self._prefix}-script")

    async def stop(self) -> None:
        """Stop the clock, the script and whatever the line still held back."""
        await cancel_and_wait(self._ticker, self._script, self._late_sender)

    # -- what our server sends ------------------------------------------------------------

    def play(self, audio: bytes) -> None:
        self.playout.add_audio(asyncio.get_running_loop().time(), audio)

    async def mark(self, name: str) -> None:
        if self.playout.add_mark(name):
            await self._echo_marks([name], cleared=False)

    async def clear(self) -> None:
        """Drop what has not played and echo the marks dropped with it (Twilio, Telnyx)."""
        await self._echo_marks(await self.drop_queued(), cleared=True)

    async def drop_queued(self) -> list[str]:
        """Drop what has not played; returns the marks dropped with it, not echoed.

        On a loaded event loop the tick task may be late, but the carrier's clock does not
        wait for it: the ticks due by now play first (their marks echoed as usual), so what
        had played by the clock is not counted as dropped."""
        now = asyncio.get_running_loop().time()
        playout = self.playout
        due: list[str] = []
        while self._ticker is not None and self._t0 + (n := playout.ticks + 1) * FRAME_S <= now:
            due += playout.tick(n, self._t0 + n * FRAME_S)
        pending = playout.clear(now, playout.ticks)
        await self._echo_marks(due, cleared=False)
        return pending

    async def _echo_marks(self, names: Iterable[str], *, cleared: bool) -> None:
        call = self.call
        for name in names:
            call.marks_echoed.append(name)
            call.mark_echoes.append(MarkEcho(name, call.played_bytes, self.stream_ms, cleared))
            await self._sender.send_mark(name)

    # -- the 20 ms clock ----------------------------------------------------------------------

    async def _tick_loop(self) -> None:
        """One tick per 20 ms on absolute deadlines (t0 + n·20 ms): play 160 bytes of our
        server's audio, send one inbound frame. Late ticks catch up, so there is no drift."""
        loop = asyncio.get_running_loop()
        call = self.call
        while True:
            n = self.tick + 1
            grid = self._t0 + n * FRAME_S
            delay = grid - loop.time()
            await asyncio.sleep(delay if delay > 0 else 0)
            self.tick = n
            due = self.playout.tick(n, grid)
            if due:
                await self._echo_marks(due, cleared=False)
            payload, digit, speaking = self.mouth.next_frame()
            if not call.media_stopped:
                stamp = n * FRAME_MS
                fate = self._line.next(grid)
                if fate.lost:
                    call.media_lost.append(stamp)
                else:
                    await self._emit(
                        grid + fate.delay_s, partial(self._send_media, stamp, payload, speaking)
                    )
                if digit is not None and self.mouth.key_events:
                    # Behind the frame that ended the tone, whenever that frame goes out.
                    await self._emit(grid, partial(self._sender.send_dtmf, digit))
            if digit is not None:
                call.keys_pressed += digit
            await call.changed()

    async def _send_media(self, stamp: int, payload: str, voiced: bool) -> None:
        if await self._sender.send_media(stamp, payload):
            self.call.media_sent += 1
            self.call.media_log.append((stamp, voiced))

    async def _emit(self, due: float, send: Callable[[], Awaitable[None]]) -> None:
        """Send a caller message now, or at `due` (loop time) behind whatever the line is
        still holding back: nothing overtakes, as on the carrier's one TCP connection."""
        if self._late_pending == 0 and due <= asyncio.get_running_loop().time():
            await send()
            return
        self._late_pending += 1
        self._late.put_nowait((due, send))
        if self._late_sender is None:
            self._late_sender = self._spawn(self._send_late(), f"{self._prefix}-line")

    async def _send_late(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, send = await self._late.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            await send()
            self._late_pending -= 1
            await self.call.changed()
