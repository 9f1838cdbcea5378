"""The fake Realtime server's bad days, scripted as the real API has them: failed and
incomplete responses, account and rate-limit errors, refused connections, the rate
limits after each response, and a session that expires. Driven over a real socket by the
client in tests/helpers/fake_model_client.py; every server event is checked by the SDK.
"""

from __future__ import annotations

import math
import time

import aiohttp
import pytest

from tests.helpers.fake_model_client import KEY, assert_sdk_valid, configured, connect
from voicecall_rt.simulator.openai import model_errors
from voicecall_rt.simulator.openai.server import FakeRealtimeServer
from voicecall_rt.simulator.scenario import Fail, Incomplete, ModelScript, Say

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


async def test_expire_sessions_ends_the_lifetime_now() -> None:
    async with FakeRealtimeServer(ModelScript()) as server, connect(server) as client:
        await configured(client)
        await server.expire_sessions()
        await client.wait(lambda: client.closed)
        assert client.events[-1]["error"]["code"] == "session_expired"
        assert client.events[-1]["error"]["message"].endswith("of 60 minutes.")
        assert client.ws.close_code == 1001
        assert server.sessions[0].expired
