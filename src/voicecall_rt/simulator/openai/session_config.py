"""The configuration of one fake Realtime session: what `session.created` shows, and how an
accepted `session.update` merges into it (the checks are `realtime_rules`')."""

from __future__ import annotations

import copy
import math
import time

from voicecall_rt.simulator.openai import turn_timing
from voicecall_rt.simulator.openai.synthetic_audio import AudioFormat, format_of
from voicecall_rt.simulator.openai.wire import JSON

__all__ = ["SessionConfig", "default_turn_detection", "initial_config"]


def default_turn_detection(turn_detection: JSON | None) -> JSON | None:
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


def initial_config(session_id: str, model: str | None, lifetime_s: float) -> JSON:
    """The session as `session.created` shows it, before any update."""
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "model": model,
        "output_modalities": ["audio"],
        "instructions": "You are a helpful, friendly voice assistant.",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "expires_at": math.ceil(time.time() + lifetime_s),
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": default_turn_detection({"type": "server_vad"}),
            },
            "output": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "voice": "marin",
                "speed": 1.0,
            },
        },
        "include": None,
    }


class SessionConfig:
    """The effective session config (`current`: {} until the session is opened), replaced
    whole by every accepted update."""

    def __init__(self) -> None:
        self.current: JSON = {}

    def open(self, session_id: str, model: str | None, lifetime_s: float) -> None:
        self.current = initial_config(session_id, model, lifetime_s)

    def apply(self, update: JSON) -> bool:
        """Merge an accepted `session.update`. True when the input format or the turn
        detection changed (what the VAD heard so far then means nothing)."""
        config = copy.deepcopy(self.current)
        for key, value in update.items():
            if key == "audio":
                for side in ("input", "output"):
                    for sub_key, sub_value in ((value or {}).get(side) or {}).items():
                        if sub_key == "turn_detection":
                            sub_value = default_turn_detection(sub_value)
                        config["audio"][side][sub_key] = sub_value
            else:
                config[key] = value
        old_input, new_input = self.current["audio"]["input"], config["audio"]["input"]
        changed = any(old_input[k] != new_input[k] for k in ("format", "turn_detection"))
        self.current = config
        return changed

    @property
    def voice(self) -> str | None:
        voice: str | None = self.current["audio"]["output"]["voice"]
        return voice

    def input_format(self) -> AudioFormat:
        return format_of(self.current["audio"]["input"]["format"])

    def turn_detection(self) -> JSON | None:
        td: JSON | None = self.current["audio"]["input"]["turn_detection"]
        return td

    def transcription(self) -> JSON | None:
        """`audio.input.transcription` (None: input transcription is off)."""
        transcription: JSON | None = self.current["audio"]["input"]["transcription"]
        return transcription
