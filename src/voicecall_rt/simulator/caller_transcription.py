"""What the fake model's input transcription says about one caller utterance.

Real input transcription runs beside the conversation, not in it: its events
(`conversation.item.input_audio_transcription.delta`* then `.completed`, or `.failed`) arrive
whenever the transcription model is done, typically after the response that VAD started has
begun ("may arrive after the assistant starts", openai `types/realtime/
conversation_item_input_audio_transcription_completed_event.py`). The fake's timing lives in
fake_model.py; the payloads are made here.

Deltas: the streaming transcription models send a few words at a time; `whisper-1` sends the
whole transcript as one delta (as OpenAI's realtime transcription guide described it; not
re-checked against the current guide).
"""

from __future__ import annotations

import math
from typing import Any, Final

from voicecall_rt.simulator.scenario import CallerTranscript, TranscriptionFailure

__all__ = ["completed_usage", "delta_pieces", "failure_error"]

_WORDS_PER_DELTA: Final = 3
# Priced by audio duration, so their usage is reported in seconds (OpenAI's model pages:
# whisper-1; gpt-transcribe $0.0045/min; gpt-live-transcribe and gpt-realtime-whisper
# $0.017/min, "priced by audio duration rather than text tokens"). The gpt-4o-* models report
# tokens.
_BILLED_BY_DURATION: Final = frozenset(
    {"whisper-1", "gpt-transcribe", "gpt-live-transcribe", "gpt-realtime-whisper"}
)
_AUDIO_TOKENS_PER_S: Final = 10  # caller audio, as in the response usage estimate


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
    audio_tokens = math.ceil(audio_ms * _AUDIO_TOKENS_PER_S / 1000)
    text_tokens = math.ceil(len(transcript) / 4)
    return {
        "type": "tokens",
        "input_tokens": audio_tokens,
        "output_tokens": text_tokens,
        "total_tokens": audio_tokens + text_tokens,
        "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens},
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
