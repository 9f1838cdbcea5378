"""The per-call engine: carrier audio ⇄ model audio, plus the bookkeeping around it.

Two pumps, one reader task per socket:
- carrier → model (`run_carrier`, in the media WebSocket's handler task): `media` payloads
  go out as `input_audio_buffer.append` carrying the same base64 string.
- model → carrier (`_run_model`, a task started at pre-warm): `response.output_audio.delta`
  goes out as a carrier `media` message with the same string, then a playback `mark`.
Everything else (tools, transcripts, barge-in, timers) is rare and may cost what it costs.
Every way a call can end goes through `end()`, exactly once.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import aiohttp
import orjson

from voicecall_rt.audio.dtmf import PAUSE_CHARS, frames, tone_audio
from voicecall_rt.call import tools
from voicecall_rt.call.history import Entry, History
from voicecall_rt.call.journal import CallJournal
from voicecall_rt.call.playback import Playback
from voicecall_rt.call.recording import CallRecorder
from voicecall_rt.call.records import Direction, Outcome
from voicecall_rt.call.stats import Sampler
from voicecall_rt.carrier.base import Answerer, StreamStart, StreamWriter
from voicecall_rt.carrier.link import CarrierLink
from voicecall_rt.config import Settings
from voicecall_rt.model import catalog, realtime
from voicecall_rt.model.link import ModelLink
from voicecall_rt.model.realtime import ModelConnectError, SessionRefused
from voicecall_rt.model.session import OpenedSession, SessionTarget, open_session
from voicecall_rt.prompts import TOOLS

log = logging.getLogger(__name__)

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
# The model's messages waiting for the model task: past the high mark the socket is not
# read (TCP pushes back on the model) until the task has caught up to the low one.
INBOX_HIGH = 512
INBOX_LOW = 128
# A lost session is renewed at most this many times in a row without a turn in between.
RENEW_ATTEMPTS = 3
# A session with a known end is replaced this long before it (or a quarter of its life,
# for short ones), at the first quiet moment; `RENEW_LAST_CALL_S` before the end it is
# replaced whatever is happening.
RENEW_AHEAD_S = 120.0
RENEW_LAST_CALL_S = 10.0
QUIET_POLL_S = 0.05
FAREWELL_MAX_WAIT_S = 15.0
PROMPT_WAIT_S = 3.0  # how long a prompt waits for the model's current response to finish
_FAREWELL_MARK = "farewell"
_DTMF_MARK = "dtmf-"
_APPEND_HEAD = '{"type":"input_audio_buffer.append","event_id":"' + realtime.APPEND_ID_PREFIX
_APPEND_MID = '","audio":"'
_TEXT = aiohttp.WSMsgType.TEXT
# What `async for` over an aiohttp WebSocket stops on.
_SOCKET_ENDED = frozenset(
    (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED)
)
_USAGE_KEYS = ("input_tokens", "output_tokens", "total_tokens")
_INPUT_DETAIL_KEYS = ("text_tokens", "audio_tokens", "cached_tokens")
_OUTPUT_DETAIL_KEYS = ("text_tokens", "audio_tokens")  # output has no cached tokens
# The bridge's own cost per frame is timed on one frame in N (N a power of two).
_SAMPLE_IN_MASK = 127  # caller frames: 50 a second, so one sample every ~2.6 s
_SAMPLE_OUT_MASK = 15  # model deltas are fewer and longer (often 100 ms+): one in 16


def _unsafe(payload: object) -> bool:
    """A payload is spliced into JSON by concatenation: only base64-safe strings may pass."""
    return not isinstance(payload, str) or '"' in payload or "\\" in payload


class CallBridge:
    """One call's bridge. Created by the call manager; `start_model()` pre-warms."""

    def __init__(
        self,
        *,
        call_id: str,
        direction: Direction,
        settings: Settings,
        journal: CallJournal,
        instructions: str,
        hang_up: Callable[[CallBridge], Awaitable[None]],
        on_end: Callable[[CallBridge], None],
    ) -> None:
        self.call_id = call_id
        self.direction = direction
        self.settings = settings
        self.journal = journal
        self.carrier_sid: str | None = None
        self.outcome: Outcome | None = None
        self.end_reason: str | None = None
        # Why the model side failed the call, in OpenAI's words (never a secret): stored
        # as the call's `error`.
        self.error: str | None = None
        self.usage: dict[str, Any] = {}
        # counters, never per-frame logs
        self.frames_in = 0
        self.frames_out = 0
        self.bad_frames = 0
        self.dropped_frames = 0
        # latency: journal times (ms since the call was created), sampled bridge cost
        self._answered_t: int | None = None
        self._stream_t: int | None = None
        self._model_heard = False
        self._cost_in = Sampler()
        self._cost_out = Sampler()

        self._instructions = instructions
        self._hang_up = hang_up
        self._on_end = on_end
        self._model: ModelLink | None = None
        self._model_ready = False
        self._ids = realtime.EventIds()
        self._history = History()
        self._renewals = 0  # sessions opened after the first
        self._lost_t: int | None = None  # when the session under a live call went away
        self._expired = False  # the server said the session hit its maximum duration
        self._fatal = False  # an account error: no session will do better
        self._renew_task: asyncio.Task[None] | None = None
        # Model messages the model task has still to handle, in order. Until it has opened
        # the session, and whenever it is busy or has a backlog, everything waits here; when
        # it is idle, an audio delta goes to the carrier straight from the socket callback.
        self._inbox: deque[bytes | dict[str, Any]] = deque()
        self._inbox_ready = asyncio.Event()
        self._model_busy = True
        self._model_gone = False
        self._model_paused = False
        self._pending: deque[str] = deque()
        self._flushed = 0  # buffered caller frames sent so far (their appends' ids)
        # Caller frames sent to the session since its last commit (see RESEND_FRAMES).
        self._recent: deque[str] = deque(maxlen=RESEND_FRAMES)
        self._carrier: CarrierLink | None = None
        self._writer: StreamWriter | None = None
        self._playback = Playback()
        self._response_active = False
        self._response_id: str | None = None
        self._response_idle = asyncio.Event()
        self._response_idle.set()
        # Responses whose audio is being cut: deltas still in flight for them are dropped.
        self._cancelled: set[str] = set()
        self._failed_in_a_row = 0
        self._caller_speaking = False
        self._reply_due = False  # the caller pressed a key during a response: answer after it
        self._in_response_done = False  # its tools run: their results wait for the end of it
        self._outputs: list[dict[str, Any]] = []
        self._dtmf_marks: dict[str, tuple[str, str]] = {}
        self._assistant_text: dict[str, tuple[int, str]] = {}
        self._item_started: dict[str, int] = {}  # caller: speech start; model: first delta
        self._item_heard: dict[str, int] = {}  # model items: when the callee began hearing them
        self._speech_stopped_t: int | None = None
        self._greeted = direction == "outbound"  # outbound listens first
        self._farewell_played = asyncio.Event()
        self._closing = False  # end_call accepted: the goodbye must not be cut
        self._caller_spoke = False
        self._amd_verdict: Answerer | None = None
        # None; "pending" (stopping what was being said), "requested" (message asked for),
        # "speaking" (its response started)
        self._voicemail: str | None = None
        self._ended = False
        self._end_done = asyncio.Event()
        self._model_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timers: list[asyncio.TimerHandle] = []
        # Debug recordings only: without one the pumps pay a single `is not None` per frame.
        self._recorder: CallRecorder | None = (
            CallRecorder(call_id=call_id, settings=settings, journal=journal)
            if settings.debug
            else None
        )

    # ---- lifecycle --------------------------------------------------------------------

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def streaming(self) -> bool:
        return self._carrier is not None

    def start_model(self) -> None:
        """Pre-warm: connect and configure the model now, while the phone rings."""
        if self._model_task is None:
            self._model_task = asyncio.create_task(self._run_model(), name=f"model-{self.call_id}")

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def note_answered(self) -> None:
        """The answer webhook came (the manager says): answer → stream start runs from now."""
        if self._answered_t is None:
            self._answered_t = self.journal.t_ms()

    async def wait_ended(self) -> None:
        await self._end_done.wait()

    async def end(self, reason: str, *, hang_up: bool = False) -> None:
        """End the call for `reason`; safe to call from anywhere, any number of times."""
        if self._ended:
            await self._end_done.wait()
            return
        self._ended = True
        self.end_reason = reason
        current = asyncio.current_task()
        for timer in self._timers:
            timer.cancel()
        try:
            self._finish_assistant_lines()
            self.journal.event(
                "end",
                reason=reason,
                frames_in=self.frames_in,
                frames_out=self.frames_out,
                bad_frames=self.bad_frames,
                dropped_frames=self.dropped_frames,
            )
            if self._cost_in.count or self._cost_out.count:
                self.journal.event(
                    "latency.bridge",
                    caller_to_model=self._cost_in.summary(),
                    model_to_caller=self._cost_out.summary(),
                )
            log.info("call %s ending: %s", self.call_id, reason)
            if hang_up:
                await self._hang_up(self)
            if self._model is not None:
                await self._model.close()
            if self._carrier is not None:
                await self._carrier.close()
            tasks = [t for t in self._tasks if t is not current]
            if self._model_task is not None and self._model_task is not current:
                tasks.append(self._model_task)
            for task in tasks:
                task.cancel()
            for result in await asyncio.gather(*tasks, return_exceptions=True):
                if isinstance(result, Exception):
                    log.error("call %s: a call task failed: %r", self.call_id, result)
            # A cancelled task keeps its CancelledError, whose traceback holds this bridge:
            # dropping the references now spares the cyclic GC (the leak check saw ~9 KB a
            # call waiting for it while the renewal task was kept).
            self._renew_task = None
            del tasks
            if self._recorder is not None:
                await self._recorder.finish(reason)
        finally:
            self._on_end(self)
            self._end_done.set()

    # ---- model side -------------------------------------------------------------------

    def _session_update(self) -> dict[str, Any]:
        """The configuration every session of this call gets, first or renewed."""
        openai = self.settings.openai
        return realtime.session_update(
            instructions=self._instructions,
            voice=openai.voice,
            vad=self.settings.vad,
            tools=TOOLS,
            transcription_model=openai.transcription_model,
            language=openai.transcription_language,
            language_as_list=catalog.takes_language_list(openai.transcription_model),
            reasoning_effort=(
                openai.reasoning_effort if catalog.supports_reasoning(openai.model) else None
            ),
        )

    async def _open(self) -> OpenedSession:
        """A new, confirmed session (SessionRefused / ModelConnectError otherwise)."""
        openai = self.settings.openai
        if openai.api_key is None:
            raise ModelConnectError("openai.apiKey is not set")
        target = SessionTarget(openai.realtime_url, openai.model, openai.api_key.get_secret_value())
        update = self._session_update()
        self._ids.stamp(update)
        if self._recorder is not None:
            self._recorder.to_model(update)
        return await open_session(target, update, on_retry=self._connect_retry)

    def _connect_retry(self, attempt: int, error: str) -> None:
        self.journal.event("model.retry", attempt=attempt, error=error)

    async def _run_model(self) -> None:
        reason = "model-disconnected"
        try:
            opened = await self._open()
            if self._ended:
                await opened.link.close()
                return
            self._attach(opened)
            self.journal.event("model.ready", connect_ms=opened.connect_ms)
            if self.settings.debug:
                log.debug("call %s instructions:\n%s", self.call_id, self._instructions)
            await self._maybe_greet()
            while True:
                await self._read_model()
                if self._ended or self._fatal:
                    return
                # The session ended under a live call: the call goes on in a new one.
                await self._renew_lost()
        except SessionRefused as exc:
            reason = "model-refused"
            self._fail(reason, str(exc))
        except ModelConnectError as exc:
            reason = "model-unavailable"
            self._fail(reason, str(exc))
        except (TimeoutError, ConnectionError) as exc:
            self.journal.event("model.failed", error=str(exc) or type(exc).__name__)
        finally:
            if not self._ended:
                self._spawn(self.end(self.end_reason or reason, hang_up=True))

    def _fail(self, reason: str, error: str) -> None:
        """Journal why the model side cannot carry the call; the caller ends it."""
        self.error = self.error or error
        kind = "model.refused" if reason == "model-refused" else "model.failed"
        self.journal.event(kind, error=error)
        self.end_reason = self.end_reason or reason

    def _attach(self, opened: OpenedSession) -> None:
        """Make `opened` the call's session: its messages to the bridge, then the caller
        audio that waited for it, in order."""
        if self._recorder is not None:
            for raw in opened.seen:
                self._recorder.from_model_text(raw)
        self._model = opened.link
        self._model_gone = False
        self._model_paused = False
        opened.attach(self._on_model_text, self._on_model_closed)
        if self._recorder is not None:
            self._recorder.appends_flushed(self._pending)
        link = opened.link
        while self._pending:  # caller audio that beat the session, in order
            self._flushed += 1
            link.send(realtime.append_event(self._pending.popleft(), f"p{self._flushed}"))
        self._model_ready = True
        if opened.lifetime_s is not None and not self._ended:
            self._renew_task = asyncio.create_task(
                self._renew_ahead(opened.link, opened.lifetime_s),
                name=f"renew-{self.call_id}",
            )
            self._tasks.add(self._renew_task)
            self._renew_task.add_done_callback(self._tasks.discard)

    # ---- session renewal --------------------------------------------------------------

    async def _renew_lost(self) -> None:
        """The session went away under the call (expiry, a dropped socket): open a new one,
        give it the conversation so far, then the caller audio that waited, in order.

        Raises SessionRefused / ModelConnectError when no new session can be had."""
        lost = self._lost_t if self._lost_t is not None else self.journal.t_ms()
        cause = "expired" if self._expired else "lost"
        self._expired = False
        self.journal.event("model.lost", cause=cause)
        self._session_gone()
        resent = self._resend_uncommitted()
        last: ModelConnectError | None = None
        for attempt in range(RENEW_ATTEMPTS):
            if self._ended:
                return
            try:
                opened = await self._open()
            except SessionRefused:
                raise
            except ModelConnectError as exc:
                last = exc
                self.journal.event("model.retry", attempt=attempt + 1, error=str(exc))
                continue
            if self._ended:
                await opened.link.close()
                return
            self._switch(opened, cause=cause, gap_from=lost, resent=resent)
            return
        assert last is not None
        raise last

    def _session_gone(self) -> None:
        """What was in progress on a session that is gone will never finish there."""
        self._model_ready = False  # caller audio waits in `_pending` until the next one
        if self._renew_task is not None:
            self._renew_task.cancel()
            self._renew_task = None
        if self._response_active:
            self._response_active = False
            self._response_id = None
            self._response_idle.set()

    def _resend_uncommitted(self) -> int:
        """Caller audio the lost session had not committed goes to the next one, ahead of
        what arrived since; returns how many frames."""
        recent = self._recent
        count = len(recent)
        self._pending.extendleft(reversed(recent))
        recent.clear()
        while len(self._pending) > PREWARM_BUFFER_FRAMES:
            self._pending.popleft()
            self.dropped_frames += 1
        return count

    def _switch(
        self, opened: OpenedSession, *, cause: str, gap_from: int | None, resent: int = 0
    ) -> None:
        """Make `opened` the session: replay the conversation into it, then attach it (which
        flushes the caller audio buffered meanwhile) — all in one step of the loop, so no
        caller frame can slip between."""
        link = opened.link
        # Words still playing will be heard in full (a cut line is written at once).
        playing = [
            Entry(
                self._item_heard.get(item_id, self._item_started.get(item_id, t)), "assistant", text
            )
            for item_id, (t, text) in self._assistant_text.items()
            if text.strip() and not self._playback.is_cut(item_id)
        ]
        replay = self._history.replay(extra=playing)
        for event in replay:
            self._ids.stamp(event)
            if self._recorder is not None:
                self._recorder.to_model(event)
            link.send(realtime.encode(event))
        buffered = len(self._pending) - resent
        self._attach(opened)
        self._renewals += 1
        gap = None if gap_from is None else self.journal.t_ms() - gap_from
        self._lost_t = None
        self.journal.event(
            "model.renewed",
            cause=cause,
            gap_ms=gap,
            replayed_items=len(replay),
            buffered_frames=buffered,
            resent_frames=resent,
            session=self._renewals,
        )
        if self._voicemail is not None:
            # Recording a voicemail: the machine's sounds must not cut the message.
            self._send_model(realtime.listen_only(self.settings.vad))
        if cause != "ahead" and not self._closing and self._history.awaiting_reply(extra=playing):
            # The caller's last words went unanswered when the session was lost.
            self._send_model(realtime.response_create())

    async def _renew_ahead(self, link: ModelLink, lifetime_s: float) -> None:
        """Replace a session before the server ends it: open the next one early, switch at
        the first quiet moment (nobody speaking, nothing queued), so nothing is lost."""
        lead = min(RENEW_AHEAD_S, lifetime_s / 4)
        loop = asyncio.get_running_loop()
        end_at = loop.time() + lifetime_s
        await asyncio.sleep(max(0.0, lifetime_s - lead))
        try:
            opened = await self._open()
        except ModelConnectError as exc:
            # The current session still runs; when it ends, the lost-session path retries.
            self.journal.event("model.renew_failed", error=str(exc))
            return
        deadline = end_at - min(RENEW_LAST_CALL_S, lead / 2)
        try:
            # Polled: this runs once a session (an hour), for seconds at most, and "quiet"
            # is the conjunction of five states that change on the hot path.
            while loop.time() < deadline and not self._quiet():  # noqa: ASYNC110
                await asyncio.sleep(QUIET_POLL_S)
        finally:
            if self._ended or self._model is not link or link.closed:
                # The call ended, or the session was lost meanwhile (and this task
                # cancelled): the spare session is not needed.
                await opened.link.close()
        if opened.link.closed:
            return
        self._renew_task = None
        link.detach()  # its last messages (the end of nothing) reach nobody
        self._session_gone()
        self._recent.clear()  # switched at a quiet moment: nothing said is left uncommitted
        self._switch(opened, cause="ahead", gap_from=None)
        await link.close()

    def _quiet(self) -> bool:
        return not (
            self._response_active
            or self._caller_speaking
            or self._playback.audio_queued
            or self._outputs
            or self._dtmf_marks
        )

    def _on_model_text(self, data: bytes) -> None:
        """A whole message from the model (picows callback, on the loop, in arrival order)."""
        carrier = self._carrier
        if self._model_busy or self._inbox or carrier is None or not carrier.can_write_now:
            self._to_inbox(data)
            return
        # One delta in 16 is timed, from its arrival to its media + mark written.
        due = (self.frames_out & _SAMPLE_OUT_MASK) == _SAMPLE_OUT_MASK
        t0 = time.perf_counter_ns() if due else 0
        try:
            event = orjson.loads(data)
            is_delta = event.get("type") == realtime.AUDIO_DELTA
        except (orjson.JSONDecodeError, AttributeError):
            event, is_delta = data, False  # the model task counts it as a bad event
        if not is_delta:
            self._to_inbox(event)
            return
        out = self._delta_out(event)
        if out is not None:
            media, mark_message, mark = out
            carrier.write_now(media, mark_message)
            self._delta_sent(event, mark)
            if t0 and not self.frames_out & _SAMPLE_OUT_MASK:  # it was relayed
                self._cost_out.add(time.perf_counter_ns() - t0)

    def _to_inbox(self, item: bytes | dict[str, Any]) -> None:
        self._inbox.append(item)
        self._inbox_ready.set()
        if len(self._inbox) >= INBOX_HIGH and not self._model_paused and self._model is not None:
            self._model_paused = True
            self._model.pause_reading()
            self.journal.event("model.paused", waiting=len(self._inbox))

    def _on_model_closed(self) -> None:
        self._model_gone = True
        self._model_ready = False  # from now on caller audio waits for the next session
        if self._lost_t is None:
            self._lost_t = self.journal.t_ms()
        self._inbox_ready.set()

    async def _next_model_message(self) -> bytes | dict[str, Any] | None:
        """The oldest message not handled yet; None once the connection is gone."""
        while not self._inbox:
            if self._model_gone:
                return None
            self._inbox_ready.clear()
            await self._inbox_ready.wait()
        item = self._inbox.popleft()
        if self._model_paused and len(self._inbox) <= INBOX_LOW and self._model is not None:
            self._model_paused = False
            self._model.resume_reading()
        return item

    async def _read_model(self) -> None:
        handlers = self._handlers()
        recorder = self._recorder
        while True:
            self._model_busy = False  # idle: deltas may go out from the socket callback
            item = await self._next_model_message()
            if item is None:
                return
            self._model_busy = True
            try:
                event: dict[str, Any] = item if isinstance(item, dict) else orjson.loads(item)
                kind = event.get("type")
                if kind == realtime.AUDIO_DELTA:
                    await self._on_audio_delta(event)
                    continue
                if recorder is not None:
                    recorder.from_model(event)
                handler = handlers.get(kind) if isinstance(kind, str) else None
                if handler is not None:
                    await handler(event)
            except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError, KeyError) as exc:
                # One malformed server event must not take the call down with it.
                self.bad_frames += 1
                self.journal.event("model.bad_event", error=type(exc).__name__)

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], Awaitable[None]]]:
        return {
            "input_audio_buffer.speech_started": self._on_speech_started,
            "input_audio_buffer.speech_stopped": self._on_speech_stopped,
            "input_audio_buffer.committed": self._on_committed,
            "conversation.item.input_audio_transcription.completed": self._on_caller_text,
            "conversation.item.input_audio_transcription.failed": self._on_caller_inaudible,
            "rate_limits.updated": self._on_rate_limits,
            "response.output_audio_transcript.done": self._on_assistant_text,
            "response.created": self._on_response_created,
            "response.done": self._on_response_done,
            "error": self._on_model_error,
        }

    def _send_model(self, event: dict[str, Any]) -> None:
        """Send a control event (stamped with its `event_id`) if a session is up; while one
        is being renewed it is dropped: the replay carries what the conversation needs."""
        model = self._model
        if model is not None and not model.closed and self._model_ready:
            self._ids.stamp(event)
            if self._recorder is not None:
                self._recorder.to_model(event)
            model.send(realtime.encode(event))

    def _delta_out(self, event: dict[str, Any]) -> tuple[str, str, str] | None:
        """Check and account one model audio delta: its `media` and `mark` messages and the
        mark's name, or None if it is dropped (no stream yet, malformed, or a cut item's)."""
        item_id = event.get("item_id")
        delta = event.get("delta")
        writer = self._writer
        if (
            self._carrier is None
            or writer is None
            or not isinstance(item_id, str)
            or _unsafe(delta)
            or self._playback.is_cut(item_id)
            or (self._cancelled and event.get("response_id") in self._cancelled)
        ):
            self.dropped_frames += 1
            if self._recorder is not None:
                self._recorder.model_audio(event, None)
            return None
        assert isinstance(delta, str)
        if item_id not in self._item_started:
            self._first_audio(item_id)
        mark = self._playback.on_delta(item_id, delta)
        return writer.media(delta), writer.mark(mark), mark

    def _delta_sent(self, event: dict[str, Any], mark: str) -> None:
        if self._recorder is not None:
            self._recorder.model_audio(event, mark)
        self.frames_out += 1

    async def _on_audio_delta(self, event: dict[str, Any]) -> None:
        """A delta the socket callback could not write at once (see `_on_model_text`)."""
        out = self._delta_out(event)
        if out is None:
            return
        media, mark_message, mark = out
        assert self._carrier is not None
        try:
            await self._carrier.send(media, mark_message)  # one write when it can be
        except ConnectionError:
            self.dropped_frames += 1  # the carrier is gone; its reader ends the call
            return
        self._delta_sent(event, mark)

    def _first_audio(self, item_id: str) -> None:
        now = self.journal.t_ms()
        self._item_started[item_id] = now
        if not self._model_heard:
            self._model_heard = True
            if self._stream_t is not None:
                self.journal.event("latency.stream_to_audio", ms=now - self._stream_t)
        if self._speech_stopped_t is not None:
            self.journal.event("turn.latency", ms=now - self._speech_stopped_t, item_id=item_id)
            self._speech_stopped_t = None
        else:
            self.journal.event("model.first_audio", item_id=item_id)

    async def _on_speech_started(self, event: dict[str, Any]) -> None:
        item_id = event.get("item_id")
        if isinstance(item_id, str):
            self._item_started[item_id] = self.journal.t_ms()
        self._speech_stopped_t = None
        self._caller_spoke = True
        self._caller_speaking = True
        if self._closing or self._dtmf_marks or self._voicemail is not None:
            return  # a goodbye, keypad tones or a voicemail must not be cut
        cut = await self._cut_playback()
        if cut:
            self.journal.event("barge_in", items=cut)

    async def _cut_playback(self) -> list[dict[str, Any]]:
        """Stop the model's queued audio at the carrier and tell the model what was heard.

        `clear` drops the carrier's queue; each cut item is truncated at the milliseconds
        confirmed played (never more than generated, which the API would reject). With
        VAD's interrupt_response on, the server cancels the response itself.
        """
        carrier, writer = self._carrier, self._writer
        if not self._playback.audio_queued or carrier is None or writer is None:
            return []
        with contextlib.suppress(ConnectionError):
            await carrier.send(writer.clear)
        if self._recorder is not None:
            self._recorder.cleared()
        if self._response_id is not None:
            # VAD (or our cancel) stops it; deltas already on their way must not play.
            self._cancelled.add(self._response_id)
        cut = self._playback.cut_queued()
        for cut_item, audio_end_ms in cut:
            self._send_model(realtime.truncate(cut_item, audio_end_ms))
            self._finish_assistant_line(cut_item)
        return [{"item_id": i, "audio_end_ms": ms} for i, ms in cut]

    async def _on_speech_stopped(self, event: dict[str, Any]) -> None:
        self._speech_stopped_t = self.journal.t_ms()
        self._caller_speaking = False

    async def _on_committed(self, event: dict[str, Any]) -> None:
        recent = self._recent
        while len(recent) > RESEND_KEEP_AFTER_COMMIT:
            recent.popleft()

    async def _on_caller_text(self, event: dict[str, Any]) -> None:
        """The caller's words, often transcribed after the reply began: the line is dated
        when they were said, so the transcript reads in the order things were said."""
        usage = event.get("usage")
        if isinstance(usage, dict):
            self._add_transcription_usage(usage)
        text = event.get("transcript")
        if isinstance(text, str) and text.strip():
            started = self._item_started.pop(str(event.get("item_id")), None)
            t_ms = self.journal.t_ms() if started is None else started
            self.journal.line("caller", text.strip(), t_ms=t_ms)
            self._history.said(t_ms, "caller", text)

    async def _on_caller_inaudible(self, event: dict[str, Any]) -> None:
        """Speech the transcriber could not make out: the line is kept, as "(inaudible)"."""
        started = self._item_started.pop(str(event.get("item_id")), None)
        t_ms = self.journal.t_ms() if started is None else started
        self.journal.line("caller", "(inaudible)", t_ms=t_ms)
        self.journal.event("transcription.failed", error=realtime.error_text(event.get("error")))

    async def _on_rate_limits(self, event: dict[str, Any]) -> None:
        limits = event.get("rate_limits")
        if isinstance(limits, list):
            self.journal.event("model.rate_limits", limits=limits[:8])

    async def _on_assistant_text(self, event: dict[str, Any]) -> None:
        item_id, text = event.get("item_id"), event.get("transcript")
        if not isinstance(item_id, str) or not isinstance(text, str):
            return
        self._assistant_text[item_id] = (self.journal.t_ms(), text)
        if self._playback.is_cut(item_id) or not self._playback.pending_for(item_id):
            self._finish_assistant_line(item_id)

    def _finish_assistant_line(self, item_id: str) -> None:
        """Write what the caller actually heard of an item (all of it, or up to the cut)."""
        entry = self._assistant_text.pop(item_id, None)
        if entry is None:
            return
        written, text = entry
        started = self._item_heard.get(item_id, self._item_started.get(item_id, written))
        generated = self._playback.generated_ms(item_id)
        played = self._playback.played_ms(item_id)
        interrupted = self._playback.is_cut(item_id) or (generated > 0 and played < generated)
        if interrupted and generated:
            heard = text[: round(len(text) * played / generated)].rstrip()
            text = (heard + " —") if heard else "—"
        if text.strip():
            self.journal.line("assistant", text.strip(), t_ms=started, interrupted=interrupted)
            self._history.said(started, "assistant", text)

    def _finish_assistant_lines(self) -> None:
        for item_id in list(self._assistant_text):
            self._finish_assistant_line(item_id)

    async def _on_response_created(self, event: dict[str, Any]) -> None:
        # Never `clear` here: it would clip a goodbye or queued keypad tones.
        self._response_active = True
        response = event.get("response")
        rid = response.get("id") if isinstance(response, dict) else None
        self._response_id = rid if isinstance(rid, str) else None
        self._response_idle.clear()
        if self._voicemail == "requested":
            self._voicemail = "speaking"

    async def _on_response_done(self, event: dict[str, Any]) -> None:
        """A response ended: completed, cancelled, incomplete or failed (each read)."""
        self._response_active = False
        self._response_idle.set()
        response = event.get("response")
        if not isinstance(response, dict):
            response = {}
        self._cancelled.discard(str(response.get("id")))
        self._response_id = None
        usage = response.get("usage")
        if isinstance(usage, dict):
            self._add_usage(usage)
        status = response.get("status")
        details = response.get("status_details")
        if not isinstance(details, dict):
            details = {}
        calls = [
            item
            for item in response.get("output") or ()
            if isinstance(item, dict) and item.get("type") == "function_call"
        ]
        if status == "completed":
            self._failed_in_a_row = 0
            self._in_response_done = True
            try:
                for item in calls:
                    await self._run_tool(item)
            finally:
                self._in_response_done = False
        elif status == "failed":
            await self._on_response_failed(details, calls)
            return
        else:
            # Cancelled (the caller spoke, or we stopped it) or incomplete (cut short by a
            # limit or the safety filter): its tools did not happen.
            reason = details.get("reason")
            if status == "incomplete":
                self.journal.event("model.incomplete", reason=reason)
            for item in calls:
                self._not_run(item, f"not done: the response was {status} ({reason})")
        if self._outputs and not self._closing:
            # After a barge-in the caller is talking: VAD answers them when they stop, with
            # these results already in the conversation; a response now would talk over them.
            await self._flush_outputs(reply=not self._caller_speaking and status != "cancelled")
        elif self._reply_due and not self._closing and not self._caller_speaking:
            self._reply_due = False
            self._send_model(realtime.response_create())
        elif self._voicemail == "speaking" and not self._closing:
            # The message is said; hang up once it has played, whether or not the model
            # remembered end_call.
            self._closing = True
            self._spawn(self._farewell())

    async def _on_response_failed(
        self, details: dict[str, Any], calls: list[dict[str, Any]]
    ) -> None:
        """A failed response: an account error ends the call at once; a passing one (server
        error, rate limit) is retried once, and ends the call if the retry fails too."""
        error = details.get("error") if isinstance(details.get("error"), dict) else {}
        assert isinstance(error, dict)
        code = error.get("code") or error.get("type")
        text = realtime.error_text(error)
        self.journal.event("model.response_failed", code=code, error=text)
        for item in calls:
            self._not_run(item, "not done: the response failed")
        if code in realtime.FATAL_CODES:
            self._fatal_error(text)
            return
        self._failed_in_a_row += 1
        if self._failed_in_a_row > 1:
            self._fail("model-failed", text)
            self._spawn(self.end("model-failed", hang_up=True))
            return
        if self._outputs:
            await self._flush_outputs(reply=True)
        else:
            self._send_model(realtime.response_create())

    def _fatal_error(self, text: str) -> None:
        """An account error (quota, key, billing): no retry or new session can help."""
        self._fatal = True
        self.error = self.error or text
        self.journal.event("model.fatal", error=text)
        self.end_reason = self.end_reason or "model-fatal"
        self._spawn(self.end("model-fatal", hang_up=True))

    def _add_usage(self, usage: dict[str, Any]) -> None:
        self.usage.setdefault("model", self.settings.openai.model)  # what the tokens cost
        for key in _USAGE_KEYS:
            self.usage[key] = self.usage.get(key, 0) + int(usage.get(key) or 0)
        for side, keys in (("input", _INPUT_DETAIL_KEYS), ("output", _OUTPUT_DETAIL_KEYS)):
            details = usage.get(f"{side}_token_details") or {}
            for key in keys:
                name = f"{side}_{key}"
                self.usage[name] = self.usage.get(name, 0) + int(details.get(key) or 0)
        # Cached input is priced apart for text and audio (docs/protocols.md §1.6).
        cached = (usage.get("input_token_details") or {}).get("cached_tokens_details") or {}
        for key in ("text_tokens", "audio_tokens"):
            name = f"input_cached_{key}"
            self.usage[name] = self.usage.get(name, 0) + int(cached.get(key) or 0)

    def _add_transcription_usage(self, usage: dict[str, Any]) -> None:
        """Input transcription is billed apart from the model, by tokens or by seconds."""
        self.usage.setdefault("transcription_model", self.settings.openai.transcription_model)
        if usage.get("type") == "duration":
            seconds = usage.get("seconds")
            if isinstance(seconds, int | float) and seconds > 0:
                total = float(self.usage.get("transcription_seconds", 0.0)) + float(seconds)
                self.usage["transcription_seconds"] = round(total, 3)
            return
        details = usage.get("input_token_details")
        if not isinstance(details, dict):
            details = {}
        for name, value in (
            ("transcription_input_text_tokens", details.get("text_tokens")),
            ("transcription_input_audio_tokens", details.get("audio_tokens")),
            ("transcription_output_tokens", usage.get("output_tokens")),
        ):
            self.usage[name] = self.usage.get(name, 0) + (
                int(value) if isinstance(value, int) and value > 0 else 0
            )

    async def _on_model_error(self, event: dict[str, Any]) -> None:
        error = event.get("error")
        if not isinstance(error, dict):
            error = {}
        code = error.get("code")
        if code == "session_expired":
            # The close follows and the call goes on in a new session: an event of the
            # session's life (`model.lost`), not an error.
            self._expired = True
            return
        # Racing a response that just finished is routine (docs/protocols.md §1.3); the rest is
        # kept, with the client event it answers.
        if code not in ("response_cancel_not_active", "conversation_already_has_active_response"):
            self.journal.event(
                "model.error",
                code=code,
                type=error.get("type"),
                message=error.get("message"),
                client_event=self._ids.describe(error.get("event_id")),
            )
        if code in realtime.FATAL_CODES:
            self._fatal_error(realtime.error_text(error))

    # ---- tools ------------------------------------------------------------------------

    async def _run_tool(self, item: dict[str, Any]) -> None:
        """A function call from a *completed* response (a cut-off one's arguments may be
        cut too, and its caller has moved on): act on it; its result goes back later."""
        call_id = str(item.get("call_id", ""))
        name = str(item.get("name", ""))
        raw = str(item.get("arguments", ""))
        self._history.tool_call(self.journal.t_ms(), call_id, name, raw)
        try:
            arguments = tools.parse_arguments(raw)
            if name == "report_outcome":
                self.outcome = tools.outcome_from(arguments)
                self.journal.store.update_call(self.call_id, outcome=self.outcome)
                self.journal.event("outcome", **self.outcome.model_dump())
                await self._tool_result(call_id, {"ok": True})
            elif name == "end_call":
                reason = tools.reason_from(arguments)
                self.journal.event("tool", name="end_call", reason=reason)
                self._closing = True
                self._spawn(self._farewell())
            elif name == "send_dtmf":
                await self._press(call_id, tools.digits_from(arguments))
            else:
                raise tools.ToolError(f"unknown tool {name!r}")
        except tools.ToolError as exc:
            self.journal.event("tool.error", name=name, error=str(exc))
            await self._tool_result(call_id, {"ok": False, "error": str(exc)})

    def _not_run(self, item: dict[str, Any], why: str) -> None:
        """A function call that was not acted on still gets its answer, saying so."""
        call_id = str(item.get("call_id", ""))
        self._history.tool_call(
            self.journal.t_ms(), call_id, str(item.get("name", "")), str(item.get("arguments", ""))
        )
        self.journal.event("tool.skipped", name=item.get("name"), reason=why)
        self._queue_output(call_id, {"ok": False, "error": why})

    def _queue_output(self, call_id: str, result: dict[str, Any]) -> None:
        output = realtime.function_output(call_id, result)
        self._outputs.append(output)
        self._history.tool_output(self.journal.t_ms(), call_id, output["item"]["output"])

    async def _tool_result(self, call_id: str, result: dict[str, Any]) -> None:
        """Queue a tool result. Results from a response's own tools go out when it is done;
        a later one (keypad tones confirmed played) goes out now if the model is idle."""
        self._queue_output(call_id, result)
        if not self._response_active and not self._closing and not self._in_response_done:
            await self._flush_outputs(reply=not self._caller_speaking)

    async def _flush_outputs(self, *, reply: bool) -> None:
        """Tool results into the conversation; `reply` asks the model to go on from them
        (not while the caller talks: VAD starts the reply to what they say, results known)."""
        outputs, self._outputs = self._outputs, []
        for output in outputs:
            self._send_model(output)
        if reply:
            self._send_model(realtime.response_create())

    async def _press(self, call_id: str, digits: str) -> None:
        carrier, writer = self._carrier, self._writer
        if carrier is None or writer is None:
            raise tools.ToolError("the call audio is not connected yet")
        audio = tone_audio(
            digits, on_ms=self.settings.calls.dtmf_tone_ms, off_ms=self.settings.calls.dtmf_gap_ms
        )
        mark = f"{_DTMF_MARK}{len(self._dtmf_marks)}-{self.journal.t_ms()}"
        # Model audio queued behind the tones starts playing only when they have.
        self._playback.on_other_audio(mark)
        try:
            await carrier.send(
                *[writer.media(base64.b64encode(frame).decode()) for frame in frames(audio)],
                writer.mark(mark),
            )
        except ConnectionError:
            raise tools.ToolError("the call audio is gone") from None
        if self._recorder is not None:
            self._recorder.sent_tones(audio, mark)
        self._dtmf_marks[mark] = (call_id, digits)
        spaced = " ".join(d for d in digits if d not in PAUSE_CHARS)
        self.journal.line("system", f"pressed {spaced}")
        self.journal.event("dtmf", digits=digits, audio_ms=len(audio) // 8)

    async def _farewell(self) -> None:
        """end_call: let the last words finish generating and playing, then hang up."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FAREWELL_MAX_WAIT_S
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(deadline):
                await self._response_idle.wait()
                carrier, writer = self._carrier, self._writer
                if carrier is not None and writer is not None and not carrier.closed:
                    with contextlib.suppress(ConnectionError):
                        await carrier.send(writer.mark(_FAREWELL_MARK))
                        if self._recorder is not None:
                            self._recorder.sent_mark(_FAREWELL_MARK)
                        await self._farewell_played.wait()
        await self.end("model-ended", hang_up=True)

    # ---- carrier side -----------------------------------------------------------------

    async def run_carrier(
        self, carrier: CarrierLink, start: StreamStart, writer: StreamWriter
    ) -> None:
        """Pump carrier frames until the stream ends, then end the call."""
        self._carrier = carrier
        ws = carrier.ws
        self._writer = writer
        if start.call_sid:
            self.carrier_sid = self.carrier_sid or start.call_sid
        self.journal.event("stream.start", model_ready=self._model_ready)
        if self._recorder is not None:
            self._recorder.stream_started(start)
        self._stream_t = self.journal.t_ms()
        if self._answered_t is not None:
            self.journal.event("latency.answer_to_stream", ms=self._stream_t - self._answered_t)
        loop = asyncio.get_running_loop()
        self._timers.append(
            loop.call_later(
                self.settings.calls.max_duration_seconds,
                lambda: self._spawn(self.end("max-duration", hang_up=True)),
            )
        )
        self._spawn(self._watch_media())
        if self.direction == "outbound":
            self._silence_timers()
        await self._maybe_greet()
        if self._amd_verdict is not None:
            self.on_amd(self._amd_verdict)
        reason = "carrier-closed"
        append_head, append_mid = _APPEND_HEAD, _APPEND_MID
        sent = self._recent.append
        sampler = self._cost_in
        recorder = self._recorder
        receive = ws.receive  # not `async for`: one coroutine less per message
        while True:
            message = await receive()
            # One caller frame in 128 is timed, from its arrival to its append sent.
            due = (self.frames_in & _SAMPLE_IN_MASK) == _SAMPLE_IN_MASK
            t0 = time.perf_counter_ns() if due else 0
            if message.type is not _TEXT:
                if message.type in _SOCKET_ENDED:
                    break
                self.bad_frames += 1
                continue
            try:
                frame = orjson.loads(message.data)
                event = frame["event"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                self.bad_frames += 1
                continue
            if recorder is not None:
                recorder.from_carrier(frame, self._model_ready)
            if event == "media":
                try:
                    payload = frame["media"]["payload"]
                except (KeyError, TypeError):
                    self.bad_frames += 1
                    continue
                if _unsafe(payload):
                    self.bad_frames += 1
                    continue
                self.frames_in += 1
                if self._model_ready:
                    model = self._model
                    assert model is not None
                    try:
                        model.send(append_head + str(self.frames_in) + append_mid + payload + '"}')
                    except ConnectionError:
                        self._buffer(payload)  # the session is ending: the next one gets it
                    else:
                        sent(payload)
                        if t0:  # this frame is the one in 128
                            sampler.add(time.perf_counter_ns() - t0)
                else:
                    self._buffer(payload)
            elif event == "mark":
                self._on_mark(frame)
            elif event == "stop":
                reason = "carrier-stop"
                break
            elif event == "dtmf":
                await self._on_caller_dtmf(frame)
            else:
                self.bad_frames += 1
        await self.end(reason)

    def _buffer(self, payload: str) -> None:
        if len(self._pending) >= PREWARM_BUFFER_FRAMES:
            self._pending.popleft()
            self.dropped_frames += 1
        self._pending.append(payload)

    def _on_mark(self, frame: dict[str, Any]) -> None:
        mark = frame.get("mark")
        name = mark.get("name") if isinstance(mark, dict) else None
        if not isinstance(name, str):
            self.bad_frames += 1
            return
        if ":" in name:
            audio = self._playback.on_mark(name)
            if audio is None:
                return
            item_id, played = audio
            if item_id not in self._item_heard and not self._playback.is_cut(item_id):
                # The first echo comes when the first delta has played: it began that long ago.
                self._item_heard[item_id] = self.journal.t_ms() - played // 8
            if item_id in self._assistant_text and not self._playback.pending_for(item_id):
                self._finish_assistant_line(item_id)
        elif name == _FAREWELL_MARK:
            self._farewell_played.set()
        elif name in self._dtmf_marks:
            self._playback.on_mark(name)  # the tones have played: what follows plays now
            call_id, digits = self._dtmf_marks.pop(name)
            pressed = " ".join(d for d in digits if d not in PAUSE_CHARS)
            self._spawn(self._tool_result(call_id, {"ok": True, "pressed": pressed}))

    async def _on_caller_dtmf(self, frame: dict[str, Any]) -> None:
        dtmf = frame.get("dtmf")
        digit = dtmf.get("digit") if isinstance(dtmf, dict) else None
        if not isinstance(digit, str) or len(digit) != 1 or digit not in "0123456789*#ABCD":
            self.bad_frames += 1
            return
        self.journal.line("system", f"caller pressed {digit}")
        note = f"[caller pressed {digit}]"
        self._history.said(self.journal.t_ms(), "keypad", note)
        self._send_model(realtime.user_text(note))
        # A key press is a turn of its own and deserves an answer — but not over the caller
        # (VAD answers when they stop) nor over a response under way (answered after it).
        if self._response_active:
            self._reply_due = True
        elif not self._caller_speaking and not self._closing and self._voicemail is None:
            self._send_model(realtime.response_create())

    async def _maybe_greet(self) -> None:
        """Inbound: once both sides are up, the model speaks the greeting first."""
        if self._greeted or not self._model_ready or self._carrier is None:
            return
        self._greeted = True
        greeting = self.settings.inbound.greeting.replace('"', "'")
        await self._prompt(f'Answer the phone now by saying: "{greeting}" Then listen.')

    async def _prompt(self, note: str, on_send: Callable[[], None] | None = None) -> None:
        """Have the model speak now, steered by a system note (its rules stay in force).

        `on_send` runs just before the `response.create`, so the next `response.created`
        can be recognised as this prompt's.
        """
        if self._response_active:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PROMPT_WAIT_S):
                    await self._response_idle.wait()
        self._send_model(realtime.system_text(note))
        self._history.said(self.journal.t_ms(), "system", note)
        if on_send is not None:
            on_send()
        self._send_model(realtime.response_create())

    def _silence_timers(self) -> None:
        """Outbound listens first; a line that stays silent gets one "Hello?", then a hang-up."""
        loop = asyncio.get_running_loop()
        calls = self.settings.calls
        self._timers.append(
            loop.call_later(calls.silence_nudge_seconds, lambda: self._spawn(self._nudge()))
        )
        self._timers.append(
            loop.call_later(calls.silence_hangup_seconds, lambda: self._spawn(self._silent_end()))
        )

    async def _nudge(self) -> None:
        if self._caller_spoke or self._response_active or self._ended:
            return
        self.journal.event("silence.nudge")
        await self._prompt(
            'Nobody has spoken yet. Say "Hello?" once, briefly, then wait for an answer.'
        )

    async def _silent_end(self) -> None:
        if not self._caller_spoke and not self._ended:
            await self.end("no-response", hang_up=True)

    # ---- answering machines -----------------------------------------------------------

    def on_amd(self, answerer: Answerer) -> None:
        """The carrier's answering-machine verdict (asynchronous: the call is already live).

        What it triggers runs as a call task, so the carrier's webhook is answered at once.
        """
        if self._carrier is None:
            self._amd_verdict = answerer  # applied when the stream starts
            return
        if answerer is Answerer.FAX:
            self._spawn(self.end("fax", hang_up=True))
        elif answerer is Answerer.MACHINE_DONE:
            if self.settings.calls.voicemail.policy == "hangup":
                self._spawn(self.end("voicemail", hang_up=True))
            elif self._voicemail is None:
                self._voicemail = "pending"
                self._spawn(self._leave_voicemail())
        # a human, a machine still greeting, or no verdict: carry on as a conversation

    async def _leave_voicemail(self) -> None:
        """After the beep: stop mid-sentence if need be, then one short message and hang up."""
        self._caller_spoke = True  # a machine answered: no nudge, no silent hang-up
        cut = await self._cut_playback()
        if self._response_active:
            if self._response_id is not None:
                self._cancelled.add(self._response_id)  # its deltas in flight must not play
            self._send_model(realtime.response_cancel())
        # The machine's own sounds must not cancel the message at the model's end.
        self._send_model(realtime.listen_only(self.settings.vad))
        self.journal.event("voicemail", cut=cut)
        message = self.settings.calls.voicemail.message
        what = (
            f'Say exactly this message: "{message.replace(chr(34), chr(39))}"'
            if message
            else "Leave one short message: who you are calling for, why, and how to call back."
        )
        await self._prompt(
            "The call reached an answering machine and the beep has sounded: you are now "
            f"recording a voicemail. Nobody will reply. {what} Then call end_call.",
            on_send=self._voicemail_requested,
        )

    def _voicemail_requested(self) -> None:
        self._voicemail = "requested"

    async def _watch_media(self) -> None:
        """Zombie watchdog: a stream that stops sending audio is a call that is gone."""
        timeout = self.settings.calls.media_timeout_seconds
        interval = min(1.0, timeout / 4)
        seen, quiet = self.frames_in, 0.0
        while not self._ended:
            await asyncio.sleep(interval)
            if self.frames_in != seen:
                seen, quiet = self.frames_in, 0.0
                continue
            quiet += interval
            if quiet >= timeout:
                self._spawn(self.end("no-media", hang_up=True))
                return
