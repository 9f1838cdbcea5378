"""The fake Realtime server's timing of the caller's turn, as the real API behaves: when and
how the input transcript streams (or fails), the deltas still in flight after a cancel,
and when a turn ends by VAD type, eagerness and how finished the words sound. Driven over
a real socket by the client in tests/helpers/fake_model_client.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.fake_model_client import (
    LONG,
    Client,
    assert_sdk_valid,
    configured,
    connect,
    send_audio,
    silence,
    vad,
)
from voicecall_rt.simulator.openai.caller_transcription import completed_usage
from voicecall_rt.simulator.openai.server import FakeRealtimeServer
from voicecall_rt.simulator.openai.synthetic_audio import voice_like_ulaw
from voicecall_rt.simulator.openai.turn_timing import end_of_turn_ms, semantic_end_of_turn_ms
from voicecall_rt.simulator.scenario import ModelScript, Say, TranscriptionFailure

# ---- input transcription -----------------------------------------------------------------------


async def speak(client: Client, ms: int = 500, quiet_ms: int = 900) -> None:
    await send_audio(client, voice_like_ulaw(ms) + silence(quiet_ms))


async def test_transcript_streams_after_the_reply_begins_by_default() -> None:
    script = ModelScript(
        turns=((Say("Sure thing", ms=300),),),
        caller_transcripts=("I would like a table for four please.",),
    )
    async with FakeRealtimeServer(script) as server, connect(server) as client:
        await configured(client)
        await speak(client)
        await client.wait_type("conversation.item.input_audio_transcription.completed")
        await client.wait_type("response.done")
        deltas = client.of_type("conversation.item.input_audio_transcription.delta")
        assert len(deltas) > 1  # a few words at a time
        assert "".join(d["delta"] for d in deltas) == "I would like a table for four please."
        first_delta = client.index("conversation.item.input_audio_transcription.delta")
        assert (
            client.index("response.created")
            < client.index("response.output_audio.delta")
            < first_delta
        )
        assert client.index("conversation.item.input_audio_transcription.completed") > first_delta
        assert_sdk_valid(client.events, server)


async def test_late_transcripts_off_keeps_them_before_the_response() -> None:
    script = ModelScript(turns=((Say("Sure", ms=200),),), caller_transcripts=("Hello there.",))
    async with (
        FakeRealtimeServer(script, late_transcripts=False) as server,
        connect(server) as client,
    ):
        await configured(client)
        await speak(client)
        await client.wait_type("response.done")
        completed = client.index("conversation.item.input_audio_transcription.completed")
        assert client.index("conversation.item.input_audio_transcription.delta") < completed
        assert completed < client.index("response.created")


async def test_whisper_sends_the_transcript_in_one_delta() -> None:
    script = ModelScript(caller_transcripts=("One two three four five six seven.",))
    async with FakeRealtimeServer(script) as server, connect(server) as client:
        await configured(client, **vad({"type": "server_vad"}, {"model": "whisper-1"}))
        await speak(client)
        done = await client.wait_type("conversation.item.input_audio_transcription.completed")
        deltas = client.of_type("conversation.item.input_audio_transcription.delta")
        assert [d["delta"] for d in deltas] == ["One two three four five six seven."]
        assert done["usage"]["type"] == "duration"
        assert_sdk_valid(client.events, server)


async def test_scripted_transcription_failures() -> None:
    script = ModelScript(
        caller_transcripts=(
            None,
            TranscriptionFailure("server_error", "rate_limited", "Slow down."),
            "Fine.",
        ),
    )
    no_reply = {"type": "server_vad", "create_response": False}
    async with FakeRealtimeServer(script) as server, connect(server) as client:
        await configured(client, **vad(no_reply))
        for _ in range(3):
            await speak(client, quiet_ms=600)
        await client.wait_type("conversation.item.input_audio_transcription.completed")
        failed = client.of_type("conversation.item.input_audio_transcription.failed")
        assert [f["error"]["code"] for f in failed] == ["audio_unintelligible", "rate_limited"]
        assert failed[0]["error"] == {
            "type": "transcription_error",
            "code": "audio_unintelligible",
            "message": "The audio could not be transcribed.",
            "param": None,
        }
        committed = [e["item_id"] for e in client.of_type("input_audio_buffer.committed")]
        assert [f["item_id"] for f in failed] == committed[:2]
        # A failed utterance gets no deltas and no transcript; the next one does.
        deltas = client.of_type("conversation.item.input_audio_transcription.delta")
        assert {d["item_id"] for d in deltas} == {committed[2]}
        assert "response.created" not in client.types()
        session = server.sessions[0]
        assert [i["content"][0]["transcript"] for i in session.items] == [None, None, "Fine."]
        assert_sdk_valid(client.events, server)


def test_transcription_usage_is_in_seconds_for_models_billed_by_duration() -> None:
    for model in ("whisper-1", "gpt-transcribe", "gpt-live-transcribe", "gpt-realtime-whisper"):
        assert completed_usage("Hello there.", 1530, model) == {"type": "duration", "seconds": 1.53}
    usage = completed_usage("Hello there.", 1500, "gpt-4o-mini-transcribe")
    assert usage["type"] == "tokens"
    assert usage["input_token_details"] == {"text_tokens": 0, "audio_tokens": 15}
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


# ---- deltas in flight after a cancel -----------------------------------------------------------


@pytest.mark.parametrize("tail", [0, 1, 3])
async def test_a_cancel_still_delivers_the_deltas_in_flight(tail: int) -> None:
    # One delta a second: the cancel always lands while the first is the only one out.
    script = ModelScript(turns=((Say(LONG, ms=60_000),),))
    async with (
        FakeRealtimeServer(script, delta_ms=200, pace=5.0, tail_deltas=tail) as server,
        connect(server) as client,
    ):
        await configured(client)
        await client.send({"type": "response.create"})
        await client.wait_type("response.output_audio.delta")
        await client.send({"type": "response.cancel"})
        done = (await client.wait_type("response.done"))["response"]
        assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
        deltas = client.of_type("response.output_audio.delta")
        assert len(deltas) == 1 + tail
        item_id = done["output"][0]["id"]
        session = server.sessions[0]
        # The tail counts as generated: the bridge may truncate up to it.
        assert session.item_audio_ms(item_id) == 200 * (1 + tail)
        truncate = {
            "type": "conversation.item.truncate",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": 200 * (1 + tail),
        }
        await client.send(truncate)
        await client.wait_type("conversation.item.truncated")
        assert session.invalid == []


async def test_barge_in_cancel_also_sends_the_tail_after_speech_started() -> None:
    script = ModelScript(turns=((Say(LONG, ms=60_000),),))
    async with (
        FakeRealtimeServer(script, delta_ms=200, pace=5.0) as server,
        connect(server) as client,
    ):
        await configured(client)
        await client.send({"type": "response.create"})
        await client.wait_type("response.output_audio.delta")
        await send_audio(client, voice_like_ulaw(100))
        done = await client.wait_type("response.done")
        assert done["response"]["status_details"]["reason"] == "turn_detected"
        started = client.index("input_audio_buffer.speech_started")
        assert client.index("response.output_audio.delta", 2) > started
        assert len(client.of_type("response.output_audio.delta")) == 2
        assert_sdk_valid(client.events, server)


# ---- end of turn -----------------------------------------------------------------------------


def test_semantic_vad_waits_by_eagerness_and_by_how_finished_the_words_sound() -> None:
    finished, open_, trailing = "Table for four.", "Table for four", "Table for four, um"
    for eagerness, cap in (("low", 8000), ("medium", 4000), ("high", 2000), ("auto", 4000)):
        waits = [semantic_end_of_turn_ms(eagerness, t) for t in (finished, open_, trailing)]
        assert waits[0] < waits[1] < waits[2] == cap, eagerness
        assert waits[0] >= 300  # never the old fixed 500 ms regardless of words
    assert semantic_end_of_turn_ms("medium", "So I was thinking...") == 4000
    assert semantic_end_of_turn_ms("high", "And then -") == 2000
    assert semantic_end_of_turn_ms("medium", "Is it open?") == 800
    assert semantic_end_of_turn_ms("medium", None) == 800
    assert semantic_end_of_turn_ms("low", "") == 1500
    assert end_of_turn_ms({"type": "server_vad", "silence_duration_ms": 300}, "um,") == 300
    assert end_of_turn_ms({"type": "server_vad"}, None) == 500


@pytest.mark.parametrize(
    ("turn_detection", "words", "wait_ms"),
    [
        ({"type": "semantic_vad", "eagerness": "high"}, "Yes, at seven.", 400),
        ({"type": "semantic_vad", "eagerness": "medium"}, "Let me check the", 4000),
        ({"type": "server_vad", "silence_duration_ms": 300}, "Let me check the", 300),
    ],
)
async def test_turn_ends_after_the_modelled_wait(
    turn_detection: dict[str, Any], words: str, wait_ms: int
) -> None:
    script = ModelScript(caller_transcripts=(words,))
    async with FakeRealtimeServer(script) as server, connect(server) as client:
        await configured(client, **vad(turn_detection))
        await send_audio(client, voice_like_ulaw(500) + silence(wait_ms - 20))
        await send_audio(client, silence(100))
        stopped = await client.wait_type("input_audio_buffer.speech_stopped")
        assert stopped["audio_end_ms"] == 500 + wait_ms
        assert server.sessions[0].audio_ms_received == 500 + wait_ms + 80


async def test_a_pause_shorter_than_the_wait_continues_the_same_turn() -> None:
    script = ModelScript(caller_transcripts=("I need a table for", "four."))
    async with FakeRealtimeServer(script) as server, connect(server) as client:
        await configured(client, **vad({"type": "semantic_vad", "eagerness": "high"}))
        # "…for" trails off: high eagerness waits its full 2 s, so 1.5 s of thought is fine.
        await send_audio(client, voice_like_ulaw(600) + silence(1500) + voice_like_ulaw(400))
        await send_audio(client, silence(2100))
        await client.wait_type("input_audio_buffer.speech_stopped")
        assert len(client.of_type("input_audio_buffer.speech_started")) == 1
        assert_sdk_valid(client.events, server)
