"""When the fake model decides the caller has finished a turn.

`server_vad` ends a turn after `silence_duration_ms` of quiet (default 500), as documented.

`semantic_vad` is a model that judges whether the words so far are a finished turn; the real
one waits longer after a sentence that trails off ("uhhm", "and…") than after a clear one,
and never longer than its documented maximum for the eagerness: low 8 s, medium 4 s, high
2 s, `auto` = medium (openai `types/realtime/realtime_audio_input_turn_detection.py`,
`SemanticVad.eagerness`). Its real delays below the maximum are not published, so the fake
uses this deterministic model, on the scripted transcript of the utterance (what the caller
"said"):

| the utterance ends with                                  | low     | medium  | high   |
|----------------------------------------------------------|---------|---------|--------|
| `.` `!` `?` (a finished sentence)                        | 1500 ms | 800 ms  | 400 ms |
| a word, no final punctuation                             | 3750 ms | 2000 ms | 1000 ms|
| a filler or joining word, `,` `-` `…` (trailing off)     | 8000 ms | 4000 ms | 2000 ms|

A caller who speaks again within the wait continues the same turn. An utterance with no
scripted words (script exhausted, or a transcription failure marker) counts as finished.
The quiet is counted in audio time (20 ms frames received), so a test that streams audio
faster than real time gets the same decisions.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "SEMANTIC_MAX_MS",
    "SERVER_VAD_SILENCE_MS",
    "end_of_turn_ms",
    "semantic_end_of_turn_ms",
]

SERVER_VAD_SILENCE_MS: Final = 500  # the documented `silence_duration_ms` default

# Documented upper bounds per eagerness ("max timeouts of 8s, 4s, and 2s").
SEMANTIC_MAX_MS: Final = {"low": 8000, "medium": 4000, "high": 2000}
# After a finished sentence: the fake's choice, well under each maximum.
_FINISHED_MS: Final = {"low": 1500, "medium": 800, "high": 400}
_OPEN_FACTOR: Final = 2.5  # no final punctuation: neither finished nor trailing off

_TRAILING_WORDS: Final = frozenset(
    {
        "uh", "um", "umm", "uhm", "uhhm", "hmm", "er", "erm", "ah", "so", "and", "but", "or",
        "because", "like", "well", "then", "if", "that", "the", "a", "an", "my", "your",
        "to", "of", "for", "with", "at", "in", "on",
    }
)  # fmt: skip
_TRAILING_MARKS: Final = (",", "-", "—", "–", "…", "...", ":", ";")
_FINAL_MARKS: Final = (".", "!", "?")


def end_of_turn_ms(turn_detection: dict[str, object], transcript: str | None) -> int:
    """Milliseconds of quiet after which the turn ends, for this session's turn detection."""
    if turn_detection.get("type") == "semantic_vad":
        return semantic_end_of_turn_ms(str(turn_detection.get("eagerness") or "auto"), transcript)
    silence = turn_detection.get("silence_duration_ms")
    return silence if isinstance(silence, int) and silence > 0 else SERVER_VAD_SILENCE_MS


def semantic_end_of_turn_ms(eagerness: str, transcript: str | None) -> int:
    """Semantic VAD's wait for an utterance with these words (see the module docstring)."""
    level = eagerness if eagerness in SEMANTIC_MAX_MS else "medium"  # auto = medium
    cap = SEMANTIC_MAX_MS[level]
    text = (transcript or "").strip().strip("\"')]}").rstrip()
    if not text or (text.endswith(_FINAL_MARKS) and not text.endswith("...")):
        return _FINISHED_MS[level]
    last_word = text.split()[-1].lower().strip(".,!?;:\"'")
    if text.endswith(_TRAILING_MARKS) or last_word in _TRAILING_WORDS:
        return cap
    return min(cap, round(_FINISHED_MS[level] * _OPEN_FACTOR))
