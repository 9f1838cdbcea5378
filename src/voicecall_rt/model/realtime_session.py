"""OpenAI Realtime behind the call's model interface (`model/base.py`).

`RealtimeBackend` opens a call's sessions, each configured by the same `session.update`
and confirmed (`model/session.py`). `RealtimeSession` is one of them: control events go
out stamped with an `event_id`; the server's events come in through the socket callback
and wait in an inbox for the one task that hands them to the listener, in order.

The hot path is an audio delta arriving while nothing waits before it: it is offered to
the listener (the call's relay) straight from the socket callback, so it reaches the
carrier without a task switch. Past `INBOX_HIGH` waiting messages the socket is not read
(TCP pushes back on the server) until the task has caught up to `INBOX_LOW`.

Under a debug recording, a `ModelTap` sees every message: the session is then a
`_TappedSession`, so an untapped one pays nothing per caller frame for it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from voicecall_rt.call.history import Entry
from voicecall_rt.call.playback import b64_decoded_len
from voicecall_rt.config import Settings
from voicecall_rt.model import catalog, realtime
from voicecall_rt.model.base import AudioSink, ModelConnectError, ModelListener, ModelTap
from voicecall_rt.model.events import EventReader
from voicecall_rt.model.session import OpenedSession, SessionTarget, open_session

INBOX_HIGH = 512
INBOX_LOW = 128
# The bridge's own cost for a delta is timed on one in 16 relayed from the socket callback.
_SAMPLE_OUT_MASK = 15
_APPEND_HEAD = '{"type":"input_audio_buffer.append","event_id":"' + realtime.APPEND_ID_PREFIX
_APPEND_MID = '","audio":"'


class RealtimeBackend:
    """Opens one call's sessions and adds up what they used (see `ModelBackend`)."""

    def __init__(
        self,
        settings: Settings,
        instructions: str,
        tools: Sequence[dict[str, Any]],
        *,
        tap: ModelTap | None,
        on_cost: Callable[[int], None],
    ) -> None:
        openai = settings.openai
        self.settings = settings
        self.usage: dict[str, Any] = {}
        self.ids = realtime.EventIds()
        self._instructions = instructions
        self._tools = list(tools)  # the call's declarations (call/tools.py `CallTools`)
        self.tap = tap
        self.on_cost = on_cost
        self.reader = EventReader(self.ids, self.usage, openai.model, openai.transcription_model)

    def _session_update(self) -> dict[str, Any]:
        """The configuration every session of this call gets, first or renewed."""
        openai = self.settings.openai
        return realtime.session_update(
            instructions=self._instructions,
            voice=openai.voice,
            vad=self.settings.vad,
            tools=self._tools,
            transcription_model=openai.transcription_model,
            language=openai.transcription_language,
            language_as_list=catalog.takes_language_list(openai.transcription_model),
            reasoning_effort=(
                openai.reasoning_effort if catalog.supports_reasoning(openai.model) else None
            ),
        )

    async def open(self, on_retry: Callable[[int, str], None]) -> RealtimeSession:
        """A new, confirmed session (SessionRefused / ModelConnectError otherwise)."""
        openai = self.settings.openai
        if openai.api_key is None:
            raise ModelConnectError("openai.apiKey is not set")
        target = SessionTarget(openai.realtime_url, openai.model, openai.api_key.get_secret_value())
        update = self._session_update()
        self.ids.stamp(update)
        if self.tap is not None:
            self.tap.to_model(update)
        opened = await open_session(target, update, on_retry=on_retry)
        return RealtimeSession(self, opened) if self.tap is None else _TappedSession(self, opened)


class RealtimeSession:
    """One confirmed Realtime session (see `ModelSession`)."""

    def __init__(self, backend: RealtimeBackend, opened: OpenedSession) -> None:
        self.session_id = opened.session_id
        self.lifetime_s = opened.lifetime_s
        self.connect_ms = opened.connect_ms
        self._backend = backend
        self._opened = opened
        self._link = opened.link
        self._ids = backend.ids
        self._tap = backend.tap
        self._listener: ModelListener | None = None
        self._audio: AudioSink | None = None
        self._on_closed: Callable[[], None] | None = None
        self._inbox: deque[bytes | dict[str, Any]] = deque()
        self._inbox_ready = asyncio.Event()
        self._busy = True  # until `run` waits for the first message
        self._gone = False
        self._paused = False
        self._relayed = 0  # deltas relayed from the socket callback

    @property
    def closed(self) -> bool:
        return self._link.closed

    # ---- incoming ------------------------------------------------------------------------

    def listen(
        self, listener: ModelListener, audio: AudioSink, on_closed: Callable[[], None]
    ) -> None:
        self._listener = listener
        self._audio = audio
        self._on_closed = on_closed
        if self._tap is not None:
            for raw in self._opened.seen:
                self._tap.from_model_text(raw)
        self._opened.attach(self._on_text, self._closed_now)

    def _on_text(self, data: bytes) -> None:
        """A whole message from the server (picows callback, on the loop, in order)."""
        audio = self._audio
        if self._busy or self._inbox or audio is None:
            self._queue(data)
            return
        due = (self._relayed & _SAMPLE_OUT_MASK) == _SAMPLE_OUT_MASK
        t0 = time.perf_counter_ns() if due else 0
        try:
            event = orjson.loads(data)
            is_delta = event.get("type") == realtime.AUDIO_DELTA
        except (orjson.JSONDecodeError, AttributeError):
            event, is_delta = data, False  # the task reports it as a bad event
        if not is_delta:
            self._queue(event)
            return
        done = audio.audio_now(event.get("item_id"), event.get("response_id"), event.get("delta"))
        if done is None:
            self._queue(event)
            return
        if done:
            self._relayed += 1
            if t0:
                self._backend.on_cost(time.perf_counter_ns() - t0)
        if self._tap is not None:
            self._tap.from_model_audio(audio_delta_record(event), done)

    def _queue(self, item: bytes | dict[str, Any]) -> None:
        self._inbox.append(item)
        self._inbox_ready.set()
        if len(self._inbox) >= INBOX_HIGH and not self._paused:
            self._paused = True
            self._link.pause_reading()
            if self._listener is not None:
                self._listener.on_backlog(len(self._inbox))

    def _closed_now(self) -> None:
        self._gone = True
        self._inbox_ready.set()
        if self._on_closed is not None:
            self._on_closed()

    async def _next(self) -> bytes | dict[str, Any] | None:
        """The oldest message not handled yet; None once the connection is gone."""
        while not self._inbox:
            if self._gone:
                return None
            self._inbox_ready.clear()
            await self._inbox_ready.wait()
        item = self._inbox.popleft()
        if self._paused and len(self._inbox) <= INBOX_LOW:
            self._paused = False
            self._link.resume_reading()
        return item

    async def run(self) -> None:
        listener, audio = self._listener, self._audio
        assert listener is not None and audio is not None, "listen() first"
        readers = self._backend.reader.readers
        tap = self._tap
        while True:
            self._busy = False  # idle: deltas may go out from the socket callback
            item = await self._next()
            if item is None:
                return
            self._busy = True
            try:
                event: dict[str, Any] = item if isinstance(item, dict) else orjson.loads(item)
                kind = event.get("type")
                if kind == realtime.AUDIO_DELTA:
                    sent = await audio.on_audio(
                        event.get("item_id"), event.get("response_id"), event.get("delta")
                    )
                    if tap is not None:
                        tap.from_model_audio(audio_delta_record(event), sent)
                    continue
                if tap is not None:
                    tap.from_model(event)
                reader = readers.get(kind) if isinstance(kind, str) else None
                if reader is not None:
                    await reader(listener, event)
            except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError, KeyError) as exc:
                # One malformed server event must not take the call down with it.
                listener.on_bad_event(type(exc).__name__)

    # ---- outgoing ------------------------------------------------------------------------

    def append_audio(self, payload: str, frame: str) -> None:
        self._link.send(_APPEND_HEAD + frame + _APPEND_MID + payload + '"}')

    def _send(self, event: dict[str, Any]) -> None:
        if self._link.closed:
            return
        self._ids.stamp(event)
        if self._tap is not None:
            self._tap.to_model(event)
        self._link.send(realtime.encode(event))

    def truncate(self, item_id: str, audio_end_ms: int) -> None:
        self._send(realtime.truncate(item_id, audio_end_ms))

    def tool_result(self, call_id: str, output: str) -> None:
        self._send(realtime.function_output(call_id, output))

    def respond(self) -> None:
        self._send(realtime.response_create())

    def cancel_response(self) -> None:
        self._send(realtime.response_cancel())

    def user_text(self, text: str) -> None:
        self._send(realtime.user_text(text))

    def system_text(self, text: str) -> None:
        self._send(realtime.system_text(text))

    def listen_only(self) -> None:
        self._send(realtime.listen_only(self._backend.settings.vad))

    def replay(self, entries: Sequence[Entry]) -> int:
        for entry in entries:
            self._send(realtime.replay_item(entry))
        return len(entries)

    def detach(self) -> None:
        """No more events from this session: what it already sent is still handed on,
        then `run` returns."""
        self._link.detach()
        self._gone = True
        self._inbox_ready.set()

    async def close(self) -> None:
        await self._link.close()


class _TappedSession(RealtimeSession):
    """A session under a debug recording: the tap sees its caller audio too (an untapped
    session pays nothing for that)."""

    def append_audio(self, payload: str, frame: str) -> None:
        text = _APPEND_HEAD + frame + _APPEND_MID + payload + '"}'
        self._link.send(text)
        if self._tap is not None:
            self._tap.to_model_audio(text)


def audio_delta_record(event: dict[str, Any]) -> dict[str, Any]:
    """An audio delta as a recording keeps it: the payload as its byte count."""
    delta = event.get("delta")
    record = {key: value for key, value in event.items() if key != "delta"}
    record["delta_bytes"] = b64_decoded_len(delta) if isinstance(delta, str) else 0
    return record
