"""One call: the carrier's media stream bridged to a model session (docs/design.md §2).

The bridge assembles the call's parts and owns its end:
- `Relay` (call/relay.py): the audio, both ways — the hot path and nothing else;
- `Conversation` (call/conversation.py): what the model does, and what the call does
  about it — responses, tools, barge-in, transcript, voicemail, timers;
- `SessionKeeper` (call/renewal.py): a model session under the call, first to last;
- `CallState` (call/state.py): where the call stands, as enums;
- the watchdogs (call/watchdogs.py): what ends a call nothing else ends.
Every way a call can end goes through `end()`, exactly once; it returns a `CallSummary`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from voicecall_rt.call.conversation import Conversation
from voicecall_rt.call.journal import CallJournal
from voicecall_rt.call.recording import CallRecorder
from voicecall_rt.call.records import Direction, Outcome
from voicecall_rt.call.relay import Relay
from voicecall_rt.call.renewal import SessionKeeper
from voicecall_rt.call.state import CallState, Voicemail
from voicecall_rt.call.tools import CallTools
from voicecall_rt.call.watchdogs import arm_watchdogs
from voicecall_rt.carrier.base import Answerer, CarrierError, StreamCodec, StreamStart, Transfer
from voicecall_rt.carrier.link import CarrierLink
from voicecall_rt.config import Settings
from voicecall_rt.config_business import TransferTarget
from voicecall_rt.model.registry import open_backend
from voicecall_rt.phone import mask_number

log = logging.getLogger(__name__)

# After our hang-up the carrier sends its last frames and `stop` within a few hundred ms;
# a carrier that never does costs this much before the stream is closed from our side.
STREAM_END_WAIT_S = 2.0


@dataclass(frozen=True)
class CallSummary:
    """What the bridge leaves of a call once it has ended."""

    end_reason: str
    error: str | None  # why the model side failed the call, in the service's words
    outcome: Outcome | None
    usage: dict[str, Any]
    streamed: bool  # the carrier's media stream was connected


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
        tools: CallTools,
        hang_up: Callable[[str], Awaitable[None]],
        on_end: Callable[[str, CallSummary], None],
        press_keys: Callable[[str, str], Awaitable[bool]] | None = None,
        other_party: str = "",
        transfer: Callable[[str, TransferTarget], Awaitable[Transfer]] | None = None,
    ) -> None:
        self.call_id = call_id
        self.direction = direction
        self.other_party = other_party  # the callee, or the caller of an inbound call
        self.settings = settings
        self.journal = journal
        self.state = CallState(greeting_owed=direction == "inbound")
        # Debug recordings only: without one the relay pays a single `is not None` a frame.
        self._recorder: CallRecorder | None = (
            CallRecorder(call_id=call_id, settings=settings, journal=journal)
            if settings.debug
            else None
        )
        self.relay = Relay(self._recorder)
        self.conversation: Conversation = Conversation(
            settings=settings,
            journal=journal,
            state=self.state,
            relay=self.relay,
            host=self,
            outcome_shape=tools.details,
        )
        self.relay.events = self.conversation
        backend = open_backend(
            settings,
            instructions,
            tools.declarations,
            tap=self._recorder,
            on_cost=self.relay.cost_out.add,
        )
        self._backend = backend
        self.keeper = SessionKeeper(self, backend)
        self.fatal = False  # an account error: no session will do better
        self._instructions = instructions
        self._hang_up = hang_up
        self._press_keys = press_keys
        self._transfer = transfer
        self._transferring = False
        self._on_end = on_end
        self._reason: str | None = None  # why the model side is ending the call
        self._error: str | None = None
        self._summary: CallSummary | None = None
        self._answered_t: int | None = None
        self._amd_verdict: Answerer | None = None
        self._end_done = asyncio.Event()
        self._model_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timers: list[asyncio.TimerHandle] = []

    # ---- what the rest of the server may ask ---------------------------------------------

    @property
    def ended(self) -> bool:
        return self.state.ended

    @property
    def streaming(self) -> bool:
        return self.relay.carrier is not None

    @property
    def usage(self) -> dict[str, Any]:
        """What the call's model sessions have used so far (the figures pricing.py prices)."""
        return self._backend.usage

    @property
    def counters(self) -> tuple[int, int, int, int]:
        """Frames in, out, dropped and bad so far (for the metrics)."""
        relay = self.relay
        return relay.frames_in, relay.frames_out, relay.dropped_frames, relay.bad_frames

    # ---- tasks ---------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.track(asyncio.create_task(coro))

    def track(self, task: asyncio.Task[Any]) -> None:
        """A task of this call: cancelled when it ends."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- the model side ------------------------------------------------------------------

    def start_model(self) -> None:
        """Pre-warm: connect and configure the model now, while the phone rings."""
        if self._model_task is None:
            self._model_task = asyncio.create_task(self._run_model(), name=f"model-{self.call_id}")

    async def _run_model(self) -> None:
        reason = "model-disconnected"
        try:
            reason = await self.keeper.run()
        finally:
            if not self.state.ended:
                self.spawn(self.end(self._reason or reason, hang_up=True))

    async def model_ready(self) -> None:
        """The first session is confirmed."""
        if self.settings.debug:
            log.debug("call %s instructions:\n%s", self.call_id, self._instructions)
        await self.conversation.maybe_greet()

    def fail(self, reason: str, error: str) -> None:
        """Journal why the model side cannot carry the call; the model task ends it."""
        self._error = self._error or error
        kind = "model.refused" if reason == "model-refused" else "model.failed"
        self.journal.event(kind, error=error)
        self._reason = self._reason or reason

    def fatal_error(self, text: str) -> None:
        """An account error (quota, key, billing): no retry or new session can help."""
        self.fatal = True
        self._error = self._error or text
        self.journal.event("model.fatal", error=text)
        self._reason = self._reason or "model-fatal"
        self.spawn(self.end("model-fatal", hang_up=True))

    # ---- the carrier side ----------------------------------------------------------------

    async def press_keys(self, digits: str) -> bool:
        """Have the carrier itself press `digits` (its own command, the stream kept up);
        False where it has none."""
        if self._press_keys is None:
            return False
        return await self._press_keys(self.call_id, digits)

    async def transfer(self, target: TransferTarget) -> CallSummary:
        """After the goodbye of transfer_call: the carrier hands the line to `target`, then
        our side ends (`transferred`, no hang-up); a refusal ends the call as
        `transfer-failed`, hung up, the error kept (docs/business.md §Transfer to a person)."""
        if self.ended or self._transferring:
            return await self.end("transferred")  # ending already: that end stands
        self._transferring = True
        journal = self.journal
        try:
            if self._transfer is None:
                raise CarrierError("this call cannot be transferred: no carrier")
            done = await self._transfer(self.call_id, target)
        except CarrierError as exc:
            self._error = self._error or str(exc)
            journal.event("transfer.failed", target=target.label, error=str(exc))
            return await self.end("transfer-failed", hang_up=True)
        journal.event(
            "transfer",
            target=target.label,
            number=mask_number(done.number),
            caller_id=mask_number(done.caller_id),
        )
        journal.line("system", f"transferred to {target.label}")
        self.conversation.transferred(target.label)
        return await self.end("transferred")

    def talk_ms(self) -> int | None:
        """Milliseconds since the answer (what the carrier bills); None before it."""
        return None if self._answered_t is None else self.journal.t_ms() - self._answered_t

    def say_goodbye(self, note: str, reason: str) -> None:
        """End the call for `reason` with a goodbye the system `note` asks the model for
        (the drain's, the spend limit's), as a task of the call's own, so a stop that ends
        the call cancels it, and a hang-up once begun is never cut half way by our side."""
        if self.ended:
            return  # ending already: its carrier's final word settles it
        if self.streaming and self.state.model_ready:
            self.spawn(self.conversation.leave(note, reason))
        else:  # still ringing, or no model to speak: nobody to say goodbye to or for
            self.spawn(self.end(reason, hang_up=True))

    def note_answered(self) -> None:
        """The answer webhook came (the manager says): answer → stream start runs from now."""
        if self._answered_t is None:
            self._answered_t = self.journal.t_ms()

    async def run_carrier(
        self, carrier: CarrierLink, start: StreamStart, codec: StreamCodec, message: str
    ) -> None:
        """Relay the carrier's stream until it ends, then end the call (`message`: the
        stream's start, as read)."""
        journal = self.journal
        journal.event("stream.start", model_ready=self.state.model_ready)
        if self._recorder is not None:
            self._recorder.stream_started(start, message, codec)
        stream_t = self.conversation.stream_t = journal.t_ms()
        if self._answered_t is not None:
            journal.event("latency.answer_to_stream", ms=stream_t - self._answered_t)
        self._timers.extend(arm_watchdogs(self))
        writer = codec.writer(start)
        self.relay.carrier, self.relay.writer = carrier, writer
        await self.conversation.maybe_greet()
        if self._amd_verdict is not None:
            self.on_amd(self._amd_verdict)
        reason = await self.relay.pump(carrier, codec, writer)
        if self._transferring:
            # The carrier ends the stream as it hands the call over: the transfer's end
            # (transferred, or transfer-failed) stands over the stream's.
            await self.wait_ended()
            return
        await self.end(reason)

    def on_amd(self, answerer: Answerer) -> None:
        """The carrier's answering-machine verdict (asynchronous: the call is already live).

        What it triggers runs as a call task, so the carrier's webhook is answered at once.
        """
        if self.relay.carrier is None:
            self._amd_verdict = answerer  # applied when the stream starts
            return
        if answerer is Answerer.FAX:
            self.spawn(self.end("fax", hang_up=True))
        elif answerer is Answerer.MACHINE_DONE:
            if self.settings.calls.voicemail.policy == "hangup":
                self.spawn(self.end("voicemail", hang_up=True))
            elif not self.state.leaving_voicemail:
                self.state.voicemail_to(Voicemail.PENDING)
                self.spawn(self.conversation.leave_voicemail())
        # a human, a machine still greeting, or no verdict: carry on as a conversation

    # ---- the end -------------------------------------------------------------------------

    async def wait_ended(self) -> None:
        await self._end_done.wait()

    async def end_by_carrier(self, status: str) -> CallSummary:
        """The carrier reports the call over (`status`): once streaming, a reason of the
        model side's own stands over the carrier's word, and so does a transfer's end."""
        if self._transferring:
            await self.wait_ended()
            assert self._summary is not None
            return self._summary
        reason = (self._reason or status) if self.streaming else status
        return await self.end(reason)

    async def end(self, reason: str, *, hang_up: bool = False) -> CallSummary:
        """End the call for `reason`; safe to call from anywhere, any number of times."""
        if not self.state.end():
            await self._end_done.wait()
            assert self._summary is not None
            return self._summary
        relay = self.relay
        summary = CallSummary(
            end_reason=reason,
            error=self._error,
            outcome=None,
            usage={},
            streamed=self.streaming,
        )
        self._summary = summary
        current = asyncio.current_task()
        for timer in self._timers:
            timer.cancel()
        try:
            self.conversation.transcript.finish_all()
            log.info("call %s ending: %s", self.call_id, reason)
            if hang_up:
                await self._hang_up(self.call_id)
            session = self.conversation.session
            if session is not None:
                await session.close()
            # The carrier's last frames (up to its `stop`) are read, so the counts are final.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STREAM_END_WAIT_S):
                    await relay.stream_ended()
            await relay.close()
            self.journal.event(
                "end",
                reason=reason,
                frames_in=relay.frames_in,
                frames_out=relay.frames_out,
                bad_frames=relay.bad_frames,
                dropped_frames=relay.dropped_frames,
            )
            if relay.cost_in.count or relay.cost_out.count:
                self.journal.event(
                    "latency.bridge",
                    caller_to_model=relay.cost_in.summary(),
                    model_to_caller=relay.cost_out.summary(),
                )
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
            self.keeper.forget()
            del tasks
            if self._recorder is not None:
                await self._recorder.finish(reason)
        finally:
            summary = self._summary = CallSummary(
                end_reason=reason,
                error=self._error,
                outcome=self.conversation.outcome,
                usage=self._backend.usage,
                streamed=summary.streamed,
            )
            self._on_end(self.call_id, summary)
            self._end_done.set()
        return summary
