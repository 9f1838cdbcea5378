"""The fake Realtime server refuses what the real API refuses, where the SDK's types cannot
say so: truncating the wrong item, unknown call ids, reasoning on other models, audio
formats and values the types leave open, races; and it checks its own events. Driven
over a real socket by the client in tests/helpers/fake_model_client.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.fake_model_client import LONG, Client, assert_sdk_valid, configured, connect
from voicecall_rt.simulator.openai.server import FakeRealtimeServer
from voicecall_rt.simulator.scenario import CallTool, ModelScript, Say


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
        output: dict[str, Any] = {
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


# Tool parameters the SDK's types accept (any object) but the API refuses.
BAD_TOOL_PARAMETERS: tuple[dict[str, Any], ...] = (
    {"properties": {}},
    {"type": "object", "properties": {"a": {"type": "integr"}}},
    {"type": "object", "properties": {"a": {"type": "array"}}},
    {"type": "object", "properties": {"a": {"$ref": "https://schemas.example/a"}}},
)


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
        *(
            (
                {"tools": [{"type": "function", "name": "report_outcome", "parameters": bad}]},
                "invalid_function_parameters",
                "session.tools[0].parameters",
            )
            for bad in BAD_TOOL_PARAMETERS
        ),
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
