"""A local stand-in for OpenAI's Realtime API (GA protocol, PROTOCOLS.md §1) plus `/v1/models`.

Nothing here reaches OpenAI, so the offline demo and the integration tests talk to this server
instead, over the same wire protocol: Bearer auth on the upgrade, `?model=`, JSON text frames,
GA event names and payload shapes, and the event orders of PROTOCOLS §1.7. What the "model" says
comes from a `ModelScript`: every response plays the next scripted turn.

Fidelity choices worth knowing (issue 9: the fake is as strict as the real API; a bad day
at OpenAI is opt-in, what the real API always does is the default):
- Every client event is checked against the openai SDK's own types *and* for unknown keys
  (`client_event_check`), because the real API rejects beta leftovers the SDK would accept,
  and then against what the real server refuses beyond the types (`realtime_rules`: PCM
  without `rate`, `reasoning` for a non-reasoning model, truncating a non-audio item, an
  output for an unknown `call_id`, …). Every error echoes the client's `event_id`. Refusals
  are recorded in `FakeSession.invalid` (except harmless races, `realtime_rules.RACE_CODES`).
- Every server event sent is checked against the SDK's types (`server_event_check`); a
  malformed one lands in `FakeRealtimeServer.malformed`.
- Generation is faster than real time by default (`pace=0`), like the real API; the bridge must
  pace playback itself. A cancelled response (client `response.cancel` or a VAD barge-in)
  still delivers `tail_deltas` audio deltas already in flight (default 1), which count as
  generated audio, then `response.done` with status `cancelled`.
- Each response starts with `response.created` then `rate_limits.updated` (`rate_limits`).
- Caller speech is found with a plain energy VAD on the decoded audio (no ML); the end of a
  turn follows `turn_timing` (semantic VAD waits hundreds of ms to seconds by eagerness and
  by how finished the scripted words sound; server VAD its `silence_duration_ms`). Keypad
  tones never reach the model, so they need no special casing.
- Input transcription is asynchronous: deltas then `.completed` (or `.failed` for a
  `TranscriptionFailure`/None entry) arrive after the response that utterance started has
  begun and sent its first audio delta, or has ended when it has no audio (a tool call);
  in spoken order; at once when no response was started (`late_transcripts=False`: before
  `response.created`, the old order).
- Scripted `Fail`/`Incomplete` actions end a response `failed`/`incomplete`
  (`model_errors` has the real account and server failures); an integer
  `max_output_tokens` cuts a response `incomplete` too.
- A session lives `session_lifetime_s` (default 3600, as `expires_at` says), then gets
  `error` `session_expired` and a 1001 close.
- The script cursors (next turn, next caller transcript) belong to the server, not to a
  connection: a bridge that reconnects after a drop continues the same scripted conversation,
  the way a real model would keep following the call.

Not modelled: idle timeouts (`idle_timeout_ms`), MCP tools, transcription sessions, A-law
output (pcma is accepted but answered in µ-law, with a warning in the log), reasoning
latency, real rate-limit enforcement (script a `Fail` instead), transcript removal on
truncation.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import logging
import math
import random
import string
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, Self

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from voicecall_rt.simulator import caller_transcription, model_errors, realtime_rules, turn_timing
from voicecall_rt.simulator.client_event_check import ClientEventProblem, diagnose_client_event
from voicecall_rt.simulator.rate_limits import DEFAULT_RATE_LIMITS, RateLimitBook
from voicecall_rt.simulator.scenario import (
    CallerTranscript,
    CallTool,
    Fail,
    Incomplete,
    ModelAction,
    ModelScript,
    Say,
)
from voicecall_rt.simulator.server_event_check import check_server_event
from voicecall_rt.simulator.synthetic_audio import AudioFormat as _Format
from voicecall_rt.simulator.synthetic_audio import format_of as _format_of
from voicecall_rt.simulator.synthetic_audio import voice_like_pcm, voice_like_ulaw

__all__ = [
    "VAD_RMS_THRESHOLD",
    "FakeRealtimeServer",
    "FakeSession",
    "voice_like_pcm",
    "voice_like_ulaw",
]

log = logging.getLogger(__name__)

JSON = dict[str, Any]

# ---- tunables ----------------------------------------------------------------------------

VAD_RMS_THRESHOLD: Final = 500.0  # linear 16-bit RMS (≈ -36 dBFS): well above line hiss
_VAD_FRAME_MS: Final = 20  # one Twilio media frame
_SPEECH_START_MS: Final = 60  # loud this long → speech_started
_MIN_COMMIT_MS: Final = 100  # the real API refuses to commit less than this
_MAX_MSG_BYTES: Final = 16 * 1024 * 1024  # one append may carry up to 15 MiB of audio
_MODEL_CREATED: Final = 1756339200  # 2025-08-28, gpt-realtime's GA date
SESSION_LIFETIME_S: Final = 3600.0  # GA sessions end at 60 min (scale-reliability.md §3)
_AUDIO_TOKENS_PER_S_IN: Final = 10  # PROTOCOLS §1.9: ≈10 tokens/s caller audio
_AUDIO_TOKENS_PER_S_OUT: Final = 20  # ≈20 tokens/s model audio
_CACHE_MIN_TOKENS: Final = 1024  # prompt caching starts at 1024 tokens, in 64-token steps
_ID_ALPHABET: Final = string.ascii_letters + string.digits

# ---- helpers ------------------------------------------------------------------------------


def _dumps(obj: object) -> str:
    return orjson.dumps(obj).decode()


def _text_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)  # the usual ~4 characters per token


def _audio_tokens(ms: int, per_s: int) -> int:
    return math.ceil(ms * per_s / 1000)


def _openai_error(
    status: int, message: str, *, type_: str, code: str | None = None, param: str | None = None
) -> web.Response:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return web.json_response(body, status=status, dumps=_dumps)


def _mask_key(key: str) -> str:
    return f"{key[:3]}{'*' * 8}{key[-4:]}" if len(key) > 8 else key


def _default_turn_detection(turn_detection: JSON | None) -> JSON | None:
    """The effective turn_detection object: the given keys over the type's defaults."""
    if turn_detection is None:
        return None
    if turn_detection.get("type") == "semantic_vad":
        base: JSON = {
            "type": "semantic_vad",
            "eagerness": "auto",
            "create_response": True,
            "interrupt_response": True,
        }
    else:
        base = {
            "type": "server_vad",
            "threshold": 0.5,
            "prefix_padding_ms": 300,
            "silence_duration_ms": turn_timing.SERVER_VAD_SILENCE_MS,
            "idle_timeout_ms": None,
            "create_response": True,
            "interrupt_response": True,
        }
    base.update(
        {k: v for k, v in turn_detection.items() if v is not None or k == "idle_timeout_ms"}
    )
    return base


def _not_found(item_id: str) -> ClientEventProblem:
    return ClientEventProblem("invalid_value", f"Item with item_id not found: {item_id}", "item_id")


class _SessionGone(Exception):
    """The socket closed under us; whoever was sending just stops."""


# ---- responses ----------------------------------------------------------------------------


@dataclass
class _Response:
    id: str
    turn: tuple[ModelAction, ...]
    obj: JSON  # the realtime.response object, final fields filled at the end
    out_of_band: bool
    output_format: _Format
    modalities: list[str]
    input_usage: JSON
    cancel_requested: asyncio.Event = field(default_factory=asyncio.Event)
    cancel_reason: str | None = None
    failure: Fail | None = None  # a scripted `Fail` was reached
    incomplete_reason: str | None = None  # a scripted `Incomplete`, or max_output_tokens
    # Set at the first audio delta, or when the response ends without one: a late caller
    # transcript waits for it.
    first_audio: asyncio.Event = field(default_factory=asyncio.Event)
    audio_ms: int = 0
    text_tokens: int = 0
    task: asyncio.Task[None] | None = None

    @property
    def stopping(self) -> bool:
        return (
            self.cancel_reason is not None
            or self.failure is not None
            or self.incomplete_reason is not None
        )


@dataclass
class _PendingTranscript:
    """A committed caller utterance waiting for its input transcription events."""

    item: JSON
    entry: CallerTranscript
    audio_ms: int
    model: str | None


# ---- one connection -----------------------------------------------------------------------


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
        self._server = server
        self._request = request
        self._ws = ws
        self.id = session_id
        self.model: str | None = request.query.get("model")
        self.headers: dict[str, str] = dict(request.headers)
        self.query: dict[str, str] = dict(request.query)
        self.conversation_id = server.new_id("conv_")
        self.config: JSON = {}
        self.received: list[JSON] = []
        self.invalid: list[tuple[JSON, str]] = []
        self.sent: list[JSON] = []
        self.truncations: list[tuple[str, int]] = []
        self.responses: list[JSON] = []
        self.audio_ms_received = 0
        self.rejected: str | None = None
        self.expired = False
        self.closed = asyncio.Event()
        self.lifetime_s = server.session_lifetime_s

        self._send_lock = asyncio.Lock()
        self._items: dict[str, JSON] = {}  # conversation items by id
        self._order: list[str] = []  # conversation order
        self._item_audio_ms: dict[str, int] = {}  # audio generated/received per item
        self._item_kept_ms: dict[str, int] = {}  # what is left of it after truncation
        self._assistant_audio_started = False  # the voice is frozen from then on
        self._active: _Response | None = None
        # Strong references: the event loop keeps only weak ones to running tasks.
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_input_usage_total = 0  # for the prompt-cache estimate
        # input audio buffer + VAD
        self._buffer_ms = 0
        self._pending = b""  # bytes short of a full VAD frame
        self._frames_ms = 0  # position of the VAD, in ms of session audio
        self._loud_ms = 0
        self._quiet_ms = 0
        self._speech_item: str | None = None
        self._speech_start_ms = 0
        self._warned_undecodable = False
        self._expiry: asyncio.Task[None] | None = None
        self._expire_now = asyncio.Event()  # `expire()`: the lifetime ends now
        # The latest input transcription still to be sent: the next one waits for it, so
        # transcripts keep the order the caller spoke in.
        self._last_transcription: asyncio.Task[None] | None = None

    # ---- public helpers --------------------------------------------------------------

    def received_types(self) -> list[str]:
        return [str(e.get("type")) for e in self.received]

    def sent_types(self) -> list[str]:
        return [str(e.get("type")) for e in self.sent]

    def item_audio_ms(self, item_id: str) -> int:
        """Milliseconds of audio generated so far for an assistant item (for a user item: the
        audio it was made from). Truncation does not change it. KeyError if unknown."""
        return self._item_audio_ms[item_id]

    def _kept_ms(self, item_id: str) -> int:
        return self._item_kept_ms.get(item_id, self._item_audio_ms.get(item_id, 0))

    @property
    def items(self) -> list[JSON]:
        """The conversation as the model sees it, in order."""
        return [self._items[i] for i in self._order]

    @property
    def active_response_id(self) -> str | None:
        return self._active.id if self._active else None

    async def close(self, code: int = WSCloseCode.GOING_AWAY, message: bytes = b"") -> None:
        await self._ws.close(code=code, message=message)

    def expire(self) -> None:
        """End the session's lifetime now (`session_expired`, close 1001), as if an hour had
        passed."""
        self._expire_now.set()

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
            self.config = self._initial_config()
            await self._emit("session.created", session=copy.deepcopy(self.config))
            self._expiry = asyncio.create_task(self._expire_later(), name=f"{self.id}-expiry")
            async for msg in self._ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_text(str(msg.data))
                elif msg.type is WSMsgType.BINARY:
                    await self._reject_frame({"binary_bytes": len(msg.data)}, "binary frame")
                elif msg.type is WSMsgType.ERROR:
                    log.info("session %s: socket error: %s", self.id, self._ws.exception())
        except _SessionGone:
            log.info("session %s: socket went away while sending", self.id)
        finally:
            await self._stop_response_task()
            await self._stop_expiry()
            self.closed.set()
            log.info("session %s closed (code %s)", self.id, self._ws.close_code)
            await self._server.notify()

    async def _expire_later(self) -> None:
        """At the end of the session's lifetime: `session_expired`, then close 1001, as the
        real API does (no warning before; the error carries no client event id)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.lifetime_s):
                await self._expire_now.wait()
        self.expired = True
        message = model_errors.session_expired_message(self.lifetime_s)
        log.info("session %s expired after %ss", self.id, self.lifetime_s)
        with contextlib.suppress(_SessionGone):
            await self._error(message, code="session_expired")
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
        if "OpenAI-Beta" in self._request.headers:
            self.rejected = "beta header"
            await self._error(
                "The Realtime API beta protocol is no longer supported. Remove the "
                f"'OpenAI-Beta: {self._request.headers['OpenAI-Beta']}' header to use the "
                "GA protocol.",
                code="beta_api_not_supported",
            )
        elif self.model is None:
            self.rejected = "no model"
            await self._error(
                "Missing required parameter: 'model'.",
                code="missing_required_parameter",
                param="model",
            )
        elif self.model not in self._server.models:
            self.rejected = "unknown model"
            await self._error(
                f"The model '{self.model}' does not exist or you do not have access to it.",
                code="model_not_found",
                param="model",
            )
        else:
            return False
        log.info("session %s refused: %s", self.id, self.rejected)
        await self._ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"invalid_request_error")
        return True

    def _initial_config(self) -> JSON:
        return {
            "type": "realtime",
            "object": "realtime.session",
            "id": self.id,
            "model": self.model,
            "output_modalities": ["audio"],
            "instructions": "You are a helpful, friendly voice assistant.",
            "tools": [],
            "tool_choice": "auto",
            "max_output_tokens": "inf",
            "tracing": None,
            "truncation": "auto",
            "prompt": None,
            "expires_at": math.ceil(time.time() + self.lifetime_s),
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": None,
                    "noise_reduction": None,
                    "turn_detection": _default_turn_detection({"type": "server_vad"}),
                },
                "output": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "voice": "marin",
                    "speed": 1.0,
                },
            },
            "include": None,
        }

    # ---- sending ---------------------------------------------------------------------

    async def _emit(self, type_: str, **fields: Any) -> JSON:
        event: JSON = {"type": type_, "event_id": self._server.new_id("event_"), **fields}
        if self._server.check_events:
            self._server.check_sent(event)
        # One lock per socket: the reader and the response task both send, and event order
        # on the wire must match the order we record.
        async with self._send_lock:
            if self._ws.closed:
                raise _SessionGone
            try:
                await self._ws.send_str(_dumps(event))
            except ConnectionResetError as exc:  # aiohttp's ClientConnectionResetError too
                raise _SessionGone from exc
            self.sent.append(event)
        await self._server.notify()
        return event

    async def _error(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        event_id: str | None = None,
        type_: str = "invalid_request_error",
    ) -> None:
        error = {
            "type": type_,
            "code": code,
            "message": message,
            "param": param,
            "event_id": event_id,
        }
        await self._emit("error", error=error)

    async def _refuse(self, event: JSON, event_id: str | None, problem: ClientEventProblem) -> None:
        """Answer a client event the real API would refuse, and keep it on record unless it
        is only a race a correct client can lose."""
        if problem.code not in realtime_rules.RACE_CODES:
            log.warning("session %s: refused %s: %s", self.id, event.get("type"), problem.message)
            self.invalid.append((event, problem.message))
        await self._error(
            problem.message, code=problem.code, param=problem.param, event_id=event_id
        )

    # ---- receiving -------------------------------------------------------------------

    async def _on_text(self, text: str) -> None:
        try:
            event = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            await self._reject_frame({"raw": text[:200]}, f"invalid JSON: {exc}")
            return
        if not isinstance(event, dict):
            await self._reject_frame({"raw": text[:200]}, "not a JSON object")
            return
        self.received.append(event)
        await self._server.notify()
        event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        problem = diagnose_client_event(event) or realtime_rules.event_id_problem(event_id)
        if problem is not None:
            await self._refuse(event, event_id, problem)
            return
        handler = self._handlers().get(str(event["type"]))
        if handler is None:  # valid for the SDK but outside what a WebSocket session serves
            await self._refuse(
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

    async def _reject_frame(self, record: JSON, reason: str) -> None:
        self.invalid.append((record, reason))
        await self._error(
            f"Invalid client event: {reason}. Send JSON text frames.", code="invalid_json"
        )

    def _handlers(self) -> dict[str, Callable[[JSON, str | None], Awaitable[None]]]:
        return {
            "session.update": self._on_session_update,
            "input_audio_buffer.append": self._on_append,
            "input_audio_buffer.commit": self._on_commit,
            "input_audio_buffer.clear": self._on_clear,
            "conversation.item.create": self._on_item_create,
            "conversation.item.truncate": self._on_truncate,
            "conversation.item.delete": self._on_item_delete,
            "conversation.item.retrieve": self._on_item_retrieve,
            "response.create": self._on_response_create,
            "response.cancel": self._on_response_cancel,
        }

    # ---- session.update --------------------------------------------------------------

    async def _on_session_update(self, event: JSON, event_id: str | None) -> None:
        update: JSON = event["session"]
        problem = realtime_rules.session_update_problem(
            update,
            model=self.model,
            voice=self.config["audio"]["output"]["voice"],
            audio_started=self._assistant_audio_started,
        )
        if problem is not None:
            await self._refuse(event, event_id, problem)
            return
        config = copy.deepcopy(self.config)
        for key, value in update.items():
            if key == "audio":
                for side in ("input", "output"):
                    for sub_key, sub_value in ((value or {}).get(side) or {}).items():
                        if sub_key == "turn_detection":
                            sub_value = _default_turn_detection(sub_value)
                        config["audio"][side][sub_key] = sub_value
            else:
                config[key] = value
        old_input, new_input = self.config["audio"]["input"], config["audio"]["input"]
        if any(old_input[k] != new_input[k] for k in ("format", "turn_detection")):
            # A half frame or a half-heard utterance under the old settings means nothing
            # under the new ones; an unchanged re-send must not reset a caller mid-sentence.
            self._reset_vad()
        self.config = config
        await self._emit("session.updated", session=copy.deepcopy(config))

    # ---- input audio -----------------------------------------------------------------

    def _input_format(self) -> _Format:
        return _format_of(self.config["audio"]["input"]["format"])

    def _turn_detection(self) -> JSON | None:
        td: JSON | None = self.config["audio"]["input"]["turn_detection"]
        return td

    async def _on_append(self, event: JSON, event_id: str | None) -> None:
        try:
            data = base64.b64decode(event["audio"], validate=True)
        except binascii.Error:
            await self._refuse(
                event,
                event_id,
                ClientEventProblem(
                    "invalid_value",
                    "Invalid 'audio'. Expected base64-encoded audio bytes.",
                    "audio",
                ),
            )
            return
        fmt = self._input_format()
        ms = len(data) // fmt.bytes_per_ms
        self.audio_ms_received += ms
        self._buffer_ms += ms
        if self._turn_detection() is None:
            self._frames_ms += ms  # keep VAD positions in session time if VAD comes back on
            return
        self._pending += data
        frame_bytes = _VAD_FRAME_MS * fmt.bytes_per_ms
        while len(self._pending) >= frame_bytes:
            frame, self._pending = self._pending[:frame_bytes], self._pending[frame_bytes:]
            await self._vad_frame(fmt, frame)

    async def _vad_frame(self, fmt: _Format, frame: bytes) -> None:
        self._frames_ms += _VAD_FRAME_MS
        samples = fmt.decode(frame)
        if samples is None:
            if not self._warned_undecodable:
                log.warning("session %s: no VAD for %s input", self.id, fmt.kind)
                self._warned_undecodable = True
            return
        rms = math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))
        loud = rms > VAD_RMS_THRESHOLD
        if self._speech_item is None:
            self._loud_ms = self._loud_ms + _VAD_FRAME_MS if loud else 0
            if self._loud_ms >= _SPEECH_START_MS:
                await self._speech_started()
        else:
            self._quiet_ms = 0 if loud else self._quiet_ms + _VAD_FRAME_MS
            if self._quiet_ms >= self._silence_ms():
                await self._speech_stopped()

    def _silence_ms(self) -> int:
        # The utterance being heard is the next scripted one: its words set how long
        # semantic VAD waits (turn_timing).
        upcoming = self._server.peek_caller_transcript()
        words = upcoming if isinstance(upcoming, str) else None
        return turn_timing.end_of_turn_ms(self._turn_detection() or {}, words)

    async def _speech_started(self) -> None:
        item_id = self._server.new_id("item_")
        self._speech_item = item_id
        self._speech_start_ms = self._frames_ms
        self._quiet_ms = 0
        await self._emit(
            "input_audio_buffer.speech_started", audio_start_ms=self._frames_ms, item_id=item_id
        )
        td = self._turn_detection() or {}
        if self._active is not None and td.get("interrupt_response", True):
            self._request_cancel(self._active, "turn_detected")

    async def _speech_stopped(self) -> None:
        item_id = self._speech_item
        assert item_id is not None
        self._speech_item = None
        self._loud_ms = 0
        await self._emit(
            "input_audio_buffer.speech_stopped", audio_end_ms=self._frames_ms, item_id=item_id
        )
        pending = await self._commit(item_id, self._frames_ms - self._speech_start_ms)
        late = self._server.late_transcripts
        if pending is not None and not late:
            await self._transcribe(pending)
            pending = None
        response: _Response | None = None
        td = self._turn_detection() or {}
        if td.get("create_response", True):
            if self._active is None:
                response = await self._start_response(None)
            else:
                log.info(
                    "session %s: speech ended during %s, no new response", self.id, self._active.id
                )
        if pending is not None:
            self._transcribe_later(pending, response)

    async def _commit(self, item_id: str, audio_ms: int) -> _PendingTranscript | None:
        """Buffer → user message item. Returns the transcription still to be sent (None when
        transcription is off); the caller decides when it goes out."""
        previous = self._order[-1] if self._order else None
        self._buffer_ms = 0
        await self._emit("input_audio_buffer.committed", item_id=item_id, previous_item_id=previous)
        item: JSON = {
            "id": item_id,
            "type": "message",
            "object": "realtime.item",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        self._insert(item, previous)
        self._item_audio_ms[item_id] = audio_ms
        # Copies: `sent` keeps what went on the wire, the stored item keeps changing.
        await self._emit(
            "conversation.item.added", previous_item_id=previous, item=copy.deepcopy(item)
        )
        await self._emit(
            "conversation.item.done", previous_item_id=previous, item=copy.deepcopy(item)
        )
        # Every utterance uses up its scripted words, heard or not, so the script stays
        # aligned with what the caller said when transcription is switched on later.
        entry = self._server.next_caller_transcript()
        transcription: JSON | None = self.config["audio"]["input"]["transcription"]
        if transcription is None:
            return None
        return _PendingTranscript(item, entry, audio_ms, transcription.get("model"))

    def _transcribe_later(self, pending: _PendingTranscript, response: _Response | None) -> None:
        """Send the transcription from a task, once `response` (the one this utterance
        started, if any) has begun speaking, and after any earlier transcription."""
        gate = response.first_audio if response is not None else None
        before = self._last_transcription

        async def run() -> None:
            if before is not None:
                await asyncio.wait([before])  # its outcome is its own business
            if gate is not None:
                await gate.wait()
            try:
                await self._transcribe(pending)
            except _SessionGone:
                log.info("session %s: socket gone before a transcript", self.id)

        task = asyncio.create_task(run(), name=f"{pending.item['id']}-transcription")
        self._last_transcription = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _transcribe(self, pending: _PendingTranscript) -> None:
        """`.delta`* then `.completed`, or `.failed`, for one committed utterance."""
        item_id = pending.item["id"]
        error = caller_transcription.failure_error(pending.entry)
        if error is not None:
            await self._emit(
                "conversation.item.input_audio_transcription.failed",
                item_id=item_id,
                content_index=0,
                error=error,
            )
            return
        transcript = pending.entry if isinstance(pending.entry, str) else ""
        for piece in caller_transcription.delta_pieces(transcript, pending.model):
            await self._emit(
                "conversation.item.input_audio_transcription.delta",
                item_id=item_id,
                content_index=0,
                delta=piece,
            )
        pending.item["content"][0]["transcript"] = transcript
        await self._emit(
            "conversation.item.input_audio_transcription.completed",
            item_id=item_id,
            content_index=0,
            transcript=transcript,
            usage=caller_transcription.completed_usage(transcript, pending.audio_ms, pending.model),
        )

    async def _on_commit(self, event: JSON, event_id: str | None) -> None:
        if self._buffer_ms < _MIN_COMMIT_MS:
            await self._refuse(
                event,
                event_id,
                ClientEventProblem(
                    "input_audio_buffer_commit_empty",
                    "Error committing input audio buffer: buffer too small. Expected at least "
                    f"{_MIN_COMMIT_MS}ms of audio, but buffer only has {self._buffer_ms:.2f}ms "
                    "of audio.",
                ),
            )
            return
        item_id = self._speech_item or self._server.new_id("item_")
        self._speech_item = None
        self._loud_ms = self._quiet_ms = 0
        pending = await self._commit(item_id, self._buffer_ms)
        if pending is None:
            return
        if self._server.late_transcripts:
            self._transcribe_later(pending, None)
        else:
            await self._transcribe(pending)

    async def _on_clear(self, event: JSON, event_id: str | None) -> None:
        self._buffer_ms = 0
        self._reset_vad()
        await self._emit("input_audio_buffer.cleared")

    def _reset_vad(self) -> None:
        self._pending = b""
        self._speech_item = None
        self._loud_ms = self._quiet_ms = 0

    # ---- conversation items ------------------------------------------------------------

    def _insert(self, item: JSON, after: str | None) -> None:
        """Put `item` after `after` ("root" = at the start, None = at the end)."""
        self._items[item["id"]] = item
        if after is None or (self._order and after == self._order[-1]):
            self._order.append(item["id"])
        elif after == "root":
            self._order.insert(0, item["id"])
        else:
            self._order.insert(self._order.index(after) + 1, item["id"])

    async def _on_item_create(self, event: JSON, event_id: str | None) -> None:
        item: JSON = copy.deepcopy(event["item"])
        previous: str | None = event.get("previous_item_id")
        problem = realtime_rules.item_create_problem(item, previous, self._items)
        if problem is not None:
            await self._refuse(event, event_id, problem)
            return
        item.setdefault("id", self._server.new_id("item_"))
        item["object"] = "realtime.item"
        item.setdefault("status", "completed")
        audio_ms = 0
        for part in item.get("content") or []:
            audio = part.pop("audio", None)  # echoes carry no audio bytes
            if audio is None:
                continue
            try:
                audio_bytes = base64.b64decode(audio, validate=True)
            except binascii.Error:
                await self._refuse(
                    event,
                    event_id,
                    ClientEventProblem(
                        "invalid_value",
                        "Invalid 'audio'. Expected base64-encoded audio bytes.",
                        "item.content.audio",
                    ),
                )
                return
            audio_ms += len(audio_bytes) // self._input_format().bytes_per_ms
        if previous is None and self._order:
            previous = self._order[-1]
        self._insert(item, previous)
        self._item_audio_ms[item["id"]] = audio_ms
        await self._emit(
            "conversation.item.added", previous_item_id=previous, item=copy.deepcopy(item)
        )
        await self._emit(
            "conversation.item.done", previous_item_id=previous, item=copy.deepcopy(item)
        )

    async def _on_truncate(self, event: JSON, event_id: str | None) -> None:
        item_id: str = event["item_id"]
        end_ms: int = event["audio_end_ms"]
        # Checked against what is left after any earlier truncation, as the API does.
        problem = realtime_rules.truncate_problem(
            self._items.get(item_id),
            item_id=item_id,
            content_index=event["content_index"],
            end_ms=end_ms,
            generated_ms=self._item_audio_ms.get(item_id, 0),
            kept_ms=self._kept_ms(item_id),
        )
        if problem is not None:
            await self._refuse(event, event_id, problem)
            return
        self.truncations.append((item_id, end_ms))
        # The real API drops the unheard part from the context; token accounting follows.
        self._item_kept_ms[item_id] = end_ms
        await self._emit(
            "conversation.item.truncated", item_id=item_id, content_index=0, audio_end_ms=end_ms
        )

    async def _on_item_delete(self, event: JSON, event_id: str | None) -> None:
        item_id: str = event["item_id"]
        if item_id not in self._items:
            await self._refuse(event, event_id, _not_found(item_id))
            return
        del self._items[item_id]
        self._order.remove(item_id)
        await self._emit("conversation.item.deleted", item_id=item_id)

    async def _on_item_retrieve(self, event: JSON, event_id: str | None) -> None:
        item = self._items.get(event["item_id"])
        if item is None:
            await self._refuse(event, event_id, _not_found(event["item_id"]))
            return
        await self._emit("conversation.item.retrieved", item=copy.deepcopy(item))

    # ---- responses ---------------------------------------------------------------------

    async def _on_response_create(self, event: JSON, event_id: str | None) -> None:
        params: JSON = event.get("response") or {}
        problem = realtime_rules.response_create_problem(params, model=self.model)
        if problem is None and self._active is not None:
            problem = ClientEventProblem(
                "conversation_already_has_active_response",
                "Conversation already has an active response in progress: "
                f"{self._active.id}. Wait until the response is finished before creating a "
                "new response.",
            )
        if problem is not None:
            await self._refuse(event, event_id, problem)
            return
        await self._start_response(params)

    async def _on_response_cancel(self, event: JSON, event_id: str | None) -> None:
        wanted = event.get("response_id")
        active = self._active
        if active is None or (wanted is not None and wanted != active.id):
            await self._refuse(
                event,
                event_id,
                ClientEventProblem(
                    "response_cancel_not_active", "Cancellation failed: no active response found"
                ),
            )
            return
        self._request_cancel(active, "client_cancelled")

    def _request_cancel(self, response: _Response, reason: str) -> None:
        if response.cancel_reason is None:
            response.cancel_reason = reason
            response.cancel_requested.set()

    async def _start_response(self, params: JSON | None) -> _Response:
        params = params or {}
        session_output = self.config["audio"]["output"]
        override = (params.get("audio") or {}).get("output") or {}
        # A PCM format without `rate` never gets here (realtime_rules refuses it).
        fmt_json = override.get("format") or session_output["format"]
        modalities = list(params.get("output_modalities") or self.config["output_modalities"])
        response_id = self._server.new_id("resp_")
        obj: JSON = {
            "object": "realtime.response",
            "id": response_id,
            "status": "in_progress",
            "status_details": None,
            "output": [],
            "conversation_id": None
            if params.get("conversation") == "none"
            else self.conversation_id,
            "output_modalities": modalities,
            "max_output_tokens": params.get(
                "max_output_tokens", self.config.get("max_output_tokens", "inf")
            ),
            "audio": {
                "output": {
                    "format": fmt_json,
                    "voice": override.get("voice", session_output["voice"]),
                }
            },
            "usage": None,
            "metadata": params.get("metadata"),
        }
        response = _Response(
            id=response_id,
            turn=self._server.next_turn(),
            obj=obj,
            out_of_band=params.get("conversation") == "none",
            output_format=_format_of(fmt_json),
            modalities=modalities,
            input_usage=self._input_usage(params),
        )
        self._active = response
        await self._emit("response.created", response=copy.deepcopy(obj))
        rate_limits = self._server.rate_book.on_response(
            response.input_usage["input_tokens"], obj["max_output_tokens"]
        )
        if rate_limits:
            await self._emit("rate_limits.updated", rate_limits=rate_limits)
        response.task = asyncio.create_task(self._run_response(response), name=response_id)
        self._tasks.add(response.task)
        response.task.add_done_callback(self._response_task_done)
        return response

    def _response_task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        # Task boundary: nobody awaits a response task's result, so surface crashes here,
        # and free the conversation so one bug does not block every later response.
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "session %s: response task %s crashed",
                self.id,
                task.get_name(),
                exc_info=task.exception(),
            )
            if self._active is not None and self._active.task is task:
                self._active = None

    async def _stop_response_task(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._active = None

    async def _run_response(self, response: _Response) -> None:
        turn = response.turn
        try:
            for output_index, action in enumerate(turn):
                if response.stopping:
                    break
                if isinstance(action, Say):
                    after = turn[output_index + 1] if output_index + 1 < len(turn) else None
                    cut_ms = after.after_ms if isinstance(after, Incomplete) else None
                    await self._play_say(response, output_index, action, cut_ms)
                elif isinstance(action, CallTool):
                    await self._play_call(response, output_index, action)
                elif isinstance(action, Fail):
                    response.failure = action
                elif isinstance(action, Incomplete):
                    response.incomplete_reason = action.reason
            await self._finish_response(response)
        except _SessionGone:
            log.info("session %s: socket gone during %s", self.id, response.id)
        finally:
            response.first_audio.set()  # a transcript waiting for it must not wait forever

    async def _pace(self, response: _Response) -> None:
        """Between deltas: yield (pace 0) or wait delta_ms×pace, waking early on cancel."""
        if self._server.pace <= 0:
            await asyncio.sleep(0)  # let the reader see a cancel or a barge-in
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._server.delta_ms * self._server.pace / 1000):
                await response.cancel_requested.wait()

    async def _add_output_item(
        self, response: _Response, output_index: int, item: JSON
    ) -> str | None:
        """output_item.added (+ conversation.item.added); returns the previous item id."""
        previous = self._order[-1] if self._order else None
        response.obj["output"].append(item)
        await self._emit(
            "response.output_item.added",
            response_id=response.id,
            output_index=output_index,
            item=copy.deepcopy(item),
        )
        if not response.out_of_band:
            self._insert(item, previous)
            await self._emit(
                "conversation.item.added", previous_item_id=previous, item=copy.deepcopy(item)
            )
        return previous

    async def _done_output_item(
        self, response: _Response, output_index: int, item: JSON, previous: str | None
    ) -> None:
        await self._emit(
            "response.output_item.done",
            response_id=response.id,
            output_index=output_index,
            item=copy.deepcopy(item),
        )
        if not response.out_of_band:
            await self._emit(
                "conversation.item.done", previous_item_id=previous, item=copy.deepcopy(item)
            )

    async def _play_say(
        self, response: _Response, output_index: int, say: Say, cut_ms: int | None
    ) -> None:
        audio_out = "audio" in response.modalities
        item_id = self._server.new_id("item_")
        item: JSON = {
            "id": item_id,
            "type": "message",
            "object": "realtime.item",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        previous = await self._add_output_item(response, output_index, item)
        self._item_audio_ms[item_id] = 0
        where = {
            "response_id": response.id,
            "item_id": item_id,
            "output_index": output_index,
            "content_index": 0,
        }
        empty_part: JSON = (
            {"type": "audio", "transcript": ""} if audio_out else {"type": "text", "text": ""}
        )
        await self._emit("response.content_part.added", **where, part=empty_part)

        fmt = response.output_format
        step_ms = max(1, self._server.delta_ms)
        text_delta = (
            "response.output_audio_transcript.delta" if audio_out else "response.output_text.delta"
        )
        play_ms = say.ms if cut_ms is None else max(0, min(say.ms, cut_ms))
        token_cap = response.obj["max_output_tokens"]
        tail_left = self._server.tail_deltas
        sent_chars = 0
        for start_ms in range(0, play_ms, step_ms):
            if response.cancel_reason is not None:
                # Deltas generated before the cancel was seen are still on their way.
                if tail_left <= 0 or not audio_out:
                    break
                tail_left -= 1
            elif response.stopping:
                break
            end_ms = min(play_ms, start_ms + step_ms)
            if audio_out:
                chunk = fmt.synthesize(start_ms, end_ms)
                await self._emit(
                    "response.output_audio.delta",
                    **where,
                    delta=base64.b64encode(chunk).decode(),
                )
                self._assistant_audio_started = True
                self._item_audio_ms[item_id] = end_ms
                response.audio_ms += end_ms - start_ms
                response.first_audio.set()
            upto = round(len(say.text) * end_ms / say.ms)
            if upto > sent_chars:
                await self._emit(text_delta, **where, delta=say.text[sent_chars:upto])
                sent_chars = upto
            spent = self._output_tokens(response, say.text[:sent_chars])
            if isinstance(token_cap, int) and spent >= token_cap:
                response.incomplete_reason = "max_output_tokens"
            if response.cancel_reason is None:
                await self._pace(response)

        cut = play_ms < say.ms  # a scripted `Incomplete(after_ms=…)` stops the words here too
        if not response.stopping and not cut and sent_chars < len(say.text):  # e.g. ms=0
            await self._emit(text_delta, **where, delta=say.text[sent_chars:])
            sent_chars = len(say.text)
        text = say.text[:sent_chars]
        response.text_tokens += _text_tokens(text)
        if audio_out:
            await self._emit("response.output_audio.done", **where)
            await self._emit("response.output_audio_transcript.done", **where, transcript=text)
            part: JSON = {"type": "audio", "transcript": text}
            content: JSON = {"type": "output_audio", "transcript": text}
        else:
            await self._emit("response.output_text.done", **where, text=text)
            part = {"type": "text", "text": text}
            content = {"type": "output_text", "text": text}
        await self._emit("response.content_part.done", **where, part=part)
        item["content"] = [content]
        item["status"] = "incomplete" if response.stopping or cut else "completed"
        await self._done_output_item(response, output_index, item, previous)

    def _output_tokens(self, response: _Response, current_text: str) -> int:
        """Output tokens spent so far: earlier items, this item's words, all audio."""
        audio = _audio_tokens(response.audio_ms, _AUDIO_TOKENS_PER_S_OUT)
        return response.text_tokens + _text_tokens(current_text) + audio

    async def _play_call(self, response: _Response, output_index: int, call: CallTool) -> None:
        item_id = self._server.new_id("item_")
        call_id = self._server.new_id("call_", length=16)
        arguments = _dumps(call.arguments)
        item: JSON = {
            "id": item_id,
            "type": "function_call",
            "object": "realtime.item",
            "status": "in_progress",
            "name": call.name,
            "call_id": call_id,
            "arguments": "",
        }
        previous = await self._add_output_item(response, output_index, item)
        where = {"response_id": response.id, "item_id": item_id, "output_index": output_index}
        piece = max(1, math.ceil(len(arguments) / 3))  # a few deltas, like streamed tokens
        for start in range(0, len(arguments), piece):
            await self._emit(
                "response.function_call_arguments.delta",
                **where,
                call_id=call_id,
                delta=arguments[start : start + piece],
            )
        await self._emit(
            "response.function_call_arguments.done",
            **where,
            call_id=call_id,
            name=call.name,
            arguments=arguments,
        )
        response.text_tokens += _text_tokens(call.name) + _text_tokens(arguments)
        item["arguments"] = arguments
        item["status"] = "completed"
        await self._done_output_item(response, output_index, item, previous)

    async def _finish_response(self, response: _Response) -> None:
        obj = response.obj
        if response.cancel_reason is not None:
            obj["status"] = "cancelled"
            obj["status_details"] = {"type": "cancelled", "reason": response.cancel_reason}
        elif response.failure is not None:
            failure = response.failure
            obj["status"] = "failed"
            obj["status_details"] = {
                "type": "failed",
                "error": {
                    "type": failure.type,
                    "code": failure.code,
                    "message": failure.message.replace("{session_id}", self.id),
                },
            }
        elif response.incomplete_reason is not None:
            obj["status"] = "incomplete"
            obj["status_details"] = {"type": "incomplete", "reason": response.incomplete_reason}
        else:
            obj["status"] = "completed"
        audio_tokens = _audio_tokens(response.audio_ms, _AUDIO_TOKENS_PER_S_OUT)
        usage = dict(response.input_usage)
        usage["output_tokens"] = response.text_tokens + audio_tokens
        usage["output_token_details"] = {
            "text_tokens": response.text_tokens,
            "audio_tokens": audio_tokens,
        }
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        obj["usage"] = usage
        # Inactive before `response.done` leaves: a client that reacts to it with
        # `response.create` must not be told a response is still running.
        self._active = None
        self.responses.append(copy.deepcopy(obj))
        await self._emit("response.done", response=copy.deepcopy(obj))

    def _input_usage(self, params: JSON) -> JSON:
        """Input side of `usage`: the whole context is re-counted for every response."""
        instructions = str(params.get("instructions") or self.config.get("instructions") or "")
        tools = params.get("tools", self.config.get("tools")) or []
        text = 40 + _text_tokens(instructions) + _text_tokens(_dumps(tools))  # 40: framing
        audio = 0
        for item in self.items:
            ms = self._kept_ms(item["id"])
            if item.get("type") == "message":
                if item.get("role") == "assistant":
                    audio += _audio_tokens(ms, _AUDIO_TOKENS_PER_S_OUT)
                else:
                    audio += _audio_tokens(ms, _AUDIO_TOKENS_PER_S_IN)
                for part in item.get("content") or []:
                    if part.get("type") in ("input_text", "output_text"):
                        text += _text_tokens(str(part.get("text") or ""))
            else:
                text += _text_tokens(str(item.get("arguments") or item.get("output") or ""))
            text += 4  # per-item framing
        total = text + audio
        # Prompt caching: the prefix shared with the previous request, in 64-token steps,
        # once it is at least 1024 tokens long.
        shared = min(total, self._last_input_usage_total)
        cached = shared // 64 * 64 if shared >= _CACHE_MIN_TOKENS else 0
        cached_text = min(cached, text)
        self._last_input_usage_total = total
        return {
            "total_tokens": 0,  # filled in at response.done
            "input_tokens": total,
            "output_tokens": 0,
            "input_token_details": {
                "text_tokens": text,
                "audio_tokens": audio,
                "image_tokens": 0,
                "cached_tokens": cached,
                "cached_tokens_details": {
                    "text_tokens": cached_text,
                    "audio_tokens": cached - cached_text,
                    "image_tokens": 0,
                },
            },
        }


# ---- the server ---------------------------------------------------------------------------


class FakeRealtimeServer:
    """Fake OpenAI Realtime (GA) WebSocket + `/v1/models` REST server on 127.0.0.1.

    Usage: `async with FakeRealtimeServer(script) as server:` then point the client at
    `server.realtime_url` / `server.rest_base_url` with `Authorization: Bearer <api_key>`.

    Knobs (also plain attributes, read when a session or response needs them, so a test
    holding a `SimWorld` can change them before placing a call):
    - `models`: model ids served (default: every Realtime model the openai SDK lists).
    - `delta_ms`, `pace`: audio per delta, and generation speed relative to real time.
    - `session_lifetime_s` (3600): then `session_expired` and close 1001.
    - `tail_deltas` (1): audio deltas still sent after a cancel.
    - `late_transcripts` (True): caller transcripts after the response they started begins.
    - `rate_limits` ({"requests": 5000, "tokens": 40000}): `rate_limits.updated` entries
      ({} sends none).
    - `check_events` (True): validate every sent event with the SDK (see `malformed`).
    - `refuse_next` / `refuse_with`: refuse the next N upgrades with this failure (HTTP status
      from `model_errors.connect_status`); `drop_sessions()` kills open sockets;
      `expire_sessions()` ends their lifetime now.
    """

    def __init__(
        self,
        script: ModelScript,
        *,
        api_key: str = "sk-test",
        models: tuple[str, ...] = realtime_rules.REALTIME_MODELS,
        delta_ms: int = 100,
        pace: float = 0.0,
        session_lifetime_s: float = SESSION_LIFETIME_S,
        tail_deltas: int = 1,
        late_transcripts: bool = True,
        rate_limits: Mapping[str, int] = DEFAULT_RATE_LIMITS,
        check_events: bool = True,
    ) -> None:
        self.script = script
        self.api_key = api_key
        self.models = models
        self.delta_ms = delta_ms
        self.pace = pace
        self.session_lifetime_s = session_lifetime_s
        self.tail_deltas = tail_deltas
        self.late_transcripts = late_transcripts
        self.rate_book = RateLimitBook(rate_limits)
        self.check_events = check_events
        # (event, reason) for every sent event the SDK's types reject: a bug in this fake.
        self.malformed: list[tuple[JSON, str]] = []
        self.sessions: list[FakeSession] = []
        # Answer the next N WebSocket upgrade requests with an HTTP error (reconnect tests).
        self.refuse_next = 0
        self.refuse_with: Fail = model_errors.OVERLOADED
        self.refused = 0  # how many upgrades were refused that way
        self.turns_played = 0
        self.transcripts_used = 0
        self._changed = asyncio.Condition()
        # Seeded so ids (and so logs) are the same from run to run; not security relevant.
        self._rng = random.Random(0x5EED)  # noqa: S311
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._closed = False

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("FakeRealtimeServer already started")
        app = web.Application()
        app.router.add_get("/v1/models", self._list_models)
        app.router.add_get("/v1/models/{model_id}", self._get_model)
        app.router.add_get("/v1/realtime", self._realtime)
        # A short shutdown timeout: close() has already ended every session by then.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        address = runner.addresses[0]
        self._port = int(address[1])
        log.info("fake Realtime server on 127.0.0.1:%d", self._port)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for session in list(self.sessions):
            if not session.closed.is_set():
                await session.close(WSCloseCode.GOING_AWAY, b"server shutting down")
        if self._runner is not None:
            await self._runner.cleanup()
        await self.notify()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeRealtimeServer not started")
        return self._port

    @property
    def realtime_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    @property
    def rest_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # ---- test hooks ------------------------------------------------------------------

    async def notify(self) -> None:
        """Wake `wait_for` callers: something changed."""
        async with self._changed:
            self._changed.notify_all()

    # The agreed test-hook signature takes a timeout (ruff would rather callers wrap it).
    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 10,  # noqa: ASYNC109
    ) -> None:
        """Return once `predicate()` is true, re-checked whenever anything happens."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(predicate)
        except TimeoutError as exc:
            raise TimeoutError(f"condition still false after {timeout}s") from exc

    async def drop_sessions(self) -> None:
        """Abruptly kill every open session's connection, as if the model side died."""
        await self._end_open_sessions(FakeSession.drop)

    async def expire_sessions(self) -> None:
        """Every open session reaches the end of its lifetime now (see `session_lifetime_s`)."""
        await self._end_open_sessions(FakeSession.expire)

    async def _end_open_sessions(self, end: Callable[[FakeSession], None]) -> None:
        open_sessions = [s for s in self.sessions if not s.closed.is_set()]
        for session in open_sessions:
            end(session)
        # Bounded so a regression here fails the test instead of hanging it.
        async with asyncio.timeout(5):
            for session in open_sessions:
                await session.closed.wait()

    @property
    def last_session(self) -> FakeSession:
        return self.sessions[-1]

    # ---- script cursors (shared by all sessions, see the module docstring) -------------

    def next_turn(self) -> tuple[ModelAction, ...]:
        if self.turns_played >= len(self.script.turns):
            return ()
        turn = self.script.turns[self.turns_played]
        self.turns_played += 1
        return turn

    def peek_caller_transcript(self) -> CallerTranscript:
        """The scripted words of the utterance being heard now ("" once the script is out)."""
        if self.transcripts_used >= len(self.script.caller_transcripts):
            return ""
        return self.script.caller_transcripts[self.transcripts_used]

    def next_caller_transcript(self) -> CallerTranscript:
        entry = self.peek_caller_transcript()
        if self.transcripts_used < len(self.script.caller_transcripts):
            self.transcripts_used += 1
        return entry

    def check_sent(self, event: JSON) -> None:
        """Record (and log) a server event the real API could not have sent."""
        problem = check_server_event(event)
        if problem is not None:
            log.error("fake model sent a malformed %s: %s", event.get("type"), problem)
            self.malformed.append((copy.deepcopy(event), problem))

    def new_id(self, prefix: str, length: int = 22) -> str:
        return prefix + "".join(self._rng.choice(_ID_ALPHABET) for _ in range(length))

    # ---- HTTP ------------------------------------------------------------------------

    def _auth_failure(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return _openai_error(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                type_="invalid_request_error",
            )
        if key.strip() != self.api_key:
            return _openai_error(
                401,
                f"Incorrect API key provided: {_mask_key(key.strip())}. You can find your API "
                "key at https://platform.openai.com/account/api-keys.",
                type_="invalid_request_error",
                code="invalid_api_key",
            )
        return None

    def _model_object(self, model_id: str) -> JSON:
        return {"id": model_id, "object": "model", "created": _MODEL_CREATED, "owned_by": "system"}

    async def _list_models(self, request: web.Request) -> web.Response:
        failure = self._auth_failure(request)
        if failure is not None:
            return failure
        data = [self._model_object(m) for m in self.models]
        return web.json_response({"object": "list", "data": data}, dumps=_dumps)

    async def _get_model(self, request: web.Request) -> web.Response:
        failure = self._auth_failure(request)
        if failure is not None:
            return failure
        model_id = request.match_info["model_id"]
        if model_id not in self.models:
            return _openai_error(
                404,
                f"The model '{model_id}' does not exist or you do not have access to it.",
                type_="invalid_request_error",
                code="model_not_found",
            )
        return web.json_response(self._model_object(model_id), dumps=_dumps)

    async def _realtime(self, request: web.Request) -> web.StreamResponse:
        if self.refuse_next > 0:
            self.refuse_next -= 1
            self.refused += 1
            await self.notify()
            refusal = self.refuse_with
            return _openai_error(
                model_errors.connect_status(refusal),
                refusal.message,
                type_=refusal.type,
                code=refusal.code,
            )
        failure = self._auth_failure(request)
        if failure is not None:
            return failure
        ws = web.WebSocketResponse(max_msg_size=_MAX_MSG_BYTES, compress=False, heartbeat=None)
        if not ws.can_prepare(request).ok:
            return _openai_error(
                400, "Expected a WebSocket upgrade request.", type_="invalid_request_error"
            )
        await ws.prepare(request)
        session = FakeSession(self, request, ws, self.new_id("sess_"))
        self.sessions.append(session)
        log.info("session %s opened (model %s)", session.id, session.model)
        await self.notify()
        await session.run()
        return ws
