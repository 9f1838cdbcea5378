"""What the real Realtime API refuses beyond its SDK types, for the fake server.

`client_event_check` answers "is this a well-formed GA client event?" from the openai
package's own types. The real server refuses more: values the types leave open (any string
for a model or voice, any integer for `max_output_tokens`), fields a given model does not
support, and requests that make no sense for the conversation as it stands. Each check here
returns the error the API gives (code, message, param) or None. Where a message was seen in
the wild its source is named; others are marked "plausible" (the API's wording for the same
kind of mistake on other endpoints).

The lists of models, transcription models and voices are read from the installed SDK, so a
model the package adds (say `gpt-realtime-2.1`) is accepted without a change here.
"""

from __future__ import annotations

import base64
import binascii
import re
import typing
from collections.abc import Mapping
from typing import Any, Final

from openai.types.realtime import AudioTranscription, RealtimeSessionCreateRequest
from openai.types.realtime.realtime_audio_config_output import RealtimeAudioConfigOutput

from voicecall_rt.simulator.openai.client_event_check import ClientEventProblem
from voicecall_rt.simulator.openai.function_rules import function_parameters_problem

__all__ = [
    "RACE_CODES",
    "REALTIME_MODELS",
    "REASONING_MODELS",
    "TRANSCRIPTION_MODELS",
    "VOICES",
    "decoded_audio",
    "event_id_problem",
    "item_create_problem",
    "response_create_problem",
    "session_update_problem",
    "truncate_problem",
]

JSON = dict[str, Any]


def _literals(annotation: object) -> tuple[str, ...]:
    """Every string literal inside a (nested) Union/Literal annotation, in order."""
    out: list[str] = []
    for arg in typing.get_args(annotation):
        if typing.get_origin(arg) is typing.Literal:
            out.extend(str(v) for v in typing.get_args(arg))
        else:
            out.extend(_literals(arg))
    return tuple(out)


REALTIME_MODELS: Final = _literals(RealtimeSessionCreateRequest.model_fields["model"].annotation)
TRANSCRIPTION_MODELS: Final = _literals(AudioTranscription.model_fields["model"].annotation)
VOICES: Final = _literals(RealtimeAudioConfigOutput.model_fields["voice"].annotation)
# The SDK calls `reasoning` and `parallel_tool_calls` "only supported by reasoning Realtime
# models such as gpt-realtime-2"; the 2.x family is that. gpt-realtime, -mini and -1.5 are
# treated as non-reasoning (nothing found says otherwise).
REASONING_MODELS: Final = frozenset({"gpt-realtime-2", "gpt-realtime-2.1", "gpt-realtime-2.1-mini"})
# "Provide an integer between 1 and 4096" (session and response `max_output_tokens`); the
# reasoning models allow 32k (docs/protocols.md §1.9, unconfirmed).
_MAX_OUTPUT_TOKENS: Final = 4096
_MAX_OUTPUT_TOKENS_REASONING: Final = 32768
_SPEED_RANGE: Final = (0.25, 1.5)  # `audio.output.speed`
_MAX_EVENT_ID: Final = 512
# livekit/agents#5652: the API requires call ids to match this.
_CALL_ID_PATTERN: Final = re.compile(r"^[a-zA-Z0-9_-]+$")
_TOOL_NAME_PATTERN: Final = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
# Errors that only say the client raced the server (a response just ended or started); a
# correct client still meets them now and then, so tests do not count them as invalid.
RACE_CODES: Final = frozenset(
    {"conversation_already_has_active_response", "response_cancel_not_active"}
)


def _problem(code: str, param: str | None, message: str) -> ClientEventProblem:
    return ClientEventProblem(code=code, message=message, param=param)


# ---- any client event ----------------------------------------------------------------------


def event_id_problem(event_id: str | None) -> ClientEventProblem | None:
    """Client `event_id`s are at most 512 characters (docs/protocols.md §1.1). The wording and code
    are the API's for over-long strings elsewhere (NousResearch/hermes-agent#10788)."""
    if event_id is None or len(event_id) <= _MAX_EVENT_ID:
        return None
    return _problem(
        "string_above_max_length",
        "event_id",
        "Invalid 'event_id': string too long. Expected a string with maximum length "
        f"{_MAX_EVENT_ID}, but got a string with length {len(event_id)} instead.",
    )


def decoded_audio(audio: str, param: str) -> bytes | ClientEventProblem:
    """The bytes of a base64 `audio` field (`param` names it), or the API's refusal."""
    try:
        return base64.b64decode(audio, validate=True)
    except binascii.Error:
        return _problem(
            "invalid_value", param, "Invalid 'audio'. Expected base64-encoded audio bytes."
        )


# ---- session.update and response.create -------------------------------------------------


def session_update_problem(
    update: JSON, *, model: str | None, voice: str | None, audio_started: bool
) -> ClientEventProblem | None:
    """Why the real API would refuse this `session.update` (`voice`: the current one;
    `audio_started`: the assistant has already spoken), or None."""
    if update.get("type") != "realtime":
        return _problem(
            "invalid_value", "session.type", "This server only serves 'realtime' sessions."
        )
    if update.get("model") not in (None, model):
        return _problem("invalid_value", "session.model", "The session model cannot be changed.")
    problem = _common_problem(update, "session", model)
    if problem is not None:
        return problem
    audio = update.get("audio") or {}
    new_voice = (audio.get("output") or {}).get("voice")
    if new_voice is not None and new_voice != voice and audio_started:
        return _problem(
            "cannot_update_voice",
            "session.audio.output.voice",
            "Cannot update a conversation's voice if assistant audio is present.",
        )
    transcription = (audio.get("input") or {}).get("transcription")
    if transcription and transcription.get("model") not in (None, *TRANSCRIPTION_MODELS):
        # Plausible wording; the SDK types accept any string here.
        return _invalid_choice(
            "session.audio.input.transcription.model", transcription["model"], TRANSCRIPTION_MODELS
        )
    return None


def response_create_problem(params: JSON, *, model: str | None) -> ClientEventProblem | None:
    """Why the real API would refuse these `response.create` parameters, or None."""
    return _common_problem(params, "response", model)


def _common_problem(config: JSON, root: str, model: str | None) -> ClientEventProblem | None:
    """Checks shared by a session and a response configuration (`root` names it)."""
    modalities = config.get("output_modalities")
    if modalities is not None and len(modalities) != 1:
        return _problem(
            "invalid_value",
            f"{root}.output_modalities",
            "output_modalities must be either ['audio'] or ['text'].",
        )
    audio = config.get("audio") or {}
    for side in ("input", "output"):
        fmt = (audio.get(side) or {}).get("format")
        if fmt is not None:
            problem = _format_problem(fmt, f"{root}.audio.{side}.format")
            if problem is not None:
                return problem
    output = audio.get("output") or {}
    voice = output.get("voice")
    if isinstance(voice, str) and voice not in VOICES:
        return _invalid_choice(f"{root}.audio.output.voice", voice, VOICES)  # plausible wording
    speed = output.get("speed")
    if speed is not None:
        problem = _range_problem(f"{root}.audio.output.speed", speed, *_SPEED_RANGE, "decimal")
        if problem is not None:
            return problem
    reasoning_model = model in REASONING_MODELS
    for key in ("reasoning", "parallel_tool_calls"):
        if config.get(key) is not None and not reasoning_model:
            # Plausible wording (the Chat Completions API's for a parameter a model lacks).
            return _problem(
                "unsupported_parameter",
                f"{root}.{key}",
                f"Unsupported parameter: '{root}.{key}' is not supported with this model.",
            )
    limit = config.get("max_output_tokens")
    if isinstance(limit, int):
        top = _MAX_OUTPUT_TOKENS_REASONING if reasoning_model else _MAX_OUTPUT_TOKENS
        problem = _range_problem(f"{root}.max_output_tokens", limit, 1, top, "integer")
        if problem is not None:
            return problem
    for index, tool in enumerate(config.get("tools") or []):
        if tool.get("type") != "function":
            continue
        if not _TOOL_NAME_PATTERN.match(str(tool.get("name") or "")):
            return _pattern_problem(f"{root}.tools[{index}].name", _TOOL_NAME_PATTERN)
        problem = function_parameters_problem(tool, f"{root}.tools[{index}].parameters")
        if problem is not None:
            return problem
    return None


def _format_problem(fmt: JSON, param: str) -> ClientEventProblem | None:
    if fmt.get("type") is None:
        return _problem(
            "missing_required_parameter",
            f"{param}.type",
            f"Missing required parameter: '{param}.type'.",
        )
    # The SDK marks `rate` optional, the API requires it for PCM: "A supplied PCM format
    # without `rate` is rejected" (openai/openai-openapi#513; antoinedc/MantaUI PR #1196).
    if fmt["type"] == "audio/pcm" and fmt.get("rate") is None:
        return _problem(
            "missing_required_parameter",
            f"{param}.rate",
            f"Missing required parameter: '{param}.rate'.",
        )
    return None


def _range_problem(
    param: str, value: float, low: float, high: float, kind: str
) -> ClientEventProblem | None:
    # Wording and codes of the API's numeric bounds elsewhere (plausible here).
    if value < low:
        return _problem(
            f"{kind}_below_min_value",
            param,
            f"Invalid '{param}': {kind} below minimum value. Expected a value >= {low}, but got "
            f"{value} instead.",
        )
    if value > high:
        return _problem(
            f"{kind}_above_max_value",
            param,
            f"Invalid '{param}': {kind} above maximum value. Expected a value <= {high}, but got "
            f"{value} instead.",
        )
    return None


def _invalid_choice(param: str, value: object, allowed: tuple[str, ...]) -> ClientEventProblem:
    supported = ", ".join(f"'{v}'" for v in allowed)
    return _problem(
        "invalid_value", param, f"Invalid value: '{value}'. Supported values are: {supported}."
    )


def _pattern_problem(param: str, pattern: re.Pattern[str]) -> ClientEventProblem:
    # Plausible wording (the API's for pattern mismatches on other endpoints).
    return _problem(
        "invalid_value",
        param,
        f"Invalid '{param}': string does not match pattern. Expected a string that matches "
        f"the pattern '{pattern.pattern}'.",
    )


# ---- conversation items -------------------------------------------------------------------


def item_create_problem(
    item: JSON, previous: str | None, items: Mapping[str, JSON]
) -> ClientEventProblem | None:
    """Why the real API would refuse `conversation.item.create` for this conversation."""
    if previous is not None and previous != "root" and previous not in items:
        return _problem(
            "invalid_value",
            "previous_item_id",
            f"Previous item with id '{previous}' not found in conversation.",
        )
    kind = item.get("type")
    if kind not in ("message", "function_call", "function_call_output"):
        return _problem(
            "invalid_value", "item.type", f"Item type '{kind}' cannot be created on this server."
        )
    if item.get("id") in items:
        return _problem("invalid_value", "item.id", f"Item with id '{item['id']}' already exists.")
    has_call_id = kind in ("function_call", "function_call_output")
    if has_call_id and not _CALL_ID_PATTERN.match(str(item.get("call_id") or "")):
        return _pattern_problem("item.call_id", _CALL_ID_PATTERN)
    if kind == "function_call_output" and not any(
        i.get("type") == "function_call" and i.get("call_id") == item["call_id"]
        for i in items.values()
    ):
        # Seen in livekit/agents#3344 (type invalid_request_error, no param).
        return _problem(
            "invalid_tool_call_id",
            None,
            f"Tool call ID '{item['call_id']}' not found in conversation.",
        )
    if item.get("role") == "assistant":
        for index, part in enumerate(item.get("content") or []):
            if part.get("type") == "output_audio":
                # The SDK: item.create "cannot populate assistant audio messages"
                # (conversation_item_create_event.py). The wording is plausible.
                return _problem(
                    "invalid_value",
                    f"item.content[{index}].type",
                    "Assistant messages with 'output_audio' content cannot be created. Use "
                    "'output_text' content instead.",
                )
    return None


def truncate_problem(
    item: JSON | None,
    *,
    item_id: str,
    content_index: int,
    end_ms: int,
    generated_ms: int,
    kept_ms: int,
) -> ClientEventProblem | None:
    """Why the real API would refuse `conversation.item.truncate` (`generated_ms`: audio the
    model produced for the item; `kept_ms`: what is left after earlier truncations)."""
    if item is None:
        return _problem("invalid_value", "item_id", f"Item with item_id not found: {item_id}")
    is_assistant = item.get("type") == "message" and item.get("role") == "assistant"
    if not is_assistant or generated_ms <= 0:
        # livekit/agents#6157: a user item, a text item, or an assistant item cut before its
        # first audio delta (`audio_end_ms=0`) is refused with exactly this.
        return _problem(
            "unsupported_content_type", None, "Only model output audio messages can be truncated"
        )
    if content_index != 0:
        return _problem(
            "invalid_value", "content_index", f"Content index {content_index} does not exist."
        )
    if end_ms < 0 or end_ms > kept_ms:
        # twilio-samples/speech-assistant-openai-realtime-api-python#45 quotes this message.
        return _problem(
            "invalid_value",
            "audio_end_ms",
            f"Audio content of {kept_ms}ms is already shorter than {end_ms}ms",
        )
    return None
