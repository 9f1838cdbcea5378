"""The audio relay: the hot path, and nothing else (docs/design.md §4).

Caller → model: each carrier frame is read by the carrier's codec; its base64 payload goes
to the model session as is (`append_audio`), or waits in `pending` while no session is
ready (pre-warm, renewal). Model → caller: each audio delta goes to the carrier as a
`media` message and a playback `mark` (call/playback.py), written together. No base64
decode, no model object, no log line and no task per frame. Marks, keypad presses and the
rare control work go to the conversation (`Relay.events`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Protocol

from voicecall_rt.call.playback import Playback
from voicecall_rt.call.recording import CallRecorder
from voicecall_rt.call.stats import Sampler
from voicecall_rt.carrier.base import Frame, StreamCodec, StreamWriter
from voicecall_rt.carrier.link import CarrierLink
from voicecall_rt.model.base import ModelSession

# Caller audio that arrives before the model session is ready waits here, in order.
# 50 frames a second: 10 s, far beyond a slow handshake; past that, oldest frames go.
PREWARM_BUFFER_FRAMES = 500
# Caller audio a session has not committed yet is lost with it: what was sent since the
# last commit goes again to the next session after an unplanned end — at most the last
# 2 s (what was in flight, and the end of an utterance under way): each frame kept costs
# its payload string (~270 B), and the benchmark's MB per call is a goal of its own.
# After a commit the last few frames stay, as they may have reached the server after it.
RESEND_FRAMES = 100
RESEND_KEEP_AFTER_COMMIT = 10
# The relay's own cost per caller frame is timed on one frame in 128 (~2.6 s).
_SAMPLE_IN_MASK = 127

_MEDIA, _MARK, _KEYPAD, _STOP, _BAD = Frame.MEDIA, Frame.MARK, Frame.KEYPAD, Frame.STOP, Frame.BAD


def unsafe(payload: object) -> bool:
    """A payload is spliced into JSON by concatenation: only base64-safe strings may pass."""
    return not isinstance(payload, str) or '"' in payload or "\\" in payload


class RelayEvents(Protocol):
    """What the relay hands on (the conversation)."""

    def first_audio(self, item_id: str) -> None: ...

    def on_mark(self, name: str) -> None: ...

    def on_keypad(self, digit: str) -> None: ...


class _Unheard:
    """Where the relay's events go until the conversation is attached."""

    def first_audio(self, item_id: str) -> None:
        pass

    def on_mark(self, name: str) -> None:
        pass

    def on_keypad(self, digit: str) -> None:
        pass


class Relay:
    """One call's audio in both directions, with its counters.

    `events` is set to the conversation once both exist (each needs the other)."""

    def __init__(self, recorder: CallRecorder | None) -> None:
        self.events: RelayEvents = _Unheard()
        self.frames_in = 0
        self.frames_out = 0
        self.bad_frames = 0
        self.dropped_frames = 0
        self.cost_in = Sampler()
        self.cost_out = Sampler()
        self.playback = Playback()
        # Responses whose audio is being cut: deltas still in flight for them are dropped.
        self.cancelled: set[str] = set()
        self.carrier: CarrierLink | None = None
        self.writer: StreamWriter | None = None
        # The session caller audio goes to; None while none is ready (it waits in `pending`).
        self.session: ModelSession | None = None
        self.pending: deque[str] = deque()
        self._flushed = 0  # buffered caller frames sent so far (their appends' ids)
        # Caller frames sent to the session since its last commit (see RESEND_FRAMES).
        self.recent: deque[str] = deque(maxlen=RESEND_FRAMES)
        self._items: set[str] = set()  # model items whose audio has begun
        self._recorder = recorder
        self._read = _never_read
        # Set while `pump` runs; done when the carrier's stream has ended.
        self._pumping: asyncio.Future[None] | None = None

    # ---- caller → model ----------------------------------------------------------------------

    async def pump(self, carrier: CarrierLink, codec: StreamCodec, writer: StreamWriter) -> str:
        """Relay the carrier's frames until the stream ends; returns why it ended."""
        self.carrier, self.writer, self._read = carrier, writer, codec.read
        self._pumping = asyncio.get_running_loop().create_future()
        try:
            stopped = await carrier.read(self._on_frame, self._on_other)
        finally:
            self._pumping.set_result(None)
        return "carrier-stop" if stopped else "carrier-closed"

    async def stream_ended(self) -> None:
        """Return once a stream being pumped has ended (at once if none is)."""
        pumping = self._pumping
        if pumping is not None and not pumping.done():
            await asyncio.shield(pumping)

    def _on_other(self) -> None:
        self.bad_frames += 1

    def _on_frame(self, data: str) -> bool:
        # One caller frame in 128 is timed, from its arrival to its append sent.
        due = (self.frames_in & _SAMPLE_IN_MASK) == _SAMPLE_IN_MASK
        t0 = time.perf_counter_ns() if due else 0
        kind, value = self._read(data)
        recorder = self._recorder
        if recorder is not None:
            recorder.from_carrier(data, kind, value)
        if kind is _MEDIA:
            if unsafe(value):
                self.bad_frames += 1
                return True
            self.frames_in += 1
            session = self.session
            if session is None:
                self._buffer(value)
                return True
            try:
                session.append_audio(value, str(self.frames_in))
            except ConnectionError:
                self._buffer(value)  # the session is ending: the next one gets it
            else:
                self.recent.append(value)
                if t0:  # this frame is the one in 128
                    self.cost_in.add(time.perf_counter_ns() - t0)
        elif kind is _MARK:
            self.events.on_mark(value)
        elif kind is _KEYPAD:
            self.events.on_keypad(value)
        elif kind is _STOP:
            return False
        elif kind is _BAD:
            self.bad_frames += 1
        return True

    def _buffer(self, payload: str) -> None:
        if len(self.pending) >= PREWARM_BUFFER_FRAMES:
            self.pending.popleft()
            self.dropped_frames += 1
        self.pending.append(payload)

    def attach(self, session: ModelSession) -> None:
        """Caller audio goes to `session` from now on: first what waited for it, in order."""
        pending = self.pending
        while pending:
            self._flushed += 1
            session.append_audio(pending.popleft(), f"p{self._flushed}")
        self.session = session

    def detach(self) -> None:
        """No session takes caller audio for now: it waits in `pending`."""
        self.session = None

    def committed(self) -> None:
        """The session committed the caller's audio: only the last few frames stay."""
        recent = self.recent
        while len(recent) > RESEND_KEEP_AFTER_COMMIT:
            recent.popleft()

    def resend_uncommitted(self) -> int:
        """Caller audio the lost session had not committed goes to the next one, ahead of
        what arrived since; returns how many frames."""
        recent = self.recent
        count = len(recent)
        self.pending.extendleft(reversed(recent))
        recent.clear()
        while len(self.pending) > PREWARM_BUFFER_FRAMES:
            self.pending.popleft()
            self.dropped_frames += 1
        return count

    # ---- model → caller ----------------------------------------------------------------------

    def audio_now(self, item_id: object, response_id: object, delta: object) -> bool | None:
        carrier = self.carrier
        if carrier is None or not carrier.can_write_now:
            return None
        out = self._delta_out(item_id, response_id, delta)
        if out is None:
            return False
        media, mark_message = out
        carrier.write_now(media, mark_message)
        self._delta_sent(delta, media, mark_message)
        return True

    async def on_audio(self, item_id: object, response_id: object, delta: object) -> bool:
        """A delta that could not be written from the socket callback (see `audio_now`)."""
        out = self._delta_out(item_id, response_id, delta)
        if out is None:
            return False
        media, mark_message = out
        assert self.carrier is not None
        try:
            await self.carrier.send(media, mark_message)  # one write when it can be
        except ConnectionError:
            self.dropped_frames += 1  # the carrier is gone; its reader ends the call
            return False
        self._delta_sent(delta, media, mark_message)
        return True

    def _delta_out(
        self, item_id: object, response_id: object, delta: object
    ) -> tuple[str, str] | None:
        """Check and account one delta: its `media` and `mark` messages, or None if it is
        dropped (no stream yet, malformed, or a cut item's)."""
        writer = self.writer
        if (
            writer is None
            or not isinstance(item_id, str)
            or unsafe(delta)
            or self.playback.is_cut(item_id)
            or (self.cancelled and response_id in self.cancelled)
        ):
            self.dropped_frames += 1
            return None
        assert isinstance(delta, str)
        if item_id not in self._items:
            self._items.add(item_id)
            self.events.first_audio(item_id)
        return writer.media(delta), writer.mark(self.playback.on_delta(item_id, delta))

    def _delta_sent(self, delta: object, media: str, mark_message: str) -> None:
        recorder = self._recorder
        if recorder is not None:
            recorder.to_carrier(media, str(delta))
            recorder.to_carrier(mark_message)
        self.frames_out += 1

    # ---- control ------------------------------------------------------------------------------

    async def clear(self, response_id: str | None) -> list[tuple[str, int]]:
        """Drop the model audio queued at the carrier; returns each cut item with the
        milliseconds of it that were played. Deltas still coming for `response_id` are
        dropped too."""
        carrier, writer = self.carrier, self.writer
        if not self.playback.audio_queued or carrier is None or writer is None:
            return []
        with contextlib.suppress(ConnectionError):
            await carrier.send(writer.clear)
        if self._recorder is not None:
            self._recorder.cleared(writer.clear)
        if response_id is not None:
            self.cancelled.add(response_id)
        return self.playback.cut_queued()

    async def send(self, *messages: str) -> None:
        """Control messages to the carrier (tones, marks); ConnectionError once it is gone."""
        carrier = self.carrier
        if carrier is None:
            raise ConnectionError("the call audio is not connected")
        await carrier.send(*messages)

    async def send_mark(self, name: str) -> None:
        """A mark of our own (not the model's audio); ConnectionError once it is gone."""
        assert self.writer is not None
        message = self.writer.mark(name)
        await self.send(message)
        if self._recorder is not None:
            self._recorder.to_carrier(message)

    async def send_tones(self, payloads: list[str], mark: str) -> None:
        """Keypad tones (base64 µ-law, one payload a frame), then their mark;
        ConnectionError once the carrier is gone."""
        assert self.writer is not None
        writer = self.writer
        media = [writer.media(payload) for payload in payloads]
        message = writer.mark(mark)
        await self.send(*media, message)
        if self._recorder is not None:
            for text, payload in zip(media, payloads, strict=True):
                self._recorder.to_carrier(text, payload, dtmf=True)
            self._recorder.to_carrier(message)

    async def close(self) -> None:
        if self.carrier is not None:
            await self.carrier.close()


def _never_read(data: str | bytes) -> tuple[Frame, str]:
    raise AssertionError("the relay reads frames only while pumping")
