"""The responses of one fake Realtime session: `response.create` and `response.cancel`, and
each response's run from `response.created` (then `rate_limits.updated`) through its scripted
turn to `response.done`. Only one response is active at a time, as in the real API."""

from __future__ import annotations

import asyncio
import copy
import logging

from voicecall_rt.simulator.openai import realtime_rules
from voicecall_rt.simulator.openai.client_event_check import ClientEventProblem
from voicecall_rt.simulator.openai.response_output import ResponseOutput
from voicecall_rt.simulator.openai.response_state import Response, response_object, settle
from voicecall_rt.simulator.openai.session_parts import SessionParts
from voicecall_rt.simulator.openai.synthetic_audio import format_of
from voicecall_rt.simulator.openai.usage import InputUsage
from voicecall_rt.simulator.openai.wire import JSON, SessionGone
from voicecall_rt.simulator.scenario import CallTool, Fail, Incomplete, Say

__all__ = ["Responses"]

log = logging.getLogger(__name__)


class Responses:
    """`active`: the response in progress, if any; `finished`: the final response objects as
    sent in `response.done`."""

    def __init__(self, parts: SessionParts, *, model: str | None, conversation_id: str) -> None:
        self._parts = parts
        self._model = model  # the session's, for what a response may ask of it
        self._conversation_id = conversation_id
        self._output = ResponseOutput(parts)
        self._input_usage = InputUsage()
        self.active: Response | None = None
        self.finished: list[JSON] = []

    # ---- client events -------------------------------------------------------------------

    async def on_create(self, event: JSON, event_id: str | None) -> None:
        params: JSON = event.get("response") or {}
        problem = realtime_rules.response_create_problem(params, model=self._model)
        if problem is None and self.active is not None:
            problem = ClientEventProblem(
                "conversation_already_has_active_response",
                "Conversation already has an active response in progress: "
                f"{self.active.id}. Wait until the response is finished before creating a "
                "new response.",
            )
        if problem is not None:
            await self._parts.wire.refuse(event, event_id, problem)
            return
        await self.start(params)

    async def on_cancel(self, event: JSON, event_id: str | None) -> None:
        wanted = event.get("response_id")
        active = self.active
        if active is None or (wanted is not None and wanted != active.id):
            await self._parts.wire.refuse(
                event,
                event_id,
                ClientEventProblem(
                    "response_cancel_not_active", "Cancellation failed: no active response found"
                ),
            )
            return
        self.request_cancel(active, "client_cancelled")

    # ---- lifecycle -----------------------------------------------------------------------

    def request_cancel(self, response: Response, reason: str) -> None:
        if response.cancel_reason is None:
            response.cancel_reason = reason
            response.cancel_requested.set()

    async def start(self, params: JSON | None) -> Response:
        """Begin the next scripted turn (`params`: of `response.create`; None from VAD)."""
        params = params or {}
        config = self._parts.config.current
        modalities = list(params.get("output_modalities") or config["output_modalities"])
        response_id = self._parts.server.new_id("resp_")
        obj = response_object(response_id, params, config, modalities, self._conversation_id)
        response = Response(
            id=response_id,
            turn=self._parts.server.next_turn(),
            obj=obj,
            out_of_band=params.get("conversation") == "none",
            output_format=format_of(obj["audio"]["output"]["format"]),
            modalities=modalities,
            input_usage=self._input_usage.count(config, params, self._parts.conversation),
        )
        self.active = response
        await self._parts.wire.emit("response.created", response=copy.deepcopy(obj))
        rate_limits = self._parts.server.rate_book.on_response(
            response.input_usage["input_tokens"], obj["max_output_tokens"]
        )
        if rate_limits:
            await self._parts.wire.emit("rate_limits.updated", rate_limits=rate_limits)
        response.task = self._parts.tasks.spawn(self._run(response), name=response_id)
        response.task.add_done_callback(self._task_done)
        return response

    def forget_active(self) -> None:
        """The socket is gone: no response is in progress any more."""
        self.active = None

    def _task_done(self, task: asyncio.Task[None]) -> None:
        # Task boundary: nobody awaits a response task's result, so surface crashes here,
        # and free the conversation so one bug does not block every later response.
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "session %s: response task %s crashed",
                self._parts.wire.session_id,
                task.get_name(),
                exc_info=task.exception(),
            )
            if self.active is not None and self.active.task is task:
                self.active = None

    async def _run(self, response: Response) -> None:
        turn = response.turn
        try:
            for output_index, action in enumerate(turn):
                if response.stopping:
                    break
                if isinstance(action, Say):
                    after = turn[output_index + 1] if output_index + 1 < len(turn) else None
                    cut_ms = after.after_ms if isinstance(after, Incomplete) else None
                    await self._output.play_say(response, output_index, action, cut_ms)
                elif isinstance(action, CallTool):
                    await self._output.play_call(response, output_index, action)
                elif isinstance(action, Fail):
                    response.failure = action
                elif isinstance(action, Incomplete):
                    response.incomplete_reason = action.reason
            await self._finish(response)
        except SessionGone:
            log.info("session %s: socket gone during %s", self._parts.wire.session_id, response.id)
        finally:
            response.first_audio.set()  # a transcript waiting for it must not wait forever

    async def _finish(self, response: Response) -> None:
        settle(response, self._parts.wire.session_id)
        # Inactive before `response.done` leaves: a client that reacts to it with
        # `response.create` must not be told a response is still running.
        self.active = None
        self.finished.append(copy.deepcopy(response.obj))
        await self._parts.wire.emit("response.done", response=copy.deepcopy(response.obj))
