"""The fake Realtime server refuses and misbehaves the way the real API does (issue 9, point 8).

Each knob and scripted bad day is driven over a real socket on 127.0.0.1 by the small client
in `fake_model_client`; waits are on events, never sleeps. Every server event seen is checked
against the openai SDK's own types.
"""

from __future__ import annotations

import math
import time
from typing import Any

import aiohttp
import pytest

from tests.helpers.fake_model_client import (
    KEY,
    Client,
    assert_sdk_valid,
    configured,
    connect,
    send_audio,
    silence,
    vad,
)
from voicecall_rt.simulator.openai import model_errors
from voicecall_rt.simulator.openai.caller_transcription import completed_usage
from voicecall_rt.simulator.openai.server import FakeRealtimeServer
from voicecall_rt.simulator.openai.synthetic_audio import voice_like_ulaw
from voicecall_rt.simulator.openai.turn_timing import end_of_turn_ms, semantic_end_of_turn_ms
from voicecall_rt.simulator.scenario import (
    CallTool,
    Fail,
    Incomplete,
    ModelScript,
    Say,
    TranscriptionFailure,
)

LONG = "A very long answer that goes on and on " * 10


async def error_for(client: Client, event: dict[str, Any], count: int) -> dict[str, Any]:
    """Send `event` and return the `error` it gets (the `count`-th error so far)."""
    await client.send(event)
    error: dict[str, Any] = (await client.wait_type("error", count))["error"]
    assert error["event_id"] == event["event_id"]  # every refusal names the event it answers
    return error


# ---- refusals the SDK types cannot express ---------------------------------------------------


async def test_truncating_a_user_or_text_item_or_one_without_audio_is_refused() -> None:
    script = ModelScript(turns=((Say("In text", ms=400),), (Say("Said", ms=0),)))
    async with FakeRealtimeServer(script) as server, connect(server) as client:
        await configured(client)
        user = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "hi"}],
        }
        await client.send({"type": "conversation.item.create", "item": user})
        user_id = (await client.wait_type("conversation.item.done"))["item"]["id"]
        # A text-only response has no audio to cut; nor has an audio item that got none.
        await client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        text_id = (await client.wait_type("response.done"))["response"]["output"][0]["id"]
        await client.send({"type": "response.create"})
        silent_id = (await client.wait_type("response.done", 2))["response"]["output"][0]["id"]

        for n, item_id in enumerate((user_id, text_id, silent_id), start=1):
            truncate = {
                "type": "conversation.item.truncate",
                "event_id": f"evt_trunc_{n}",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": 0,
            }
            error = await error_for(client, truncate, n)
            assert error["type"] == "invalid_request_error"
            assert error["code"] == "unsupported_content_type"
            assert error["message"] == "Only model output audio messages can be truncated"
        session = server.sessions[0]
        assert session.truncations == []
        assert len(session.invalid) == 3  # a refused request is a client bug on record
        assert_sdk_valid(client.events, server)


async def test_function_call_output_for_an_unknown_call_id_is_refused() -> None:
    script = ModelScript(turns=((CallTool("end_call", {"reason": "done"}),),))
    async with FakeRealtimeServer(script) as server, connect(server) as client:
        await configured(client)
        output = {
            "type": "conversation.item.create",
            "event_id": "evt_out_1",
            "item": {"type": "function_call_output", "call_id": "call_nope", "output": "{}"},
        }
        error = await error_for(client, output, 1)
        assert error["code"] == "invalid_tool_call_id"
        assert error["message"] == "Tool call ID 'call_nope' not found in conversation."
        # The same output for a call the model made is fine.
        await client.send({"type": "response.create"})
        done = await client.wait_type("response.done")
        call_id = done["response"]["output"][0]["call_id"]
        await client.send({**output, "item": {**output["item"], "call_id": call_id}})
        added = await client.wait_type("conversation.item.done", 2)
        assert added["item"]["type"] == "function_call_output"
        # Call ids must look like ids.
        bad = {**output, "event_id": "evt_out_2", "item": {**output["item"], "call_id": "a/b"}}
        assert (await error_for(client, bad, 2))["param"] == "item.call_id"
        assert server.sessions[0].invalid[0][1].startswith("Tool call ID")


async def test_reasoning_only_for_reasoning_models() -> None:
    update = {
        "type": "session.update",
        "event_id": "evt_reasoning",
        "session": {"type": "realtime", "reasoning": {"effort": "low"}},
    }
    async with FakeRealtimeServer(ModelScript()) as server:
        async with connect(server, model="gpt-realtime") as client:
            await client.wait_type("session.created")
            error = await error_for(client, update, 1)
            assert (error["code"], error["param"]) == ("unsupported_parameter", "session.reasoning")
            parallel = {
                **update,
                "event_id": "evt_parallel",
                "session": {"type": "realtime", "parallel_tool_calls": True},
            }
            assert (await error_for(client, parallel, 2))["param"] == "session.parallel_tool_calls"
            per_response = {
                "type": "response.create",
                "event_id": "evt_resp_reasoning",
                "response": {"reasoning": {"effort": "low"}},
            }
            assert (await error_for(client, per_response, 3))["param"] == "response.reasoning"
            assert "response.created" not in client.types()
        for model in ("gpt-realtime-2", "gpt-realtime-2.1", "gpt-realtime-2.1-mini"):
            async with connect(server, model=model) as client:
                await client.wait_type("session.created")
                await client.send(update)
                updated = await client.wait_type("session.updated")
                assert updated["session"]["reasoning"] == {"effort": "low"}
                assert "error" not in client.types()


@pytest.mark.parametrize("side", ["input", "output"])
async def test_pcm_without_rate_is_refused_though_the_sdk_allows_it(side: str) -> None:
    async with FakeRealtimeServer(ModelScript()) as server, connect(server) as client:
        await client.wait_type("session.created")
        update = {
            "type": "session.update",
            "event_id": "evt_pcm",
            "session": {"type": "realtime", "audio": {side: {"format": {"type": "audio/pcm"}}}},
        }
        error = await error_for(client, update, 1)
        assert error["code"] == "missing_required_parameter"
        assert error["param"] == f"session.audio.{side}.format.rate"
        assert (
            error["message"] == f"Missing required parameter: 'session.audio.{side}.format.rate'."
        )
        fixed = {"type": "audio/pcm", "rate": 24000}
        await client.send(
            {**update, "session": {"type": "realtime", "audio": {side: {"format": fixed}}}}
        )
        await client.wait_type("session.updated")
        if side == "output":
            create = {
                "type": "response.create",
                "event_id": "evt_resp_pcm",
                "response": {"audio": {"output": {"format": {"type": "audio/pcm"}}}},
            }
            assert (await error_for(client, create, 2))[
                "param"
            ] == "response.audio.output.format.rate"


@pytest.mark.parametrize(
    ("session", "code", "param"),
    [
        ({"audio": {"output": {"voice": "bob"}}}, "invalid_value", "session.audio.output.voice"),
        (
            {"audio": {"output": {"speed": 3.0}}},
            "decimal_above_max_value",
            "session.audio.output.speed",
        ),
        ({"max_output_tokens": 5000}, "integer_above_max_value", "session.max_output_tokens"),
        ({"max_output_tokens": 0}, "integer_below_min_value", "session.max_output_tokens"),
        (
            {"audio": {"input": {"transcription": {"model": "gpt-nope"}}}},
            "invalid_value",
            "session.audio.input.transcription.model",
        ),
        (
            {"tools": [{"type": "function", "name": "send dtmf", "parameters": {}}]},
            "invalid_value",
            "session.tools[0].name",
        ),
        ({"output_modalities": ["audio", "text"]}, "invalid_value", "session.output_modalities"),
    ],
)
async def test_values_the_types_leave_open_are_checked(
    session: dict[str, Any], code: str, param: str
) -> None:
    async with FakeRealtimeServer(ModelScript()) as server, connect(server) as client:
        await client.wait_type("session.created")
        update = {
            "type": "session.update",
            "event_id": "evt_v",
            "session": {"type": "realtime", **session},
        }
        error = await error_for(client, update, 1)
        assert (error["code"], error["param"]) == (code, param)
        assert "session.updated" not in client.types()
        assert len(server.sessions[0].invalid) == 1


async def test_assistant_audio_items_cannot_be_created_text_ones_can() -> None:
    async with FakeRealtimeServer(ModelScript()) as server, connect(server) as client:
        await configured(client)
        item = {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_audio", "transcript": "Hello"}],
        }
        create = {"type": "conversation.item.create", "event_id": "evt_asst", "item": item}
        assert (await error_for(client, create, 1))["param"] == "item.content[0].type"
        text = {**item, "content": [{"type": "output_text", "text": "Hello"}]}
        await client.send({**create, "item": text})
        assert (await client.wait_type("conversation.item.done"))["item"]["content"] == text[
            "content"
        ]
        assert_sdk_valid(client.events, server)


async def test_races_get_errors_but_are_not_counted_as_invalid() -> None:
    script = ModelScript(turns=((Say(LONG, ms=60_000),),))
    async with (
        FakeRealtimeServer(script, delta_ms=50, pace=1.0) as server,
        connect(server) as client,
    ):
        await configured(client)
        await client.send({"type": "response.cancel", "event_id": "evt_c"})
        assert (await client.wait_type("error"))["error"]["event_id"] == "evt_c"
        await client.send({"type": "response.create"})
        await client.wait_type("response.output_audio.delta")
        await client.send({"type": "response.create", "event_id": "evt_dup"})
        assert (await client.wait_type("error", 2))["error"]["event_id"] == "evt_dup"
        assert server.sessions[0].invalid == []


# ---- failed and incomplete responses -----------------------------------------------------------


async def test_scripted_failure_after_speech_ends_the_response_failed() -> None:
    script = ModelScript(turns=((Say("One moment", ms=200), Fail(), Say("never", ms=200)),))
    async with FakeRealtimeServer(script) as server, connect(server) as client:
        await configured(client)
        await client.send({"type": "response.create"})
        done = (await client.wait_type("response.done"))["response"]
        assert done["status"] == "failed"
        error = done["status_details"]["error"]
        assert done["status_details"]["type"] == "failed"
        assert (error["type"], error["code"]) == ("server_error", None)
        assert server.sessions[0].id in error["message"]  # as in the real message
        assert [i["status"] for i in done["output"]] == ["completed"]  # what came before stays
        assert len(client.of_type("response.output_audio.delta")) == 2
        assert_sdk_valid(client.events, server)


@pytest.mark.parametrize(
    "failure",
    [
        *model_errors.ACCOUNT_FAILURES,
        model_errors.RATE_LIMIT_EXCEEDED,
        model_errors.INFERENCE_RATE_LIMITED,
    ],
    ids=lambda f: f.code,
)
async def test_account_and_rate_limit_failures_are_scriptable(failure: Fail) -> None:
    async with (
        FakeRealtimeServer(ModelScript(turns=((failure,),))) as server,
        connect(server) as client,
    ):
        await configured(client)
        await client.send({"type": "response.create"})
        done = (await client.wait_type("response.done"))["response"]
        assert done["status"] == "failed"
        assert done["output"] == []
        assert done["status_details"]["error"] == {
            "type": failure.type,
            "code": failure.code,
            "message": failure.message,
        }
        assert_sdk_valid(client.events, server)


async def test_incomplete_content_filter_cuts_the_speech_before_it() -> None:
    script = ModelScript(
        turns=(
            (Say("Let me read the whole thing to you", ms=1000), Incomplete("content_filter", 200)),
        )
    )
    async with FakeRealtimeServer(script) as server, connect(server) as client:
        await configured(client)
        await client.send({"type": "response.create"})
        done = (await client.wait_type("response.done"))["response"]
        assert done["status"] == "incomplete"
        assert done["status_details"] == {"type": "incomplete", "reason": "content_filter"}
        item = done["output"][0]
        assert item["status"] == "incomplete"
        assert server.sessions[0].item_audio_ms(item["id"]) == 200
        heard = item["content"][0]["transcript"]
        assert heard and len(heard) < len("Let me read the whole thing to you")
        assert_sdk_valid(client.events, server)


async def test_integer_max_output_tokens_ends_a_long_answer_incomplete() -> None:
    # 20 audio tokens a second: 10 tokens are spent within half a second of speech.
    script = ModelScript(turns=((Say("Long", ms=5000),),))
    async with FakeRealtimeServer(script) as server, connect(server) as client:
        await configured(client, max_output_tokens=10)
        await client.send({"type": "response.create"})
        done = (await client.wait_type("response.done"))["response"]
        assert done["status_details"] == {"type": "incomplete", "reason": "max_output_tokens"}
        assert done["max_output_tokens"] == 10
        assert server.sessions[0].item_audio_ms(done["output"][0]["id"]) <= 600


async def test_refused_connects_carry_the_scripted_account_error() -> None:
    server = FakeRealtimeServer(ModelScript())
    async with server, aiohttp.ClientSession() as http:
        server.refuse_next = 1
        server.refuse_with = model_errors.INSUFFICIENT_QUOTA
        url = server.realtime_url.replace("ws://", "http://")
        headers = {"Authorization": f"Bearer {KEY}"}
        async with http.get(url, params={"model": "gpt-realtime"}, headers=headers) as r:
            assert r.status == 429
            assert (await r.json())["error"]["code"] == "insufficient_quota"
        assert server.refused == 1
        async with connect(server) as client:  # the next one gets through
            await client.wait_type("session.created")


# ---- rate limits -------------------------------------------------------------------------------


async def test_rate_limits_follow_each_response_created() -> None:
    script = ModelScript(turns=((Say("Hi", ms=100),), (Say("Again", ms=100),)))
    async with FakeRealtimeServer(script) as server, connect(server) as client:
        await configured(client)
        for n in (1, 2):
            await client.send({"type": "response.create"})
            await client.wait_type("response.done", n)
            created = client.index("response.created", n)
            assert client.events[created + 1]["type"] == "rate_limits.updated"
        first, second = (e["rate_limits"] for e in client.of_type("rate_limits.updated"))
        assert [r["name"] for r in first] == ["requests", "tokens"]
        requests, tokens = first
        assert (requests["limit"], requests["remaining"]) == (5000, 4999)
        assert second[0]["remaining"] == 4998
        # An `inf` response reserves the model's 4096 output tokens on top of its input.
        assert tokens["limit"] - tokens["remaining"] > 4096
        assert 0 < tokens["reset_seconds"] < 60
        assert_sdk_valid(client.events, server)

    async with (
        FakeRealtimeServer(ModelScript(), rate_limits={"tokens": 40_000}) as server,
        connect(server) as client,
    ):
        await configured(client)
        await client.send({"type": "response.create"})
        await client.wait_type("response.done")
        assert [r["name"] for r in client.of_type("rate_limits.updated")[0]["rate_limits"]] == [
            "tokens"
        ]
    async with (
        FakeRealtimeServer(ModelScript(), rate_limits={}) as server,
        connect(server) as client,
    ):
        await configured(client)
        await client.send({"type": "response.create"})
        await client.wait_type("response.done")
        assert "rate_limits.updated" not in client.types()


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


# ---- session lifetime ------------------------------------------------------------------------


@pytest.mark.slow  # waits out the session's lifetime
async def test_session_expires_with_session_expired_and_close_1001() -> None:
    before = time.time()  # before the session opens: its clock starts at the connection
    async with (
        FakeRealtimeServer(ModelScript(), session_lifetime_s=0.3) as server,
        connect(server) as client,
    ):
        created = await client.wait_type("session.created")
        after = time.time()  # the session's clock started before its session.created
        # The connection's time plus the lifetime, rounded up to a whole second.
        assert before + 0.3 <= created["session"]["expires_at"] <= math.ceil(after + 0.3)
        await client.wait(lambda: client.closed)
        error = client.events[-1]
        assert error["type"] == "error"
        assert error["error"] == {
            "type": "invalid_request_error",
            "code": "session_expired",
            "message": model_errors.session_expired_message(0.3),
            "param": None,
            "event_id": None,
        }
        assert client.ws.close_code == 1001
        session = server.sessions[0]
        await server.wait_for(session.closed.is_set)
        assert session.expired
        assert_sdk_valid(client.events, server)


async def test_default_lifetime_is_an_hour_and_a_closed_session_never_expires() -> None:
    assert model_errors.session_expired_message(3600) == (
        "Your session hit the maximum duration of 60 minutes."
    )
    assert model_errors.session_expired_message(900) == (
        "Your session hit the maximum duration of 15 minutes."
    )
    async with FakeRealtimeServer(ModelScript()) as server:
        assert server.session_lifetime_s == 3600
        before = time.time()
        async with connect(server) as client:
            created = await client.wait_type("session.created")
            after = time.time()
            expires_at = created["session"]["expires_at"]
            assert before + 3600 <= expires_at <= math.ceil(after + 3600)
        await server.wait_for(server.sessions[0].closed.is_set)
        assert not server.sessions[0].expired


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


# ---- the fake checks itself ---------------------------------------------------------------------


def test_a_malformed_server_event_is_recorded() -> None:
    server = FakeRealtimeServer(ModelScript())
    server.check_sent(
        {"type": "rate_limits.updated", "event_id": "event_x", "rate_limits": [{"nope": 1}]}
    )
    server.check_sent({"type": "response.done", "event_id": "event_y"})
    assert [reason.split(":")[0] for _, reason in server.malformed] == [
        "rate_limits.updated",
        "response.done",
    ]


async def test_an_over_long_event_id_is_refused_and_still_echoed() -> None:
    async with FakeRealtimeServer(ModelScript()) as server, connect(server) as client:
        await client.wait_type("session.created")
        long_id = "evt_" + "x" * 509
        error = await error_for(client, {"type": "response.cancel", "event_id": long_id}, 1)
        assert (error["code"], error["param"]) == ("string_above_max_length", "event_id")
        await client.send({"type": "response.cancel", "event_id": long_id[:512]})
        second = await client.wait_type("error", 2)
        assert second["error"]["code"] == "response_cancel_not_active"
        assert len(server.sessions[0].invalid) == 1


async def test_expire_sessions_ends_the_lifetime_now() -> None:
    async with FakeRealtimeServer(ModelScript()) as server, connect(server) as client:
        await configured(client)
        await server.expire_sessions()
        await client.wait(lambda: client.closed)
        assert client.events[-1]["error"]["code"] == "session_expired"
        assert client.events[-1]["error"]["message"].endswith("of 60 minutes.")
        assert client.ws.close_code == 1001
        assert server.sessions[0].expired


def test_transcription_usage_is_in_seconds_for_models_billed_by_duration() -> None:
    for model in ("whisper-1", "gpt-transcribe", "gpt-live-transcribe", "gpt-realtime-whisper"):
        assert completed_usage("Hello there.", 1530, model) == {"type": "duration", "seconds": 1.53}
    usage = completed_usage("Hello there.", 1500, "gpt-4o-mini-transcribe")
    assert usage["type"] == "tokens"
    assert usage["input_token_details"] == {"text_tokens": 0, "audio_tokens": 15}
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
