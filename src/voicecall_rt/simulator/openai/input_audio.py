"""The input audio buffer of one fake Realtime session (`input_audio_buffer.*`) and its turn
detection: a plain energy VAD over the decoded audio finds the caller's speech, `turn_timing`
says when the turn has ended, and the end of a turn commits the buffer to a user item and,
unless turned off, starts a response (a start of speech cancels the active one)."""

from __future__ import annotations

import logging
import math
from typing import Final

from voicecall_rt.simulator.openai import realtime_rules, turn_timing
from voicecall_rt.simulator.openai.caller_transcription import PendingTranscript, TranscriptSender
from voicecall_rt.simulator.openai.client_event_check import ClientEventProblem
from voicecall_rt.simulator.openai.response_state import Response
from voicecall_rt.simulator.openai.responses import Responses
from voicecall_rt.simulator.openai.session_parts import SessionParts
from voicecall_rt.simulator.openai.synthetic_audio import AudioFormat
from voicecall_rt.simulator.openai.wire import JSON

__all__ = ["VAD_RMS_THRESHOLD", "InputAudio"]

log = logging.getLogger(__name__)

VAD_RMS_THRESHOLD: Final = 500.0  # linear 16-bit RMS (≈ -36 dBFS): well above line hiss
_VAD_FRAME_MS: Final = 20  # one Twilio media frame
_SPEECH_START_MS: Final = 60  # loud this long → speech_started
_MIN_COMMIT_MS: Final = 100  # the real API refuses to commit less than this


class InputAudio:
    """Caller audio in: `received_ms` counts all of it (`FakeSession.audio_ms_received`)."""

    def __init__(
        self, parts: SessionParts, responses: Responses, transcripts: TranscriptSender
    ) -> None:
        self._parts = parts
        self._responses = responses
        self._transcripts = transcripts
        self.received_ms = 0
        self._buffer_ms = 0
        self._pending = b""  # bytes short of a full VAD frame
        self._frames_ms = 0  # position of the VAD, in ms of session audio
        self._loud_ms = 0
        self._quiet_ms = 0
        self._speech_item: str | None = None
        self._speech_start_ms = 0
        self._warned_undecodable = False

    # ---- client events -------------------------------------------------------------------

    async def on_append(self, event: JSON, event_id: str | None) -> None:
        data = realtime_rules.decoded_audio(event["audio"], "audio")
        if isinstance(data, ClientEventProblem):
            await self._parts.wire.refuse(event, event_id, data)
            return
        fmt = self._parts.config.input_format()
        ms = len(data) // fmt.bytes_per_ms
        self.received_ms += ms
        self._buffer_ms += ms
        if self._parts.config.turn_detection() is None:
            self._frames_ms += ms  # keep VAD positions in session time if VAD comes back on
            return
        self._pending += data
        frame_bytes = _VAD_FRAME_MS * fmt.bytes_per_ms
        while len(self._pending) >= frame_bytes:
            frame, self._pending = self._pending[:frame_bytes], self._pending[frame_bytes:]
            await self._vad_frame(fmt, frame)

    async def on_commit(self, event: JSON, event_id: str | None) -> None:
        if self._buffer_ms < _MIN_COMMIT_MS:
            await self._parts.wire.refuse(
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
        item_id = self._speech_item or self._parts.server.new_id("item_")
        self._speech_item = None
        self._loud_ms = self._quiet_ms = 0
        pending = await self._commit(item_id, self._buffer_ms)
        if pending is None:
            return
        if self._parts.server.late_transcripts:
            self._transcripts.send_later(pending, None)
        else:
            await self._transcripts.send(pending)

    async def on_clear(self, event: JSON, event_id: str | None) -> None:
        self._buffer_ms = 0
        self.reset_vad()
        await self._parts.wire.emit("input_audio_buffer.cleared")

    def reset_vad(self) -> None:
        """Forget a half frame and a half-heard utterance."""
        self._pending = b""
        self._speech_item = None
        self._loud_ms = self._quiet_ms = 0

    # ---- turn detection ------------------------------------------------------------------

    async def _vad_frame(self, fmt: AudioFormat, frame: bytes) -> None:
        self._frames_ms += _VAD_FRAME_MS
        samples = fmt.decode(frame)
        if samples is None:
            if not self._warned_undecodable:
                log.warning(
                    "session %s: no VAD for %s input", self._parts.wire.session_id, fmt.kind
                )
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
        upcoming = self._parts.server.peek_caller_transcript()
        words = upcoming if isinstance(upcoming, str) else None
        return turn_timing.end_of_turn_ms(self._parts.config.turn_detection() or {}, words)

    async def _speech_started(self) -> None:
        item_id = self._parts.server.new_id("item_")
        self._speech_item = item_id
        self._speech_start_ms = self._frames_ms
        self._quiet_ms = 0
        await self._parts.wire.emit(
            "input_audio_buffer.speech_started", audio_start_ms=self._frames_ms, item_id=item_id
        )
        td = self._parts.config.turn_detection() or {}
        active = self._responses.active
        if active is not None and td.get("interrupt_response", True):
            self._responses.request_cancel(active, "turn_detected")

    async def _speech_stopped(self) -> None:
        item_id = self._speech_item
        assert item_id is not None
        self._speech_item = None
        self._loud_ms = 0
        await self._parts.wire.emit(
            "input_audio_buffer.speech_stopped", audio_end_ms=self._frames_ms, item_id=item_id
        )
        pending = await self._commit(item_id, self._frames_ms - self._speech_start_ms)
        late = self._parts.server.late_transcripts
        if pending is not None and not late:
            await self._transcripts.send(pending)
            pending = None
        response: Response | None = None
        td = self._parts.config.turn_detection() or {}
        if td.get("create_response", True):
            active = self._responses.active
            if active is None:
                response = await self._responses.start(None)
            else:
                log.info(
                    "session %s: speech ended during %s, no new response",
                    self._parts.wire.session_id,
                    active.id,
                )
        if pending is not None:
            # Once the response this utterance started (if any) has begun speaking.
            gate = response.first_audio if response is not None else None
            self._transcripts.send_later(pending, gate)

    async def _commit(self, item_id: str, audio_ms: int) -> PendingTranscript | None:
        """Buffer → user message item. Returns the transcription still to be sent (None when
        transcription is off); the caller decides when it goes out."""
        previous = self._parts.conversation.last_id
        self._buffer_ms = 0
        await self._parts.wire.emit(
            "input_audio_buffer.committed", item_id=item_id, previous_item_id=previous
        )
        item: JSON = {
            "id": item_id,
            "type": "message",
            "object": "realtime.item",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        await self._parts.conversation.add(item, previous, audio_ms)
        # Every utterance uses up its scripted words, heard or not, so the script stays
        # aligned with what the caller said when transcription is switched on later.
        entry = self._parts.server.next_caller_transcript()
        transcription = self._parts.config.transcription()
        if transcription is None:
            return None
        return PendingTranscript(item, entry, audio_ms, transcription.get("model"))
