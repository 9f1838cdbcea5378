"""The model's tools in a call: acting on its function calls, and its results going back.

Tools run only from a *completed* response (a cut-off one's arguments may be cut too, and
its caller has moved on); every function call gets an answer, even one not acted on.
Results from a response's own tools go back when it is done; a later one (keypad tones
confirmed played) goes back at once if the model is idle (docs/design.md §6).
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from voicecall_rt.audio.dtmf import PAUSE_CHARS, PAUSE_MS, frames, tone_audio
from voicecall_rt.call import tools
from voicecall_rt.model.base import ToolCall
from voicecall_rt.outcome_schema import DetailsShape
from voicecall_rt.phone import mask_number, normalize_e164
from voicecall_rt.store.blocklist import DO_NOT_CALL, record_blocked

if TYPE_CHECKING:
    from voicecall_rt.call.conversation import Conversation

log = logging.getLogger(__name__)

_DTMF_MARK = "dtmf-"


class ToolRunner:
    def __init__(self, conversation: Conversation, details: DetailsShape) -> None:
        self._c = conversation
        self._details = details  # what report_outcome's details must be like
        self.outputs: list[tuple[str, str]] = []  # (call id, result JSON) not sent yet
        self._tones: dict[str, tuple[str, str]] = {}  # mark → (call id, digits) playing
        self._in_response_done = False  # its tools run: their results wait for its end

    @property
    def tones_playing(self) -> bool:
        return bool(self._tones)

    @property
    def busy(self) -> bool:
        """Results waiting or tones playing: not a moment to switch sessions."""
        return bool(self.outputs or self._tones)

    async def run_all(self, calls: Sequence[ToolCall]) -> None:
        self._in_response_done = True
        try:
            for call in calls:
                await self._run(call)
        finally:
            self._in_response_done = False

    async def _run(self, call: ToolCall) -> None:
        c = self._c
        c.history.tool_call(c.journal.t_ms(), call.call_id, call.name, call.arguments)
        try:
            arguments = tools.parse_arguments(call.arguments)
            if call.name == "report_outcome":
                c.outcome = tools.outcome_from(arguments, self._details)
                c.journal.store.update_call(c.journal.call_id, outcome=c.outcome)
                c.journal.event("outcome", **c.outcome.model_dump())
                await self.result(call.call_id, {"ok": True})
            elif call.name == "end_call":
                reason = tools.reason_from(arguments)
                c.journal.event("tool", name="end_call", reason=reason)
                c.state.close()
                c.host.spawn(c.farewell())
            elif call.name == "send_dtmf":
                await self._press(call.call_id, tools.digits_from(arguments))
            elif call.name == "transfer_call":
                self._transfer(arguments)
            elif call.name == "mark_do_not_call":
                self._do_not_call(call.call_id, tools.reason_from(arguments))
            else:
                raise tools.ToolError(f"unknown tool {call.name!r}")
        except tools.ToolError as exc:
            c.journal.event("tool.error", name=call.name, error=str(exc))
            await self.result(call.call_id, {"ok": False, "error": str(exc)})

    def _do_not_call(self, call_id: str, reason: str) -> None:
        """The other party asked not to be called again: their number is recorded
        (store/blocklist.py) in a task of the call's, not in the model's event path."""
        c = self._c
        try:
            number = normalize_e164(c.host.other_party)
        except ValueError:  # an inbound caller who withheld or garbled their number
            raise tools.ToolError(
                "the other party's number is unknown: nothing was recorded"
            ) from None
        c.journal.event("do-not-call", number=mask_number(number), reason=reason)
        c.host.spawn(self._record_do_not_call(call_id, number, reason))

    async def _record_do_not_call(self, call_id: str, number: str, reason: str) -> None:
        c = self._c
        try:
            journal = c.journal
            await record_blocked(
                journal.store, number, source=DO_NOT_CALL, reason=reason, call_id=journal.call_id
            )
        except Exception as exc:  # noqa: BLE001 - the database refusal, in its backend's own type
            log.error(
                "call %s: the do-not-call number was not recorded: %r", c.journal.call_id, exc
            )
            c.journal.event("tool.error", name="mark_do_not_call", error=str(exc)[:200])
            await self.result(call_id, {"ok": False, "error": "the number could not be recorded"})
            return
        await self.result(call_id, {"ok": True, "recorded": "they will not be called again"})

    def _transfer(self, arguments: dict[str, Any]) -> None:
        """Like end_call, the goodbye plays out first; then the carrier hands the line to
        the configured target (Conversation.farewell). No result: the call is closing."""
        c = self._c
        target = tools.transfer_target_from(arguments, c.settings.calls.transfer.targets)
        if not c.state.close():
            raise tools.ToolError("the call is already ending: it cannot be transferred")
        reason = tools.reason_from(arguments)
        c.journal.event("tool", name="transfer_call", target=target.label, reason=reason)
        c.transfer_to = target
        c.host.spawn(c.farewell())

    def not_run(self, call: ToolCall, why: str) -> None:
        """A function call that was not acted on still gets its answer, saying so."""
        c = self._c
        c.history.tool_call(c.journal.t_ms(), call.call_id, call.name, call.arguments)
        c.journal.event("tool.skipped", name=call.name, reason=why)
        self._queue(call.call_id, {"ok": False, "error": why})

    def _queue(self, call_id: str, result: dict[str, Any]) -> None:
        output = orjson.dumps(result).decode()
        self.outputs.append((call_id, output))
        self._c.history.tool_output(self._c.journal.t_ms(), call_id, output)

    async def result(self, call_id: str, result: dict[str, Any]) -> None:
        """Queue a tool result; it goes now if the model is idle and no response's tools
        are running."""
        self._queue(call_id, result)
        state = self._c.state
        if not state.responding and not state.closing and not self._in_response_done:
            self.flush(reply=not state.caller_speaking)

    def flush(self, *, reply: bool) -> None:
        """Results into the conversation; `reply` asks the model to go on from them (not
        while the caller talks: VAD starts the reply to what they say, results known)."""
        outputs, self.outputs = self.outputs, []
        model = self._c.model()
        if model is not None:
            for call_id, output in outputs:
                model.tool_result(call_id, output)
        if reply:
            self._c.respond()

    async def _press(self, call_id: str, digits: str) -> None:
        c = self._c
        relay = c.relay
        if relay.carrier is None or relay.writer is None:
            raise tools.ToolError("the call audio is not connected yet")
        spaced = " ".join(d for d in digits if d not in PAUSE_CHARS)
        # The carrier's own keypad command where it has one (real DTMF events, not tones
        # in the audio an IVR may not accept), else tones in the audio.
        via = await self._press_out_of_band(digits)
        if via is not None:
            c.journal.line("system", f"pressed {spaced}")
            c.journal.event("dtmf", digits=digits, via=via)
            await self.result(call_id, {"ok": True, "pressed": spaced})
            return
        calls = c.settings.calls
        audio = tone_audio(digits, on_ms=calls.dtmf_tone_ms, off_ms=calls.dtmf_gap_ms)
        mark = f"{_DTMF_MARK}{len(self._tones)}-{c.journal.t_ms()}"
        # Model audio queued behind the tones starts playing only when they have.
        relay.playback.on_other_audio(mark)
        try:
            await relay.send_tones([base64.b64encode(f).decode() for f in frames(audio)], mark)
        except ConnectionError:
            raise tools.ToolError("the call audio is gone") from None
        self._tones[mark] = (call_id, digits)
        c.journal.line("system", f"pressed {spaced}")
        c.journal.event("dtmf", digits=digits, via="audio", audio_ms=len(audio) // 8)

    async def _press_out_of_band(self, digits: str) -> str | None:
        """Press by the carrier's REST command ("carrier") or by its stream's keypad
        message ("stream"); None where it has neither. Pauses (',' 'w') between messages
        are waited out here, as the carrier's command would."""
        c = self._c
        if await c.host.press_keys(digits):
            return "carrier"
        writer = c.relay.writer
        assert writer is not None
        messages = [None if d in PAUSE_CHARS else writer.keypad(d) for d in digits]
        if any(m is None for d, m in zip(digits, messages, strict=True) if d not in PAUSE_CHARS):
            return None
        pause_s = PAUSE_MS / 1000
        try:
            for message in messages:
                if message is None:
                    await asyncio.sleep(pause_s)
                else:
                    await c.relay.send(message)
        except ConnectionError:
            raise tools.ToolError("the call audio is gone") from None
        return "stream"

    def tones_played(self, mark: str) -> None:
        """A mark came back: if it ends keypad tones, what follows plays now and the
        model learns the keys were pressed."""
        if mark not in self._tones:
            return
        self._c.relay.playback.on_mark(mark)
        call_id, digits = self._tones.pop(mark)
        pressed = " ".join(d for d in digits if d not in PAUSE_CHARS)
        self._c.host.spawn(self.result(call_id, {"ok": True, "pressed": pressed}))
