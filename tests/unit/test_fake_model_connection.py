"""The fake Realtime server's connection and session, the way the real API has them: keys,
the beta header and models refused, session.created and session.update in GA shape (a
beta update flagged), the models REST endpoints, and the hooks tests use to refuse, drop
and close sessions. Driven by a plain WebSocket client; waits are on events, never sleeps.
"""

from __future__ import annotations

import aiohttp
import openai
import pytest

from tests.helpers.fake_model_client import BETA_UPDATE, GA_UPDATE, KEY, assert_sdk_valid, connect
from voicecall_rt.simulator.openai.client_event_check import (
    check_client_event,
    diagnose_client_event,
)
from voicecall_rt.simulator.openai.realtime_rules import REALTIME_MODELS
from voicecall_rt.simulator.openai.server import FakeRealtimeServer
from voicecall_rt.simulator.scenario import ModelScript

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
