"""Every client event the bridge sends is a valid OpenAI Realtime GA event (SDK types)."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from tests.helpers.config_files import GA_VOICES
from voicecall_rt.config import VadSettings
from voicecall_rt.model import realtime
from voicecall_rt.prompts import TOOLS, build_instructions
from voicecall_rt.simulator.openai.client_event_check import check_client_event, known_types

BETA_SESSION_KEYS = {
    "modalities",
    "input_audio_format",
    "output_audio_format",
    "voice",
    "turn_detection",
    "input_audio_transcription",
    "input_audio_noise_reduction",
    "max_response_output_tokens",
}


def valid(event: dict[str, Any]) -> None:
    """Valid per the SDK's own client-event types, with no unknown keys; and encodable."""
    assert check_client_event(event) is None, check_client_event(event)
    assert event["type"] in known_types()
    assert orjson.loads(realtime.encode(event)) == event


def make_session(
    vad: VadSettings | None = None,
    voice: str = "coral",
    language: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return realtime.session_update(
        instructions=build_instructions(direction="outbound", task="Book a table."),
        voice=voice,
        vad=vad or VadSettings(),
        tools=TOOLS,
        transcription_model=extra.pop("transcription_model", "gpt-4o-mini-transcribe"),
        language=language,
        **extra,
    )


# --------------------------------------------------------------------------- session.update


@pytest.mark.parametrize("eagerness", ["low", "medium", "high", "auto"])
def test_session_update_semantic_vad(eagerness: str) -> None:
    event = make_session(VadSettings(type="semantic_vad", eagerness=eagerness))
    valid(event)
    turn = event["session"]["audio"]["input"]["turn_detection"]
    assert turn["type"] == "semantic_vad"
    assert turn["eagerness"] == eagerness


def test_session_update_server_vad() -> None:
    event = make_session(VadSettings(type="server_vad", eagerness="high"))
    valid(event)
    turn = event["session"]["audio"]["input"]["turn_detection"]
    assert turn["type"] == "server_vad"
    assert "eagerness" not in turn  # only semantic_vad has eagerness


@pytest.mark.parametrize("voice", GA_VOICES)
def test_session_update_every_voice(voice: str) -> None:
    event = make_session(voice=voice)
    valid(event)
    assert event["session"]["audio"]["output"]["voice"] == voice


@pytest.mark.parametrize("language", [None, "en", "fr"])
def test_session_update_transcription_on(language: str | None) -> None:
    event = make_session(language=language)
    valid(event)
    transcription = event["session"]["audio"]["input"]["transcription"]
    assert transcription["model"]
    if language is None:
        assert "language" not in transcription
    else:
        assert transcription["language"] == language


def test_newer_transcription_models_take_a_language_list() -> None:
    event = make_session(language="fr", transcription_model="gpt-transcribe", language_as_list=True)
    valid(event)
    transcription = event["session"]["audio"]["input"]["transcription"]
    assert transcription == {"model": "gpt-transcribe", "languages": ["fr"]}


@pytest.mark.parametrize("effort", [None, "minimal", "low", "high"])
def test_reasoning_effort_only_when_asked(effort: str | None) -> None:
    event = make_session(reasoning_effort=effort)
    valid(event)
    if effort is None:
        assert "reasoning" not in event["session"]
    else:
        assert event["session"]["reasoning"] == {"effort": effort}


def test_event_ids_name_what_an_error_answers() -> None:
    ids = realtime.EventIds()
    update, create = make_session(), realtime.response_create()
    assert ids.stamp(update) == "c1" and update["event_id"] == "c1"
    assert ids.stamp(create) == "c2"
    valid(update)
    valid(create)
    truncate = realtime.truncate("item_1", 250)
    ids.stamp(truncate)
    assert ids.describe("c3") == {
        "type": "conversation.item.truncate",
        "event_id": "c3",
        "item_id": "item_1",
        "audio_end_ms": 250,
    }
    # Never the instructions: the journal does not need a copy of the brief.
    assert ids.describe("c1") == {"type": "session.update", "event_id": "c1"}
    assert ids.describe("a17") == {"type": "input_audio_buffer.append", "event_id": "a17"}
    assert ids.describe("zzz") is None and ids.describe(None) is None
    for _ in range(400):
        ids.stamp(realtime.response_create())
    assert ids.describe("c1") is None  # only the recent ones are kept


@pytest.mark.parametrize(
    ("audio", "problem"),
    [
        (
            {
                "input": {"format": {"type": "audio/pcmu"}},
                "output": {"format": {"type": "audio/pcmu"}},
            },
            None,
        ),
        (
            {
                "input": {"format": {"type": "audio/pcmu"}},
                "output": {"format": {"type": "audio/pcm", "rate": 24000}},
            },
            "the session kept audio/pcmu in and audio/pcm out, not audio/pcmu both ways",
        ),
        ({}, "the session kept None in and None out, not audio/pcmu both ways"),
    ],
)
def test_session_must_be_pcmu_both_ways(audio: dict[str, Any], problem: str | None) -> None:
    assert realtime.pcmu_both_ways({"audio": audio}) == problem


def test_error_text_is_one_line() -> None:
    error = {"type": "invalid_request_error", "code": "x", "message": "a\n  b"}
    assert realtime.error_text(error) == "x: a b"
    assert realtime.error_text({"type": "server_error"}) == "server_error"
    assert realtime.error_text(None) == "unknown error"


def test_session_update_ga_shape() -> None:
    event = make_session()
    assert event["type"] == "session.update"
    session = event["session"]
    assert session["type"] == "realtime"
    assert session["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert session["audio"]["output"]["format"] == {"type": "audio/pcmu"}
    assert session["output_modalities"] == ["audio"]
    assert session["tools"] == TOOLS
    assert session["tool_choice"] == "auto"
    assert session["instructions"].startswith("Non-negotiable rules")
    assert "model" not in session or session["model"]
    assert not BETA_SESSION_KEYS & set(session), BETA_SESSION_KEYS & set(session)


def test_session_update_turn_detection_lets_vad_respond() -> None:
    turn = make_session()["session"]["audio"]["input"]["turn_detection"]
    assert turn["create_response"] is True
    assert turn["interrupt_response"] is True


def test_checker_rejects_beta_leftovers() -> None:
    """The validation above would catch a beta-shaped session."""
    for key, value in (
        ("modalities", ["audio", "text"]),
        ("input_audio_format", "g711_ulaw"),
        ("voice", "coral"),
        ("turn_detection", {"type": "server_vad"}),
    ):
        event = make_session()
        event["session"][key] = value
        assert check_client_event(event) is not None, key
    beta = make_session()
    del beta["session"]["type"]
    assert check_client_event(beta) is not None


# --------------------------------------------------------------------------- audio


@pytest.mark.parametrize("size", [0, 1, 160, 800])
def test_append_event(size: int) -> None:
    payload = base64.b64encode(b"\x7f" * size).decode()
    text = realtime.append_event(payload, "12")
    assert isinstance(text, str)
    event = orjson.loads(text)
    assert event == {"type": "input_audio_buffer.append", "event_id": "a12", "audio": payload}
    valid(event)


def test_append_event_forwards_carrier_payload_verbatim() -> None:
    payload = "fn5+fn5+/w=="  # base64 '+', '/', '=' need no JSON escaping
    assert realtime.append_event(payload, "p3") == (
        '{"type":"input_audio_buffer.append","event_id":"ap3","audio":"fn5+fn5+/w=="}'
    )


# --------------------------------------------------------------------------- responses


def test_response_create_without_instructions() -> None:
    event = realtime.response_create()
    assert event == {"type": "response.create"}
    valid(event)


def test_response_create_with_instructions() -> None:
    event = realtime.response_create("Greet the caller: Hey! What's up?")
    assert event["response"] == {"instructions": "Greet the caller: Hey! What's up?"}
    valid(event)


def test_response_cancel() -> None:
    event = realtime.response_cancel()
    assert event == {"type": "response.cancel"}
    valid(event)


@pytest.mark.parametrize("audio_end_ms", [0, 1, 1234, 600_000])
def test_truncate(audio_end_ms: int) -> None:
    event = realtime.truncate("item_abc", audio_end_ms)
    assert event == {
        "type": "conversation.item.truncate",
        "item_id": "item_abc",
        "content_index": 0,
        "audio_end_ms": audio_end_ms,
    }
    valid(event)


@pytest.mark.parametrize(
    "output",
    [{"ok": True}, {"error": "arguments are not valid JSON"}, {}, {"nested": {"a": [1, "é"]}}],
)
def test_function_output(output: dict[str, Any]) -> None:
    event = realtime.function_output("call_123", orjson.dumps(output).decode())
    valid(event)
    item = event["item"]
    assert item["type"] == "function_call_output"
    assert item["call_id"] == "call_123"
    assert isinstance(item["output"], str)
    assert orjson.loads(item["output"]) == output


@pytest.mark.parametrize("text", ["The caller pressed 5.", "", "multi\nline ✓"])
def test_user_text(text: str) -> None:
    event = realtime.user_text(text)
    valid(event)
    assert event["item"] == {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": text}],
    }


def test_builders_return_fresh_objects() -> None:
    first = realtime.response_create()
    first["extra"] = 1
    assert realtime.response_create() == {"type": "response.create"}
