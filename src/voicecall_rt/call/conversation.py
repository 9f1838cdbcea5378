"""The conversation: what the model does in the call, and what the call does about it.

Responses and their failures, barge-in, the transcript, tools and keypad tones, the caller's
key presses, the inbound greeting, the silence timers and voicemail. It hears the model
through `model.base.ModelListener` and the carrier's marks and key presses through the
relay; it speaks to the model through the current `ModelSession`. Its state is `CallState`
(call/state.py). None of this is on the hot path: it may cost what it costs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from voicecall_rt.call.history import History
from voicecall_rt.call.journal import CallJournal
from voicecall_rt.call.records import Outcome
from voicecall_rt.call.relay import Relay
from voicecall_rt.call.state import CallState, Voicemail
from voicecall_rt.call.tool_runner import ToolRunner
from voicecall_rt.call.transcript import Transcript
from voicecall_rt.call.transfer import handed_over
from voicecall_rt.config import Settings
from voicecall_rt.config_business import TransferTarget
from voicecall_rt.model.base import ModelError, ModelSession, ResponseEnd
from voicecall_rt.outcome_schema import DetailsShape

FAREWELL_MAX_WAIT_S = 15.0
PROMPT_WAIT_S = 3.0  # how long a prompt waits for the model's current response to finish
FAREWELL_MARK = "farewell"


class Host(Protocol):
    """What the conversation asks of the call around it (the bridge)."""

    # The number of the person on the line (E.164; "" when unknown).
    other_party: str

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None: ...

    async def end(self, reason: str, *, hang_up: bool = False) -> Any: ...

    def fail(self, reason: str, error: str) -> None: ...

    def fatal_error(self, text: str) -> None: ...

    async def press_keys(self, digits: str) -> bool: ...

    async def transfer(self, target: TransferTarget) -> Any: ...


class Conversation:
    def __init__(
        self,
        *,
        settings: Settings,
        journal: CallJournal,
        state: CallState,
        relay: Relay,
        host: Host,
        outcome_shape: DetailsShape,
    ) -> None:
        self.settings = settings
        self.journal = journal
        self.state = state
        self.relay = relay
        self.host = host
        self.history = History()
        self.transcript = Transcript(journal, self.history, relay.playback)
        self.tools = ToolRunner(self, outcome_shape)
        self.session: ModelSession | None = None  # the current session (may be renewing)
        self.outcome: Outcome | None = None
        self.response_idle = asyncio.Event()
        self.response_idle.set()
        self.farewell_played = asyncio.Event()
        # What the goodbye ends the call as: the model's own end_call, or why we asked for it.
        self.end_reason = "model-ended"
        # Where the goodbye hands the line over instead of hanging up (transfer_call).
        self.transfer_to: TransferTarget | None = None
        self.stream_t: int | None = None
        self._model_heard = False
        self._speech_stopped_t: int | None = None
        self._failed_in_a_row = 0
        self._reply_due = False  # the caller pressed a key during a response: answer after it
        self.expired = False  # the service said the session hit its maximum duration

    # ---- sending ---------------------------------------------------------------

    def model(self) -> ModelSession | None:
        """The session control events go to; None while it is being renewed (the replay
        will carry what the conversation needs)."""
        session = self.session
        if session is None or session.closed or not self.state.model_ready:
            return None
        return session

    def respond(self) -> None:
        if (model := self.model()) is not None:
            model.respond()

    # ---- the relay's events --------------------------------------------------------------

    def first_audio(self, item_id: str) -> None:
        now = self.journal.t_ms()
        self.transcript.began(item_id, now)
        if not self._model_heard:
            self._model_heard = True
            if self.stream_t is not None:
                self.journal.event("latency.stream_to_audio", ms=now - self.stream_t)
        if self._speech_stopped_t is not None:
            self.journal.event("turn.latency", ms=now - self._speech_stopped_t, item_id=item_id)
            self._speech_stopped_t = None
        else:
            self.journal.event("model.first_audio", item_id=item_id)

    def on_mark(self, name: str) -> None:
        if ":" in name:
            audio = self.relay.playback.on_mark(name)
            if audio is not None:
                item_id, played = audio
                self.transcript.played(item_id, played // 8)
        elif name == FAREWELL_MARK:
            self.farewell_played.set()
        else:
            self.tools.tones_played(name)

    def on_keypad(self, digit: str) -> None:
        self.journal.line("system", f"caller pressed {digit}")
        note = f"[caller pressed {digit}]"
        self.history.said(self.journal.t_ms(), "keypad", note)
        if (model := self.model()) is not None:
            model.user_text(note)
        # A key press is a turn of its own and deserves an answer — but not over the caller
        # (VAD answers when they stop) nor over a response under way (answered after it).
        state = self.state
        if state.responding:
            self._reply_due = True
        elif not state.caller_speaking and not state.closing and not state.leaving_voicemail:
            self.respond()

    # ---- the model's events (model.base.ModelListener) -----------------------------------

    async def on_speech_started(self, item_id: str | None) -> None:
        if item_id is not None:
            self.transcript.began(item_id, self.journal.t_ms())
        self._speech_stopped_t = None
        self.state.caller_started()
        if not self.state.may_cut_playback(tones_playing=self.tools.tones_playing):
            return  # a goodbye, keypad tones or a voicemail must not be cut
        cut = await self.cut_playback()
        if cut:
            self.journal.event("barge_in", items=cut)

    async def cut_playback(self) -> list[dict[str, Any]]:
        """Stop the model's queued audio at the carrier and tell the model what was heard.

        Each cut item is truncated at the milliseconds confirmed played (never more than
        generated, which the API would reject). With VAD's interrupt_response on, the server
        cancels the response itself.
        """
        cut = await self.relay.clear(self.state.response_id)
        for item_id, audio_end_ms in cut:
            if (model := self.model()) is not None:
                model.truncate(item_id, audio_end_ms)
            self.transcript.finish(item_id)
        return [{"item_id": i, "audio_end_ms": ms} for i, ms in cut]

    async def on_speech_stopped(self) -> None:
        self._speech_stopped_t = self.journal.t_ms()
        self.state.caller_stopped()

    async def on_committed(self) -> None:
        self.relay.committed()

    async def on_caller_text(self, item_id: str | None, text: str) -> None:
        self.transcript.caller_said(item_id, text)

    async def on_caller_inaudible(self, item_id: str | None, error: str) -> None:
        self.transcript.caller_inaudible(item_id)
        self.journal.event("transcription.failed", error=error)

    async def on_rate_limits(self, limits: list[Any]) -> None:
        self.journal.event("model.rate_limits", limits=limits[:8])

    async def on_assistant_text(self, item_id: str, text: str) -> None:
        self.transcript.model_said(item_id, text)

    async def on_response_started(self, response_id: str | None) -> None:
        # Never `clear` here: it would clip a goodbye or queued keypad tones.
        self.state.response_started(response_id)
        self.response_idle.clear()

    async def on_response_done(self, end: ResponseEnd) -> None:
        """A response ended: completed, cancelled, incomplete or failed (each read)."""
        self.state.response_finished()
        self.response_idle.set()
        self.relay.cancelled.discard(str(end.response_id))
        status = end.status
        if status == "completed":
            self._failed_in_a_row = 0
            await self.tools.run_all(end.tool_calls)
        elif status == "failed":
            await self._response_failed(end)
            return
        else:
            # Cancelled (the caller spoke, or we stopped it) or incomplete (cut short by a
            # limit or the safety filter): its tools did not happen.
            if status == "incomplete":
                self.journal.event("model.incomplete", reason=end.reason)
            for call in end.tool_calls:
                self.tools.not_run(call, f"not done: the response was {status} ({end.reason})")
        state = self.state
        if self.tools.outputs and not state.closing:
            # After a barge-in the caller is talking: VAD answers them when they stop, with
            # these results already in the conversation; a response now would talk over them.
            self.tools.flush(reply=not state.caller_speaking and status != "cancelled")
        elif self._reply_due and not state.closing and not state.caller_speaking:
            self._reply_due = False
            self.respond()
        elif state.voicemail is Voicemail.SPEAKING and state.close():
            # The message is said; hang up once it has played, whether or not the model
            # remembered end_call.
            self.host.spawn(self.farewell())

    async def _response_failed(self, end: ResponseEnd) -> None:
        """A failed response: an account error ends the call at once; a passing one (server
        error, rate limit) is retried once, and ends the call if the retry fails too."""
        self.journal.event("model.response_failed", code=end.error_code, error=end.error_text)
        for call in end.tool_calls:
            self.tools.not_run(call, "not done: the response failed")
        if end.fatal:
            self.host.fatal_error(end.error_text)
            return
        self._failed_in_a_row += 1
        if self._failed_in_a_row > 1:
            self.host.fail("model-failed", end.error_text)
            self.host.spawn(self.host.end("model-failed", hang_up=True))
            return
        if self.tools.outputs:
            self.tools.flush(reply=True)
        else:
            self.respond()

    async def on_error(self, error: ModelError) -> None:
        if error.expired:
            # The close follows and the call goes on in a new one: an event of the
            # session's life (`model.lost`), not an error.
            self.expired = True
            return
        if not error.routine:
            self.journal.event(
                "model.error",
                code=error.code,
                type=error.type,
                message=error.message,
                client_event=error.client_event,
            )
        if error.fatal:
            self.host.fatal_error(error.text)

    def on_backlog(self, waiting: int) -> None:
        self.journal.event("model.paused", waiting=waiting)

    def on_bad_event(self, error: str) -> None:
        self.relay.bad_frames += 1
        self.journal.event("model.bad_event", error=error)

    # ---- speaking first, prompts, the goodbye --------------------------------------------

    async def maybe_greet(self) -> None:
        """Inbound: once both sides are up, the model speaks the greeting first."""
        state = self.state
        if not state.greeting_owed or not state.model_ready or self.relay.carrier is None:
            return
        state.greeting_owed = False
        greeting = self.settings.inbound.greeting.replace('"', "'")
        await self.prompt(f'Answer the phone now by saying: "{greeting}" Then listen.')

    async def prompt(self, note: str, on_send: Callable[[], None] | None = None) -> None:
        """Have the model speak now, steered by a system note (its rules stay in force).

        `on_send` runs just before the response is asked for, so the next response started
        can be recognised as this prompt's.
        """
        if self.state.responding:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PROMPT_WAIT_S):
                    await self.response_idle.wait()
        if (model := self.model()) is not None:
            model.system_text(note)
        self.history.said(self.journal.t_ms(), "system", note)
        if on_send is not None:
            on_send()
        self.respond()

    async def farewell(self) -> None:
        """The goodbye: let the last words finish generating and playing, then hang up (or
        hand the line to `transfer_to`)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FAREWELL_MAX_WAIT_S
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(deadline):
                await self.response_idle.wait()
                relay = self.relay
                writer = relay.writer
                if relay.carrier is not None and writer is not None and not relay.carrier.closed:
                    with contextlib.suppress(ConnectionError):
                        await relay.send_mark(FAREWELL_MARK)
                        await self.farewell_played.wait()
        if self.transfer_to is not None:
            await self.host.transfer(self.transfer_to)
        else:
            await self.host.end(self.end_reason, hang_up=True)

    def transferred(self, label: str) -> None:
        """The call was handed to `label`: the outcome says so, the model's own report kept
        (docs/business.md §Transfer to a person)."""
        self.outcome = handed_over(self.outcome, label)
        self.journal.store.update_call(self.journal.call_id, outcome=self.outcome)

    async def leave(self, note: str, reason: str) -> None:
        """We end the call (`reason`): the model says the goodbye `note` asks for, it plays
        out, then the hang-up. If the model calls end_call in it, the call still ends as
        `reason`; the caller cannot cut the goodbye (the call is closing)."""
        if not self.state.close():
            return  # a goodbye is under way already (end_call, voicemail): it ends the call
        self.end_reason = reason
        # Idle again only once the goodbye's response is done: farewell waits for that.
        await self.prompt(note, on_send=self.response_idle.clear)
        await self.farewell()

    # ---- silence and answering machines --------------------------------------------------

    async def nudge(self) -> None:
        if self.state.caller_spoke or self.state.responding or self.state.ended:
            return
        self.journal.event("silence.nudge")
        await self.prompt(
            'Nobody has spoken yet. Say "Hello?" once, briefly, then wait for an answer.'
        )

    async def silent_end(self) -> None:
        if not self.state.caller_spoke and not self.state.ended:
            await self.host.end("no-response", hang_up=True)

    async def leave_voicemail(self) -> None:
        """After the beep: stop mid-sentence if need be, then one short message and hang up."""
        state = self.state
        state.machine_answered()
        cut = await self.cut_playback()
        if state.responding:
            if state.response_id is not None:
                self.relay.cancelled.add(state.response_id)  # its deltas must not play
            if (model := self.model()) is not None:
                model.cancel_response()
        # The machine's own sounds must not cancel the message at the model's end.
        if (model := self.model()) is not None:
            model.listen_only()
        self.journal.event("voicemail", cut=cut)
        message = self.settings.calls.voicemail.message
        what = (
            f'Say exactly this message: "{message.replace(chr(34), chr(39))}"'
            if message
            else "Leave one short message: who you are calling for, why, and how to call back."
        )
        await self.prompt(
            "The call reached an answering machine and the beep has sounded: you are now "
            f"recording a voicemail. Nobody will reply. {what} Then call end_call.",
            on_send=self._voicemail_requested,
        )

    def _voicemail_requested(self) -> None:
        self.state.voicemail_to(Voicemail.REQUESTED)
