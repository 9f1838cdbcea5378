"""One connection to the fake Realtime server (`FakeSession`): the refusals right after the
upgrade, reading and checking client events and handing each to the part of the session that
serves it, `session.update`, and the session's lifetime (`session_expired`, close 1001)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from voicecall_rt.simulator.openai import handshake, model_errors, realtime_rules
from voicecall_rt.simulator.openai.caller_transcription import TranscriptSender
from voicecall_rt.simulator.openai.client_event_check import (
    ClientEventProblem,
    diagnose_client_event,
)
from voicecall_rt.simulator.openai.conversation import Conversation
from voicecall_rt.simulator.openai.input_audio import InputAudio
from voicecall_rt.simulator.openai.responses import Responses
from voicecall_rt.simulator.openai.session_config import SessionConfig
from voicecall_rt.simulator.openai.session_parts import SessionParts
from voicecall_rt.simulator.openai.wire import JSON, SessionGone, Wire
from voicecall_rt.simulator.tasks import TaskSet

if TYPE_CHECKING:
    from voicecall_rt.simulator.openai.server import FakeRealtimeServer

__all__ = ["FakeSession"]

log = logging.getLogger(__name__)

Handler = Callable[[JSON, str | None], Awaitable[None]]


class FakeSession:
    """One Realtime WebSocket connection: what the client sent, what we answered, and state.

    Public, read-mostly attributes for tests:
    `id`, `model`, `headers`, `query`, `config` (effective session config), `received` (every
    parsed client event), `invalid` ((event, reason) pairs the real API would refuse: bad
    types or bad requests, not the harmless races of `realtime_rules.RACE_CODES`), `sent`
    (every server event), `truncations` ((item_id, audio_end_ms)), `responses` (final response
    objects as sent in `response.done`), `audio_ms_received`, `rejected` (why the connection
    was refused after the upgrade, else None), `expired` (the lifetime ran out), `closed` (set
    once the socket is gone).
    """

    def __init__(
        self,
        server: FakeRealtimeServer,
        request: web.Request,
        ws: web.WebSocketResponse,
        session_id: str,
    ) -> None:
        self._request = request
        self._ws = ws
        self.id = session_id
        self.model: str | None = request.query.get("model")
        self.headers: dict[str, str] = dict(request.headers)
        self.query: dict[str, str] = dict(request.query)
        self.conversation_id = server.new_id("conv_")
        self.received: list[JSON] = []
        self.rejected: str | None = None
        self.expired = False
        self.closed = asyncio.Event()
        self.lifetime_s = server.session_lifetime_s

        wire = Wire(server, ws, session_id)
        config = SessionConfig()
        tasks = TaskSet()
        conversation = Conversation(wire, config, server.new_id)
        self._parts = SessionParts(server, wire, config, conversation, tasks)
        self._responses = Responses(
            self._parts, model=self.model, conversation_id=self.conversation_id
        )
        self._input = InputAudio(self._parts, self._responses, TranscriptSender(wire, tasks))
        self._expiry: asyncio.Task[None] | None = None
        self._expire_now = asyncio.Event()  # `expire()`: the lifetime ends now

    # ---- public helpers --------------------------------------------------------------

    @property
    def config(self) -> JSON:
        return self._parts.config.current

    @property
    def sent(self) -> list[JSON]:
        return self._parts.wire.sent

    @sent.setter
    def sent(self, events: list[JSON]) -> None:  # tests hook the list
        self._parts.wire.sent = events

    @property
    def invalid(self) -> list[tuple[JSON, str]]:
        return self._parts.wire.invalid

    @property
    def truncations(self) -> list[tuple[str, int]]:
        return self._parts.conversation.truncations

    @property
    def responses(self) -> list[JSON]:
        return self._responses.finished

    @property
    def audio_ms_received(self) -> int:
        return self._input.received_ms

    def received_types(self) -> list[str]:
        return [str(e.get("type")) for e in self.received]

    def sent_types(self) -> list[str]:
        return [str(e.get("type")) for e in self.sent]

    def item_audio_ms(self, item_id: str) -> int:
        """Milliseconds of audio generated so far for an assistant item (for a user item: the
        audio it was made from). Truncation does not change it. KeyError if unknown."""
        return self._parts.conversation.audio_ms(item_id)

    @property
    def items(self) -> list[JSON]:
        """The conversation as the model sees it, in order."""
        return self._parts.conversation.items

    @property
    def active_response_id(self) -> str | None:
        active = self._responses.active
        return active.id if active else None

    async def close(self, code: int = WSCloseCode.GOING_AWAY, message: bytes = b"") -> None:
        await self._ws.close(code=code, message=message)

    def expire(self) -> None:
        """End the session's lifetime now (`session_expired`, close 1001), as if an hour had
        passed."""
        self._expire_now.set()

    async def send_error(
        self, message: str, *, code: str | None = None, event_id: str | None = None
    ) -> None:
        """Send an `error` event now (`invalid_request_error`), as if the API had refused
        the client event `event_id` late."""
        await self._parts.wire.error(message, code=code, event_id=event_id)

    def drop(self) -> None:
        """Kill the TCP connection without a close frame (the client sees 1006)."""
        transport = self._request.transport
        if transport is not None:
            transport.abort()

    # ---- lifecycle -------------------------------------------------------------------

    async def run(self) -> None:
        try:
            if await self._refused():
                return
            self._parts.config.open(self.id, self.model, self.lifetime_s)
            await self._parts.wire.emit("session.created", session=copy.deepcopy(self.config))
            self._expiry = asyncio.create_task(self._expire_later(), name=f"{self.id}-expiry")
            async for msg in self._ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_text(str(msg.data))
                elif msg.type is WSMsgType.BINARY:
                    await self._parts.wire.reject_frame(
                        {"binary_bytes": len(msg.data)}, "binary frame"
                    )
                elif msg.type is WSMsgType.ERROR:
                    log.info("session %s: socket error: %s", self.id, self._ws.exception())
        except SessionGone:
            log.info("session %s: socket went away while sending", self.id)
        finally:
            await self._parts.tasks.cancel_all()
            self._responses.forget_active()
            await self._stop_expiry()
            self.closed.set()
            log.info("session %s closed (code %s)", self.id, self._ws.close_code)
            await self._parts.server.notify()

    async def _expire_later(self) -> None:
        """At the end of the session's lifetime: `session_expired`, then close 1001, as the
        real API does (no warning before; the error carries no client event id)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.lifetime_s):
                await self._expire_now.wait()
        self.expired = True
        message = model_errors.session_expired_message(self.lifetime_s)
        log.info("session %s expired after %ss", self.id, self.lifetime_s)
        with contextlib.suppress(SessionGone):
            await self._parts.wire.error(message, code="session_expired")
        await self.close(WSCloseCode.GOING_AWAY, message.encode())

    async def _stop_expiry(self) -> None:
        task = self._expiry
        if task is None or task.done():
            return
        if not self.expired:
            task.cancel()
        # An expiry under way is finishing its close handshake: let it, so nothing is left.
        # (`wait`, not `await task`: a cancellation of our own must still reach us.)
        await asyncio.wait([task])
        if not task.cancelled() and task.exception() is not None:
            log.error("session %s: expiry failed", self.id, exc_info=task.exception())

    async def _refused(self) -> bool:
        """Beta header or bad model: answer with an `error` event and close, like the API."""
        refusal = handshake.upgrade_refusal(
            self._request.headers, self.model, self._parts.server.models
        )
        if refusal is None:
            return False
        self.rejected = refusal.reason
        problem = refusal.problem
        await self._parts.wire.error(problem.message, code=problem.code, param=problem.param)
        log.info("session %s refused: %s", self.id, self.rejected)
        await self._ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"invalid_request_error")
        return True

    # ---- receiving -------------------------------------------------------------------

    async def _on_text(self, text: str) -> None:
        try:
            event = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            await self._parts.wire.reject_frame({"raw": text[:200]}, f"invalid JSON: {exc}")
            return
        if not isinstance(event, dict):
            await self._parts.wire.reject_frame({"raw": text[:200]}, "not a JSON object")
            return
        self.received.append(event)
        await self._parts.server.notify()
        event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        problem = diagnose_client_event(event) or realtime_rules.event_id_problem(event_id)
        if problem is not None:
            await self._parts.wire.refuse(event, event_id, problem)
            return
        handler = self._handlers().get(str(event["type"]))
        if handler is None:  # valid for the SDK but outside what a WebSocket session serves
            await self._parts.wire.refuse(
                event,
                event_id,
                ClientEventProblem(
                    "invalid_value",
                    f"'{event['type']}' is only supported for WebRTC and SIP connections.",
                    "type",
                ),
            )
            return
        await handler(event, event_id)

    def _handlers(self) -> dict[str, Handler]:
        return {
            "session.update": self._on_session_update,
            "input_audio_buffer.append": self._input.on_append,
            "input_audio_buffer.commit": self._input.on_commit,
            "input_audio_buffer.clear": self._input.on_clear,
            "conversation.item.create": self._parts.conversation.on_item_create,
            "conversation.item.truncate": self._parts.conversation.on_truncate,
            "conversation.item.delete": self._parts.conversation.on_item_delete,
            "conversation.item.retrieve": self._parts.conversation.on_item_retrieve,
            "response.create": self._responses.on_create,
            "response.cancel": self._responses.on_cancel,
        }

    async def _on_session_update(self, event: JSON, event_id: str | None) -> None:
        update: JSON = event["session"]
        problem = realtime_rules.session_update_problem(
            update,
            model=self.model,
            voice=self._parts.config.voice,
            audio_started=self._parts.conversation.assistant_audio_present,
        )
        if problem is not None:
            await self._parts.wire.refuse(event, event_id, problem)
            return
        if self._parts.config.apply(update):
            # A half frame or a half-heard utterance under the old settings means nothing
            # under the new ones; an unchanged re-send must not reset a caller mid-sentence.
            self._input.reset_vad()
        await self._parts.wire.emit("session.updated", session=copy.deepcopy(self.config))
