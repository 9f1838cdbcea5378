"""The fake Realtime server speaks the GA protocol the way the real API does.

A plain aiohttp WebSocket client drives it (no bridge involved). Every wait is on an event
or a condition, never on a sleep, so the tests are fast and deterministic.
"""

from __future__ import annotations

import base64

import aiohttp
import openai
import orjson
import pytest

from tests.helpers.fake_model_client import (
    BETA_UPDATE,
    GA_UPDATE,
    KEY,
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
from voicecall_rt.simulator.openai.client_event_check import (
    check_client_event,
    diagnose_client_event,
)
from voicecall_rt.simulator.openai.input_audio import VAD_RMS_THRESHOLD
from voicecall_rt.simulator.openai.realtime_rules import REALTIME_MODELS
from voicecall_rt.simulator.openai.server import FakeRealtimeServer
from voicecall_rt.simulator.openai.synthetic_audio import voice_like_pcm, voice_like_ulaw
from voicecall_rt.simulator.scenario import CallTool, ModelScript, Say

# ---- connection ------------------------------------------------------------------------


async def test_bad_or_missing_key_is_refused_with_401_before_upgrade() -> None:
    async with FakeRealtimeServer(ModelScript()) as server, aiohttp.ClientSession() as http:
        for headers in ({"Authorization": "Bearer sk-wrong-key-123"}, {}):
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await http.ws_connect(
                    server.realtime_url, params={"model": "gpt-realtime"}, headers=headers
                )
            assert info.value.status == 401
        http_url = server.realtime_url.replace("ws://", "http://")
        async with http.get(http_url, headers={"Authorization": "Bearer sk-wrong-key-123"}) as r:
            body = await r.json()
        assert r.status == 401
        assert body["error"]["type"] == "invalid_request_error"
        assert body["error"]["code"] == "invalid_api_key"
        assert "sk-wrong-key-123" not in body["error"]["message"]  # the key is masked
        assert server.sessions == []


async def test_beta_header_gets_error_event_and_close() -> None:
    async with (
        FakeRealtimeServer(ModelScript()) as server,
        connect(server, extra_headers={"OpenAI-Beta": "realtime=v1"}) as client,
    ):
        await client.wait(lambda: client.closed)
        assert client.types() == ["error"]
        assert "OpenAI-Beta" in client.events[0]["error"]["message"]
        assert server.sessions[0].rejected == "beta header"
        await server.wait_for(lambda: server.sessions[0].closed.is_set())


async def test_unknown_model_gets_error_event_and_close() -> None:
    async with (
        FakeRealtimeServer(ModelScript()) as server,
        connect(server, model="gpt-realtime-nope") as client,
    ):
        await client.wait(lambda: client.closed)
        assert client.types() == ["error"]
        assert client.events[0]["error"]["code"] == "model_not_found"


async def test_every_sdk_realtime_model_is_served_by_default_and_a_list_narrows_it() -> None:
    # A model the SDK adds (gpt-realtime-2.1, say) works without touching the fake.
    assert {"gpt-realtime", "gpt-realtime-1.5", "gpt-realtime-2.1", "gpt-realtime-2.1-mini"} <= set(
        REALTIME_MODELS
    )
    async with FakeRealtimeServer(ModelScript()) as server:
        assert server.models == REALTIME_MODELS
        async with connect(server, model="gpt-realtime-2.1") as client:
            created = await client.wait_type("session.created")
            assert created["session"]["model"] == "gpt-realtime-2.1"
    async with (
        FakeRealtimeServer(ModelScript(), models=("gpt-realtime-2.1",)) as server,
        connect(server, model="gpt-realtime") as client,
    ):
        await client.wait(lambda: client.closed)
        assert client.events[0]["error"]["code"] == "model_not_found"
        assert server.sessions[0].rejected == "unknown model"


async def test_session_created_then_update_returns_full_config() -> None:
    async with FakeRealtimeServer(ModelScript()) as server, connect(server) as client:
        created = await client.wait_type("session.created")
        assert created["session"]["id"].startswith("sess_")
        assert created["session"]["object"] == "realtime.session"
        assert created["session"]["model"] == "gpt-realtime"
        await client.send(GA_UPDATE)
        updated = (await client.wait_type("session.updated"))["session"]
        assert updated["id"] == created["session"]["id"]
        assert updated["audio"]["input"]["format"] == {"type": "audio/pcmu"}
        assert updated["audio"]["output"] == {
            "format": {"type": "audio/pcmu"},
            "voice": "marin",
            "speed": 1.0,  # kept from the default: only the fields sent are changed
        }
        assert updated["audio"]["input"]["turn_detection"] == {
            "type": "semantic_vad",
            "eagerness": "auto",
            "create_response": True,
            "interrupt_response": True,
        }
        assert updated["tools"][0]["name"] == "end_call"
        session = server.sessions[0]
        assert session.received_types() == ["session.update"]
        assert session.invalid == []
        assert session.config == updated
        assert_sdk_valid(client.events)


async def test_ga_update_is_valid_and_beta_update_is_flagged() -> None:
    assert check_client_event(GA_UPDATE) is None
    reason = check_client_event(BETA_UPDATE)
    assert reason is not None and "session.type" in reason
    # Valid for the SDK's lenient models, but a beta key: caught by the model_extra walk.
    leftover = {"type": "session.update", "session": {"type": "realtime", "modalities": ["audio"]}}
    problem = diagnose_client_event(leftover)
    assert problem is not None
    assert (problem.code, problem.param) == ("unknown_parameter", "session.modalities")
    nested_tool = {
        "type": "session.update",
        "session": {"type": "realtime", "tools": [{"type": "function", "function": {}}]},
    }
    assert check_client_event(nested_tool) == "Unknown parameter: 'session.tools[0].function'."
    assert check_client_event({"type": "response.audio.delta"}) is not None

    async with FakeRealtimeServer(ModelScript()) as server, connect(server) as client:
        await client.wait_type("session.created")
        await client.send({**BETA_UPDATE, "event_id": "evt_beta"})
        await client.send({**leftover, "event_id": "evt_leftover"})
        second = await client.wait_type("error", 2)
        first = client.of_type("error")[0]
        assert first["error"]["type"] == "invalid_request_error"
        assert first["error"]["event_id"] == "evt_beta"
        assert second["error"]["event_id"] == "evt_leftover"
        assert second["error"]["param"] == "session.modalities"
        session = server.sessions[0]
        assert [e for e, _ in session.invalid] == [
            {**BETA_UPDATE, "event_id": "evt_beta"},
            {**leftover, "event_id": "evt_leftover"},
        ]
        assert "session.updated" not in client.types()
        assert session.config["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}


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


# ---- REST ------------------------------------------------------------------------------


async def test_models_endpoints_plain_http() -> None:
    async with (
        FakeRealtimeServer(ModelScript(), models=("gpt-realtime",)) as server,
        aiohttp.ClientSession() as http,
    ):
        auth = {"Authorization": f"Bearer {KEY}"}
        async with http.get(f"{server.rest_base_url}/models", headers=auth) as r:
            assert r.status == 200
            listing = await r.json()
        assert listing["object"] == "list"
        assert [m["id"] for m in listing["data"]] == ["gpt-realtime"]
        assert set(listing["data"][0]) == {"id", "object", "created", "owned_by"}
        async with http.get(f"{server.rest_base_url}/models/nope", headers=auth) as r:
            assert r.status == 404
            assert (await r.json())["error"]["code"] == "model_not_found"
        async with http.get(f"{server.rest_base_url}/models") as r:
            assert r.status == 401
            body = await r.json()
        assert set(body["error"]) == {"message", "type", "param", "code"}


async def test_models_endpoints_with_the_openai_sdk() -> None:
    async with FakeRealtimeServer(ModelScript(), models=("gpt-realtime",)) as server:
        good = openai.AsyncOpenAI(api_key=KEY, base_url=server.rest_base_url, max_retries=0)
        bad = openai.AsyncOpenAI(api_key="sk-bad", base_url=server.rest_base_url, max_retries=0)
        try:
            model = await good.models.retrieve("gpt-realtime")
            assert model.id == "gpt-realtime"
            assert [m.id async for m in good.models.list()] == ["gpt-realtime"]
            with pytest.raises(openai.NotFoundError):
                await good.models.retrieve("gpt-nope")
            with pytest.raises(openai.AuthenticationError):
                await bad.models.retrieve("gpt-realtime")
        finally:
            await good.close()
            await bad.close()


# ---- test hooks ------------------------------------------------------------------------


async def test_refuse_next_drop_sessions_and_close() -> None:
    server = FakeRealtimeServer(ModelScript())
    await server.start()
    server.refuse_next = 1
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(
                server.realtime_url,
                params={"model": "gpt-realtime"},
                headers={"Authorization": f"Bearer {KEY}"},
            )
        assert info.value.status == 503
    assert server.refused == 1

    async with connect(server) as client:
        await client.wait_type("session.created")
        await server.drop_sessions()
        assert server.sessions[0].closed.is_set()
        await client.wait(lambda: client.closed)
        assert client.ws.close_code != 1000  # abrupt: no clean close handshake

    async with connect(server) as client:
        await client.wait_type("session.created")
        await server.close()
        await client.wait(lambda: client.closed)
        assert client.ws.close_code == 1001
        await server.close()  # idempotent
    assert len(server.sessions) == 2
    assert all(s.closed.is_set() for s in server.sessions)
