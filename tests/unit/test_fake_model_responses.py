"""The fake Realtime server's turns and responses in the GA protocol: a caller's speech and
the exact event sequence it brings, manual turns, a tool call and its output, cancel and
barge-in, and truncate. Driven by a plain WebSocket client; waits are on events, never
sleeps, and every server event is checked against the openai SDK's own types.
"""

from __future__ import annotations

import base64

import orjson

from tests.helpers.fake_model_client import (
    assert_sdk_valid,
    compress_runs,
    configured,
    connect,
    goertzel_power,
    rms,
    send_audio,
    silence,
)
from voicecall_rt.audio import g711
from voicecall_rt.simulator.openai.input_audio import VAD_RMS_THRESHOLD
from voicecall_rt.simulator.openai.server import FakeRealtimeServer
from voicecall_rt.simulator.openai.synthetic_audio import voice_like_pcm, voice_like_ulaw
from voicecall_rt.simulator.scenario import CallTool, ModelScript, Say

# ---- audio turn ------------------------------------------------------------------------


def test_voice_like_signal_is_loud_and_not_dtmf() -> None:
    samples = voice_like_pcm(400)
    assert rms(g711.encode(samples)) > 4 * VAD_RMS_THRESHOLD
    voice = goertzel_power(samples, 125)
    for tone in (697, 770, 852, 941, 1209, 1336, 1477, 1633):
        assert goertzel_power(samples, tone) < voice / 1000, tone


async def test_caller_speech_triggers_the_exact_ga_turn_sequence() -> None:
    script = ModelScript(
        turns=((Say("Hello there", ms=300),),),
        caller_transcripts=("Hi, is this the bakery?",),
    )
    async with FakeRealtimeServer(script, delta_ms=100) as server, connect(server) as client:
        await configured(client)
        await send_audio(client, silence(200))
        await send_audio(client, voice_like_ulaw(600))
        await send_audio(client, silence(900))
        done = await client.wait_type("response.done")
        await client.wait_type("conversation.item.input_audio_transcription.completed")

        start = client.types().index("input_audio_buffer.speech_started")
        # Input transcription runs beside the response; its place is checked below.
        turn = [e for e in client.events[start:] if ".input_audio_transcription." not in e["type"]]
        assert [e["type"] for e in turn] == [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "conversation.item.added",
            "conversation.item.done",
            "response.created",
            "rate_limits.updated",
            "response.output_item.added",
            "conversation.item.added",
            "response.content_part.added",
            *["response.output_audio.delta", "response.output_audio_transcript.delta"] * 3,
            "response.output_audio.done",
            "response.output_audio_transcript.done",
            "response.content_part.done",
            "response.output_item.done",
            "conversation.item.done",
            "response.done",
        ]
        started, stopped, committed, user_added = turn[:4]
        assert started["audio_start_ms"] == 200 + 60  # 60 ms of voice makes it speech
        # Semantic VAD, eagerness auto (= medium), after a finished question: 800 ms.
        assert stopped["audio_end_ms"] == 200 + 600 + 800
        assert started["item_id"] == stopped["item_id"] == committed["item_id"]
        assert user_added["item"]["role"] == "user"
        assert user_added["item"]["content"][0]["type"] == "input_audio"
        # The transcript streams in after the reply has begun, as the real one does.
        pieces = client.of_type("conversation.item.input_audio_transcription.delta")
        transcription = client.of_type("conversation.item.input_audio_transcription.completed")[0]
        assert "".join(p["delta"] for p in pieces) == transcription["transcript"]
        assert transcription["transcript"] == "Hi, is this the bakery?"
        assert transcription["item_id"] == committed["item_id"]
        assert transcription["usage"]["type"] == "tokens"
        first_delta = client.index("conversation.item.input_audio_transcription.delta")
        assert client.index("response.output_audio.delta") < first_delta
        assert first_delta < client.index("conversation.item.input_audio_transcription.completed")

        audio = b"".join(
            base64.b64decode(e["delta"]) for e in turn if e["type"].endswith("o.delta")
        )
        assert len(audio) == 300 * 8  # µ-law, 8 bytes per ms
        assert rms(audio) > VAD_RMS_THRESHOLD
        deltas = client.of_type("response.output_audio_transcript.delta")
        assert "".join(d["delta"] for d in deltas) == "Hello there"
        assert client.of_type("response.output_audio_transcript.done")[0]["transcript"] == (
            "Hello there"
        )

        response = done["response"]
        assert response["status"] == "completed"
        assert response["output"][0]["content"] == [
            {"type": "output_audio", "transcript": "Hello there"}
        ]
        usage = response["usage"]
        assert usage["output_token_details"]["audio_tokens"] == 6  # 20 tokens/s × 0.3 s
        assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
        assert usage["input_token_details"]["audio_tokens"] > 0  # the caller's 1.1 s
        assert set(usage["input_token_details"]) == {
            "text_tokens",
            "audio_tokens",
            "image_tokens",
            "cached_tokens",
            "cached_tokens_details",
        }
        item_id = response["output"][0]["id"]
        session = server.sessions[0]
        assert session.item_audio_ms(item_id) == 300
        assert session.audio_ms_received == 200 + 600 + 900
        assert_sdk_valid(client.events, server)


async def test_no_vad_when_turn_detection_is_null() -> None:
    async with FakeRealtimeServer(ModelScript()) as server, connect(server) as client:
        await configured(client)
        manual = {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
        }
        await client.send(manual)
        await client.wait_type("session.updated", 2)
        await send_audio(client, voice_like_ulaw(300) + silence(600))
        await client.send({"type": "input_audio_buffer.commit"})
        await client.wait_type("input_audio_buffer.committed")
        assert "input_audio_buffer.speech_started" not in client.types()
        assert "response.created" not in client.types()  # a manual commit makes no response
        assert server.sessions[0].config["audio"]["input"]["turn_detection"] is None


# ---- tools -----------------------------------------------------------------------------


async def test_tool_call_turn_then_next_turn_after_function_output() -> None:
    script = ModelScript(
        turns=(
            (CallTool("end_call", {"reason": "done"}),),
            (Say("Goodbye!", ms=200),),
        )
    )
    async with FakeRealtimeServer(script) as server, connect(server) as client:
        await configured(client)
        await client.send({"type": "response.create"})
        first_done = await client.wait_type("response.done")
        created = client.types().index("response.created")
        assert compress_runs(client.types()[created:]) == [
            "response.created",
            "rate_limits.updated",
            "response.output_item.added",
            "conversation.item.added",
            "response.function_call_arguments.delta*",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "conversation.item.done",
            "response.done",
        ]
        args_done = client.of_type("response.function_call_arguments.done")[0]
        assert args_done["name"] == "end_call"
        assert orjson.loads(args_done["arguments"]) == {"reason": "done"}
        assert args_done["call_id"].startswith("call_")
        deltas = client.of_type("response.function_call_arguments.delta")
        assert "".join(d["delta"] for d in deltas) == args_done["arguments"]
        call_item = first_done["response"]["output"][0]
        assert call_item["type"] == "function_call"
        assert call_item["call_id"] == args_done["call_id"]

        await client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": args_done["call_id"],
                    "output": '{"ok":true}',
                },
            }
        )
        await client.send({"type": "response.create"})
        second_done = await client.wait_type("response.done", 2)
        added = [e["item"]["type"] for e in client.of_type("conversation.item.done")]
        assert added == ["function_call", "function_call_output", "message"]
        assert second_done["response"]["output"][0]["content"][0]["transcript"] == "Goodbye!"
        assert server.sessions[0].received_types() == [
            "session.update",
            "response.create",
            "conversation.item.create",
            "response.create",
        ]
        # Script exhausted: the next response is empty but still well formed.
        await client.send({"type": "response.create"})
        third = await client.wait_type("response.done", 3)
        assert third["response"]["output"] == []
        assert third["response"]["status"] == "completed"
        assert_sdk_valid(client.events, server)


# ---- cancel and barge-in ---------------------------------------------------------------


async def test_cancel_mid_response_finishes_cancelled_and_stops_deltas() -> None:
    # pace=1: 50 ms per delta, so the 60 s answer is still streaming when we cancel.
    script = ModelScript(turns=((Say("A very long answer " * 20, ms=60_000),),))
    async with (
        FakeRealtimeServer(script, delta_ms=50, pace=1.0) as server,
        connect(server) as client,
    ):
        await configured(client)
        await client.send({"type": "response.create"})
        await client.wait_type("response.output_audio.delta")
        await client.send({"type": "response.create", "event_id": "evt_dup"})
        error = await client.wait_type("error")
        assert error["error"]["code"] == "conversation_already_has_active_response"
        assert error["error"]["event_id"] == "evt_dup"

        await client.send({"type": "response.cancel", "event_id": "evt_cancel"})
        done = await client.wait_type("response.done")
        assert done["response"]["status"] == "cancelled"
        assert done["response"]["status_details"] == {
            "type": "cancelled",
            "reason": "client_cancelled",
        }
        item = done["response"]["output"][0]
        assert item["status"] == "incomplete"
        # A second cancel has nothing left to cancel; its error also proves the order.
        await client.send({"type": "response.cancel", "event_id": "evt_cancel_2"})
        late = await client.wait_type("error", 2)
        assert late["error"]["code"] == "response_cancel_not_active"
        assert late["error"]["event_id"] == "evt_cancel_2"

        types = client.types()
        after_done = types[types.index("response.done") :]
        assert "response.output_audio.delta" not in after_done
        n_deltas = types.count("response.output_audio.delta")
        assert n_deltas < 20
        session = server.sessions[0]
        assert session.item_audio_ms(item["id"]) == n_deltas * 50
        assert session.active_response_id is None
        assert_sdk_valid(client.events)


async def test_caller_barge_in_cancels_with_turn_detected() -> None:
    script = ModelScript(turns=((Say("Let me tell you all about it", ms=60_000),),))
    async with (
        FakeRealtimeServer(script, delta_ms=50, pace=1.0) as server,
        connect(server) as client,
    ):
        await configured(client)
        await client.send({"type": "response.create"})
        await client.wait_type("response.output_audio.delta")
        await send_audio(client, voice_like_ulaw(100))
        done = await client.wait_type("response.done")
        assert done["response"]["status_details"]["reason"] == "turn_detected"
        types = client.types()
        assert types.index("input_audio_buffer.speech_started") < types.index("response.done")
        assert server.sessions[0].responses[0]["status"] == "cancelled"


# ---- truncate ------------------------------------------------------------------------


async def test_truncate_within_and_beyond_generated_audio() -> None:
    script = ModelScript(turns=((Say("Hello there", ms=300),),))
    async with FakeRealtimeServer(script) as server, connect(server) as client:
        await configured(client)
        await client.send({"type": "response.create"})
        done = await client.wait_type("response.done")
        item_id = done["response"]["output"][0]["id"]

        too_far = {
            "type": "conversation.item.truncate",
            "event_id": "evt_trunc_far",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": 301,
        }
        await client.send(too_far)
        error = await client.wait_type("error")
        assert error["error"]["type"] == "invalid_request_error"
        assert error["error"]["event_id"] == "evt_trunc_far"
        assert "300ms" in error["error"]["message"]

        await client.send({**too_far, "event_id": "evt_unknown", "item_id": "item_nope"})
        assert (await client.wait_type("error", 2))["error"]["event_id"] == "evt_unknown"

        await client.send({**too_far, "event_id": "evt_ok", "audio_end_ms": 120})
        truncated = await client.wait_type("conversation.item.truncated")
        assert truncated == {
            "type": "conversation.item.truncated",
            "event_id": truncated["event_id"],
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": 120,
        }
        assert server.sessions[0].truncations == [(item_id, 120)]
        # Once cut, the item is only 120 ms long; what was generated stays on record.
        await client.send({**too_far, "event_id": "evt_again", "audio_end_ms": 200})
        again = await client.wait_type("error", 3)
        assert again["error"]["event_id"] == "evt_again"
        assert server.sessions[0].item_audio_ms(item_id) == 300
