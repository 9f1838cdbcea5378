"""What the fake model's input transcription says about one caller utterance.

Real input transcription runs beside the conversation, not in it: its events
(`conversation.item.input_audio_transcription.delta`* then `.completed`, or `.failed`) arrive
whenever the transcription model is done, typically after the response that VAD started has
begun ("may arrive after the assistant starts", openai `types/realtime/
conversation_item_input_audio_transcription_completed_event.py`). The payloads are made here,
and `TranscriptSender` sends them: at once, or late (after the response the utterance started
has begun speaking), always in the order the caller spoke.

Deltas: the streaming transcription models send a few words at a time; `whisper-1` sends the
whole transcript as one delta (as OpenAI's realtime transcription guide described it; not
re-checked against the current guide).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Final

from voicecall_rt.simulator.openai.usage import AUDIO_TOKENS_PER_S_IN, audio_tokens, text_tokens
from voicecall_rt.simulator.openai.wire import JSON, SessionGone, Wire
from voicecall_rt.simulator.scenario import CallerTranscript, TranscriptionFailure
from voicecall_rt.simulator.tasks import TaskSet

__all__ = [
    "PendingTranscript",
    "TranscriptSender",
    "completed_usage",
    "delta_pieces",
    "failure_error",
]

log = logging.getLogger(__name__)

_WORDS_PER_DELTA: Final = 3
# Priced by audio duration, so their usage is reported in seconds (OpenAI's model pages:
# whisper-1; gpt-transcribe $0.0045/min; gpt-live-transcribe and gpt-realtime-whisper
# $0.017/min, "priced by audio duration rather than text tokens"). The gpt-4o-* models report
# tokens.
_BILLED_BY_DURATION: Final = frozenset(
    {"whisper-1", "gpt-transcribe", "gpt-live-transcribe", "gpt-realtime-whisper"}
)


def delta_pieces(transcript: str, model: str | None) -> list[str]:
    """The transcript split as the `delta` strings would stream it ("" → no deltas)."""
    if not transcript:
        return []
    if model == "whisper-1":
        return [transcript]
    words = transcript.split(" ")
    pieces = []
    for start in range(0, len(words), _WORDS_PER_DELTA):
        chunk = " ".join(words[start : start + _WORDS_PER_DELTA])
        pieces.append(chunk if start == 0 else " " + chunk)
    return pieces


def completed_usage(transcript: str, audio_ms: int, model: str | None) -> dict[str, Any]:
    """`usage` of the `.completed` event: seconds for the models billed by duration, tokens
    for the rest."""
    if model in _BILLED_BY_DURATION:
        return {"type": "duration", "seconds": round(audio_ms / 1000, 2)}
    audio = audio_tokens(audio_ms, AUDIO_TOKENS_PER_S_IN)  # as in the response usage
    text = text_tokens(transcript)
    return {
        "type": "tokens",
        "input_tokens": audio,
        "output_tokens": text,
        "total_tokens": audio + text,
        "input_token_details": {"text_tokens": 0, "audio_tokens": audio},
    }


def failure_error(entry: CallerTranscript) -> dict[str, Any] | None:
    """The `error` of a `.failed` event when the scripted entry is a failure, else None.

    The default (`TranscriptionFailure()`, or None in the script) is the example in OpenAI's
    API reference for this event: `transcription_error` / `audio_unintelligible`.
    """
    if isinstance(entry, str):
        return None
    failure = entry if entry is not None else TranscriptionFailure()
    return {"type": failure.type, "code": failure.code, "message": failure.message, "param": None}


# ---- sending ------------------------------------------------------------------------------


@dataclass
class PendingTranscript:
    """A committed caller utterance waiting for its input transcription events."""

    item: JSON
    entry: CallerTranscript
    audio_ms: int
    model: str | None


class TranscriptSender:
    """Sends the input transcription events of one session's committed utterances."""

    def __init__(self, wire: Wire, tasks: TaskSet) -> None:
        self._wire = wire
        self._tasks = tasks
        # The latest transcription still to be sent: the next one waits for it, so
        # transcripts keep the order the caller spoke in.
        self._last: asyncio.Task[None] | None = None

    def send_later(self, pending: PendingTranscript, gate: asyncio.Event | None) -> None:
        """Send from a task, once `gate` is set (the first audio of the response this
        utterance started, if any) and after any earlier transcription."""
        task = self._tasks.spawn(
            self._send_after(pending, self._last, gate),
            name=f"{pending.item['id']}-transcription",
        )
        self._last = task

    async def _send_after(
        self,
        pending: PendingTranscript,
        before: asyncio.Task[None] | None,
        gate: asyncio.Event | None,
    ) -> None:
        if before is not None:
            await asyncio.wait([before])  # its outcome is its own business
        if gate is not None:
            await gate.wait()
        try:
            await self.send(pending)
        except SessionGone:
            log.info("session %s: socket gone before a transcript", self._wire.session_id)

    async def send(self, pending: PendingTranscript) -> None:
        """`.delta`* then `.completed`, or `.failed`, for one committed utterance."""
        item_id = pending.item["id"]
        error = failure_error(pending.entry)
        if error is not None:
            await self._wire.emit(
                "conversation.item.input_audio_transcription.failed",
                item_id=item_id,
                content_index=0,
                error=error,
            )
            return
        transcript = pending.entry if isinstance(pending.entry, str) else ""
        for piece in delta_pieces(transcript, pending.model):
            await self._wire.emit(
                "conversation.item.input_audio_transcription.delta",
                item_id=item_id,
                content_index=0,
                delta=piece,
            )
        pending.item["content"][0]["transcript"] = transcript
        await self._wire.emit(
            "conversation.item.input_audio_transcription.completed",
            item_id=item_id,
            content_index=0,
            transcript=transcript,
            usage=completed_usage(transcript, pending.audio_ms, pending.model),
        )
