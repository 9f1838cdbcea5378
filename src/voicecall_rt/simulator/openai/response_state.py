"""One response of the fake Realtime model: its state while it plays, and the
`realtime.response` object from `response.created` to its final status in `response.done`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from voicecall_rt.simulator.openai import usage
from voicecall_rt.simulator.openai.synthetic_audio import AudioFormat
from voicecall_rt.simulator.openai.wire import JSON
from voicecall_rt.simulator.scenario import Fail, ModelAction

__all__ = ["Response", "response_object", "settle"]


@dataclass
class Response:
    id: str
    turn: tuple[ModelAction, ...]
    obj: JSON  # the realtime.response object, final fields filled at the end
    out_of_band: bool
    output_format: AudioFormat
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


def response_object(
    response_id: str, params: JSON, config: JSON, modalities: list[str], conversation_id: str
) -> JSON:
    """The `realtime.response` of `response.created`: `params` (of `response.create`) over
    the session `config`."""
    session_output = config["audio"]["output"]
    override = (params.get("audio") or {}).get("output") or {}
    # A PCM format without `rate` never gets here (realtime_rules refuses it).
    fmt_json = override.get("format") or session_output["format"]
    return {
        "object": "realtime.response",
        "id": response_id,
        "status": "in_progress",
        "status_details": None,
        "output": [],
        "conversation_id": None if params.get("conversation") == "none" else conversation_id,
        "output_modalities": modalities,
        "max_output_tokens": params.get(
            "max_output_tokens", config.get("max_output_tokens", "inf")
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


def settle(response: Response, session_id: str) -> None:
    """Fill in the final status, its details and the usage of a response that has ended."""
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
                "message": failure.message.replace("{session_id}", session_id),
            },
        }
    elif response.incomplete_reason is not None:
        obj["status"] = "incomplete"
        obj["status_details"] = {"type": "incomplete", "reason": response.incomplete_reason}
    else:
        obj["status"] = "completed"
    obj["usage"] = usage.response_usage(
        response.input_usage, response.text_tokens, response.audio_ms
    )
