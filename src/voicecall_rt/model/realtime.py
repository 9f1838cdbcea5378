"""OpenAI Realtime GA: connecting, the session we ask for, and the client events we send.

GA protocol only (docs/protocols.md §1): no `OpenAI-Beta` header, `session.type = "realtime"`,
`audio/pcmu` both ways so the carrier's µ-law passes through untouched. The append event
is built by concatenation because it carries the carrier's base64 payload as-is.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import orjson

from voicecall_rt.call.history import Entry
from voicecall_rt.config import VadSettings

# Every caller frame's append carries an event id "<APPEND_ID_PREFIX><frame number>"; the
# rest carry "<prefix><n>" from `EventIds`. An `error` names the event it answers by id.
APPEND_ID_PREFIX = "a"
_APPEND_HEAD = '{"type":"input_audio_buffer.append","event_id":"' + APPEND_ID_PREFIX
_APPEND_MID = '","audio":"'
PCMU = "audio/pcmu"

# Server event types the bridge reads (everything else is ignored, as the protocol asks).
AUDIO_DELTA = "response.output_audio.delta"

# `error` / failed-response codes no retry can mend: the account, not the call, is at fault
# (the same four LiveKit's realtime plugin stops on, docs/protocols.md §1.10).
FATAL_CODES = frozenset(
    {"insufficient_quota", "invalid_api_key", "account_deactivated", "billing_hard_limit_reached"}
)
_REMEMBERED_EVENTS = 256  # control events kept to name what an `error` answers


def append_event(payload: str, frame: str) -> str:
    """The append for caller frame `frame` (a number, or `p<n>` for the n-th buffered frame
    sent late), its base64 payload spliced in unchanged."""
    return _APPEND_HEAD + frame + _APPEND_MID + payload + '"}'


class EventIds:
    """Gives every control event an `event_id`, and remembers the recent ones so that an
    `error` can be journaled with the event it answers."""

    __slots__ = ("_n", "_prefix", "_sent")

    def __init__(self, prefix: str = "c") -> None:
        self._prefix = prefix
        self._n = 0
        self._sent: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def stamp(self, event: dict[str, Any]) -> str:
        self._n += 1
        event_id = f"{self._prefix}{self._n}"
        event["event_id"] = event_id
        self._sent[event_id] = _summary(event)
        if len(self._sent) > _REMEMBERED_EVENTS:
            self._sent.popitem(last=False)
        return event_id

    def describe(self, event_id: object) -> dict[str, Any] | None:
        """What the client event with this id was (for the journal), if we know it."""
        if not isinstance(event_id, str):
            return None
        if event_id.startswith(APPEND_ID_PREFIX):
            return {"type": "input_audio_buffer.append", "event_id": event_id}
        return self._sent.get(event_id)


def _summary(event: dict[str, Any]) -> dict[str, Any]:
    """The event's type and id, plus the few fields that say which one it was (never the
    instructions or a conversation's text, which the journal need not copy)."""
    summary = {"type": event.get("type"), "event_id": event.get("event_id")}
    item = event.get("item")
    if isinstance(item, dict):
        summary["item_type"] = item.get("type")
        if "call_id" in item:
            summary["call_id"] = item["call_id"]
    for key in ("item_id", "audio_end_ms"):
        if key in event:
            summary[key] = event[key]
    return summary


def error_text(error: object) -> str:
    """`code: message` of an OpenAI error object, one line, for people."""
    if not isinstance(error, dict):
        return "unknown error"
    code, message = error.get("code") or error.get("type"), error.get("message")
    text = " ".join(str(message or "").split())[:300]
    return f"{code}: {text}" if code and text else str(code or text or "unknown error")


def pcmu_both_ways(session: object) -> str | None:
    """None if a `session.updated` session has µ-law in and out; else what is wrong."""
    audio = session.get("audio") if isinstance(session, dict) else None
    formats = []
    for side in ("input", "output"):
        part = audio.get(side) if isinstance(audio, dict) else None
        fmt = part.get("format") if isinstance(part, dict) else None
        formats.append(fmt.get("type") if isinstance(fmt, dict) else None)
    if formats == [PCMU, PCMU]:
        return None
    return f"the session kept {formats[0]} in and {formats[1]} out, not {PCMU} both ways"


def encode(event: dict[str, Any]) -> str:
    return orjson.dumps(event).decode()


def session_update(
    *,
    instructions: str,
    voice: str,
    vad: VadSettings,
    tools: list[dict[str, Any]],
    transcription_model: str,
    language: str | None = None,
    language_as_list: bool = False,
    reasoning_effort: str | None = None,
) -> dict[str, Any]:
    """The whole configuration a call needs; `reasoning_effort` only for reasoning models
    (the others refuse the field); the caller's `language` as the transcription model
    takes it (`language_as_list`: the newer models' `languages`)."""
    transcription: dict[str, Any] = {"model": transcription_model}
    if language:
        if language_as_list:
            transcription["languages"] = [language]
        else:
            transcription["language"] = language
    session: dict[str, Any] = {
        "type": "realtime",
        "output_modalities": ["audio"],
        "instructions": instructions,
        "audio": {
            "input": {
                "format": {"type": PCMU},
                "noise_reduction": {"type": "near_field"},
                "transcription": transcription,
                # The caller can cut the model off; VAD cancels the response itself, we
                # only clear the carrier's queue and truncate (see call/bridge.py).
                "turn_detection": _turn_detection(vad, respond=True),
            },
            "output": {"format": {"type": PCMU}, "voice": voice},
        },
        "tools": tools,
        "tool_choice": "auto",
    }
    if reasoning_effort is not None:
        session["reasoning"] = {"effort": reasoning_effort}
    return {"type": "session.update", "session": session}


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


def function_output(call_id: str, output: str) -> dict[str, Any]:
    """A tool's result (`output`: its JSON text) for the function call `call_id`."""
    item = {"type": "function_call_output", "call_id": call_id, "output": output}
    return {"type": "conversation.item.create", "item": item}


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


def assistant_text(text: str) -> dict[str, Any]:
    """What the model said, as text: a renewed session cannot be given audio it said."""
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": text}],
        },
    }


def function_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "item": {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments},
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


def replay_item(entry: Entry) -> dict[str, Any]:
    """The `conversation.item.create` that gives a renewed session one history entry."""
    if entry.kind == "caller":
        return user_text(entry.text)
    if entry.kind == "keypad":
        return user_text(entry.text)
    if entry.kind == "assistant":
        return assistant_text(entry.text)
    if entry.kind == "call":
        return function_call(entry.call_id, entry.name, entry.text)
    if entry.kind == "output":
        return function_output(entry.call_id, entry.text)
    return system_text(entry.text)
