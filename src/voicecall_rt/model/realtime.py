"""OpenAI Realtime GA: connecting, the session we ask for, and the client events we send.

GA protocol only (PROTOCOLS §1): no `OpenAI-Beta` header, `session.type = "realtime"`,
`audio/pcmu` both ways so the carrier's µ-law passes through untouched. The append event
is built by concatenation because it carries the carrier's base64 payload as-is.
"""

from __future__ import annotations

from typing import Any

import orjson

from voicecall_rt.config import VadSettings

TRANSCRIPTION_MODEL = "gpt-4o-mini-transcribe"
_APPEND_PREFIX = '{"type":"input_audio_buffer.append","audio":"'

# Server event types the bridge reads (everything else is ignored, as the protocol asks).
AUDIO_DELTA = "response.output_audio.delta"


class ModelConnectError(Exception):
    """The Realtime endpoint refused or could not be reached; the message is safe to show."""


def append_event(payload: str) -> str:
    return _APPEND_PREFIX + payload + '"}'


def encode(event: dict[str, Any]) -> str:
    return orjson.dumps(event).decode()


def session_update(
    *,
    instructions: str,
    voice: str,
    vad: VadSettings,
    tools: list[dict[str, Any]],
    language: str | None = None,
) -> dict[str, Any]:
    transcription: dict[str, Any] = {"model": TRANSCRIPTION_MODEL}
    if language:
        transcription["language"] = language
    return {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "output_modalities": ["audio"],
            "instructions": instructions,
            "audio": {
                "input": {
                    "format": {"type": "audio/pcmu"},
                    "noise_reduction": {"type": "near_field"},
                    "transcription": transcription,
                    # The caller can cut the model off; VAD cancels the response itself, we
                    # only clear the carrier's queue and truncate (see call/bridge.py).
                    "turn_detection": _turn_detection(vad, respond=True),
                },
                "output": {"format": {"type": "audio/pcmu"}, "voice": voice},
            },
            "tools": tools,
            "tool_choice": "auto",
        },
    }


def _turn_detection(vad: VadSettings, *, respond: bool) -> dict[str, Any]:
    """VAD from config; `respond` lets speech start and cancel responses."""
    detection: dict[str, Any] = (
        {"type": "semantic_vad", "eagerness": vad.eagerness}
        if vad.type == "semantic_vad"
        else {"type": "server_vad"}
    )
    return detection | {"create_response": respond, "interrupt_response": respond}


def listen_only(vad: VadSettings) -> dict[str, Any]:
    """session.update for recording a voicemail: the far end's sounds neither cancel the
    message being generated nor start a new response (nobody will reply)."""
    return {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "audio": {"input": {"turn_detection": _turn_detection(vad, respond=False)}},
        },
    }


def response_create(instructions: str | None = None) -> dict[str, Any]:
    if instructions is None:
        return {"type": "response.create"}
    return {"type": "response.create", "response": {"instructions": instructions}}


def response_cancel() -> dict[str, Any]:
    return {"type": "response.cancel"}


def truncate(item_id: str, audio_end_ms: int) -> dict[str, Any]:
    return {
        "type": "conversation.item.truncate",
        "item_id": item_id,
        "content_index": 0,
        "audio_end_ms": audio_end_ms,
    }


def function_output(call_id: str, output: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "function_call_output",
            "call_id": call_id,
            "output": orjson.dumps(output).decode(),
        },
    }


def system_text(text: str) -> dict[str, Any]:
    """A system note in the conversation: steers the model without replacing its instructions
    (a response-level `instructions` would, dropping the safety rules for that turn)."""
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "system",
            "content": [{"type": "input_text", "text": text}],
        },
    }


def user_text(text: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }
